"""What gateways send us: every request stored raw first, then inbound texts stored once per
(gateway, message id) before they are handled, and delivery reports applied to our messages.

A delivery report never moves a message back: "sent" after "delivered" is ignored, and the
first final status (delivered or failed) stays. A report for a message id we do not know (or
not yet: it may arrive before the send is recorded) is stored with the raw request and
otherwise ignored. A report that the recipient blacklisted us blocks the contact on that
gateway.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.clientip import client_ip
from sms.contacts import contact_block
from sms.models import (
    FINAL_STATUSES,
    CallbackRequest,
    InboundMessage,
    MessageStatus,
    OutboundMessage,
)

logger = logging.getLogger(__name__)

AT_DELIVERY = {
    "Success": MessageStatus.DELIVERED,
    "Failed": MessageStatus.FAILED,
    "Rejected": MessageStatus.FAILED,
    "Sent": MessageStatus.SENT,
    "Submitted": MessageStatus.SENT,
    "Buffered": MessageStatus.SENT,
}
TWILIO_DELIVERY = {
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
# Failure reasons meaning the recipient refuses our messages on that gateway.
BLOCKING_REASONS = frozenset({"UserInBlackList", "UserInBlacklist", "21610"})


def storable(text: str) -> str:
    """Text as PostgreSQL can store it: a NUL character becomes U+FFFD."""
    return text.replace("\x00", "\ufffd")


def callback_store(request, *, gateway: str, endpoint: str) -> CallbackRequest:
    """Keep the raw request (read before anything parses it), committed at once."""
    return CallbackRequest.objects.create(
        gateway=gateway,
        endpoint=endpoint,
        remote_ip=client_ip(request),
        content_type=storable(request.content_type or "")[:100],
        signature=storable(request.headers.get("X-Twilio-Signature", ""))[:200],
        body=storable(request.body.decode("utf-8", errors="replace")),
    )


def callback_outcome(callback: CallbackRequest, outcome: str) -> None:
    CallbackRequest.objects.filter(pk=callback.pk).update(outcome=outcome[:32])


def inbound_store(
    *, gateway: str, external_id: str, phone: str, to: str, text: str, network_code: str = ""
) -> tuple[InboundMessage, bool]:
    """Store an inbound text once: (message, True), or (the first one, False) on a replay."""
    external_id = storable(external_id)[:100]
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                gateway=gateway,
                external_id=external_id,
                phone=phone[:32],
                to=storable(to)[:32],
                text=storable(text)[:2000],
                network_code=storable(network_code)[:16],
            )
    except IntegrityError:
        return InboundMessage.objects.get(gateway=gateway, external_id=external_id), False
    return message, True


@transaction.atomic
def delivery_report_apply(
    *, gateway: str, gateway_message_id: str, status: MessageStatus | None, reason: str = ""
) -> str:
    """Apply one delivery report; returns what came of it (for the stored request)."""
    gateway_message_id, reason = storable(gateway_message_id)[:100], storable(reason)[:100]
    message = (
        OutboundMessage.objects.select_for_update()
        .filter(gateway=gateway, gateway_message_id=gateway_message_id)
        .first()
    )
    if message is None or not gateway_message_id:
        return "unknown_message"
    if reason in BLOCKING_REASONS:
        contact_block(phone=message.to, gateway=gateway, reason=reason)
    if status in (None, MessageStatus.SENT) or message.status in FINAL_STATUSES:
        return "no_change"
    message.status = status
    if status == MessageStatus.DELIVERED:
        message.delivered_at = timezone.now()
    else:
        message.error = f"delivery failed: {reason or 'no reason given'}"[:255]
    message.save(update_fields=["status", "delivered_at", "error"])
    return "handled"
