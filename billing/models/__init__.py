"""Billing data: operators, service accounts, meters, tariffs, invoices and the ledger."""

from billing.models.customers import AccountContact, AccountStatus, ServiceAccount, Utility
from billing.models.invoices import (
    Allocation,
    CreditNote,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    Payment,
)
from billing.models.ledger import (
    JournalKind,
    JournalTransaction,
    LedgerAccount,
    LedgerAccountKind,
    LedgerEntry,
)
from billing.models.meters import Meter, MeterReading, ReadingSource, ReadingStatus
from billing.models.operator import DocumentSequence, Operator
from billing.models.tariffs import (
    PriceIndex,
    PriceIndexValue,
    Pricing,
    Tariff,
    TariffTier,
    TariffVersion,
)

__all__ = [
    "AccountContact",
    "AccountStatus",
    "Allocation",
    "CreditNote",
    "DocumentSequence",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceStatus",
    "JournalKind",
    "JournalTransaction",
    "LedgerAccount",
    "LedgerAccountKind",
    "LedgerEntry",
    "LineKind",
    "Meter",
    "MeterReading",
    "Operator",
    "Payment",
    "PriceIndex",
    "PriceIndexValue",
    "Pricing",
    "ReadingSource",
    "ReadingStatus",
    "ServiceAccount",
    "Tariff",
    "TariffTier",
    "TariffVersion",
    "Utility",
]
