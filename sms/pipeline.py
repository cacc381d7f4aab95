"""Sending queued messages, once: claim them, send each (with failover), record the results.

1. Claim (sms.claims, one short transaction for a whole batch): what is due and allowed
   becomes "sending" with a claim token and a lease; the rest is skipped or deferred.
2. Send each claim, outside any transaction: take the gateway's tokens (one bucket call for as
   many of the batch's messages as the bucket allows; a batch waits at most
   SMS_RATE_MAX_WAIT_SECONDS in all), call the route's gateways in order, failing over on a
   transient error; a permanent error stops.
3. Record the results, only while our claim holds: the sent ones together in one conditional
   UPDATE, at the end of the batch, before waiting for tokens, and before the next send once
   the oldest has waited SMS_SEND_RECORD_EVERY_SECONDS; a failure at once (retried later
   with exponential backoff, or failed); the ones put off (the rate limit, or the batch ran
   out of time: no send starts after half the lease) together at the end, as if never claimed.

Exactly once, and where it is not: a task run twice, concurrently or in turn, finds the claim
or the "sent" status and does nothing. A worker killed mid-send leaves the claim; when its
lease runs out the dispatcher hands the message over again and it is sent then (at-least-once).
If the worker died after the gateway took messages but before their "sent" was committed
(about SMS_SEND_RECORD_EVERY_SECONDS plus one send at most, and at most one batch:
SMS_SEND_BATCH bulk messages, or the one code or receipt of its task), those recipients get
them twice. The gateways offer no idempotency key; marking a message sent before calling the
gateway (at-most-once) would lose bills and receipts on every crash; and one UPDATE per
message, a window one message wide, cost as much CPU as the send itself. We choose a rare
duplicate over a lost message.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from sms import policy
from sms.claims import Claim, claims_take
from sms.contacts import contact_block
from sms.gateways import gateway_get
from sms.gateways.base import GatewayRejected, GatewayUnavailable, OutgoingSms, SendResult
from sms.models import MessageStatus, OutboundMessage, SmsContact
from sms.throttle import tokens_take_many

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


class _Batch:
    """One run over a batch's claims: the gateway tokens taken ahead for the claims that follow,
    and the results that wait to be recorded together."""

    def __init__(self, claims: list[Claim]) -> None:
        self.claims = claims
        self._paid: set[tuple[int, str]] = set()  # (message id, gateway) with tokens taken
        self._sent: list[tuple[Claim, _Outcome]] = []
        self._sent_since = 0.0
        self._put_off: list[tuple[Claim, _Outcome]] = []

    def _tokens_wait(self, position: int, gateway: str, *, patience_until: float | None) -> float:
        """0.0 once the claim's tokens are taken, else how long they are away (waiting while
        patient). On its first gateway a claim also asks for the claims after it there."""
        claim = self.claims[position]
        if (claim.id, gateway) in self._paid:
            return 0.0
        ahead = [claim]
        if patience_until is not None:
            ahead += [
                c
                for c in self.claims[position + 1 :]
                if c.gateways[0] == gateway and c.urgent == claim.urgent
            ]
        costs = [c.segments for c in ahead]
        while True:
            taken, wait = tokens_take_many(gateway, costs, urgent=claim.urgent)
            if taken:
                self._paid.update((c.id, gateway) for c in ahead[:taken])
                return 0.0
            if patience_until is None or time.monotonic() + wait > patience_until:
                return wait
            self.flush()  # nothing to do meanwhile: record what was sent
            _sleep(wait)

    def send(self, position: int, *, patience_until: float) -> _Outcome:
        self._flush_if_due()
        claim, errors = self.claims[position], []
        for rank, name in enumerate(claim.gateways):
            first = rank == 0
            wait = self._tokens_wait(
                position, name, patience_until=patience_until if first else None
            )
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
                    "rejected",
                    gateway=name,
                    error=f"{name}: {exc.code}",
                    blocked=exc.recipient_blocked,
                )
            return _Outcome("sent", gateway=name, result=result)
        return _Outcome("transient", error="; ".join(errors))

    def record(self, claim: Claim, outcome: _Outcome) -> None:
        if outcome.verdict == "sent":
            if not self._sent:
                self._sent_since = time.monotonic()
            self._sent.append((claim, outcome))
            self._flush_if_due()
        elif outcome.verdict == "later":
            self._put_off.append((claim, outcome))
        else:
            _record_failure(claim, outcome)

    def _flush_if_due(self) -> None:
        waited = time.monotonic() - self._sent_since
        if self._sent and waited >= settings.SMS_SEND_RECORD_EVERY_SECONDS:
            self.flush()

    def flush(self) -> None:
        sent, self._sent = self._sent, []
        if sent:
            _record_sent(sent)

    def finish(self) -> None:
        self.flush()
        put_off, self._put_off = self._put_off, []
        if put_off:
            _record_put_off(put_off)


def _backoff(attempts: int) -> timedelta:
    delay = settings.SMS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(delay, settings.SMS_RETRY_MAX_SECONDS))


def _warn_lost(claims: list[Claim]) -> None:
    for claim in claims:
        logger.warning("sms claim lost before recording", extra={"message_id": claim.id})


_RECORD_SENT_SQL = """
UPDATE sms_outboundmessage
   SET status = %s, sent_at = %s, gateway = %s, gateway_message_id = v.column2, cost = %s,
       cost_currency = %s, sealed_body = '', error = '', claim = '', lease_until = NULL
  FROM (VALUES {rows}) AS v
 WHERE sms_outboundmessage.id = v.column1
   AND sms_outboundmessage.status = %s AND sms_outboundmessage.claim = %s
