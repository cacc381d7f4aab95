"""Every top-level menu, walked by each customer that `manage.py seed_demo` creates (README
"Demo data"), through a driver that sends what Africa's Talking sends (a form POST to
/ussd/africastalking/, the session's inputs joined by "*").

What a customer should read is worked out from the seeded database (invoices, ledger,
readings, tariffs, the operator) in the customer's language, never copied from a screen.
seed_demo runs once for the module; each test's own changes are rolled back after it.
"""

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing.management.commands.seed_demo import CUSTOMERS
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    MeterReading,
    ReadingSource,
    ReadingStatus,
)
from billing.money import Money
from billing.selectors import account_balance, account_statement
from billing.services.invoices import (
    UNITS,
    account_lines,
    operator_today,
    tariff_rates_priced,
)
from billing.services.metering import index_text
from billing.summaries import invoice_summary_sms
from payments.models import IntentStatus, PaymentIntent
from payments.services.push import payment_intent_push
from sms.models import MessageKind, OutboundMessage
from tests.payments.support import sandbox_callback
from tests.ussd.support import demo_seed
from ussd.tasks import bill_sms_send
from ussd.texts import LANGUAGE_NAMES, LANGUAGES, ascii_fold, text

pytestmark = pytest.mark.django_db

# The main menu of a phone with an account: (what to type, its label's text key).
MENU = (
    ("1", "menu_balance"),
    ("2", "menu_bill"),
    ("3", "menu_pay"),
    ("4", "menu_reading"),
    ("5", "menu_statement"),
    ("6", "menu_language"),
    ("7", "menu_help"),
)
OPEN = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE)
# A new reading typed in the walk: this much above the meter's last one.
USAGE = Decimal("7.5")


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """seed_demo, once for the module, in a transaction rolled back at its end."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            customers = demo_seed()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield customers
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture(
    params=[customer.phone for customer in CUSTOMERS],
    ids=[customer.name.split()[0] for customer in CUSTOMERS],
)
def customer(request, seeded, db):
    return next(
        seeded_customer for seeded_customer in seeded if seeded_customer.phone == request.param
    )


def con(language: str, *lines: str, nav: bool = True) -> str:
    """A menu screen as the handset shows it: the lines, then "0 Back 00 Home" (in `language`)."""
    return "CON " + ascii_fold("\n".join([*lines, text(language, "nav")] if nav else lines))


def end(body: str) -> str:
    """A last screen as the handset shows it."""
    return "END " + ascii_fold(body)


def home_lines(language: str, operator_name: str) -> list[str]:
    return [
        text(language, "home", operator=operator_name),
        *(f"{key} {text(language, label)}" for key, label in MENU),
    ]


def owed_by_invoices(account) -> Money:
    """What the account's bills (penalties included) still ask for: no credit in the demo."""
    open_invoices = Invoice.objects.filter(account=account, status__in=OPEN)
    left = sum(i.total_minor - i.paid_minor - i.credited_minor for i in open_invoices)
    return Money(left, account.operator.currency)


def balance_screen(language: str, account, owed: Money) -> str:
    if owed.minor > 0:
        body = text(language, "balance_owe", number=account.number, amount=owed)
    elif owed.minor < 0:
        body = text(language, "balance_credit", number=account.number, amount=-owed)
    else:
        body = text(language, "balance_zero", number=account.number)
    return con(language, body)


def last_invoice(account) -> Invoice:
    issued = Invoice.objects.filter(account=account, kind=InvoiceKind.INVOICE).exclude(
        status__in=(InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED)
    )
    return issued.select_related("account", "operator").latest("issue_date", "id")


def priced(account, consumption: Decimal) -> Money:
    """What billing would charge for `consumption` on this month's bill of the account."""
    month = operator_today(account.operator).replace(day=1)
    rates, prices = tariff_rates_priced(tariff_id=account.tariff_id, month=month)
    lines = account_lines(
        account=account, rates=rates, prices=prices, consumption=consumption, period=month
    )
    return Money(sum(line.amount.minor for line in lines), account.operator.currency)


def test_the_seeded_customers_are_the_ones_the_readme_lists(seeded):
    assert [c.account.number for c in seeded] == ["100000011", "100000022", "100000033"]
    assert [c.state for c in seeded] == ["paid up", "partly paid", "overdue"]


def test_the_main_menu_greets_in_the_customer_language(customer, at):
    account = customer.account
    assert at(customer.phone).walk() == con(
        customer.language, *home_lines(customer.language, account.operator.name), nav=False
    )


def test_the_balance_is_what_the_bills_still_ask_for(customer, at):
    account = customer.account
    owed = owed_by_invoices(account)
    assert owed == account_balance(account)  # the bills and the ledger agree
    assert (owed.minor > 0) == (customer.state != "paid up")
    assert at(customer.phone).walk("1") == balance_screen(customer.language, account, owed)


def test_the_last_bill_is_shown_then_sent_by_sms(
    customer, at, monkeypatch, django_capture_on_commit_callbacks
):
    account, language = customer.account, customer.language
    invoice = last_invoice(account)
    quantity = f"{invoice.consumption.normalize():f} {UNITS[account.utility]}"
    if invoice.is_estimated:
        quantity += " " + text(language, "bill_estimated")
    session = at(customer.phone)
    assert session.walk("2") == con(
        language,
        text(
            language,
            "bill",
            period=f"{invoice.period:%m/%Y}",
            number=account.number,
            quantity=quantity,
            amount=Money(invoice.total_minor, invoice.currency),
            due=f"{invoice.due_date:%d/%m/%Y}",
        ),
        text(language, "bill_sms"),
    )

    monkeypatch.setattr(bill_sms_send, "delay", lambda *args: bill_sms_send.apply(args=args))
    with django_capture_on_commit_callbacks(execute=True):
        assert session.send("1") == con(language, text(language, "bill_sms_sent"))
    message = OutboundMessage.objects.get()
    assert (message.to, message.kind) == (customer.phone, MessageKind.BILL)
    assert message.body == invoice_summary_sms(invoice, language)
    assert account.number in message.body


