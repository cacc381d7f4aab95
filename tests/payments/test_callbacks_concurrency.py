"""The same money arriving through many doors at once, from real threads on PostgreSQL:
exactly one ledger credit and one receipt SMS."""

import json
import threading
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from billing.models import JournalKind, JournalTransaction, Payment
from billing.selectors import account_balance
from payments.exceptions import PushTooSoon
from payments.models import (
    CallbackDelivery,
    CallbackStatus,
    Channel,
    IntentStatus,
    PaymentIntent,
    ProcessedEvent,
)
from payments.providers.base import Outcome, Verdict
from payments.services.intents import payment_intent_create
from payments.services.push import payment_intent_push
from payments.services.reconcile import payment_intent_check
from sms.models import MessageKind, OutboundMessage
from tests.billing.factories import account_make, invoice_make
from tests.payments.support import MPESA_TOKEN, fixture_body, kes, sandbox_callback

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 20


def run_together(calls) -> list[tuple[str, object]]:
    """Start every call at the same moment, each in its own thread (own connection)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[str, object]] = []

    def work(call):
        try:
            barrier.wait()
            outcomes.append(("ok", call()))
        except Exception as exc:  # noqa: BLE001 - reported and failed on below
            outcomes.append(("error", exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def account_owing_1200():
    account = account_make(currency="KES")
    invoice_make(account=account, net_minor=120_000)
    return account


def exactly_once(account) -> None:
    assert JournalTransaction.objects.filter(kind=JournalKind.PAYMENT).count() == 1
    assert Payment.objects.count() == 1
    assert OutboundMessage.objects.filter(kind=MessageKind.RECEIPT).count() == 1
    assert account_balance(account) == kes("0")


def _paid_at_the_operator(sandbox, key: str):
    """An account owing KES 1,200, its pushed intent settled at the operator (whose status
    query now says paid) with no callback sent yet, its receipt, and a function that delivers the
    success callback once (its HTTP status)."""
    account = account_owing_1200()
    sandbox.script("never")  # the customer pays; the tests deliver the callbacks themselves
    with mock.patch("payments.tasks.payment_intent_push_task.delay"):
        intent = payment_intent_create(
            account=account,
            phone="+254712345678",
            amount=kes("1200"),
            channel=Channel.USSD,
            idempotency_key=key,
        )
    intent = payment_intent_push(intent_id=intent.pk)
    sandbox.deliver_pending()
    receipt = sandbox.status(intent.provider_reference).receipt

    def deliver():
        response = sandbox_callback(Client(), reference=intent.provider_reference, receipt=receipt)
        return response.status_code

    return account, intent, receipt, deliver


def test_twenty_deliveries_and_reconciliation_at_once_credit_once(sandbox):
    account, intent, receipt, deliver = _paid_at_the_operator(sandbox, "ussd:race")

    calls = [deliver] * THREADS + [lambda: payment_intent_check(intent_id=intent.pk)]
    outcomes = run_together(calls)

    assert [kind for kind, _ in outcomes] == ["ok"] * (THREADS + 1), outcomes
    assert sorted(r for _, r in outcomes if isinstance(r, int)) == [200] * THREADS
    intent.refresh_from_db()
    assert intent.status == IntentStatus.SUCCEEDED
    assert intent.receipt == receipt
    exactly_once(account)
    assert ProcessedEvent.objects.count() == 1
    statuses = list(CallbackDelivery.objects.values_list("status", flat=True))
    assert len(statuses) == THREADS
    assert statuses.count(CallbackStatus.DUPLICATE) >= THREADS - 1


def test_stk_callbacks_paybill_confirmations_and_a_receiptless_query_credit_once(mpesa):
    account = account_owing_1200()
    checkout = "ws_CO_191220191020363925"
    intent = PaymentIntent.objects.create(
        account=account,
        provider="mpesa",
        phone="+254708374149",
        currency="KES",
        amount_minor=120_000,
        status=IntentStatus.PENDING,
        channel=Channel.USSD,
        idempotency_key="ussd:doors",
        provider_reference=checkout,
        callback_key=checkout,
        pushed_at=timezone.now(),
    )
    stk = json.loads(fixture_body("mpesa_stk_callback_success.json"))
    stk["Body"]["stkCallback"]["CallbackMetadata"]["Item"][0]["Value"] = 1200
    c2b = json.loads(fixture_body("mpesa_c2b_confirmation.json"))
    c2b.update(TransID="NLJ7RT61SV", BillRefNumber=account.number, TransAmount="1200.00")

    def post(path, body):
        def call():
            response = Client().post(
                f"/payments/mpesa/{path}/{MPESA_TOKEN}/",
                data=json.dumps(body),
                content_type="application/json",
            )
            return response.status_code

        return call

    calls = [post("stk", stk)] * 8 + [post("c2b/confirmation", c2b)] * 8
    calls += [lambda: payment_intent_check(intent_id=intent.pk)] * 2
    with mock.patch(
        "payments.providers.mpesa.MpesaExpressProvider.status_query",
        return_value=Verdict(Outcome.SUCCEEDED),  # Daraja's STK query: paid, no receipt
    ):
        outcomes = run_together(calls)

    assert [kind for kind, _ in outcomes] == ["ok"] * len(calls), outcomes
    intent.refresh_from_db()
    assert intent.status == IntentStatus.SUCCEEDED
    assert intent.receipt == "NLJ7RT61SV"
    exactly_once(account)


def test_ten_pushes_to_one_phone_at_once_make_one_intent(mpesa):
    account = account_owing_1200()

    def create(key: str):
        return payment_intent_create(
            account=account,
            phone="+254712345678",
            amount=kes("100"),
            channel=Channel.USSD,
            idempotency_key=key,
        )

    with mock.patch("payments.tasks.payment_intent_push_task.delay"):
        outcomes = run_together([lambda k=f"ussd:{i}": create(k) for i in range(10)])

    errors = [result for kind, result in outcomes if kind == "error"]
    assert PaymentIntent.objects.count() == 1
    assert len(errors) == 9
    assert all(isinstance(error, PushTooSoon) for error in errors), errors


def test_twenty_copies_at_once_in_worker_mode_leave_one_delivery_for_a_worker(sandbox, settings):
    from payments.services.sweep import callback_deliveries_drain, callback_delivery_process

    settings.PAYMENTS_CALLBACKS_ASYNC = True
    account, _, _, deliver = _paid_at_the_operator(sandbox, "ussd:race-async")

    with mock.patch("payments.tasks.callback_drain_task.delay") as enqueue:
        outcomes = run_together([deliver] * THREADS)

    assert outcomes == [("ok", 200)] * THREADS
    owner = ProcessedEvent.objects.get().delivery_id
    enqueue.assert_called_once_with()
    statuses = list(CallbackDelivery.objects.exclude(pk=owner).values_list("status", flat=True))
    assert statuses == [CallbackStatus.DUPLICATE] * (THREADS - 1)
    # two drains and the sweep on the owner at once: applied once
    outcomes = run_together(
        [callback_deliveries_drain] * 2 + [lambda: callback_delivery_process(delivery_id=owner)]
    )
    assert [kind for kind, _ in outcomes] == ["ok"] * 3, outcomes
    exactly_once(account)
    assert CallbackDelivery.objects.get(pk=owner).status == CallbackStatus.PROCESSED
