"""Small builders for the accounts, meters and readings tests (no dependency on factories.py)."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

from accounts.models import User
from billing.account_numbers import account_number_make
from billing.models import (
    Invoice,
    InvoiceStatus,
    Meter,
    MeterReading,
    Operator,
    ReadingSource,
    ReadingStatus,
    ServiceAccount,
    Tariff,
)

_serials = itertools.count(1)
INSTALLED = datetime(2025, 1, 1, tzinfo=UTC)


def operator_make(*, slug: str = "maji", currency: str = "KES", **fields) -> Operator:
    defaults = {"name": slug.title(), "timezone": "Africa/Nairobi", "phone_region": "KE"}
    operator, _ = Operator.objects.get_or_create(
        slug=slug, defaults={"currency": currency, **defaults, **fields}
    )
    return operator


def tariff_make(operator: Operator, *, utility: str = "water", code: str = "") -> Tariff:
    code = code or f"{utility}-{next(_serials)}"
    return Tariff.objects.create(operator=operator, code=code, name=code, utility=utility)


def customer_make(phone: str = "") -> User:
    phone = phone or f"+2547{next(_serials):08d}"
    return User.objects.create_user(phone, name="Wanjiru Kamau", is_active=True)


def account_make(operator: Operator | None = None, *, utility: str = "water") -> ServiceAccount:
    operator = operator or operator_make()
    return ServiceAccount.objects.create(
        number=account_number_make(900_000 + next(_serials)),
        operator=operator,
        utility=utility,
        owner=customer_make(),
        holder_name="Wanjiru Kamau",
        tariff=tariff_make(operator, utility=utility),
    )


def meter_make(
    account: ServiceAccount | None = None,
    *,
    max_index: Decimal | int = 99999,
    initial_index: Decimal | int = 0,
    installed_at: datetime = INSTALLED,
) -> Meter:
    return Meter.objects.create(
        account=account or account_make(),
        serial=f"M-{next(_serials):06d}",
        max_index=Decimal(max_index),
        initial_index=Decimal(initial_index),
        installed_at=installed_at,
    )


def reading_make(
    meter: Meter, index, read_at: datetime, *, consumption, estimated: bool = False
) -> MeterReading:
    """An accepted reading written directly (history set up without the rules)."""
    return MeterReading.objects.create(
        meter=meter,
        index=Decimal(index),
        read_at=read_at,
        source=ReadingSource.ESTIMATE if estimated else ReadingSource.AGENT,
        status=ReadingStatus.ACCEPTED,
        is_estimated=estimated,
        consumption=Decimal(consumption),
    )


def invoice_make(account: ServiceAccount, *, period: date, consumption, **fields) -> Invoice:
    """An issued invoice for `period` that billed `consumption` (its money does not matter)."""
    return Invoice.objects.create(
        operator=account.operator,
        account=account,
        number=f"T-{next(_serials):06d}",
        status=fields.pop("status", InvoiceStatus.ISSUED),
        period=period,
        issue_date=period,
        due_date=period,
        currency=account.operator.currency,
        total_minor=0,
        consumption=Decimal(consumption),
        **fields,
    )
