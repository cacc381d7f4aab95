"""The double-entry ledger. Entries are append-only; balances are sums of entries.

Sign convention: `amount_minor` > 0 is a debit, < 0 a credit. Every journal transaction's
entries sum to zero per currency (checked in Python before insert and, on PostgreSQL, by a
deferred constraint trigger at commit). On PostgreSQL, triggers also refuse any UPDATE or DELETE
of entries and journals: a correction is a reversal transaction.
"""

from django.db import models
from django.utils import timezone

from billing.models.customers import ServiceAccount
from billing.models.operator import Operator
from billing.money import CURRENCY_CHOICES


class LedgerAccountKind(models.TextChoices):
    RECEIVABLE = "receivable", "Customer receivable (per service account)"
    CUSTOMER_CREDIT = "customer_credit", "Customer credit (per service account)"
    REVENUE = "revenue", "Revenue (per utility)"
    VAT_PAYABLE = "vat_payable", "VAT payable"
    PENALTY_INCOME = "penalty_income", "Penalty income"
    FEE_INCOME = "fee_income", "Fee income"
    CLEARING = "clearing", "Mobile-money clearing (per operator)"
    CASH = "cash", "Cash (per agent)"
    SUSPENSE = "suspense", "Suspense"


class LedgerAccount(models.Model):
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=LedgerAccountKind.choices)
    # e.g. "receivable:100000126", "revenue:water", "clearing:mpesa", "cash:agent:7"
    code = models.CharField(max_length=64)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    service_account = models.ForeignKey(
        ServiceAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["operator", "code", "currency"], name="uniq_ledger_account_code"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.currency})"


class JournalKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    PAYMENT = "payment", "Payment"
    PENALTY = "penalty", "Penalty"
    FEE = "fee", "Fee"
    CREDIT_NOTE = "credit_note", "Credit note"
    CREDIT_APPLIED = "credit_applied", "Customer credit applied"
    ADJUSTMENT = "adjustment", "Adjustment"
    REVERSAL = "reversal", "Reversal"


class JournalTransaction(models.Model):
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=JournalKind.choices)
    # What caused it ("invoice", 42); with `kind` unique: the same event never posts twice.
    source_type = models.CharField(max_length=32)
    source_id = models.CharField(max_length=64)
    memo = models.CharField(max_length=200, blank=True)
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_type", "source_id", "kind"], name="uniq_journal_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_type}:{self.source_id}"


class LedgerEntry(models.Model):
    journal = models.ForeignKey(
        JournalTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    # Found through the (account, journal) index, which leads with it: no index of its own.
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount_minor = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["account", "journal"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_minor:+d} {self.currency}"
