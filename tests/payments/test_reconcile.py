"""Reconciliation: pending intents are asked about at 1, 3, 10 and 15 minutes, and settle."""

from datetime import datetime, timedelta
from io import StringIO
from unittest import mock

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command

from billing.models import JournalKind, JournalTransaction
from billing.money import Money
from payments.models import Channel, IntentStatus, PaymentIntent
from payments.providers.base import Outcome, ProviderError, Verdict
from payments.services.intents import payment_intent_create
from payments.services.push import payment_intent_push
from payments.services.reconcile import payment_intents_reconcile
from payments.tasks import RECONCILE_LOCK, payments_reconcile
from tests.payments.support import kes, sandbox_callback

pytestmark = pytest.mark.django_db

PUSHED = datetime.fromisoformat("2026-03-02T10:00:00+03:00")


def at(minutes: float):
    return time_machine.travel(PUSHED + timedelta(minutes=minutes), tick=False)


def pushed(account, key: str = "k1") -> PaymentIntent:
    with at(0):
        intent = payment_intent_create(
            account=account,
            phone="+254712345678",
            amount=kes("1200"),
            channel=Channel.SMS,
            idempotency_key=key,
        )
        return payment_intent_push(intent_id=intent.pk)


def credits() -> int:
    return JournalTransaction.objects.filter(kind=JournalKind.PAYMENT).count()


def test_a_lost_callback_is_healed_by_the_status_query(sandbox, account):
    sandbox.script("never")  # the customer pays; the operator never calls back
    intent = pushed(account)
    sandbox.deliver_pending()

    with at(1):
        report = payment_intents_reconcile()

    intent.refresh_from_db()
    assert report.checked == 1
    assert report.changed == {"succeeded": 1}
    assert intent.status == IntentStatus.SUCCEEDED
    assert credits() == 1


def test_questions_follow_the_back_off_and_the_intent_expires_at_15_minutes(sandbox, account):
    intent = pushed(account)
    asked = []
    for minute in (0.5, 1, 2, 3, 5, 10, 14, 15):
        with at(minute):
            if payment_intents_reconcile().checked:
                asked.append(minute)

    intent.refresh_from_db()
    assert asked == [1, 3, 10, 15]
    assert intent.status == IntentStatus.EXPIRED
    assert intent.failure_code == "no_answer"
    assert intent.checks_done == 4


def test_a_success_after_expiry_still_credits(sandbox, account, client):
    sandbox.script("never")  # the customer approves only after we gave up; no callback either
    intent = pushed(account)
    with at(15):
        payment_intents_reconcile()
    intent.refresh_from_db()
    assert intent.status == IntentStatus.EXPIRED

    sandbox.deliver_pending()  # the customer approved very late; its callback is lost too
    sandbox_callback(client, reference=intent.provider_reference, receipt="LATE1")

    intent.refresh_from_db()
    assert intent.status == IntentStatus.SUCCEEDED
    assert "late_success" in intent.flags
    assert credits() == 1


def test_an_operator_that_does_not_answer_counts_as_pending(sandbox, account):
    intent = pushed(account)
    down = ProviderError("down", code="unreachable", transient=True)
    with (
        mock.patch("payments.providers.sandbox.SandboxProvider.status_query", side_effect=down),
        at(1),
    ):
        report = payment_intents_reconcile()

    intent.refresh_from_db()
    assert report.unreachable == 1
    assert intent.status == IntentStatus.PENDING
    assert intent.next_check_at == PUSHED + timedelta(minutes=3)


def test_a_final_intent_with_a_recheck_is_asked_once_more(sandbox, account):
    sandbox.script("never")
    intent = pushed(account)
    sandbox.deliver_pending()
    PaymentIntent.objects.filter(pk=intent.pk).update(
        status=IntentStatus.EXPIRED, next_check_at=PUSHED + timedelta(minutes=20)
    )

    with at(21):
        payment_intents_reconcile()

    intent.refresh_from_db()
    assert intent.status == IntentStatus.SUCCEEDED
    assert intent.flags == ["late_success"]


def test_an_intent_never_pushed_expires_after_15_minutes(sandbox, account):
    with at(0):
        intent = payment_intent_create(
            account=account,
            phone="+254712345678",
            amount=kes("1200"),
            channel=Channel.API,
            idempotency_key="stuck",
        )
    with at(16):
        report = payment_intents_reconcile()

    intent.refresh_from_db()
    assert report.expired == 1
    assert intent.status == IntentStatus.EXPIRED
    assert intent.failure_code == "not_sent"


def test_the_command_dry_run_asks_and_changes_nothing(sandbox, account):
    sandbox.script("never")
    intent = pushed(account)
    sandbox.deliver_pending()
    out = StringIO()

    with at(20):
        call_command("reconcile_payments", "--dry-run", "--min-age", "15", stdout=out)

    intent.refresh_from_db()
    assert intent.status == IntentStatus.PENDING
    assert f"{intent.pk} pending -> pending (operator: succeeded)" in out.getvalue()
    assert "[dry run] checked 1" in out.getvalue()


def test_the_command_settles_intents_older_than_min_age(sandbox, account):
    sandbox.script("never")
    young = pushed(account, key="young")
    sandbox.deliver_pending()
    with at(0.2):
        call_command("reconcile_payments", "--min-age", "15", stdout=StringIO())
    with at(16):
        call_command("reconcile_payments", "--min-age", "15", stdout=StringIO())

    young.refresh_from_db()
    assert young.status == IntentStatus.SUCCEEDED


def test_the_beat_task_skips_while_a_run_holds_the_lock(sandbox, account):
    cache.add(RECONCILE_LOCK, "1", timeout=60)

    assert payments_reconcile() == {"skipped": True}

    cache.delete(RECONCILE_LOCK)
    result = payments_reconcile()
    assert result["checked"] == 0
    assert cache.get(RECONCILE_LOCK) is None


def test_a_success_that_cannot_be_credited_keeps_the_intent_on_schedule(sandbox, account):
    intent = pushed(account)
    euros = Verdict(Outcome.SUCCEEDED, receipt="X1", amount=Money.of("5", "EUR"))
    with (
        mock.patch("payments.providers.sandbox.SandboxProvider.status_query", return_value=euros),
        at(1),
    ):
        payment_intents_reconcile()

    intent.refresh_from_db()
    assert intent.status == IntentStatus.PENDING
    assert intent.flags == ["currency_mismatch"]
    assert intent.next_check_at == PUSHED + timedelta(minutes=3)
    with at(15):
        payment_intents_reconcile()
    intent.refresh_from_db()
    assert intent.status == IntentStatus.EXPIRED
    assert credits() == 0
