"""Invoices (and penalty/fee charges), their lines, credit notes, payments and allocations.

Amounts are integer minor units of `currency` (billing.money). An issued invoice is never
edited: a correction is a credit note plus a new invoice that `replaces` the old one.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from billing.models.customers import ServiceAccount
from billing.models.operator import Operator
from billing.money import CURRENCY_CHOICES


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    PENALTY = "penalty", "Late-payment penalty"
    FEE = "fee", "Fee"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    OVERDUE = "overdue", "Overdue"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def transitions(cls) -> dict[str, set[str]]:
        open_ = {cls.PARTIALLY_PAID, cls.OVERDUE, cls.PAID, cls.CANCELLED}
        return {
            cls.DRAFT: {cls.ISSUED, cls.CANCELLED},
            cls.ISSUED: open_,
            cls.PARTIALLY_PAID: open_ - {cls.CANCELLED} | {cls.ISSUED},
            cls.OVERDUE: {cls.PARTIALLY_PAID, cls.PAID, cls.CANCELLED},
            # A reversed payment can reopen a paid invoice.
            cls.PAID: {cls.ISSUED, cls.PARTIALLY_PAID, cls.OVERDUE},
            cls.CANCELLED: set(),
        }


OPEN_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE)


class Invoice(models.Model):
    # No index of their own: uniq_invoice_number leads with operator and the (account, status,
    # due_date) index with account; every invoice written updates each index it has.
    operator = models.ForeignKey(
        Operator, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="invoices", db_index=False
    )
    kind = models.CharField(max_length=16, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    number = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    period = models.DateField(null=True, blank=True)  # first day of the billed month
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    issue_date = models.DateField()
    due_date = models.DateField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    total_minor = models.BigIntegerField()
    # Caches of sums kept under the account's row lock; the ledger is the truth.
    paid_minor = models.BigIntegerField(default=0)
    credited_minor = models.BigIntegerField(default=0)
    consumption = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    is_estimated = models.BooleanField(default=False)
    # A penalty points at the overdue invoice; a correction at the invoice it replaces.
    related = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator", "number"], name="uniq_invoice_number"),
            # The billing run makes one original invoice per account and period.
            models.UniqueConstraint(
                fields=["account", "period"],
                condition=Q(kind="invoice", replaces__isnull=True),
                name="uniq_invoice_account_period",
            ),
            models.CheckConstraint(
                condition=Q(paid_minor__gte=0) & Q(credited_minor__gte=0),
                name="invoice_sums_not_negative",
            ),
            # Never settled beyond its total: a backstop behind the allocation code.
            models.CheckConstraint(
                condition=Q(paid_minor=0, credited_minor=0)
                | Q(paid_minor__lte=F("total_minor") - F("credited_minor")),
                name="invoice_not_overpaid",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "status", "due_date"]),
            models.Index(fields=["status", "due_date"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def open_minor(self) -> int:
        return self.total_minor - self.paid_minor - self.credited_minor


class LineKind(models.TextChoices):
    TIER = "tier", "Consumption tier"
    CONSUMPTION = "consumption", "Consumption"
    STANDING = "standing", "Standing charge"
    SERVICE_FEE = "service_fee", "Service fee"
    VAT = "vat", "VAT"
    PENALTY = "penalty", "Late-payment penalty"
    RECONNECTION = "reconnection", "Reconnection fee"
    ADJUSTMENT = "adjustment", "Adjustment"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=LineKind.choices)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=14, decimal_places=3, default=1)
    unit_price = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    amount_minor = models.BigIntegerField()

    class Meta:
        ordering = ["invoice", "position"]

    def __str__(self) -> str:
        return f"{self.invoice_id}#{self.position} {self.description}"


class CreditNote(models.Model):
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=32)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount_minor = models.BigIntegerField()
    reason = models.CharField(max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator", "number"], name="uniq_credit_note_number"),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="credit_note_positive"),
        ]

    def __str__(self) -> str:
        return self.number


class Payment(models.Model):
    """Money received for an account. `reference` is unique per source: replaying it is a no-op."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    # Found through the (account, received_at) index: no index of its own.
    account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount_minor = models.BigIntegerField()
    # Where the money came from: "mpesa", "orange", "airtel", "mtn", "cash", "bank", ...
    source = models.CharField(max_length=16)
    reference = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reversed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "reference"], name="uniq_payment_reference"),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payment_positive"),
        ]
        indexes = [models.Index(fields=["account", "received_at"])]

    def __str__(self) -> str:
        return f"{self.source}:{self.reference}"


class Allocation(models.Model):
    """Part of a payment settling part of an invoice. Sum per payment <= the payment."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    amount_minor = models.BigIntegerField()  # negative only when a reversal takes it back
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.payment_id} -> {self.invoice_id}: {self.amount_minor}"
