"""Claiming messages to send: the policy applied, under row locks, in one short transaction.

For each message of a batch that is still to send (queued and due, or "sending" with a lease
that ran out: its worker died), the policy (sms.policy) says skip, defer with a not-before
time, or go: the message becomes "sending" with the batch's claim token and a lease, and the
recipient's counters move. Messages locked by another worker are skipped (SKIP LOCKED), and
contacts are locked in phone order, so concurrent batches neither wait on nor deadlock each
other. Everything is written with a few bulk statements, whatever the batch's size, and the
spend cap is asked once per operator for the whole batch (the unused part given back at once).
"""

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.services.activation import CODE_TTL
from sms import policy
from sms.gateways import gateway_route
from sms.models import (
    OPTIONAL_KINDS,
    QUIET_HOURS_KINDS,
    URGENT_KINDS,
    MessageKind,
    MessageStatus,
    OutboundMessage,
    SmsContact,
)
from sms.sealing import body_unseal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    id: int
    token: str
    to: str
    text: str
    urgent: bool
    segments: int
    gateways: list[str]
    operator_key: str
    time_zone: str
    cost: Decimal
    counted: bool  # the recipient's counters were moved (undone if the send is put off)
    previous_sent_at: datetime | None


def _due(message: OutboundMessage, now: datetime) -> bool:
    if message.status == MessageStatus.SENDING:
        return message.lease_until <= now  # a live worker is sending it otherwise
    return message.not_before <= now  # else a stale task: the dispatcher hands it over


def _contacts_locked(phones: set[str]) -> dict[str, SmsContact]:
    rows = SmsContact.objects.select_for_update().order_by("phone")
    found = {c.phone: c for c in rows.filter(phone__in=phones)}
    missing = phones - found.keys()
    if missing:
        created = [SmsContact(phone=phone) for phone in missing]
        SmsContact.objects.bulk_create(created, ignore_conflicts=True)
        found |= {c.phone: c for c in rows.filter(phone__in=missing)}
    return found


def _policy(message, kind, contact, now) -> policy.Defer | str | None:
    """A Defer, a reason to skip, or None: go ahead."""
    if kind == MessageKind.OTP and now - message.created_at > CODE_TTL:
        return "expired"
    if kind in OPTIONAL_KINDS and contact.opted_out:
        return "opted_out"
    if kind in QUIET_HOURS_KINDS:
        end = policy.quiet_hours_end(now, message.time_zone)
        if end is not None:
            return policy.Defer(end, "quiet_hours")
    if kind != MessageKind.OTP:
        return policy.recipient_defer(contact, now=now, tz_name=message.time_zone)
    return None


class _Spend:
    """The batch's spend reservations. Per operator, zone and urgency, the estimate of all the
    batch's messages is reserved at once (one counter move) and what the policy then skips or
    defers is given back at the end; a group too near its cap for that reserves one message at
    a time, so the cap still stops exactly where it did."""

    def __init__(self, messages: list[OutboundMessage], now: datetime) -> None:
        self.now = now
        self.costs = {m.pk: policy.cost_estimate(m.to, m.segments) for m in messages}
        self._total: dict[tuple, Decimal] = defaultdict(Decimal)
        for m in messages:
            self._total[self._key(m)] += self.costs[m.pk]
        self._used: dict[tuple, Decimal] = defaultdict(Decimal)
        self._whole: dict[tuple, bool] = {}  # whether the group's total was reserved

    @staticmethod
    def _key(message: OutboundMessage) -> tuple[str, str, bool]:
        return message.operator_key, message.time_zone, message.kind in URGENT_KINDS

    def _reserve(self, key: tuple[str, str, bool], cost: Decimal) -> bool:
        operator_key, tz_name, urgent = key
        return policy.spend_reserve(
            operator_key=operator_key, cost=cost, urgent=urgent, now=self.now, tz_name=tz_name
        )

    def reserve(self, message: OutboundMessage) -> bool:
        key, cost = self._key(message), self.costs[message.pk]
        if key not in self._whole:
            self._whole[key] = self._reserve(key, self._total[key])
        if self._whole[key]:
            self._used[key] += cost
            return True
        return self._reserve(key, cost)

    def settle(self) -> None:
        """Give back what the whole-batch reservations did not use."""
        for key, whole in self._whole.items():
            unused = self._total[key] - self._used[key]
            if whole and unused > 0:
                operator_key, tz_name, _ = key
                policy.spend_release(
                    operator_key=operator_key, cost=unused, now=self.now, tz_name=tz_name
                )


