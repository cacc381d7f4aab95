"""The outbox (every message a customer or staff member gets is a row here first), the people
we text (opt-out, operator-side blocks, limits), inbound messages and raw gateway requests.

This app sits below billing: accounts and operators are referred to by plain values (an
account id, an operator slug and time zone copied at queue time), never by foreign key.
"""

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


# Lower sends first (also the Celery priority on the Redis broker, where 0 is highest).
KIND_PRIORITY = {
    MessageKind.OTP: 0,
    MessageKind.RECEIPT: 1,
    MessageKind.REPLY: 2,
    MessageKind.BILL: 3,
    MessageKind.NOTICE: 3,
    MessageKind.REMINDER: 6,
    MessageKind.BROADCAST: 9,
}
# Codes and receipts: their own Celery queue, the reserved share of the daily spend cap and of
# each gateway's rate limit.
URGENT_KINDS = frozenset({MessageKind.OTP, MessageKind.RECEIPT})
# What an opted-out recipient no longer gets, and what waits for the morning.
OPTIONAL_KINDS = frozenset({MessageKind.REMINDER, MessageKind.BROADCAST})
QUIET_HOURS_KINDS = OPTIONAL_KINDS


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent to the gateway"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent (policy)"


FINAL_STATUSES = frozenset({MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.SKIPPED})


class OutboundMessage(models.Model):
    """One SMS to one recipient. Written inside the business transaction that causes it."""

    to = models.CharField(max_length=16)
    kind = models.CharField(max_length=16, choices=MessageKind.choices)
    priority = models.PositiveSmallIntegerField(default=5)
    # What staff see. For a message holding a secret (a code), the secret is masked here and
    # the real text waits in `sealed_body` until it is sent, then is wiped.
    body = models.TextField()
    sealed_body = models.TextField(blank=True)
    encoding = models.CharField(max_length=8, blank=True)
    segments = models.PositiveSmallIntegerField(default=1)
    # Unique through Meta.constraints: a unique=True CharField also gets a second index for
    # LIKE queries on PostgreSQL, which nothing runs on keys.
    idempotency_key = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    # Who it is about (billing ids and settings, copied: this app does not import billing).
    account_id = models.PositiveBigIntegerField(null=True, blank=True)
    operator_key = models.CharField(max_length=50, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Not sent before this time (quiet hours, spacing, retries); the dispatcher picks it up.
    not_before = models.DateTimeField(default=timezone.now)
    defer_reason = models.CharField(max_length=32, blank=True)
    # When it was last handed to a worker; the dispatcher does not hand it over again soon.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # The "sending" claim: a worker owns the message until `lease_until`; a send that crashed
    # is taken over after it, a finished one is never repeated.
    claim = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    gateway = models.CharField(max_length=32, blank=True)
    gateway_message_id = models.CharField(max_length=100, blank=True)
    # What the gateway charged (its own precision and currency), else our price estimate.
    cost = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    error = models.CharField(max_length=255, blank=True)
    # A suspicious message (a burst of codes to one number range), for staff to look at.
    flagged = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="uniq_outbound_idempotency")
        ]
        indexes = [
            models.Index(fields=["to", "created_at"]),
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["status", "priority", "not_before"]),
            models.Index(fields=["gateway", "gateway_message_id"]),
            models.Index(fields=["account_id", "created_at"]),
            models.Index(fields=["sent_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to} ({self.status})"


class SmsContact(models.Model):
    """A phone we text: language, opt-out (STOP), operator-side blocks and per-day counters."""

    phone = models.CharField(max_length=16, unique=True)
    language = models.CharField(max_length=8, blank=True)
    opted_out = models.BooleanField(default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    # Gateways that refuse this number (comma separated), e.g. Africa's Talking's 406
    # UserInBlacklist: bills and notices must then reach the customer another way.
    blocked_gateways = models.CharField(max_length=100, blank=True)
    blocked_reason = models.CharField(max_length=100, blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True)
    # Per-recipient limits: messages claimed on `day` (recipient's local date) and the last one.
    day = models.DateField(null=True, blank=True)
    day_count = models.PositiveIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["opted_out"]),
            models.Index(fields=["blocked_at"]),
        ]

    def __str__(self) -> str:
        return self.phone

    @property
    def blocked_on(self) -> list[str]:
        return [g for g in self.blocked_gateways.split(",") if g]


class InboundMessage(models.Model):
    """A text a customer sent us; stored before it is handled, once per gateway message id."""

    gateway = models.CharField(max_length=32)
    external_id = models.CharField(max_length=100)
    phone = models.CharField(max_length=32)
    to = models.CharField(max_length=32, blank=True)
    text = models.TextField(blank=True)
    network_code = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    command = models.CharField(max_length=16, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "external_id"], name="uniq_inbound_sms_per_gateway"
            )
        ]
        indexes = [models.Index(fields=["phone", "received_at"])]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.external_id}"


class CallbackRequest(models.Model):
    """Every request a gateway makes to us, stored raw before it is handled."""

    gateway = models.CharField(max_length=32)
    endpoint = models.CharField(max_length=16)  # inbound, delivery, status, optout
    received_at = models.DateTimeField(default=timezone.now)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    signature = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    # What came of it: handled, duplicate, unknown_message, bad_signature, invalid, error.
    outcome = models.CharField(max_length=32, blank=True)

    class Meta:
        indexes = [models.Index(fields=["gateway", "endpoint", "received_at"])]

    def __str__(self) -> str:
        return f"{self.gateway} {self.endpoint} {self.received_at:%Y-%m-%d %H:%M:%S}"
