"""The utility that bills (one per deployment usually; the schema allows several)."""

from django.db import models

from billing.money import CURRENCY_CHOICES

DEFAULT_ALLOCATION_ORDER = "charges,oldest,current"


class Operator(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(unique=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    timezone = models.CharField(max_length=64, default="Africa/Nairobi")
    phone_region = models.CharField(max_length=2, default="KE")
    languages = models.CharField(max_length=32, default="en,fr,sw")
    address = models.CharField(max_length=255, blank=True)
    help_phone = models.CharField(max_length=16, blank=True)
    # How customers pay, printed on every bill.
    paybill = models.CharField(max_length=16, blank=True)
    ussd_code = models.CharField(max_length=32, blank=True)
    invoice_due_days = models.PositiveSmallIntegerField(default=14)
    # Payment allocation order, comma separated: "charges" (penalties and fees), "oldest"
    # (arrears, oldest due date first), "current" (the latest invoice).
    allocation_order = models.CharField(max_length=64, default=DEFAULT_ALLOCATION_ORDER)

    def __str__(self) -> str:
        return self.name


class DocumentSequence(models.Model):
    """Gap-free numbering: the next number is taken under a row lock in the issuing transaction."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="sequences")
    kind = models.CharField(max_length=16)
    prefix = models.CharField(max_length=8)
    next_number = models.PositiveBigIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator", "kind"], name="uniq_sequence_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.operator_id}:{self.kind} next {self.next_number}"