def _decide(message, contact, now, spend: _Spend) -> tuple[policy.Defer | str | None, list[str]]:
    kind = MessageKind(message.kind)
    decision = _policy(message, kind, contact, now)
    gateways = [g for g in gateway_route(message.to) if g not in contact.blocked_on]
    if decision is None and not gateways:
        decision = "blocked" if contact.blocked_on else "no_route"
    if decision is None and not spend.reserve(message):
        tomorrow = policy.next_local_midnight(now, message.time_zone)
        decision = "spend_cap" if kind == MessageKind.OTP else policy.Defer(tomorrow, "spend_cap")
    return decision, gateways


def _contacts_save_counts(contacts: list[SmsContact]) -> None:
    """Write the counters the claims moved: one UPDATE per set of values (few: they differ
    only in the day count and the local day) instead of one CASE per row and column."""
    by_values = defaultdict(list)
    for contact in contacts:
        by_values[(contact.day, contact.day_count, contact.last_sent_at)].append(contact.pk)
    for (day, day_count, last_sent_at), ids in by_values.items():
        SmsContact.objects.filter(pk__in=ids).update(
            day=day, day_count=day_count, last_sent_at=last_sent_at
        )


@transaction.atomic
def claims_take(message_ids: list[int]) -> list[Claim]:
    """Claim what may be sent now among `message_ids`, most urgent first; skip or defer the
    rest as the policy says. Returns the claims, in sending order."""
    now = timezone.now()
    messages = [
        m
        for m in OutboundMessage.objects.select_for_update(skip_locked=True)
        .filter(pk__in=message_ids, status__in=(MessageStatus.QUEUED, MessageStatus.SENDING))
        .order_by("priority", "id")
        if _due(m, now)
    ]
    worn = [m.pk for m in messages if m.attempts >= settings.SMS_MAX_ATTEMPTS]
    if worn:  # crashed again and again
        OutboundMessage.objects.filter(pk__in=worn).update(
            status=MessageStatus.FAILED,
            sealed_body="",
            claim="",
            error="gave up: too many attempts",
        )
    messages = [m for m in messages if m.pk not in worn]
    if not messages:
        return []
    contacts = _contacts_locked({m.to for m in messages})
    spend = _Spend(messages, now)
    token, claims, skipped, deferred, counted = uuid.uuid4().hex, [], [], [], {}
    for message in messages:
        contact = contacts[message.to]
        decision, gateways = _decide(message, contact, now, spend)
        if isinstance(decision, str):
            message.status, message.error = MessageStatus.SKIPPED, decision
            message.sealed_body = ""
            skipped.append(message)
            logger.info("sms skipped", extra={"message_id": message.pk, "reason": decision})
            continue
        if decision is not None:
            message.status, message.not_before = MessageStatus.QUEUED, decision.until
            message.defer_reason, message.dispatched_at = decision.reason, None
            deferred.append(message)
            continue
        previous_sent_at, counts = contact.last_sent_at, message.kind != MessageKind.OTP
        if counts:
            policy.recipient_count(contact, now=now, tz_name=message.time_zone)
            counted[contact.phone] = contact
        claims.append(
            Claim(
                id=message.pk,
                token=token,
                to=message.to,
                text=body_unseal(message.sealed_body) if message.sealed_body else message.body,
                urgent=message.kind in URGENT_KINDS,
                segments=message.segments,
                gateways=gateways,
                operator_key=message.operator_key,
                time_zone=message.time_zone,
                cost=spend.costs[message.pk],
                counted=counts,
                previous_sent_at=previous_sent_at,
            )
        )
    spend.settle()
    OutboundMessage.objects.bulk_update(skipped, ["status", "error", "sealed_body"])
    deferred_fields = ["status", "not_before", "defer_reason", "dispatched_at"]
    OutboundMessage.objects.bulk_update(deferred, deferred_fields)
    _contacts_save_counts(list(counted.values()))
    OutboundMessage.objects.filter(pk__in=[c.id for c in claims]).update(
        status=MessageStatus.SENDING,
        claim=token,
        lease_until=now + timedelta(seconds=settings.SMS_SEND_LEASE_SECONDS),
        attempts=F("attempts") + 1,
        defer_reason="",
    )
    return claims
