"""The outgoing-SMS seam: record a message in the caller's transaction, send it after commit.

`message_queue` is the one way to text someone. The row is written in the caller's
transaction; when it commits, the message is handed to a worker on the "urgent" queue (codes,
receipts) or "default" (the rest, by priority). Messages that must wait (a `not_before`, quiet
hours, limits, retries) stay in the outbox and the periodic dispatcher hands them over when due;
no long Celery countdowns. Sending itself: `sms.pipeline.message_deliver`.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from sms.encoding import sms_size
from sms.models import (
    KIND_PRIORITY,
    URGENT_KINDS,
    MessageKind,
    MessageStatus,
    OutboundMessage,
    SmsContact,
)
from sms.pipeline import message_deliver, message_fail
from sms.policy import country_allowed, otp_burst_level
from sms.sealing import body_seal

__all__ = [
    "MessageSpec",
    "message_deliver",
    "message_enqueue",
    "message_fail",
    "message_queue",
    "message_queue_bulk",
    "message_queue_name",
    "messages_enqueue",
]

logger = logging.getLogger(__name__)


def message_queue_name(kind: MessageKind) -> str:
    """The Celery queue a message of this kind travels on."""
    return "urgent" if kind in URGENT_KINDS else "default"


def message_enqueue(message_id: int, kind: str) -> None:
    """Hand a message to a worker now. If the broker is down, the dispatcher does it later."""
    messages_enqueue([message_id], kind)


def messages_enqueue(message_ids: list[int], kind: str) -> None:
    """Hand messages of one kind to a worker, as one task. On a broker failure they are left
    to the dispatcher."""
    from sms.tasks import message_send, messages_send

    kind = MessageKind(kind)
    options = {"queue": message_queue_name(kind), "priority": KIND_PRIORITY[kind]}
    try:
        if len(message_ids) == 1:
            message_send.apply_async((message_ids[0],), **options)
        else:
            messages_send.apply_async((message_ids,), **options)
    except Exception:  # any broker failure: leave it to the dispatcher
        logger.exception("sms enqueue failed", extra={"message_ids": message_ids[:10]})
        OutboundMessage.objects.filter(pk__in=message_ids).update(dispatched_at=None)


def _fields(*, to, body, kind, operator, account, not_before, now) -> dict:
    operator = operator if operator is not None else getattr(account, "operator", None)
    size = sms_size(body)
    fields = {
        "to": to,
        "kind": kind,
        "priority": KIND_PRIORITY[kind],
        "encoding": size.encoding,
        "segments": size.segments,
        "account_id": getattr(account, "pk", None),
        "operator_key": getattr(operator, "slug", "") or "",
        "time_zone": getattr(operator, "timezone", "") or "",
        "not_before": max(not_before or now, now),
        "created_at": now,
    }
    if not country_allowed(to, getattr(operator, "phone_region", "") or ""):
        fields.update(status=MessageStatus.SKIPPED, error="country_not_served")
    return fields


def message_queue(
    *,
    to: str,
    body: str,
    kind: MessageKind,
    idempotency_key: str,
    secret: str | None = None,
    operator=None,
    account=None,
    not_before: datetime | None = None,
) -> OutboundMessage:
    """Record one message to `to` (E.164) and hand it to a worker once the caller commits.

    `idempotency_key` names the business event: queueing the same key again returns the first
    message and sends nothing more. `secret` (e.g. an activation code) is masked in the stored
    body; the real text is kept sealed until it is sent, then wiped. `operator` (a billing
    Operator: slug, timezone, phone_region) sets quiet hours, spend cap and allowed country;
    `account` (a ServiceAccount) files the message under the account and implies its operator.
    A message to a country not served, or a code in a burst to one number range, is recorded
    as skipped and never sent. If the caller's transaction rolls back, nothing happens.
    """
    kind = MessageKind(kind)
    existing = OutboundMessage.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    now = timezone.now()
    fields = _fields(
        to=to,
        body=body,
        kind=kind,
        operator=operator,
        account=account,
        not_before=not_before,
        now=now,
    )
    fields["body"] = body
    if secret:
        fields.update(body=body.replace(secret, "*" * len(secret)), sealed_body=body_seal(body))
    if kind == MessageKind.OTP and "status" not in fields:
        level = otp_burst_level(to, now=now)
        fields["flagged"] = level != "ok"
        if level == "blocked":
            fields.update(status=MessageStatus.SKIPPED, error="otp_burst", sealed_body="")
    due = "status" not in fields and fields["not_before"] <= now
    if due:
        fields["dispatched_at"] = now
    try:
        with transaction.atomic():
            message = OutboundMessage.objects.create(idempotency_key=idempotency_key, **fields)
    except IntegrityError:  # the same key, queued by another process meanwhile
        existing = OutboundMessage.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
    if due:
        transaction.on_commit(lambda: message_enqueue(message.pk, kind))
    return message


@dataclass(frozen=True)
class MessageSpec:
    to: str
    body: str
    kind: MessageKind
    idempotency_key: str
    account_id: int | None = None


_DIGITS_AS_ZERO = str.maketrans("123456789", "000000000")


def _size_cached(body: str, memo: dict):
    """sms_size, once per text shape: digits all count one unit in either encoding, so texts
    that differ only in their digits (amounts, dates, account numbers) have the same size."""
    shape = body.translate(_DIGITS_AS_ZERO)
    size = memo.get(shape)
    if size is None:
        size = memo[shape] = sms_size(body)
    return size


def _country_cached(to: str, region: str, memo: dict) -> bool:
    """country_allowed, once per (country code, length) for an E.164 number whose country code
    belongs to one region only (what decides the answer there); else once per number."""
    key = to
    if to.startswith("+") and to[1:].isdigit():
        for width in (1, 2, 3):
            regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(to[1 : 1 + width]))
            if regions:
                key = (to[: 1 + width], len(to)) if len(regions) == 1 else to
                break
    allowed = memo.get(key)
    if allowed is None:
        allowed = memo[key] = country_allowed(to, region)
    return allowed


_BULK_INSERT_SQL = """
    INSERT INTO sms_outboundmessage ("to", kind, priority, body, sealed_body, encoding,
           segments, idempotency_key, status, account_id, operator_key, time_zone, created_at,
           not_before, defer_reason, claim, attempts, gateway, gateway_message_id,
           cost_currency, error, flagged)
    SELECT m.phone, m.kind, m.priority, m.body, '', m.encoding, m.segments, m.key, m.status,
           m.account_id, %s, %s, %s, %s, '', '', 0, '', '', '', m.error, false
      FROM unnest(%b::text[], %b::text[], %b::int[], %b::text[], %b::text[], %b::int[],
                  %b::text[], %b::text[], %b::bigint[], %b::text[])
           AS m (phone, kind, priority, body, encoding, segments, key, status, account_id, error)
    ON CONFLICT (idempotency_key) DO NOTHING
