"""Tariffs: how one billing period's consumption becomes invoice lines. Pure computation.

Nothing here reads or writes the database; callers pass the tariff versions as `Rate` values
(`Rate.of(version)` converts a TariffVersion whose tiers were prefetched) and the prices of
the period's month for indexed pricing.

Lines, in order: the consumption lines of each version in force (one per tier for tiered
pricing), the standing charge of each version in force, the service fee, then VAT on the sum
of all the other lines. Consumption is taken to 0.001 unit (the meter's precision).

A negative consumption (a real reading below the estimates billed before it) is credited
through the same lines as the same positive quantity, each line negated ("Estimate
correction, ..."): the units are given back at the prices they would cost in this period.

Rounding (billing.money): every line is computed in Decimal and rounded once, half up, to the
currency's minor unit; VAT is computed on the sum of the rounded lines and rounded once.

A tariff change inside the period (proration by days):
- the period is cut into segments, one per version in force, each from the later of the
  period start and the version's `effective_from` to the day before the next version starts;
  a segment's share is its days divided by the days of the period (both ends included);
- the consumption is split by share, each segment's quantity rounded half up to 0.001 unit
  (the meter's precision), the last segment taking the remainder so the segments add up to the
  metered quantity exactly;
- tier thresholds (`up_to`) are scaled by the segment's share and rounded the same way, so a
  customer gets the first-tier price on the first 10 m3 of a month, not on 10 m3 per segment;
- the standing charge of each version is charged for its share of the period;
- the service fee and the VAT rate are those of the version in force on the period's last day.
A tier without `up_to` is unbounded; units above the last bounded tier cost its price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from accounts.errors import ApplicationError
from billing.models.invoices import LineKind
from billing.models.tariffs import Pricing
from billing.money import ROUNDING, Money

ZERO = Decimal(0)
QUANTUM = Decimal("0.001")  # quantities and scaled thresholds: the meter's precision
RATE_QUANTUM = Decimal("0.000001")  # shown unit prices: the precision of a stored rate


class TariffNotInForce(ApplicationError):
    code = "tariff_not_in_force"
    message = "No version of the tariff is in force at the start of the billing period."
    http_status = 409


class TariffInvalid(ApplicationError):
    code = "tariff_invalid"
    message = "The tariff version is incomplete for its pricing."
    http_status = 409


class PriceIndexMissing(ApplicationError):
    code = "price_index_missing"
    message = "The price index has no value for the billing period's month."
    http_status = 409


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # None: unbounded
    price: Decimal


@dataclass(frozen=True)
class Rate:
    """A tariff version as plain values."""

    effective_from: date
    pricing: str
    unit_price: Decimal | None = None
    price_index_id: int | None = None
    tiers: tuple[Tier, ...] = ()
    standing_charge: Decimal = ZERO
    service_fee: Decimal = ZERO
    vat_rate: Decimal = ZERO

    @classmethod
    def of(cls, version) -> Rate:
        """From a TariffVersion (prefetch `tiers` to avoid a query per version)."""
        return cls.from_fields(
            {name: getattr(version, name) for name in VERSION_FIELDS},
            [(tier.up_to, tier.price) for tier in version.tiers.all()],
        )

    @classmethod
    def from_fields(cls, fields: dict, tiers: Iterable[tuple[Decimal | None, Decimal]]) -> Rate:
        """From a version's VERSION_FIELDS and its tiers' (up_to, price), in any order."""
        ordered = sorted(tiers, key=lambda tier: (tier[0] is None, tier[0] or ZERO))
        return cls(tiers=tuple(Tier(up_to, price) for up_to, price in ordered), **fields)


# The TariffVersion fields a Rate is made of (besides its tiers).
VERSION_FIELDS = (
    "effective_from",
    "pricing",
    "unit_price",
    "price_index_id",
    "standing_charge",
    "service_fee",
    "vat_rate",
)


@dataclass(frozen=True)
class Line:
    kind: str  # LineKind
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Money


@dataclass(frozen=True)
class Segment:
    rate: Rate
    start: date
    end: date  # included
    share: Decimal  # days of the segment / days of the period


def segments_in_force(rates: Iterable[Rate], period_start: date, period_end: date) -> list[Segment]:
    """The versions in force during the period, each with the part of the period it covers."""
    ordered = sorted(rates, key=lambda rate: rate.effective_from)
    current = [rate for rate in ordered if rate.effective_from <= period_start]
    if not current:
        raise TariffNotInForce(extra={"period_start": period_start.isoformat()})
    later = [rate for rate in ordered if period_start < rate.effective_from <= period_end]
    chain = [current[-1], *later]
    starts = [period_start] + [rate.effective_from for rate in later]
    ends = [start - timedelta(days=1) for start in starts[1:]] + [period_end]
    days = Decimal((period_end - period_start).days + 1)
    return [
        Segment(rate, start, end, Decimal((end - start).days + 1) / days)
        for rate, start, end in zip(chain, starts, ends, strict=True)
    ]


def _quantity(value: Decimal) -> Decimal:
    return value.quantize(QUANTUM, rounding=ROUND_HALF_UP)


def _split(consumption: Decimal, segments: list[Segment]) -> list[Decimal]:
    parts = [_quantity(consumption * segment.share) for segment in segments[:-1]]
    return [*parts, consumption - sum(parts, ZERO)]


def _money(value: Decimal, currency: str) -> Money:
    return Money.from_decimal(value, currency, rounding=ROUNDING)


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _tier_label(number: int, floor: Decimal, ceiling: Decimal | None, unit: str) -> str:
    if ceiling is not None:
        span = f"{_number(floor)}-{_number(ceiling)} {unit}"
    elif floor:
        span = f"above {_number(floor)} {unit}"
    else:
        span = unit
    return f"Tier {number} ({span})"


def _consumption_lines(
    segment: Segment,
    quantity: Decimal,
    *,
    currency: str,
    unit: str,
    suffix: str,
    index_prices: Mapping[int, Decimal],
    month: str,
) -> list[Line]:
    rate = segment.rate
    if rate.pricing == Pricing.TIERED:
        if not rate.tiers:
            raise TariffInvalid("A tiered tariff needs at least one tier.")
        lines = []
        floor = ZERO
        for number, tier in enumerate(rate.tiers, start=1):
            last = number == len(rate.tiers)
            ceiling = None if last or tier.up_to is None else _quantity(tier.up_to * segment.share)
            used = (quantity if ceiling is None else min(quantity, ceiling)) - floor
            if used > 0:
                description = _tier_label(number, floor, ceiling, unit) + suffix
                amount = _money(used * tier.price, currency)
                lines.append(Line(LineKind.TIER, description, used, tier.price, amount))
            if ceiling is None:
                break
            floor = max(floor, ceiling)
        return lines
    if rate.pricing == Pricing.FLAT:
        if rate.unit_price is None:
            raise TariffInvalid("A flat tariff needs a unit price.")
        price, label = rate.unit_price, f"Consumption ({unit}){suffix}"
    elif rate.pricing == Pricing.INDEXED:
        if rate.price_index_id is None:
            raise TariffInvalid("An indexed tariff needs a price index.")
        if rate.price_index_id not in index_prices:
            raise PriceIndexMissing(extra={"price_index": rate.price_index_id, "month": month})
        price = index_prices[rate.price_index_id]
        label = f"Consumption ({unit}) at the {month} index price{suffix}"
    else:
        raise TariffInvalid(f"Unknown pricing {rate.pricing!r}.")
    if quantity <= 0:
        return []
    return [Line(LineKind.CONSUMPTION, label, quantity, price, _money(quantity * price, currency))]


def _correction(line: Line) -> Line:
    description = f"Estimate correction, {line.description[0].lower()}{line.description[1:]}"
    return Line(line.kind, description, -line.quantity, line.unit_price, -line.amount)


def tariff_lines(
    *,
    rates: Iterable[Rate],
    consumption: Decimal,
    period_start: date,
    period_end: date,
    currency: str,
    index_prices: Mapping[int, Decimal] | None = None,
    unit: str = "m3",
) -> list[Line]:
    """The invoice lines for `consumption` over the period (both dates included).

    `rates` may hold every version of the tariff; those in force are picked by date.
    `index_prices` maps a price index id to its price for the period's month.
    """
    if period_end < period_start:
        raise ValueError("the period ends before it starts")
    consumption = _quantity(consumption)
    segments = segments_in_force(rates, period_start, period_end)
    split = len(segments) > 1
    month = f"{period_start:%Y-%m}"
    lines: list[Line] = []
    for segment, quantity in zip(segments, _split(abs(consumption), segments), strict=True):
        suffix = f", {segment.start:%d %b}-{segment.end:%d %b}" if split else ""
        lines += _consumption_lines(
            segment,
            quantity,
            currency=currency,
            unit=unit,
            suffix=suffix,
            index_prices=index_prices or {},
            month=month,
        )
    if consumption < 0:
        lines = [_correction(line) for line in lines]
    for segment in segments:
        charge = segment.rate.standing_charge * segment.share
        if charge > 0:
            days = (segment.end - segment.start).days + 1
            description = f"Standing charge, {days} days" if split else "Standing charge"
            unit_price = charge.quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)
            amount = _money(charge, currency)
            lines.append(Line(LineKind.STANDING, description, Decimal(1), unit_price, amount))
    closing = segments[-1].rate
    if closing.service_fee > 0:
        fee = _money(closing.service_fee, currency)
        lines.append(
            Line(LineKind.SERVICE_FEE, "Service fee", Decimal(1), closing.service_fee, fee)
        )
    if closing.vat_rate > 0:
        subtotal = Money(sum(line.amount.minor for line in lines), currency).amount
        vat = _money(subtotal * closing.vat_rate, currency)
        label = f"VAT {_number(closing.vat_rate * 100)}%"
        lines.append(Line(LineKind.VAT, label, subtotal, closing.vat_rate, vat))
    return lines
