"""Test data for invoices and billing runs: operators, tariffs, accounts with period readings."""

import itertools
from datetime import date, datetime, time
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from accounts.models import User
from billing.account_numbers import account_number_make
from billing.models import (
    Meter,
    MeterReading,
    Operator,
    PriceIndex,
    PriceIndexValue,
    ReadingSource,
    ReadingStatus,
    ServiceAccount,
    Tariff,
    TariffTier,
    TariffVersion,
)

NOV = date(2026, 11, 1)
WATER_TIERS = ((10, "1.50"), (30, "2.00"), (None, "2.50"))
_serial = itertools.count(1)


def operator_make(*, currency: str = "KES", slug: str = "", **fields) -> Operator:
    n = next(_serial)
    return Operator.objects.create(
        name=f"Utility {n}",
        slug=slug or f"utility-{n}",
        currency=currency,
        timezone=fields.pop("timezone", "Africa/Nairobi"),
        **fields,
    )


def customer_make() -> User:
    return User.objects.create_user(f"+25471{next(_serial):07d}", name="Customer", is_active=True)


def version_add(
    tariff: Tariff,
    *,
    effective_from: date = date(2026, 1, 1),
    pricing: str = "tiered",
    tiers=WATER_TIERS,
    **fields,
) -> TariffVersion:
    values = {key: D(str(value)) for key, value in fields.items() if key != "price_index"}
    version = TariffVersion.objects.create(
        tariff=tariff,
        effective_from=effective_from,
        pricing=pricing,
        price_index=fields.get("price_index"),
        **values,
    )
    if pricing == "tiered":
        TariffTier.objects.bulk_create(
            TariffTier(version=version, up_to=None if up_to is None else D(up_to), price=D(price))
            for up_to, price in tiers
        )
    return version


def tariff_make(operator: Operator, *, utility: str = "water", **version_fields) -> Tariff:
    n = next(_serial)
    tariff = Tariff.objects.create(
        operator=operator, code=f"T{n}", name=f"Tariff {n}", utility=utility
    )
    version_add(tariff, **version_fields)
    return tariff


def price_index_make(operator: Operator, month: date = NOV, price: str = "23.4567") -> PriceIndex:
    index = PriceIndex.objects.create(operator=operator, name="Fuel-linked kWh")
    PriceIndexValue.objects.create(index=index, month=month, price=D(price))
    return index


def account_make(
    operator: Operator, tariff: Tariff, *, owner: User | None = None, status: str = "active"
) -> ServiceAccount:
    return ServiceAccount.objects.create(
        number=account_number_make(next(_serial)),
        operator=operator,
        utility=tariff.utility,
        owner=owner or customer_make(),
        holder_name="Holder",
        tariff=tariff,
        status=status,
    )


def local_time(operator: Operator, day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(operator.timezone))


def meter_with_usage(
    account: ServiceAccount, consumption: str, *, read_on: date = date(2026, 11, 28)
) -> MeterReading:
    """A meter on the account and an accepted reading in the period with `consumption`."""
    meter = Meter.objects.create(
        account=account,
        serial=f"M{next(_serial)}",
        installed_at=local_time(account.operator, date(2025, 1, 1)),
    )
    return MeterReading.objects.create(
        meter=meter,
        index=D(consumption),
        read_at=local_time(account.operator, read_on),
        source=ReadingSource.AGENT,
        status=ReadingStatus.ACCEPTED,
        consumption=D(consumption),
    )


def billed_account(operator: Operator, tariff: Tariff, consumption: str = "0") -> ServiceAccount:
    account = account_make(operator, tariff)
    meter_with_usage(account, consumption)
    return account