"""


def _bulk_insert_postgresql(rows: list[tuple], operator, now) -> None:
    """One INSERT ... SELECT FROM unnest(arrays) for the whole batch (no model instances),
    and the contact rows of phones not seen before."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    shared = [getattr(operator, "slug", "") or "", getattr(operator, "timezone", "") or ""]
    phones = sorted(set(columns[0]))
    connection.ensure_connection()
    # Bound on the server: Django's cursors would quote every value into the SQL text.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        # Never prepared: a generic plan for arrays of unknown length can be far worse.
        cursor.execute(_BULK_INSERT_SQL, [*shared, now, now, *columns], prepare=False)
        cursor.execute("SELECT phone FROM sms_smscontact WHERE phone = ANY(%s)", [phones])
        known = {row[0] for row in cursor.fetchall()}
    contacts = [SmsContact(phone=phone) for phone in phones if phone not in known]
    SmsContact.objects.bulk_create(contacts, batch_size=2000, ignore_conflicts=True)


@transaction.atomic
def message_queue_bulk(*, messages: Iterable[MessageSpec], operator=None) -> int:
    """Record many messages (bills, reminders, broadcasts) at once; keys already queued are
    left alone. The dispatcher hands them to workers, most urgent first, as fast as the gateways
    allow; a dispatch is requested when the caller commits. Returns how many were offered.

    On PostgreSQL the rows go in one INSERT from arrays; the size of a text is worked out once
    per shape and the country check once per country code and length (a daily run writes a
    million of these)."""
    if connection.vendor != "postgresql":
        return _bulk_queue_orm(messages, operator)
    now = timezone.now()
    region = getattr(operator, "phone_region", "") or ""
    sizes, countries, rows = {}, {}, []
    for spec in messages:
        kind = MessageKind(spec.kind)
        if kind in URGENT_KINDS:
            raise ValueError("codes and receipts are queued one by one with message_queue")
        size = _size_cached(spec.body, sizes)
        served = _country_cached(spec.to, region, countries)
        rows.append(
            (
                spec.to,
                kind.value,
                KIND_PRIORITY[kind],
                spec.body,
                size.encoding,
                size.segments,
                spec.idempotency_key,
                MessageStatus.QUEUED.value if served else MessageStatus.SKIPPED.value,
                spec.account_id,
                "" if served else "country_not_served",
            )
        )
    if rows:
        _bulk_insert_postgresql(rows, operator, now)
        from sms.tasks import outbox_dispatch

        transaction.on_commit(outbox_dispatch.delay)
    return len(rows)


def _bulk_queue_orm(messages: Iterable[MessageSpec], operator) -> int:
    """message_queue_bulk elsewhere (SQLite): model instances and bulk_create."""
    now = timezone.now()
    rows = []
    for spec in messages:
        kind = MessageKind(spec.kind)
        if kind in URGENT_KINDS:
            raise ValueError("codes and receipts are queued one by one with message_queue")
        fields = _fields(
            to=spec.to,
            body=spec.body,
            kind=kind,
            operator=operator,
            account=None,
            not_before=None,
            now=now,
        )
        fields.update(body=spec.body, account_id=spec.account_id)
        rows.append(OutboundMessage(idempotency_key=spec.idempotency_key, **fields))
    OutboundMessage.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    # Their contact rows now, in bulk, rather than one by one when each message is claimed.
    contacts = [SmsContact(phone=phone) for phone in {row.to for row in rows}]
    SmsContact.objects.bulk_create(contacts, batch_size=2000, ignore_conflicts=True)
    if rows:
        from sms.tasks import outbox_dispatch

        transaction.on_commit(outbox_dispatch.delay)
    return len(rows)
