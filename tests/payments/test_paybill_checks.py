"""Paybill confirmations checked with Transaction Status before crediting (M-Pesa with its
initiator configured), end to end against the local fake Daraja: the confirmation is held,
the worker asks about its TransID, Daraja POSTs the result to our result URL over HTTP, and
only a Completed answer for that receipt credits (once). A forged confirmation is refused; an
unanswered one ends in suspense for staff."""

import json
from datetime import timedelta
from unittest import mock

import pytest
import requests
import time_machine
from django.utils import timezone

from billing.models import Payment
from payments.models import (
    CallbackDelivery,
    CallbackStatus,
    PaybillCheck,
    PaybillCheckStatus,
    SuspensePayment,
)
from payments.services.paybill_checks import MAX_QUERIES, paybill_check_ask, paybill_checks_due
from sms.models import MessageKind, OutboundMessage
from tests.billing.factories import account_make, invoice_make
from tests.payments.support import MPESA_TOKEN, daraja_serving, fixture_body

pytestmark = pytest.mark.django_db(transaction=True)
STATUS_PATH = "/mpesa/transactionstatus/v1/query"


@pytest.fixture
def daraja(settings, live_server):
    with daraja_serving(
        settings,
        live_server,
        # tests travel hours ahead; Redis, which caches our token, does not
        simulator={"token_ttl": 86_400},
        initiator="testapi",
        security_credential="encrypted-credential",
    ) as simulator:
        simulator.c2b_urls = {
            "ResponseType": "Completed",
            "ValidationURL": f"{live_server.url}/payments/mpesa/c2b/validation/{MPESA_TOKEN}/",
            "ConfirmationURL": f"{live_server.url}/payments/mpesa/c2b/confirmation/{MPESA_TOKEN}/",
        }
        with mock.patch("payments.tasks.paybill_check_ask_task.delay"):  # the worker's job
            yield simulator


@pytest.fixture
def account(db):
    account = account_make(currency="KES")
    invoice_make(account=account, net_minor=120_000)
    return account


def confirm(live_server, **fields) -> requests.Response:
    """A confirmation POSTed straight to our URL, as anyone who learnt it could."""
    payload = {**json.loads(fixture_body("mpesa_c2b_confirmation.json")), **fields}
    url = f"{live_server.url}/payments/mpesa/c2b/confirmation/{MPESA_TOKEN}/"
    return requests.post(url, json=payload, timeout=5)


def test_a_paybill_payment_is_credited_once_the_operator_confirms_it(daraja, account, live_server):
    trans_id = daraja.simulate_paybill(account.number, 1200)
    daraja.deliver_pending()  # validation, then confirmation, to our URLs

    check = PaybillCheck.objects.get(receipt=trans_id)
    assert check.status == PaybillCheckStatus.WAITING
    assert not Payment.objects.exists()  # held: a confirmation alone proves nothing

    assert paybill_check_ask(check_id=check.pk) == "asked"
    [question] = [r for r in daraja.requests if r.path == STATUS_PATH]
    assert question.json["TransactionID"] == trans_id
    assert question.json["ResultURL"].endswith(f"/payments/mpesa/status/result/{MPESA_TOKEN}/")
    daraja.deliver_pending()  # Daraja POSTs the result to our result URL
    daraja.deliver_pending()

    [payment] = Payment.objects.all()
    assert (payment.reference, payment.amount_minor, payment.account) == (
        trans_id,
        120_000,
        account,
    )
    check.refresh_from_db()
    assert check.status == PaybillCheckStatus.CONFIRMED
    assert OutboundMessage.objects.filter(kind=MessageKind.RECEIPT).count() == 1
    result = CallbackDelivery.objects.get(kind="status_result")
    assert result.status == CallbackStatus.PROCESSED

    # The confirmation again, and the same answer again: nothing more.
    confirm(live_server, TransID=trans_id, BillRefNumber=account.number)
    assert Payment.objects.count() == 1
    assert PaybillCheck.objects.count() == 1


def test_a_forged_confirmation_is_refused_by_the_operators_answer(daraja, account, live_server):
    response = confirm(live_server, TransID="SFORGED001", BillRefNumber=account.number)
    assert response.status_code == 200  # acknowledged: the operator's format, nothing more

    check = PaybillCheck.objects.get(receipt="SFORGED001")
    paybill_check_ask(check_id=check.pk)
    daraja.deliver_pending()

    check.refresh_from_db()
    assert check.status == PaybillCheckStatus.REFUSED
    assert "R000002" in check.outcome
    assert not Payment.objects.exists()
    assert not SuspensePayment.objects.exists()


def test_an_unanswered_question_is_asked_again_then_goes_to_suspense(daraja, account, live_server):
    confirm(live_server, TransID="SNOANSWER1", BillRefNumber=account.number, TransAmount="500.00")
    check = PaybillCheck.objects.get(receipt="SNOANSWER1")
    assert paybill_checks_due() == []  # the worker asks first; the sweep only if it did not

    later = timezone.now()
    for _ in range(MAX_QUERIES):  # Daraja never answers (nothing delivered)
        later += timedelta(hours=1)
        with time_machine.travel(later):
            assert paybill_checks_due() == [check.pk]
            assert paybill_check_ask(check_id=check.pk) == "asked"
    with time_machine.travel(later + timedelta(hours=1)):
        assert paybill_check_ask(check_id=check.pk) == "unanswered"

    check.refresh_from_db()
    assert check.status == PaybillCheckStatus.UNANSWERED
    assert len([r for r in daraja.requests if r.path == STATUS_PATH]) == MAX_QUERIES
    parked = SuspensePayment.objects.get(receipt="SNOANSWER1")
    assert (parked.reason, parked.amount_minor) == ("unconfirmed", 50_000)
    assert not Payment.objects.exists()


def test_a_status_result_nobody_asked_for_is_kept_and_credits_nothing(daraja, live_server):
    url = f"{live_server.url}/payments/mpesa/status/result/{MPESA_TOKEN}/"
    body = fixture_body("mpesa_transaction_status_result_success.json")

    headers = {"Content-Type": "application/json"}
    answered = requests.post(url, data=body, headers=headers, timeout=5)
    forged = requests.post(url.replace(MPESA_TOKEN, "wrong-token"), data=body, timeout=5)

    assert answered.status_code == 200
    assert forged.status_code == 403
    statuses = sorted(CallbackDelivery.objects.values_list("status", flat=True))
    assert statuses == [CallbackStatus.REJECTED, CallbackStatus.UNMATCHED]
    assert not Payment.objects.exists()