RETURNING sms_outboundmessage.id
"""


def _record_sent(sent: list[tuple[Claim, _Outcome]]) -> None:
    """One conditional UPDATE per gateway and price (usually one for the batch), applied only
    to the messages our claim still holds. Each row gets its own gateway message id from a
    VALUES list (PostgreSQL and SQLite alike): the ORM's CASE per row cost more CPU than the
    send itself."""
    now, groups = timezone.now(), defaultdict(list)
    for claim, outcome in sent:
        result = outcome.result
        if result.cost is not None and result.cost_currency:
            price = (result.cost, result.cost_currency)
        else:
            price = (claim.cost, settings.SMS_SPEND_CURRENCY)
        groups[(claim.token, outcome.gateway, *price)].append((claim, result.gateway_message_id))
    ops = connection.ops
    for (token, gateway, cost, currency), rows in groups.items():
        sql = _RECORD_SENT_SQL.format(rows=", ".join(["(CAST(%s AS bigint), %s)"] * len(rows)))
        params = [
            MessageStatus.SENT.value,
            ops.adapt_datetimefield_value(now),
            gateway,
            ops.adapt_decimalfield_value(cost, 12, 4),
            currency,
            *(value for claim, external in rows for value in (claim.id, external)),
            MessageStatus.SENDING.value,
            token,
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            recorded = {pk for (pk,) in cursor.fetchall()}
        # Not recorded: taken over after its lease ran out; the takeover's record stands.
        _warn_lost([claim for claim, _ in rows if claim.id not in recorded])
        logger.info("sms sent", extra={"message_ids": sorted(recorded), "gateway": gateway})


def _uncount(claims: list[Claim]) -> None:
    """Undo the recipients' counters moved by these claims (their rows locked, phone order)."""
    claims = [claim for claim in claims if claim.counted]
    if not claims:
        return
    rows = SmsContact.objects.select_for_update().order_by("phone")
    contacts = {c.phone: c for c in rows.filter(phone__in={claim.to for claim in claims})}
    for claim in reversed(claims):  # the earliest claim's previous time is the one to restore
        contact = contacts[claim.to]
        contact.day_count = max(contact.day_count - 1, 0)
        contact.last_sent_at = claim.previous_sent_at
    SmsContact.objects.bulk_update(list(contacts.values()), ["day_count", "last_sent_at"])


def _spend_release(claims: list[Claim], now) -> None:
    """Give back the claims' spend reservations, one counter move per operator and zone."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for claim in claims:
        totals[(claim.operator_key, claim.time_zone)] += claim.cost
    for (operator_key, tz_name), cost in totals.items():
        policy.spend_release(operator_key=operator_key, cost=cost, now=now, tz_name=tz_name)


@transaction.atomic
def _record_put_off(put_off: list[tuple[Claim, _Outcome]]) -> None:
    """Not attempts: back in the outbox as if they had not been claimed, due after the wait."""
    now = timezone.now()
    by_id = {claim.id: (claim, outcome) for claim, outcome in put_off}
    held = set(
        OutboundMessage.objects.select_for_update()
        .filter(pk__in=by_id, status=MessageStatus.SENDING, claim=put_off[0][0].token)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    _warn_lost([claim for claim, _ in put_off if claim.id not in held])
    claims = [claim for claim, _ in put_off if claim.id in held]
    if not claims:
        return
    _spend_release(claims, now)
    _uncount(claims)
    groups = defaultdict(list)
    for claim in claims:
        outcome = by_id[claim.id][1]
        groups[(outcome.error, outcome.wait)].append(claim.id)
    for (reason, wait), ids in groups.items():
        OutboundMessage.objects.filter(pk__in=ids).update(
            status=MessageStatus.QUEUED,
            attempts=F("attempts") - 1,
            not_before=now + timedelta(seconds=wait),
            defer_reason=reason,
            dispatched_at=None,
            claim="",
            lease_until=None,
        )


@transaction.atomic
def _record_failure(claim: Claim, outcome: _Outcome) -> None:
    """A transient failure goes back to the outbox with backoff until SMS_MAX_ATTEMPTS; a
    permanent one (or the last attempt) fails the message."""
    now = timezone.now()
    message = OutboundMessage.objects.select_for_update().get(pk=claim.id)
    if message.status != MessageStatus.SENDING or message.claim != claim.token:
        _warn_lost([claim])
        return
    _spend_release([claim], now)
    message.claim, message.lease_until = "", None
    fields = ["claim", "lease_until", "status", "error", "sealed_body"]
    if outcome.verdict == "transient" and message.attempts < settings.SMS_MAX_ATTEMPTS:
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
    if not claims:
        return
    batch = _Batch(claims)
    started = time.monotonic()
    stop_at = started + settings.SMS_SEND_LEASE_SECONDS / 2
    patience_until = started + settings.SMS_RATE_MAX_WAIT_SECONDS
    put_off = None  # once the rate limit or the clock stops the batch, the rest waits too
    try:
        for position, claim in enumerate(claims):
            if put_off is None and time.monotonic() > stop_at:
                put_off = _Outcome("later", error="released")
            outcome = put_off or batch.send(position, patience_until=patience_until)
            if outcome.verdict == "later":
                put_off = outcome
            batch.record(claim, outcome)
    finally:  # what was sent is recorded even if something went wrong on the way
        batch.finish()


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
