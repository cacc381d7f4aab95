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

from django.db import transaction
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


@transaction.atomic
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
    message, created = OutboundMessage.objects.get_or_create(
        idempotency_key=idempotency_key, defaults=fields
    )
    if created and due:
        transaction.on_commit(lambda: message_enqueue(message.pk, kind))
    return message


@dataclass(frozen=True)
class MessageSpec:
    to: str
    body: str
    kind: MessageKind
    idempotency_key: str
    account_id: int | None = None


@transaction.atomic
def message_queue_bulk(*, messages: Iterable[MessageSpec], operator=None) -> int:
    """Record many messages (bills, reminders, broadcasts) at once; keys already queued are
    left alone. The dispatcher hands them to workers, most urgent first, as fast as the gateways
    allow; a dispatch is requested when the caller commits. Returns how many were offered."""
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
