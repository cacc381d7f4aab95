"""The outgoing-SMS seam: record a message in the caller's transaction, send it after commit."""

import logging

from django.db import transaction
from django.utils import timezone

from accounts.phones import phone_mask
from sms.gateways import gateway_get
from sms.gateways.base import OutgoingSms
from sms.models import MessageKind, MessageStatus, OutboundMessage
from sms.sealing import body_seal, body_unseal

logger = logging.getLogger(__name__)

# Kinds that must never wait behind bulk traffic.
URGENT_KINDS = frozenset({MessageKind.OTP, MessageKind.RECEIPT})


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
    body; the real text is kept sealed until it is sent, then wiped.
    """
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

        queue = "urgent" if kind in URGENT_KINDS else "default"
        transaction.on_commit(lambda: message_send.apply_async((message.pk,), queue=queue))
    return message


def message_deliver(*, message_id: int) -> OutboundMessage | None:
    """Send a queued message through the configured gateway, once.

    The row lock plus the status check make a second delivery of the same task a no-op.
    """
    with transaction.atomic():
        message = OutboundMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status != MessageStatus.QUEUED:
            return message
        text = body_unseal(message.sealed_body) if message.sealed_body else message.body
        gateway = gateway_get()
        message.attempts += 1
        result = gateway.send(OutgoingSms(to=message.to, text=text, reference=str(message.pk)))
        message.status = MessageStatus.SENT
        message.sent_at = timezone.now()
        message.gateway = gateway.name
        message.gateway_message_id = result.gateway_message_id
        message.sealed_body = ""
        message.save()
    logger.info(
        "sms sent",
        extra={"message_id": message.pk, "kind": message.kind, "to": phone_mask(message.to)},
    )
    return message
