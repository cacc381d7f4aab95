"""Tariffs: effective-dated versions of how consumption turns into charges."""

from django.db import models

from billing.models.customers import Utility
from billing.models.operator import Operator

RATE = {"max_digits": 18, "decimal_places": 6}


class Pricing(models.TextChoices):
    TIERED = "tiered", "Progressive tiers"
    FLAT = "flat", "Flat price per unit"
    INDEXED = "indexed", "Price per unit from a monthly price index"


class PriceIndex(models.Model):
    """A monthly price per unit that managers maintain (e.g. a fuel-linked kWh price)."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="price_indexes")
    name = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.name


class PriceIndexValue(models.Model):
    index = models.ForeignKey(PriceIndex, on_delete=models.CASCADE, related_name="values")
    month = models.DateField()  # first day of the month
    price = models.DecimalField(**RATE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["index", "month"], name="uniq_index_month")]

    def __str__(self) -> str:
        return f"{self.index_id} {self.month:%Y-%m}: {self.price}"


class Tariff(models.Model):
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="tariffs")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=120)
    utility = models.CharField(max_length=16, choices=Utility.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator", "code"], name="uniq_tariff_code")
        ]

    def __str__(self) -> str:
        return self.name


class TariffVersion(models.Model):
    """What the tariff charges from `effective_from` until the next version begins.

    Rates are in major units per unit of consumption and may be finer than the currency
    (KES 23.4567/kWh); each invoice line is rounded once (billing.money).
    """

    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="versions")
    effective_from = models.DateField()
    pricing = models.CharField(max_length=16, choices=Pricing.choices)
    unit_price = models.DecimalField(**RATE, null=True, blank=True)  # flat pricing
    price_index = models.ForeignKey(
        PriceIndex, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    standing_charge = models.DecimalField(**RATE, default=0)  # per billing period
    service_fee = models.DecimalField(**RATE, default=0)  # per invoice
    vat_rate = models.DecimalField(max_digits=6, decimal_places=4, default=0)  # 0.16 = 16 %
    penalty_percent = models.DecimalField(max_digits=6, decimal_places=3, default=0)
    penalty_fixed = models.DecimalField(**RATE, default=0)
    reconnection_fee = models.DecimalField(**RATE, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tariff", "effective_from"], name="uniq_tariff_version_start"
            )
        ]
        ordering = ["tariff", "effective_from"]

    def __str__(self) -> str:
        return f"{self.tariff_id} from {self.effective_from}"


class TariffTier(models.Model):
    """Units above the previous tier's `up_to` and up to this one cost `price` each."""

    version = models.ForeignKey(TariffVersion, on_delete=models.CASCADE, related_name="tiers")
    up_to = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    price = models.DecimalField(**RATE)

    class Meta:
        ordering = ["version", models.F("up_to").asc(nulls_last=True)]

    def __str__(self) -> str:
        return f"up to {self.up_to}: {self.price}"
