"""Callbacks processed by a worker (PAYMENTS_CALLBACKS_ASYNC): acknowledged once stored, woken
drains that credit each once, and the sweep that processes any delivery left unprocessed."""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from billing.models import JournalKind, JournalTransaction
from payments.models import (
    CallbackDelivery,
    CallbackStatus,
    Channel,
    IntentStatus,
    ProcessedEvent,
)
from payments.services.intents import payment_intent_create
from payments.services.push import payment_intent_push
from payments.services.sweep import (
    callback_deliveries_drain,
    callback_deliveries_sweep,
    callback_delivery_process,
)
from payments.tasks import payments_reconcile
from tests.payments.support import kes, sandbox_callback

pytestmark = pytest.mark.django_db
TASK = "payments.tasks.callback_drain_task.delay"


@pytest.fixture
def intent(sandbox, account, settings):
    settings.PAYMENTS_CALLBACKS_ASYNC = True
    intent = payment_intent_create(
        account=account,
        phone="+254712345678",
        amount=kes("1200"),
        channel=Channel.USSD,
        idempotency_key="ussd:async",
    )
    return payment_intent_push(intent_id=intent.pk)


def credits() -> int:
    return JournalTransaction.objects.filter(kind=JournalKind.PAYMENT).count()


def test_the_operator_is_acknowledged_once_stored_and_a_worker_credits(intent, client):
    with mock.patch(TASK) as enqueue:
        response = sandbox_callback(client, reference=intent.provider_reference)

    delivery = CallbackDelivery.objects.get()
    assert response.status_code == 200
    assert delivery.status == CallbackStatus.RECEIVED
    assert credits() == 0
    enqueue.assert_called_once_with()

    assert callback_deliveries_drain() == 1
    assert callback_deliveries_drain() == 0
    delivery.refresh_from_db()
    assert delivery.status == CallbackStatus.PROCESSED
    intent.refresh_from_db()
    assert intent.status == IntentStatus.SUCCEEDED
    assert credits() == 1


def test_only_the_first_copy_waits_for_a_worker_and_is_credited(intent, client):
    with mock.patch(TASK) as enqueue:
        responses = [
            sandbox_callback(client, reference=intent.provider_reference) for _ in range(3)
        ]
    first, *copies = CallbackDelivery.objects.order_by("pk")

    assert [r.status_code for r in responses] == [200, 200, 200]
    enqueue.assert_called_once_with()
    assert first.status == CallbackStatus.RECEIVED
    assert [c.status for c in copies] == [CallbackStatus.DUPLICATE] * 2
    assert callback_deliveries_drain() == 1
    assert credits() == 1


def _pay(client, intent) -> int:
    """The operator's success callback for `intent` (its own receipt): the HTTP status."""
    receipt = f"SBXBURST{intent.provider_reference[-6:]}"
    reference = intent.provider_reference
    return sandbox_callback(
        client, reference=reference, amount="100.00", receipt=receipt
    ).status_code


def _pushed(account, n: int) -> list:
    pushed = []
    for i in range(n):
        intent = payment_intent_create(
            account=account,
            phone=f"+25471234567{i}",
            amount=kes("100"),
            channel=Channel.USSD,
            idempotency_key=f"ussd:burst:{i}",
        )
        pushed.append(payment_intent_push(intent_id=intent.pk))
    return pushed


def test_a_burst_of_callbacks_wakes_one_drain_that_credits_each_once(sandbox, account, settings):
    from django.test import Client

    settings.PAYMENTS_CALLBACKS_ASYNC = True
    intents = _pushed(account, 4)
    client = Client()
    with mock.patch(TASK) as enqueue:
        for intent in intents:
            assert _pay(client, intent) == 200

    enqueue.assert_called_once_with()
    assert credits() == 0
    assert callback_deliveries_drain(batch=3) == 4  # two scans: nothing is left behind
    assert credits() == 4
    statuses = set(CallbackDelivery.objects.values_list("status", flat=True))
    assert statuses == {CallbackStatus.PROCESSED}


def test_a_callback_stored_after_a_drain_began_wakes_another(sandbox, account, settings):
    from django.test import Client

    settings.PAYMENTS_CALLBACKS_ASYNC = True
    early, late = _pushed(account, 2)
    client = Client()
    with mock.patch(TASK) as enqueue:
        _pay(client, early)
        callback_deliveries_drain()  # a drain has scanned: the next callback must wake one
        _pay(client, late)
        _pay(client, late)  # a copy wakes nothing

    assert enqueue.call_count == 2
    assert callback_deliveries_drain() == 1
    assert credits() == 2


