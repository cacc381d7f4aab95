"""Properties of the tariff engine over many consumptions, tariffs and change dates."""

from datetime import date, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from billing.models import LineKind
from billing.tariffs import Rate, Tier, tariff_lines

START, END = date(2026, 11, 1), date(2026, 11, 30)
CONSUMPTION_KINDS = {LineKind.TIER, LineKind.CONSUMPTION}

quantities = st.decimals(min_value=0, max_value=100_000, places=3, allow_nan=False)
prices = st.decimals(min_value=0, max_value=500, places=4, allow_nan=False)


@st.composite
def tier_sets(draw):
    bounds = sorted(draw(st.sets(st.integers(1, 500), min_size=0, max_size=4)))
    tiers = [Tier(D(bound), draw(prices)) for bound in bounds]
    return (*tiers, Tier(None, draw(prices)))


def rate(tiers, effective_from=date(2026, 1, 1)) -> Rate:
    return Rate(
        effective_from=effective_from,
        pricing="tiered",
        tiers=tiers,
        standing_charge=D("99.99"),
        vat_rate=D("0.16"),
    )


def lines_for(rates, consumption, currency="KES"):
    return tariff_lines(
        rates=rates, consumption=consumption, period_start=START, period_end=END, currency=currency
    )


def minor_total(lines) -> int:
    return sum(line.amount.minor for line in lines)


@given(tiers=tier_sets(), consumption=quantities, change=st.integers(1, 29))
def test_prorated_tier_quantities_add_up_to_the_metered_consumption(tiers, consumption, change):
    rates = [rate(tiers), rate(tiers, START + timedelta(days=change))]
    lines = lines_for(rates, consumption)
    assert sum(line.quantity for line in lines if line.kind in CONSUMPTION_KINDS) == consumption


@given(tiers=tier_sets(), consumption=quantities, change=st.integers(1, 29))
def test_a_change_to_the_same_prices_costs_at_most_a_rounding_per_line(tiers, consumption, change):
    whole = lines_for([rate(tiers)], consumption)
    split = lines_for([rate(tiers), rate(tiers, START + timedelta(days=change))], consumption)
    assert abs(minor_total(split) - minor_total(whole)) <= len(split)


@given(tiers=tier_sets(), smaller=quantities, extra=quantities)
def test_using_more_never_costs_less(tiers, smaller, extra):
    for currency in ("KES", "XAF"):
        less = minor_total(lines_for([rate(tiers)], smaller, currency))
        more = minor_total(lines_for([rate(tiers)], smaller + extra, currency))
        assert more >= less
