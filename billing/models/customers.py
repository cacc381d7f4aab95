"""Service accounts: what a customer is billed on (one per connection/meter point)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from billing.models.operator import Operator


class Utility(models.TextChoices):
    WATER = "water", "Water"
    ELECTRICITY = "electricity", "Electricity"
    SOLAR = "solar", "Pay-as-you-go solar"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class ServiceAccount(models.Model):
    # Digits ending in a Damm check digit (billing.account_numbers), e.g. "100000011";
    # unique per operator (each operator's paybill and USSD code reach only its accounts).
    number = models.CharField(max_length=12)
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="accounts")
    utility = models.CharField(max_length=16, choices=Utility.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="service_accounts"
    )
    holder_name = models.CharField(max_length=150)
    tariff = models.ForeignKey("billing.Tariff", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    address = models.CharField(max_length=255, blank=True)
    zone = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator", "number"], name="uniq_account_number")
        ]
        indexes = [
            models.Index(fields=["number"]),
            models.Index(fields=["operator", "status"]),
            models.Index(fields=["zone"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.holder_name}"


class AccountContact(models.Model):
    """An extra phone that may see and pay the account (a landlord, a relative)."""

    account = models.ForeignKey(ServiceAccount, on_delete=models.CASCADE, related_name="contacts")
    phone = models.CharField(max_length=16)
    name = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "phone"], name="uniq_contact_phone")
        ]
        indexes = [models.Index(fields=["phone"])]

    def __str__(self) -> str:
        return f"{self.phone} on {self.account_id}"