def test_paying_then_the_operator_confirming_shows_on_the_balance(
    customer, at, sandbox, client, in_worker
):
    account, language, phone = customer.account, customer.language, customer.phone
    owed = account_balance(account)
    session = at(phone)
    if owed.minor > 0:  # the whole balance
        assert session.walk("3") == con(
            language, text(language, "pay_menu", number=account.number, amount=owed)
        )
        paid = owed
        session.send("1")
    else:  # paid up: in advance
        assert session.walk("3") == con(
            language, text(language, "pay_menu_nothing", number=account.number)
        )
        paid = Money.of("150", owed.currency)
        assert session.send("2") == con(
            language, text(language, "pay_amount", currency=owed.currency)
        )
        session.send("150")
    assert session.body == con(
        language, text(language, "pay_confirm", amount=paid, number=account.number, phone=phone)
    )
    assert in_worker(lambda: session.send("1")) == end(text(language, "pay_sent"))

    intent = PaymentIntent.objects.get()
    assert (intent.account_id, intent.amount_minor, intent.phone) == (
        account.pk,
        paid.minor,
        phone,
    )
    intent = payment_intent_push(intent_id=intent.pk)
    response = sandbox_callback(
        client,
        reference=intent.provider_reference,
        amount=f"{paid.amount}",
        currency=paid.currency,
    )
    assert response.status_code == 200
    intent.refresh_from_db()
    assert intent.status == IntentStatus.SUCCEEDED

    after = account_balance(account)
    assert after == owed - paid
    assert at(phone).walk("1") == balance_screen(language, account, after)


def test_a_meter_reading_is_priced_as_billing_would_then_recorded(customer, at, in_worker):
    account, language = customer.account, customer.language
    meter = account.meters.get()
    last = (
        MeterReading.objects.filter(meter=meter, status=ReadingStatus.ACCEPTED)
        .order_by("-read_at")
        .first()
    )
    zone = ZoneInfo(account.operator.timezone)
    session = at(customer.phone)
    assert session.walk("4") == con(
        language,
        text(
            language,
            "reading_enter",
            serial=meter.serial,
            index=index_text(last.index),
            date=f"{timezone.localtime(last.read_at, zone):%d/%m/%Y}",
        ),
    )
    new_index = index_text(last.index + USAGE)
    assert session.send(new_index) == con(
        language, text(language, "reading_confirm", index=new_index, serial=meter.serial)
    )
    quantity = f"{index_text(USAGE)} {UNITS[account.utility]}"
    assert in_worker(lambda: session.send("1")) == end(
        text(
            language,
            "reading_done",
            index=new_index,
            quantity=quantity,
            amount=priced(account, USAGE),
        ),
    )
    reading = MeterReading.objects.get(meter=meter, source=ReadingSource.CUSTOMER_USSD)
    assert (reading.index, reading.consumption) == (last.index + USAGE, USAGE)
    assert reading.submitted_by_id == account.owner_id
    assert OutboundMessage.objects.filter(to=customer.phone).count() == 1


def test_the_mini_statement_shows_the_last_three_moves_of_the_ledger(customer, at):
    account, language = customer.account, customer.language
    lines = account_statement(account, limit=3)
    balance = account_balance(account)
    assert len(lines) == 3 and lines[-1].balance == balance
    zone = ZoneInfo(account.operator.timezone)
    rows = [
        f"{timezone.localtime(line.at, zone):%d/%m} {text(language, 'kind_' + line.kind)} "
        f"{'+' if line.amount.minor > 0 else '-'}{abs(line.amount.amount):,.2f}"
        for line in lines
    ]
    assert at(customer.phone).walk("5") == con(
        language,
        text(language, "statement_head", number=account.number),
        *rows,
        text(language, "statement_balance", amount=balance),
    )


def test_the_language_chosen_is_kept_for_the_next_session(customer, at):
    language, name = customer.language, customer.account.operator.name
    chosen = next(code for code in LANGUAGES if code != language)
    session = at(customer.phone)
    assert session.walk("6") == con(
        language,
        text(language, "language_menu"),
        *(f"{n} {LANGUAGE_NAMES[code]}" for n, code in enumerate(LANGUAGES, start=1)),
    )
    assert session.send(str(LANGUAGES.index(chosen) + 1)) == con(
        chosen, text(chosen, "language_saved"), *home_lines(chosen, name), nav=False
    )
    assert User.objects.get(phone=customer.phone).language == chosen
    assert at(customer.phone).walk() == con(chosen, *home_lines(chosen, name), nav=False)


def test_help_gives_the_operator_help_phone_paybill_and_code(customer, at):
    operator, language = customer.account.operator, customer.language
    assert at(customer.phone).walk("7") == con(
        language,
        text(language, "help_call", phone=operator.help_phone),
        text(language, "help_paybill", paybill=operator.paybill),
        text(language, "help_dial", ussd=operator.ussd_code),
    )
