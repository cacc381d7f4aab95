"""The outgoing-SMS seam: record a message in the caller's transaction, send it after commit."""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.phones import phone_mask
from sms.gateways import gateway_get
from sms.gateways.base import GatewayUnavailable, OutgoingSms
from sms.models import MessageKind, MessageStatus, OutboundMessage
from sms.sealing import body_seal, body_unseal

logger = logging.getLogger(__name__)

# Kinds that must never wait behind bulk traffic.
URGENT_KINDS = frozenset({MessageKind.OTP, MessageKind.RECEIPT})


def message_queue_name(kind: MessageKind) -> str:
    """The Celery queue a message of this kind travels on."""
    return "urgent" if kind in URGENT_KINDS else "default"


@transaction.atomic
def message_queue(
    *,
    to: str,
    body: str,
    kind: MessageKind,
    idempotency_key: str,
    secret: str | None = None,
) -> OutboundMessage:
    """Record one message to `to` (E.164) and hand it to a worker once the caller commits.

    `idempotency_key` names the business event: queueing the same key again returns the first
    message and sends nothing more. `secret` (e.g. an activation code) is masked in the stored
    body; the real text is kept sealed until it is sent, then wiped. If the caller's
    transaction rolls back, nothing is recorded and nothing is sent.
    """
    kind = MessageKind(kind)
    stored_body, sealed = body, ""
    if secret:
        stored_body = body.replace(secret, "*" * len(secret))
        sealed = body_seal(body)
    message, created = OutboundMessage.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults={"to": to, "body": stored_body, "sealed_body": sealed, "kind": kind},
    )
    if created:
        from sms.tasks import message_send

        queue = message_queue_name(kind)
        transaction.on_commit(lambda: message_send.apply_async((message.pk,), queue=queue))
    return message


def message_deliver(*, message_id: int) -> OutboundMessage | None:
    """Send a queued message through the configured gateway, once.

    The row lock plus the status check make a second delivery of the same task a no-op. A
    GatewayUnavailable is counted on the message and re-raised, so the task can retry.
    """
    try:
        message = _message_send_locked(message_id)
    except GatewayUnavailable as exc:
        OutboundMessage.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(
            attempts=F("attempts") + 1, error=f"{exc.__class__.__name__}: {exc}"[:255]
        )
        logger.warning("sms gateway unavailable", extra={"message_id": message_id})
        raise
    return message


@transaction.atomic
def _message_send_locked(message_id: int) -> OutboundMessage | None:
    message = OutboundMessage.objects.select_for_update().filter(pk=message_id).first()
    if message is None or message.status != MessageStatus.QUEUED:
        return message
    text = body_unseal(message.sealed_body) if message.sealed_body else message.body
    gateway = gateway_get()
    result = gateway.send(OutgoingSms(to=message.to, text=text, reference=str(message.pk)))
    message.attempts += 1
    message.status = MessageStatus.SENT
    message.sent_at = timezone.now()
    message.gateway = gateway.name
    message.gateway_message_id = result.gateway_message_id
    message.sealed_body = ""
    message.error = ""
    message.save()
    logger.info(
        "sms sent",
        extra={"message_id": message.pk, "kind": message.kind, "to": phone_mask(message.to)},
    )
    return message


@transaction.atomic
def message_fail(*, message_id: int, reason: str) -> None:
    """Give up on a message that could not be sent: mark it failed and wipe any sealed secret."""
    OutboundMessage.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(
        status=MessageStatus.FAILED, sealed_body="", error=reason[:255]
    )
    logger.warning("sms failed", extra={"message_id": message_id})
