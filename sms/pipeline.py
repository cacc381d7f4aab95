"""Sending queued messages, once: claim them, send each (with failover), record each result.

1. Claim (sms.claims, one short transaction for a whole batch): what is due and allowed
   becomes "sending" with a claim token and a lease; the rest is skipped or deferred.
2. Send each claim, outside any transaction: take the gateway's tokens (a batch waits at most
   SMS_RATE_MAX_WAIT_SECONDS in all), call the route's gateways in order, failing over on a
   transient error; a permanent error stops.
3. Record each result as soon as it is known, only while our claim holds: sent (one
   conditional UPDATE), retried later with exponential backoff, failed, or put off (the rate
   limit, or the batch ran out of time: no send starts after half the lease).

Exactly once, and where it is not: a task run twice, concurrently or in turn, finds the claim
or the "sent" status and does nothing. A worker killed mid-send leaves the claim; when its
lease runs out the dispatcher hands the message over again and it is sent then (at-least-once).
If the worker died after the gateway took a message but before step 3 committed (a window of
milliseconds, one message wide since each result is recorded at once), the recipient gets it
twice: the gateways offer no idempotency key, and the alternative, marking a message sent
before calling the gateway (at-most-once), would lose bills and receipts on every crash. We
choose a rare duplicate over a lost message.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.phones import phone_mask
from sms import policy
from sms.claims import Claim, claims_take
from sms.contacts import contact_block, contact_get
from sms.gateways import gateway_get
from sms.gateways.base import GatewayRejected, GatewayUnavailable, OutgoingSms, SendResult
from sms.models import MessageStatus, OutboundMessage
from sms.throttle import tokens_take

logger = logging.getLogger(__name__)
_sleep = time.sleep  # the rate wait; tests set SMS_RATE_MAX_WAIT_SECONDS=0 and never sleep


@dataclass(frozen=True)
class _Outcome:
    verdict: str  # sent, transient, rejected, later
    gateway: str = ""
    result: SendResult | None = None
    error: str = ""  # for "later": why (rate_limit, released)
    blocked: bool = False
    wait: float = 0.0


def _tokens_wait(gateway: str, claim: Claim, *, patience_until: float | None) -> float:
    """0.0 once the tokens are taken, else how long they are away (waiting while patient)."""
    while True:
        wait = tokens_take(gateway, claim.segments, urgent=claim.urgent)
        if wait <= 0 or patience_until is None or time.monotonic() + wait > patience_until:
            return wait
        _sleep(wait)


def _send(claim: Claim, *, patience_until: float) -> _Outcome:
    errors = []
    for position, name in enumerate(claim.gateways):
        first = position == 0
        wait = _tokens_wait(name, claim, patience_until=patience_until if first else None)
        if wait > 0:
            if first:
                return _Outcome("later", gateway=name, error="rate_limit", wait=wait)
            errors.append(f"{name}: rate limited")
            continue
        try:
            result = gateway_get(name).send(OutgoingSms(claim.to, claim.text, str(claim.id)))
        except GatewayUnavailable as exc:
            errors.append(f"{name}: {exc}")
            logger.warning(
                "sms gateway unavailable", extra={"message_id": claim.id, "gateway": name}
            )
            continue
        except GatewayRejected as exc:
            return _Outcome(
                "rejected", gateway=name, error=f"{name}: {exc.code}", blocked=exc.recipient_blocked
            )
        return _Outcome("sent", gateway=name, result=result)
    return _Outcome("transient", error="; ".join(errors))


def _backoff(attempts: int) -> timedelta:
    delay = settings.SMS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(delay, settings.SMS_RETRY_MAX_SECONDS))


def _record_sent(claim: Claim, outcome: _Outcome) -> None:
    """One conditional UPDATE: it applies only while our claim holds."""
    result = outcome.result
    reported = result.cost is not None and result.cost_currency
    updated = OutboundMessage.objects.filter(
        pk=claim.id, status=MessageStatus.SENDING, claim=claim.token
    ).update(
        status=MessageStatus.SENT,
        sent_at=timezone.now(),
        gateway=outcome.gateway,
        gateway_message_id=result.gateway_message_id,
        cost=result.cost if reported else claim.cost,
        cost_currency=result.cost_currency if reported else settings.SMS_SPEND_CURRENCY,
        sealed_body="",
        error="",
        claim="",
        lease_until=None,
    )
    if not updated:
        logger.warning("sms claim lost before recording", extra={"message_id": claim.id})
        return
    logger.info(
        "sms sent",
        extra={"message_id": claim.id, "gateway": outcome.gateway, "to": phone_mask(claim.to)},
    )


def _uncount(claim: Claim) -> None:
    if claim.counted:
        contact = contact_get(claim.to, lock=True)
        contact.day_count = max(contact.day_count - 1, 0)
        contact.last_sent_at = claim.previous_sent_at
        contact.save(update_fields=["day_count", "last_sent_at"])


@transaction.atomic
def _record_unsent(claim: Claim, outcome: _Outcome) -> None:
    now = timezone.now()
    message = OutboundMessage.objects.select_for_update().get(pk=claim.id)
    if message.status != MessageStatus.SENDING or message.claim != claim.token:
        logger.warning("sms claim lost before recording", extra={"message_id": claim.id})
        return
    policy.spend_release(
        operator_key=claim.operator_key, cost=claim.cost, now=now, tz_name=claim.time_zone
    )
    message.claim, message.lease_until = "", None
    fields = ["claim", "lease_until", "status", "error", "sealed_body"]
    if outcome.verdict == "later":  # not an attempt: as if it had not been claimed
        _uncount(claim)
        message.status, message.attempts = MessageStatus.QUEUED, message.attempts - 1
        message.not_before = now + timedelta(seconds=outcome.wait)
        message.defer_reason, message.dispatched_at = outcome.error, None
        fields += ["attempts", "not_before", "defer_reason", "dispatched_at"]
    elif outcome.verdict == "transient" and message.attempts < settings.SMS_MAX_ATTEMPTS:
        message.status, message.error = MessageStatus.QUEUED, outcome.error[:255]
        message.not_before = now + _backoff(message.attempts)
        message.defer_reason, message.dispatched_at = "retry", None
        fields += ["not_before", "defer_reason", "dispatched_at"]
    else:
        reason = outcome.error
        if outcome.verdict == "transient":
            reason = f"gave up after {message.attempts} attempts: {outcome.error}"
        message.status, message.error = MessageStatus.FAILED, reason[:255]
        message.sealed_body = ""
        if outcome.blocked:
            contact_block(phone=claim.to, gateway=outcome.gateway, reason=outcome.error)
        logger.warning("sms failed", extra={"message_id": claim.id})
    message.save(update_fields=fields)


def messages_deliver(*, message_ids: list[int]) -> None:
    """Send the messages among `message_ids` that are due and allowed, each once."""
    claims = claims_take(message_ids)
    started = time.monotonic()
    stop_at = started + settings.SMS_SEND_LEASE_SECONDS / 2
    patience_until = started + settings.SMS_RATE_MAX_WAIT_SECONDS
    put_off = None  # once the rate limit or the clock stops the batch, the rest waits too
    for claim in claims:
        if put_off is None and time.monotonic() > stop_at:
            put_off = _Outcome("later", error="released")
        outcome = put_off or _send(claim, patience_until=patience_until)
        if outcome.verdict == "later":
            put_off = outcome
        if outcome.verdict == "sent":
            _record_sent(claim, outcome)
        else:
            _record_unsent(claim, outcome)


def message_deliver(*, message_id: int) -> None:
    """Send one queued message if it is due and allowed, once."""
    messages_deliver(message_ids=[message_id])


@transaction.atomic
def message_fail(*, message_id: int, reason: str) -> None:
    """Give up on a message that could not be sent: mark it failed and wipe any sealed secret."""
    OutboundMessage.objects.filter(
        pk=message_id, status__in=(MessageStatus.QUEUED, MessageStatus.SENDING)
    ).update(status=MessageStatus.FAILED, sealed_body="", error=reason[:255], claim="")
    logger.warning("sms failed", extra={"message_id": message_id})