def test_a_wake_lost_to_a_broker_outage_is_retried_by_the_next_callback(sandbox, account, settings):
    from django.test import Client

    settings.PAYMENTS_CALLBACKS_ASYNC = True
    first, second = _pushed(account, 2)
    client = Client()
    with mock.patch(TASK, side_effect=ConnectionError("broker down")):
        _pay(client, first)
    with mock.patch(TASK) as enqueue:
        _pay(client, second)

    enqueue.assert_called_once_with()
    assert callback_deliveries_drain() == 2
    assert credits() == 2


def test_a_stored_unclaimed_copy_is_settled_by_the_claim(intent, client):
    """Deliveries stored `received` without a claim (before claims were taken on storing)
    are still processed once: the first claims the event, the others are duplicates."""
    with mock.patch(TASK):
        sandbox_callback(client, reference=intent.provider_reference)
    first = CallbackDelivery.objects.get()
    ProcessedEvent.objects.all().delete()
    first.pk = None
    first.save()  # an unclaimed copy, as stored before
    deliveries = list(CallbackDelivery.objects.order_by("-pk").values_list("pk", flat=True))

    outcomes = [callback_delivery_process(delivery_id=pk) for pk in deliveries]

    assert outcomes == [CallbackStatus.PROCESSED, CallbackStatus.DUPLICATE]
    assert credits() == 1


def test_a_broker_outage_loses_nothing_the_sweep_processes_it(intent, client):
    with mock.patch(TASK, side_effect=ConnectionError("broker down")):
        response = sandbox_callback(client, reference=intent.provider_reference)
    assert response.status_code == 200

    assert callback_deliveries_sweep() == 0  # too fresh: its worker may still be on it
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        result = payments_reconcile()

    assert result["callbacks_swept"] == 1
    assert CallbackDelivery.objects.get().status == CallbackStatus.PROCESSED
    assert credits() == 1


def test_the_sweep_never_relabels_a_delivery_its_request_processed(
    sandbox, intent, client, settings
):
    settings.PAYMENTS_CALLBACKS_ASYNC = False
    sandbox_callback(client, reference=intent.provider_reference)
    delivery = CallbackDelivery.objects.get()

    assert callback_delivery_process(delivery_id=delivery.pk) == "nothing to do"
    delivery.refresh_from_db()
    assert delivery.status == CallbackStatus.PROCESSED


def test_a_failed_processing_is_retried_by_the_sweep_for_an_hour(intent, client, settings):
    settings.PAYMENTS_CALLBACKS_ASYNC = False
    with mock.patch(
        "payments.services.verdicts.payment_intent_transition_locked",
        side_effect=RuntimeError("database restarted"),
    ):
        failed = sandbox_callback(client, reference=intent.provider_reference)
    assert failed.status_code == 500
    assert CallbackDelivery.objects.get().status == CallbackStatus.ERROR

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert callback_deliveries_sweep() == 0  # an hour of retries is over
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert callback_deliveries_sweep() == 1

    assert CallbackDelivery.objects.get().status == CallbackStatus.PROCESSED
    assert credits() == 1


def test_a_drain_that_fails_on_a_callback_gives_its_claim_to_the_operators_next_copy(
    intent, client
):
    with mock.patch(TASK):
        sandbox_callback(client, reference=intent.provider_reference)
    with mock.patch(
        "payments.services.verdicts.payment_intent_transition_locked",
        side_effect=RuntimeError("database restarted"),
    ):
        assert callback_deliveries_drain() == 1
    failed = CallbackDelivery.objects.get()
    assert failed.status == CallbackStatus.ERROR
    assert not ProcessedEvent.objects.exists()  # given up: the next copy owns the event

    with mock.patch(TASK) as enqueue:
        sandbox_callback(client, reference=intent.provider_reference)
    enqueue.assert_called_once_with()
    assert callback_deliveries_drain() == 1
    # the failed one, retried by the sweep, finds the event settled by the copy
    assert callback_delivery_process(delivery_id=failed.pk) == CallbackStatus.DUPLICATE
    assert credits() == 1
