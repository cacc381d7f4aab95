"""SMS commands against real billing and payments data: the reply a customer gets."""

import itertools

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.models import AccountContact, Meter, MeterReading
from billing.summaries import invoice_summary_sms
from payments.models import PaymentIntent
from sms.commands.handlers import inbound_handle
from sms.inbound import inbound_store
from sms.models import InboundMessage, MessageKind, OutboundMessage, SmsContact
from sms.services import message_queue
from sms.texts import TEXTS
from tests.billing.factories import (
    customer_make,
    invoice_make,
    operator_make,
    service_account_make,
)
from tests.payments.support import SANDBOX_CONF

pytestmark = pytest.mark.django_db

PHONE = "+254712000900"
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _routes(settings):
    settings.SMS_ROUTES = ["*:console"]
    settings.PAYMENT_PROVIDERS = {"sandbox": SANDBOX_CONF}


@pytest.fixture
def operator():
    return operator_make(slug="maji", timezone="Africa/Nairobi", phone_region="KE")


@pytest.fixture
def account(operator):
    account = service_account_make(operator=operator, owner=customer_make(phone=PHONE))
    invoice_make(account=account, net_minor=120_000)
    return account


def sms(text: str, phone: str = PHONE, external_id: str | None = None) -> OutboundMessage:
    """A text from `phone`, stored and handled like the webhooks do; returns the reply."""
    inbound, _ = inbound_store(
        gateway="africastalking",
        external_id=external_id or f"ATUid_{next(_ids)}",
        phone=phone,
        to="20880",
        text=text,
        network_code="63902",
    )
    return inbound_handle(inbound=inbound)


def test_bal_gives_the_balance_of_the_phones_account(account):
    reply = sms("bal")

    assert (
        reply.body
        == f"Account {account.number}: balance due KES 1,200.00. Send PAY <amount> to pay."
    )
    assert (reply.kind, reply.account_id, reply.to) == (MessageKind.REPLY, account.pk, PHONE)
    assert InboundMessage.objects.get().command == "bal"


def test_bal_in_credit_says_there_is_nothing_to_pay(operator):
    account = service_account_make(operator=operator, owner=customer_make(phone=PHONE))

    assert sms("BAL").body == f"Account {account.number}: nothing to pay. Credit KES 0.00."


def test_a_phone_with_several_accounts_is_asked_which_then_names_one(account, operator):
    second = service_account_make(operator=operator, owner=account.owner)

    assert sms("BAL").body == (
        f"You have several accounts: {account.number}, {second.number}. "
        f"Add the account number, e.g. BAL {account.number}"
    )
    typed = f"{second.number[:4]}-{second.number[4:]}"
    assert sms(f"bal {typed}").body.startswith(f"Account {second.number}: nothing to pay.")


def test_someone_elses_account_gets_the_same_answer_as_a_missing_one(account, operator):
    stranger = service_account_make(operator=operator)

    assert sms(f"BAL {stranger.number}").body == TEXTS["account_unknown"]["en"].format(
        number=stranger.number
    )
    assert "1,200" not in sms(f"BAL {stranger.number}").body
    assert sms("BAL").body.startswith(f"Account {account.number}")


def test_a_contact_of_the_account_may_ask_too(account):
    AccountContact.objects.create(account=account, phone="+254722000111")

    assert "KES 1,200.00" in sms("BAL", phone="+254722000111").body


def test_a_phone_without_account_is_told_so():
    assert sms("BAL", phone="+254722999000").body == TEXTS["no_account"]["en"]


def test_bill_sends_billings_summary_of_the_last_invoice(account, operator):
    invoice = account.invoices.get()

    assert sms("BILL").body == invoice_summary_sms(invoice, "en")
    fresh = service_account_make(operator=operator, owner=customer_make(phone="+254722000222"))
    assert sms("bill", phone="+254722000222").body == f"Account {fresh.number}: no bill yet."


def test_pay_starts_a_push_payment_keyed_on_the_inbound_message(account):
    reply = sms("PAY 500", external_id="ATUid_pay_1")

    intent = PaymentIntent.objects.get()
    assert (intent.account, intent.phone, intent.amount_minor) == (account, PHONE, 50_000)
    assert (intent.channel, intent.idempotency_key) == ("sms", "sms:africastalking:ATUid_pay_1")
    assert reply.body == (
        f"Confirm the payment of KES 500.00 for account {account.number} on your phone "
        "(PIN prompt)."
    )
    inbound_handle(inbound=InboundMessage.objects.get(external_id="ATUid_pay_1"))
    assert PaymentIntent.objects.count() == 1  # handled again: same intent, same reply
    assert OutboundMessage.objects.filter(kind=MessageKind.REPLY).count() == 1


@pytest.mark.parametrize(
    ("text", "key"),
    [("PAY", "pay_usage"), ("PAY 0", "amount_invalid"), ("pay 0.005", "amount_invalid")],
)
def test_pay_without_a_payable_amount_explains_and_starts_nothing(account, text, key):
    assert sms(text).body == TEXTS[key]["en"]
    assert not PaymentIntent.objects.exists()


def test_read_records_a_customer_reading_held_for_review(account):
    meter = Meter.objects.create(account=account, serial="WM-1")

    reply = sms("Read 4521,5")

    reading = MeterReading.objects.get(meter=meter)
    assert (reading.index, reading.source, reading.status) == (
        4521.5,
        "customer_sms",
        "pending_review",
    )
    assert reading.submitted_by == account.owner
    assert reply.body == (
        f"Reading 4521.5 for account {account.number} received. It will be checked before your "
        "next bill."
    )


def test_read_on_an_account_without_meter_says_so(account):
    assert sms("READ 12").body == f"Account {account.number} has no meter to read."
    assert sms("READ").body == TEXTS["read_usage"]["en"]


def test_lang_changes_the_language_of_every_later_reply(account):
    assert sms("LANG FR").body == TEXTS["lang_set"]["fr"]
    assert SmsContact.objects.get(phone=PHONE).language == "fr"

    assert sms("BAL").body.startswith(f"Compte {account.number} : a payer KES 1,200.00.")
    assert sms("lang").body == TEXTS["lang_usage"]["fr"]


def test_a_keyword_in_another_language_is_answered_in_it_when_none_was_chosen(account):
    assert sms("SALIO").body.startswith(f"Akaunti {account.number}: deni ni")
    assert sms("solde").body.startswith(f"Compte {account.number} :")


def test_stop_opts_out_of_reminders_and_start_back_in(account, django_capture_on_commit_callbacks):
    assert sms("STOP").body == TEXTS["stop_ack"]["en"]
    with django_capture_on_commit_callbacks(execute=True):
        reminder = message_queue(
            to=PHONE, body="Reminder", kind=MessageKind.REMINDER, idempotency_key="r1"
        )
    reminder.refresh_from_db()
    assert (reminder.status, reminder.error) == ("skipped", "opted_out")

    assert sms("start").body == TEXTS["start_ack"]["en"]
    assert SmsContact.objects.get(phone=PHONE).opted_out is False


@pytest.mark.parametrize(
    ("text", "language"),
    [("HELP", "en"), ("aide", "fr"), ("Msaada", "sw"), ("?", "en"), ("what is my balance", "en"),
     ("", "en")],
)  # fmt: skip
def test_help_and_anything_not_understood_get_the_help_text(text, language):
    assert sms(text).body == TEXTS["help"][language]


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=1000))
def test_any_text_gets_exactly_one_reply_and_never_an_error(account, text):
    reply = sms(text)

    assert reply.kind == MessageKind.REPLY
    assert reply.body
