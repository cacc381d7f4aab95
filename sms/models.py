"""The outbox: every message a customer or staff member gets is a row here first."""

from django.db import models
from django.utils import timezone


class MessageKind(models.TextChoices):
    OTP = "otp", "Code"
    RECEIPT = "receipt", "Payment receipt"
    BILL = "bill", "Bill"
    REMINDER = "reminder", "Reminder"
    NOTICE = "notice", "Notice"
    REPLY = "reply", "Reply to an inbound message"
    BROADCAST = "broadcast", "Broadcast"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent to the gateway"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class OutboundMessage(models.Model):
    """One SMS to one recipient. Written inside the business transaction that causes it."""

    to = models.CharField(max_length=16)
    kind = models.CharField(max_length=16, choices=MessageKind.choices)
    # What staff see. For a message holding a secret (a code), the secret is masked here and
    # the real text waits in `sealed_body` until it is sent, then is wiped.
    body = models.TextField()
    sealed_body = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    gateway = models.CharField(max_length=32, blank=True)
    gateway_message_id = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["to", "created_at"]),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to} ({self.status})"
