"""End to end against the local fake Daraja: our OAuth and STK push checked field by field, STK
query answering "being processed" while the customer has not answered, the documented callback
POSTed to our CallBackURL over HTTP (pytest-django's live_server), one credit. The same fake
loses a callback, and reconciliation heals it."""

import base64
from datetime import datetime, timedelta
from unittest import mock

import pytest

from billing.models import JournalKind, JournalTransaction, Payment
from billing.selectors import account_balance
from payments.models import CallbackDelivery, CallbackStatus, Channel, IntentStatus
from payments.services.intents import payment_intent_create
from payments.services.push import payment_intent_push
from payments.services.reconcile import payment_intent_check
from payments.simulators.daraja import NAIROBI, SANDBOX_PASSKEY, SANDBOX_SHORTCODE
from sms.models import MessageKind, OutboundMessage
from tests.billing.factories import account_make, invoice_make
from tests.payments.support import MPESA_TOKEN, daraja_serving, kes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def daraja(settings, live_server):
    with daraja_serving(settings, live_server) as simulator:  # the customer answers when told
        yield simulator


def pushed(phone: str):
    account = account_make(currency="KES")
    invoice_make(account=account, net_minor=120_000)
    with mock.patch("payments.tasks.payment_intent_push_task.delay"):  # the worker's job
        intent = payment_intent_create(
            account=account,
            phone=phone,
            amount=kes("1200"),
            channel=Channel.USSD,
            idempotency_key=f"ussd:{phone}",
        )
    return account, payment_intent_push(intent_id=intent.pk)


def stk_requests(daraja, path):
    return [r for r in daraja.requests if r.path.startswith(path)]


def test_a_push_is_paid_once_through_the_documented_callback(daraja, live_server):
    daraja.script("twice")  # the callback comes twice
    account, intent = pushed("0712 345 678")

    [oauth] = stk_requests(daraja, "/oauth/v1/generate")
    [push] = stk_requests(daraja, "/mpesa/stkpush/v1/processrequest")
    body = push.json
    basic = base64.b64encode(b"test-consumer-key:test-consumer-secret").decode()
    assert oauth.headers["Authorization"] == f"Basic {basic}"
    assert push.headers["Content-Type"].startswith("application/json")
    stamp = datetime.strptime(body["Timestamp"], "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
    assert abs(datetime.now(tz=NAIROBI) - stamp) < timedelta(minutes=1)
    password = f"{SANDBOX_SHORTCODE}{SANDBOX_PASSKEY}{body['Timestamp']}".encode()
    assert body["Password"] == base64.b64encode(password).decode()
    assert str(body["BusinessShortCode"]) == str(body["PartyB"]) == SANDBOX_SHORTCODE
    assert body["TransactionType"] == "CustomerPayBillOnline"
    assert int(body["Amount"]) == 1200
    assert body["PartyA"] == body["PhoneNumber"] == "254712345678"
    assert body["AccountReference"] == account.number
    assert len(body["AccountReference"]) <= 12
    assert body["CallBackURL"] == f"{live_server.url}/payments/mpesa/stk/{MPESA_TOKEN}/"
    assert intent.status == IntentStatus.PENDING
    assert intent.callback_key in daraja.pushes

    before, after, answer = payment_intent_check(intent_id=intent.pk)
    assert (before, after, answer.outcome) == ("pending", "pending", "pending")
    [query] = stk_requests(daraja, "/mpesa/stkpushquery/v1/query")
    assert query.json["CheckoutRequestID"] == intent.callback_key

    daraja.deliver_pending()  # the customer enters the PIN; Daraja calls back twice

    intent.refresh_from_db()
    receipt = daraja.pushes[intent.callback_key].receipt
    assert [s.status for s in daraja.sent] == [200, 200]
    assert intent.status == IntentStatus.SUCCEEDED
    assert intent.receipt == receipt
    assert JournalTransaction.objects.filter(kind=JournalKind.PAYMENT).count() == 1
    assert Payment.objects.get().reference == receipt
    assert account_balance(account) == kes("0")
    assert OutboundMessage.objects.filter(kind=MessageKind.RECEIPT).count() == 1
    statuses = set(CallbackDelivery.objects.values_list("status", flat=True))
    assert statuses == {CallbackStatus.PROCESSED, CallbackStatus.DUPLICATE}


def test_a_lost_callback_is_healed_by_reconciliation(daraja):
    daraja.script("never")  # the customer pays; the callback never comes
    account, intent = pushed("0722 000 111")

    daraja.deliver_pending()
    before, after, _answer = payment_intent_check(intent_id=intent.pk)

    intent.refresh_from_db()
    assert daraja.sent == []
    assert (before, after) == ("pending", "succeeded")
    assert intent.status == IntentStatus.SUCCEEDED
    assert JournalTransaction.objects.filter(kind=JournalKind.PAYMENT).count() == 1
    assert account_balance(account) == kes("0")


def test_a_cancelled_prompt_fails_the_intent_with_a_readable_reason(daraja):
    daraja.script("fail:1032")
    _account, intent = pushed("0723 000 222")

    daraja.deliver_pending()

    intent.refresh_from_db()
    assert intent.status == IntentStatus.CANCELLED
    assert intent.failure_code == "1032"
    assert intent.failure_message == "You cancelled the payment."
    assert Payment.objects.count() == 0
