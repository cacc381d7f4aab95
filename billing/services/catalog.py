"""What managers maintain: tariffs, their effective-dated versions and tiers, price indexes.

A version never changes what was already invoiced: a new version must start after the last
day of every period already invoiced on its tariff (TariffVersionBackdated otherwise), and a
price index value cannot change once a period of its month was invoiced with it
(PriceIndexMonthBilled). Corrections of past bills are credit notes, not edited prices.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction

from accounts.audit import audit_record, audit_snapshot
from accounts.errors import ApplicationError
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Operator,
    PriceIndex,
    PriceIndexValue,
    Pricing,
    Tariff,
    TariffTier,
    TariffVersion,
    Utility,
)

ZERO = Decimal(0)


class TariffDefinitionInvalid(ApplicationError):
    code = "tariff_definition_invalid"
    message = "The tariff is incomplete or inconsistent."


class TariffCodeTaken(ApplicationError):
    code = "tariff_code_taken"
    message = "The operator already has a tariff with this code."
    http_status = 409


class TariffVersionExists(ApplicationError):
    code = "tariff_version_exists"
    message = "The tariff already has a version starting on this day."
    http_status = 409


class TariffVersionBackdated(ApplicationError):
    code = "tariff_version_backdated"
    message = "A period from this day on was already invoiced; a version must start after it."
    http_status = 409


class PriceIndexMonthBilled(ApplicationError):
    code = "price_index_month_billed"
    message = "Invoices of this month were priced with this value; it can no longer change."
    http_status = 409


@dataclass(frozen=True)
class TierSpec:
    up_to: Decimal | None  # None: unbounded (the last tier only)
    price: Decimal


@dataclass(frozen=True)
class VersionSpec:
    effective_from: date
    pricing: str
    unit_price: Decimal | None = None
    price_index: PriceIndex | None = None
    tiers: tuple[TierSpec, ...] = ()
    standing_charge: Decimal = ZERO
    service_fee: Decimal = ZERO
    vat_rate: Decimal = ZERO
    penalty_percent: Decimal = ZERO
    penalty_fixed: Decimal = ZERO
    reconnection_fee: Decimal = ZERO


def _fail(field: str, message: str) -> TariffDefinitionInvalid:
    return TariffDefinitionInvalid(message, extra={"fields": {field: [message]}})


def _tiers_check(tiers: Iterable[TierSpec]) -> None:
    tiers = list(tiers)
    if not tiers:
        raise _fail("tiers", "Tiered pricing needs at least one tier.")
    floor = ZERO
    for position, tier in enumerate(tiers, start=1):
        if tier.price < 0:
            raise _fail("tiers", "A tier price cannot be negative.")
        if tier.up_to is None:
            if position != len(tiers):
                raise _fail("tiers", "Only the last tier may be unbounded.")
            continue
        if tier.up_to <= floor:
            raise _fail("tiers", "Tier limits must be above zero and increase from tier to tier.")
        floor = tier.up_to


def _version_check(tariff: Tariff, spec: VersionSpec) -> None:
    if spec.pricing not in Pricing.values:
        raise _fail("pricing", f"Unknown pricing {spec.pricing!r}.")
    if spec.pricing == Pricing.TIERED:
        _tiers_check(spec.tiers)
    elif spec.tiers:
        raise _fail("tiers", "Only tiered pricing has tiers.")
    if spec.pricing == Pricing.FLAT and spec.unit_price is None:
        raise _fail("unit_price", "Flat pricing needs a unit price.")
    if spec.pricing == Pricing.INDEXED:
        if spec.price_index is None:
            raise _fail("price_index", "Indexed pricing needs a price index.")
        if spec.price_index.operator_id != tariff.operator_id:
            raise _fail("price_index", "The price index belongs to another operator.")
    amounts = ("unit_price", "standing_charge", "service_fee", "penalty_fixed", "reconnection_fee")
    for name in amounts:
        value = getattr(spec, name)
        if value is not None and value < 0:
            raise _fail(name, "Cannot be negative.")
    if not ZERO <= spec.vat_rate < 1:
        raise _fail("vat_rate", "A VAT rate is a fraction from 0 to below 1 (0.16 for 16 %).")
    if not ZERO <= spec.penalty_percent <= 100:
        raise _fail("penalty_percent", "A percentage from 0 to 100.")


@transaction.atomic
def tariff_version_create(*, tariff: Tariff, spec: VersionSpec, actor) -> TariffVersion:
    """Add a version (with its tiers) that applies from `spec.effective_from`."""
    tariff = Tariff.objects.select_for_update().get(pk=tariff.pk)
    _version_check(tariff, spec)
    invoiced = Invoice.objects.filter(
        account__tariff=tariff,
        kind=InvoiceKind.INVOICE,
        period_end__gte=spec.effective_from,
    ).exclude(status=InvoiceStatus.CANCELLED)
    if invoiced.exists():
        raise TariffVersionBackdated(extra={"effective_from": spec.effective_from.isoformat()})
    if tariff.versions.filter(effective_from=spec.effective_from).exists():
        raise TariffVersionExists(extra={"effective_from": spec.effective_from.isoformat()})
    version = TariffVersion.objects.create(
        tariff=tariff,
        effective_from=spec.effective_from,
        pricing=spec.pricing,
        unit_price=spec.unit_price if spec.pricing == Pricing.FLAT else None,
        price_index=spec.price_index if spec.pricing == Pricing.INDEXED else None,
        standing_charge=spec.standing_charge,
        service_fee=spec.service_fee,
        vat_rate=spec.vat_rate,
        penalty_percent=spec.penalty_percent,
        penalty_fixed=spec.penalty_fixed,
        reconnection_fee=spec.reconnection_fee,
    )
    TariffTier.objects.bulk_create(
        TariffTier(version=version, up_to=tier.up_to, price=tier.price) for tier in spec.tiers
    )
    audit_record(
        actor=actor,
        action="tariff_version.create",
        instance=version,
        after={**audit_snapshot(version), "tiers": len(spec.tiers)},
    )
    return version


@transaction.atomic
def tariff_create(
    *, operator: Operator, code: str, name: str, utility: str, version: VersionSpec, actor
) -> Tariff:
    """A tariff and its first version."""
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name:
        raise _fail("code" if not code else "name", "This field is required.")
    if utility not in Utility.values:
        raise _fail("utility", f"Unknown utility {utility!r}.")
    try:
        with transaction.atomic():
            tariff = Tariff.objects.create(operator=operator, code=code, name=name, utility=utility)
    except IntegrityError as exc:
        raise TariffCodeTaken(extra={"code": code}) from exc
    audit_record(actor=actor, action="tariff.create", instance=tariff, after=audit_snapshot(tariff))
    tariff_version_create(tariff=tariff, spec=version, actor=actor)
    return tariff


@transaction.atomic
def price_index_create(*, operator: Operator, name: str, actor) -> PriceIndex:
    name = (name or "").strip()
    if not name:
        raise _fail("name", "A price index needs a name.")
    index = PriceIndex.objects.create(operator=operator, name=name[:64])
    audit_record(actor=actor, action="price_index.create", instance=index, after={"name": name})
    return index


@transaction.atomic
def price_index_value_set(
    *, index: PriceIndex, month: date, price: Decimal, actor
) -> tuple[PriceIndexValue, bool]:
    """Set the index's price for a month; (value, created). Refused once the month is billed."""
    if price < 0:
        raise _fail("price", "A price cannot be negative.")
    month = month.replace(day=1)
    index = PriceIndex.objects.select_for_update().get(pk=index.pk)
    value = PriceIndexValue.objects.filter(index=index, month=month).first()
    if value is not None and value.price == price:
        return value, False
    billed = Invoice.objects.filter(
        kind=InvoiceKind.INVOICE,
        period=month,
        account__tariff__versions__price_index=index,
    ).exclude(status=InvoiceStatus.CANCELLED)
    if value is not None and billed.exists():
        raise PriceIndexMonthBilled(extra={"month": f"{month:%Y-%m}"})
    before = audit_snapshot(value)
    created = value is None
    if created:
        value = PriceIndexValue.objects.create(index=index, month=month, price=price)
    else:
        value.price = price
        value.save(update_fields=["price"])
    audit_record(
        actor=actor,
        action="price_index_value.set",
        instance=value,
        before=before,
        after=audit_snapshot(value),
    )
    return value, created
