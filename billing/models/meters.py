"""Meters and their index readings."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from billing.models.customers import ServiceAccount

INDEX = {"max_digits": 14, "decimal_places": 3}


class Meter(models.Model):
    account = models.ForeignKey(ServiceAccount, on_delete=models.PROTECT, related_name="meters")
    serial = models.CharField(max_length=32, unique=True)
    unit = models.CharField(max_length=8, default="m3")  # m3, kWh
    # The register wraps to zero after this value (e.g. 99999 for a five-digit register).
    max_index = models.DecimalField(**INDEX, default=99999)
    initial_index = models.DecimalField(**INDEX, default=0)
    installed_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "removed_at"])]

    def __str__(self) -> str:
        return self.serial


class ReadingSource(models.TextChoices):
    AGENT = "agent", "Agent"
    TECHNICIAN = "technician", "Technician"
    CUSTOMER_USSD = "customer_ussd", "Customer by USSD"
    CUSTOMER_SMS = "customer_sms", "Customer by SMS"
    IMPORT = "import", "Import"
    ESTIMATE = "estimate", "Estimate"


class ReadingStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    PENDING_REVIEW = "pending_review", "Held for review"
    REJECTED = "rejected", "Rejected"

    @classmethod
    def transitions(cls) -> dict[str, set[str]]:
        return {
            cls.PENDING_REVIEW: {cls.ACCEPTED, cls.REJECTED},
            cls.ACCEPTED: set(),
            cls.REJECTED: set(),
        }


class MeterReading(models.Model):
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="readings")
    index = models.DecimalField(**INDEX)
    read_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=ReadingSource.choices)
    status = models.CharField(max_length=16, choices=ReadingStatus.choices)
    is_estimated = models.BooleanField(default=False)
    # Units used since the previous accepted reading (set when accepted; rollover included).
    consumption = models.DecimalField(**INDEX, null=True, blank=True)
    rolled_over = models.BooleanField(default=False)
    # Why the reading is held for review (empty when none).
    anomaly = models.CharField(max_length=64, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="readings"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["meter", "status", "read_at"]),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id} {self.index} @ {self.read_at:%Y-%m-%d}"
