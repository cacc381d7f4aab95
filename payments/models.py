"""Payment intents, the raw callback inbox, and money nobody could match (suspense)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.money import CURRENCY_CHOICES


class Provider(models.TextChoices):
    MPESA = "mpesa", "M-Pesa"
    ORANGE = "orange", "Orange Money"
    AIRTEL = "airtel", "Airtel Money"
    MTN = "mtn", "MTN MoMo"
    SANDBOX = "sandbox", "Sandbox operator"


class IntentStatus(models.TextChoices):
    CREATED = "created", "Created"
    PENDING = "pending", "Waiting for the customer's PIN"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    REVERSED = "reversed", "Reversed"

    @classmethod
    def transitions(cls) -> dict[str, set[str]]:
        final = {cls.SUCCEEDED, cls.FAILED, cls.CANCELLED, cls.EXPIRED}
        return {
            cls.CREATED: {cls.PENDING} | final,
            cls.PENDING: final,
            # Money taken after we gave up still lands: a late success beats an expiry/failure.
            cls.EXPIRED: {cls.SUCCEEDED},
            cls.FAILED: {cls.SUCCEEDED},
            cls.CANCELLED: {cls.SUCCEEDED},
            cls.SUCCEEDED: {cls.REVERSED},
            cls.REVERSED: set(),
        }


FINAL_STATUSES = frozenset(
    {IntentStatus.SUCCEEDED, IntentStatus.FAILED, IntentStatus.CANCELLED, IntentStatus.EXPIRED}
)


class Channel(models.TextChoices):
    API = "api", "Staff API"
    USSD = "ussd", "USSD"
    SMS = "sms", "SMS"


class PaymentIntent(models.Model):
    """A push payment we asked an operator for: the customer gets a PIN prompt on their phone."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Found through uniq_intent_idempotency (account, idempotency_key): no index of its own.
    account = models.ForeignKey(
        "billing.ServiceAccount",
        on_delete=models.PROTECT,
        related_name="payment_intents",
        db_index=False,
    )
    provider = models.CharField(max_length=16, choices=Provider.choices)
    phone = models.CharField(max_length=16)  # E.164 of the wallet that is asked to pay
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount_minor = models.BigIntegerField()
    status = models.CharField(
        max_length=16, choices=IntentStatus.choices, default=IntentStatus.CREATED
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # API Idempotency-Key header, "ussd:<session id>", "sms:<gateway>:<message id>".
    idempotency_key = models.CharField(max_length=200)
    # The operator's id for the push (CheckoutRequestID, pay_token, transaction.id, X-Reference-Id).
    provider_reference = models.CharField(max_length=100, blank=True)
    # What the operator's callback carries to identify this intent (CheckoutRequestID, Orange
    # notif_token, our transaction id...). Set by the provider adapter at push time.
    callback_key = models.CharField(max_length=100, blank=True)  # indexed in Meta (no LIKE twin)
    # Operator data needed later (Orange notif_token, M-Pesa MerchantRequestID, ...). No secrets.
    provider_data = models.JSONField(default=dict, blank=True)
    # The operator's receipt for the money (MpesaReceiptNumber, txnid, airtel_money_id, ...).
    receipt = models.CharField(max_length=64, blank=True)
    paid_minor = models.BigIntegerField(null=True, blank=True)
    failure_code = models.CharField(max_length=32, blank=True)
    failure_message = models.CharField(max_length=200, blank=True)
    # Set when something about the money needs a person's eye (late success, other amount).
    flags = models.JSONField(default=list, blank=True)
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    initiated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    pushed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Reconciliation: when to ask the operator next, and how often we asked.
    next_check_at = models.DateTimeField(null=True, blank=True)
    checks_done = models.PositiveSmallIntegerField(default=0)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], name="uniq_intent_idempotency"
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~Q(provider_reference=""),
                name="uniq_intent_provider_reference",
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="intent_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "next_check_at"]),
            models.Index(fields=["phone", "created_at"]),
            models.Index(fields=["callback_key"], name="payments_intent_callback_key"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} intent {self.id} ({self.status})"


