"""Reconciliation: callbacks are hints; every pending intent is asked about at the operator.

Schedule, counted from the push: a status query after about 1, 3 and 10 minutes, and a last
one at 15 minutes; an intent still without an answer then expires (a success that arrives
later still credits and is flagged late_success). A query the operator cannot answer counts
as an answer of "pending". An intent pushed nowhere (still `created` after 15 minutes: the
worker never ran) expires too.

An intent that is no longer pending but has `next_check_at` set (a doubtful callback arrived
and the operator could not confirm it) is asked once more, so a late success is not lost.
The beat task runs every minute; `manage.py reconcile_payments` runs the same code by hand.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from payments.models import IntentStatus, PaymentIntent
from payments.providers import ProviderNotConfigured, provider_get
from payments.providers.base import Outcome, ProviderError, Verdict
from payments.selectors import payment_intents_due, payment_intents_stale
from payments.services.intents import (
    EXPIRE_AFTER,
    intent_amount,
    payment_intent_transition_locked,
)

logger = logging.getLogger(__name__)

# When to ask the operator, counted from the push; the last entry is the expiry check.
CHECK_OFFSETS = (
    timedelta(minutes=1),
    timedelta(minutes=3),
    timedelta(minutes=10),
    EXPIRE_AFTER,
)
NO_ANSWER = Verdict(
    Outcome.EXPIRED,
    failure_code="no_answer",
    failure_message="The payment was not confirmed in time. No money was taken.",
)
NEVER_PUSHED = Verdict(
    Outcome.EXPIRED,
    failure_code="not_sent",
    failure_message="The payment request could not be sent. Please try again.",
)


@dataclass
class ReconcileReport:
    checked: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    unreachable: int = 0
    expired: int = 0
    lines: list[str] = field(default_factory=list)  # one per intent, for the command's output

    def as_dict(self) -> dict:
        return {
            "checked": self.checked,
            "changed": self.changed,
            "unreachable": self.unreachable,
            "expired": self.expired,
        }


def _query(intent: PaymentIntent) -> Verdict | None:
    """The operator's answer, or None when it cannot be had right now."""
    try:
        return provider_get(intent.provider).status_query(
            provider_reference=intent.provider_reference,
            provider_data=intent.provider_data,
            amount=intent_amount(intent),
        )
    except (ProviderError, ProviderNotConfigured) as exc:
        logger.warning(
            "status query failed",
            extra={
                "intent_id": str(intent.pk),
                "provider": intent.provider,
                "provider_reference": intent.provider_reference,
                "code": getattr(exc, "code", ""),
            },
        )
        return None


def _next_check(intent: PaymentIntent, now: datetime) -> datetime | None:
    start = intent.pushed_at or intent.created_at
    for offset in CHECK_OFFSETS:
        if start + offset > now:
            return start + offset
    return None


@transaction.atomic
def _settle(intent_id, answer: Verdict | None, *, now: datetime) -> tuple[str, str]:
    """Apply the operator's answer under the row lock; returns (status before, after)."""
    intent = (
        PaymentIntent.objects.select_for_update(of=("self",))
        .select_related("account__operator")
        .get(pk=intent_id)
    )
    before = intent.status
    intent.checks_done += 1
    intent.save(update_fields=["checks_done"])
    if answer is not None and answer.outcome != Outcome.PENDING:
        intent = payment_intent_transition_locked(intent, answer, source="reconcile")
        if intent.status != before:
            return before, intent.status
    if before != IntentStatus.PENDING:
        # A recheck of a final intent: ask again a few times while the operator has no final
        # answer, then leave it to people.
        unsettled = answer is None or answer.outcome == Outcome.PENDING
        retry = unsettled and intent.checks_done < len(CHECK_OFFSETS) * 2
        intent.next_check_at = now + CHECK_OFFSETS[0] if retry else None
        intent.save(update_fields=["next_check_at"])
        return before, before
    # Still pending: no answer yet, or one that could not be applied (another currency).
    expires_at = intent.expires_at or (intent.pushed_at or intent.created_at) + EXPIRE_AFTER
    if now >= expires_at:
        intent = payment_intent_transition_locked(intent, NO_ANSWER, source="reconcile")
        return before, intent.status
    intent.next_check_at = _next_check(intent, now)
    intent.save(update_fields=["next_check_at"])
    return before, before


def payment_intent_check(*, intent_id, now: datetime | None = None, dry_run: bool = False):
    """Ask the operator about one intent and apply the answer; returns (before, after, answer).

    The query runs outside any transaction (no lock is held during the HTTP call); the answer
    is applied under the row lock, where the state machine ignores anything stale.
    """
    now = now or timezone.now()
    intent = PaymentIntent.objects.get(pk=intent_id)
    answer = _query(intent)
    if dry_run:
        return intent.status, intent.status, answer
    before, after = _settle(intent_id, answer, now=now)
    return before, after, answer


def payment_intents_reconcile(
    *,
    now: datetime | None = None,
    min_age: timedelta | None = None,
    dry_run: bool = False,
    limit: int = 500,
) -> ReconcileReport:
    """Check the intents that are due (or, with `min_age`, every pending intent at least that
    old), and expire intents that were never pushed."""
    now = now or timezone.now()
    report = ReconcileReport()
    for intent_id in payment_intents_due(now=now, min_age=min_age, limit=limit):
        before, after, answer = payment_intent_check(intent_id=intent_id, now=now, dry_run=dry_run)
        report.checked += 1
        if answer is None:
            report.unreachable += 1
        if after != before:
            report.changed[after] = report.changed.get(after, 0) + 1
        said = answer.outcome.value if answer else "no answer"
        report.lines.append(f"{intent_id} {before} -> {after} (operator: {said})")
    for intent_id in payment_intents_stale(now=now, older_than=EXPIRE_AFTER, limit=limit):
        report.expired += 1
        report.lines.append(f"{intent_id} created -> expired (never pushed)")
        if not dry_run:
            _expire_unpushed(intent_id)
    return report


@transaction.atomic
def _expire_unpushed(intent_id) -> None:
    intent = PaymentIntent.objects.select_for_update(of=("self",)).get(pk=intent_id)
    if intent.status == IntentStatus.CREATED:
        payment_intent_transition_locked(intent, NEVER_PUSHED, source="reconcile")