class CallbackStatus(models.TextChoices):
    RECEIVED = "received", "Received, not processed yet"
    PROCESSED = "processed", "Processed"
    DUPLICATE = "duplicate", "Duplicate (acknowledged, nothing changed)"
    REJECTED = "rejected", "Rejected (forged or malformed)"
    UNMATCHED = "unmatched", "No matching payment (kept for reconciliation)"
    ERROR = "error", "Error while processing"


class CallbackDelivery(models.Model):
    """Every request an operator sends us, stored raw before anything else happens to it."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    kind = models.CharField(max_length=32)  # stk, c2b_validation, c2b_confirmation, notify, ...
    received_at = models.DateTimeField(default=timezone.now)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)  # with the URL token masked
    headers = models.JSONField(default=dict)
    body = models.TextField()
    status = models.CharField(
        max_length=16, choices=CallbackStatus.choices, default=CallbackStatus.RECEIVED
    )
    outcome = models.CharField(max_length=200, blank=True)
    event_key = models.CharField(max_length=100, blank=True)
    intent = models.ForeignKey(
        PaymentIntent, null=True, blank=True, on_delete=models.PROTECT, related_name="callbacks"
    )

    class Meta:
        indexes = [
            models.Index(fields=["provider", "received_at"]),
            models.Index(fields=["status", "received_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.received_at:%Y-%m-%d %H:%M:%S}"


class ProcessedEvent(models.Model):
    """One row per operator event we acted on: the unique key makes a resend a no-op."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    event_key = models.CharField(max_length=100)  # CheckoutRequestID, TransID, txnid, ...
    delivery = models.ForeignKey(CallbackDelivery, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_key"], name="uniq_processed_event")
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_key}"


class SuspenseStatus(models.TextChoices):
    OPEN = "open", "Waiting for a person"
    ALLOCATED = "allocated", "Allocated to an account"
    REFUND = "refund", "Marked for refund"


class SuspensePayment(models.Model):
    """Money received that matched no account, or matched ambiguously."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    receipt = models.CharField(max_length=64)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount_minor = models.BigIntegerField()
    bill_reference = models.CharField(max_length=64, blank=True)  # what the payer typed
    payer = models.CharField(max_length=100, blank=True)  # masked or hashed MSISDN, first name
    reason = models.CharField(max_length=32)  # unknown_account, bad_check_digit, ambiguous_payer
    # [{"account": "100000011", "why": "near-miss number"}, ...]
    candidates = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=SuspenseStatus.choices, default=SuspenseStatus.OPEN
    )
    allocated_account = models.ForeignKey(
        "billing.ServiceAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "receipt"], name="uniq_suspense_receipt")
        ]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.provider}:{self.receipt} {self.status}"


class PaybillCheckStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for the operator's answer"
    CONFIRMED = "confirmed", "Confirmed by the operator and recorded"
    REFUSED = "refused", "The operator does not confirm it: nothing credited"
    UNANSWERED = "unanswered", "The operator never answered: parked in suspense"


class PaybillCheck(models.Model):
    """A paybill confirmation held until the operator's status query confirms the money
    (M-Pesa Transaction Status, answered asynchronously to our result URL)."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    receipt = models.CharField(max_length=64)  # the confirmation's TransID
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount_minor = models.BigIntegerField()  # as the confirmation said
    bill_reference = models.CharField(max_length=64, blank=True)
    payer = models.CharField(max_length=100, blank=True)
    payer_name = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=16, choices=PaybillCheckStatus.choices, default=PaybillCheckStatus.WAITING
    )
    outcome = models.CharField(max_length=200, blank=True)
    conversation_id = models.CharField(max_length=64, blank=True)  # of the last query sent
    queries = models.PositiveSmallIntegerField(default=0)
    next_query_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "receipt"], name="uniq_paybill_check")
        ]
        indexes = [
            models.Index(fields=["status", "next_query_at"]),
            models.Index(fields=["conversation_id"], name="payments_check_conversation"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.receipt} {self.status}"
