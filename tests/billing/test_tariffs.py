"""Worked examples of the tariff engine, with totals computed by hand in the comments."""

from datetime import date
from decimal import Decimal as D

import pytest

from billing.models import LineKind
from billing.tariffs import (
    PriceIndexMissing,
    Rate,
    TariffInvalid,
    TariffNotInForce,
    Tier,
    tariff_lines,
)

NOV_START, NOV_END = date(2026, 11, 1), date(2026, 11, 30)
TIERS_KES = (Tier(D(10), D("1.50")), Tier(D(30), D("2.00")), Tier(None, D("2.50")))


def tiered(tiers=TIERS_KES, **fields) -> Rate:
    return Rate(
        **{"effective_from": date(2026, 1, 1), "pricing": "tiered", "tiers": tiers} | fields
    )


def flat(price, **fields) -> Rate:
    return Rate(
        **{"effective_from": date(2026, 1, 1), "pricing": "flat", "unit_price": price} | fields
    )


def indexed(index_id=7, **fields) -> Rate:
    fields = {"effective_from": date(2026, 1, 1), "pricing": "indexed"} | fields
    return Rate(price_index_id=index_id, **fields)


def bill(rates, consumption, currency="KES", **kwargs):
    return tariff_lines(
        rates=rates,
        consumption=D(consumption),
        period_start=kwargs.pop("period_start", NOV_START),
        period_end=kwargs.pop("period_end", NOV_END),
        currency=currency,
        **kwargs,
    )


def amounts(lines) -> list[str]:
    return [line.amount.format() for line in lines]


def total(lines) -> str:
    return sum((line.amount for line in lines[1:]), lines[0].amount).format()


def test_progressive_tiers_each_get_their_own_line_in_kes():
    rate = tiered(standing_charge=D(150), service_fee=D(50), vat_rate=D("0.16"))
    lines = bill([rate], "42")
    # 10 x 1.50 = 15.00; 20 x 2.00 = 40.00; 12 x 2.50 = 30.00; + 150 + 50 = 285.00;
    # VAT 16 % of 285.00 = 45.60; total 330.60.
    assert [line.description for line in lines] == [
        "Tier 1 (0-10 m3)",
        "Tier 2 (10-30 m3)",
        "Tier 3 (above 30 m3)",
        "Standing charge",
        "Service fee",
        "VAT 16%",
    ]
    assert [line.quantity for line in lines[:3]] == [D(10), D(20), D(12)]
    assert amounts(lines) == [
        "KES 15.00",
        "KES 40.00",
        "KES 30.00",
        "KES 150.00",
        "KES 50.00",
        "KES 45.60",
    ]
    assert total(lines) == "KES 330.60"


def test_flat_price_per_unit_rounds_each_line_once_in_kes():
    lines = bill([flat(D("87.35"), vat_rate=D("0.16"))], "12.345")
    # 12.345 x 87.35 = 1078.33575 -> 1078.34; VAT 0.16 x 1078.34 = 172.5344 -> 172.53.
    assert [line.kind for line in lines] == [LineKind.CONSUMPTION, LineKind.VAT]
    assert amounts(lines) == ["KES 1,078.34", "KES 172.53"]
    assert total(lines) == "KES 1,250.87"


def test_indexed_price_per_kwh_uses_the_months_index_value_at_full_precision():
    rate = indexed(standing_charge=D(100), vat_rate=D("0.16"))
    lines = bill([rate], "123.4", index_prices={7: D("23.4567")}, unit="kWh")
    # 123.4 x 23.4567 = 2894.55678 -> 2894.56; + 100 = 2994.56; VAT 479.1296 -> 479.13.
    assert lines[0].description == "Consumption (kWh) at the 2026-11 index price"
    assert lines[0].unit_price == D("23.4567")
    assert amounts(lines) == ["KES 2,894.56", "KES 100.00", "KES 479.13"]
    assert total(lines) == "KES 3,473.69"


def test_tariff_change_mid_period_prorates_consumption_thresholds_and_standing_charge():
    old = tiered(standing_charge=D(150), service_fee=D(50), vat_rate=D("0.16"))
    new = tiered(
        tiers=(Tier(D(10), D("1.80")), Tier(D(30), D("2.40")), Tier(None, D("3.00"))),
        effective_from=date(2026, 11, 11),
        standing_charge=D(180),
        service_fee=D(60),
        vat_rate=D("0.16"),
    )
    lines = bill([new, old], "25")
    # 1-10 Nov: 10/30 of the month; 25/3 = 8.333 m3; tier 1 up to 10/3 = 3.333 m3.
    #   3.333 x 1.50 = 4.9995 -> 5.00; 5.000 x 2.00 = 10.00.
    # 11-30 Nov: 20/30; 25 - 8.333 = 16.667 m3; tier 1 up to 6.667, tier 2 up to 20.
    #   6.667 x 1.80 = 12.0006 -> 12.00; 10.000 x 2.40 = 24.00.
    # Standing: 150 x 1/3 = 50.00; 180 x 2/3 = 120.00. Fee of the closing version: 60.00.
    # Subtotal 281.00; VAT 44.96; total 325.96.
    assert [(line.description, line.quantity) for line in lines[:4]] == [
        ("Tier 1 (0-3.333 m3), 01 Nov-10 Nov", D("3.333")),
        ("Tier 2 (3.333-10 m3), 01 Nov-10 Nov", D("5.000")),
        ("Tier 1 (0-6.667 m3), 11 Nov-30 Nov", D("6.667")),
        ("Tier 2 (6.667-20 m3), 11 Nov-30 Nov", D("10.000")),
    ]
    assert [line.description for line in lines[4:6]] == [
        "Standing charge, 10 days",
        "Standing charge, 20 days",
    ]
    assert amounts(lines) == [
        "KES 5.00",
        "KES 10.00",
        "KES 12.00",
        "KES 24.00",
        "KES 50.00",
        "KES 120.00",
        "KES 60.00",
        "KES 44.96",
    ]
    assert total(lines) == "KES 325.96"
    assert sum(line.quantity for line in lines[:4]) == D(25)


def test_tiered_in_xaf_never_carries_a_fraction():
    tiers = (Tier(D(10), D(250)), Tier(D(30), D(300)), Tier(None, D(400)))
    lines = bill([tiered(tiers, standing_charge=D(1000), vat_rate=D("0.1925"))], "17.5", "XAF")
    # 10 x 250 = 2500; 7.5 x 300 = 2250; + 1000 = 5750; VAT 19.25 % = 1106.875 -> 1107.
    assert amounts(lines) == ["XAF 2,500", "XAF 2,250", "XAF 1,000", "XAF 1,107"]
    assert total(lines) == "XAF 6,857"
    assert all(line.amount.amount == line.amount.amount.to_integral_value() for line in lines)


def test_flat_in_xaf_rounds_to_the_whole_franc():
    lines = bill([flat(D(333), standing_charge=D(500))], "12.345", "XAF")
    # 12.345 x 333 = 4110.885 -> 4111; + 500 = 4611.
    assert [line.amount.minor for line in lines] == [4111, 500]
    assert total(lines) == "XAF 4,611"


def test_indexed_in_xaf_rounds_rate_and_vat_once_each():
    rate = indexed(index_id=3, vat_rate=D("0.1925"))
    lines = bill([rate], "57.5", "XAF", index_prices={3: D("98.765")}, unit="kWh")
    # 57.5 x 98.765 = 5678.9875 -> 5679; VAT 0.1925 x 5679 = 1093.2075 -> 1093.
    assert amounts(lines) == ["XAF 5,679", "XAF 1,093"]
    assert total(lines) == "XAF 6,772"


def test_tariff_change_mid_period_in_xaf():
    old = flat(D(300), standing_charge=D(1000), vat_rate=D("0.1925"))
    new = flat(
        D(360), effective_from=date(2026, 11, 21), standing_charge=D(1200), vat_rate=D("0.1925")
    )
    lines = bill([old, new], "10", "XAF")
    # 1-20 Nov (2/3): 6.667 x 300 = 2000.1 -> 2000; 21-30 Nov (1/3): 3.333 x 360 = 1199.88 -> 1200.
    # Standing: 1000 x 2/3 = 666.67 -> 667; 1200 x 1/3 = 400. Subtotal 4267.
    # VAT 19.25 % = 821.3975 -> 821; total 5088.
    assert amounts(lines) == ["XAF 2,000", "XAF 1,200", "XAF 667", "XAF 400", "XAF 821"]
    assert total(lines) == "XAF 5,088"


def test_half_a_minor_unit_rounds_up():
    assert amounts(bill([flat(D(1))], "2.5", "XAF")) == ["XAF 3"]
    assert amounts(bill([flat(D("0.01"))], "0.5")) == ["KES 0.01"]


def test_zero_consumption_gives_a_standing_charge_only_invoice():
    rate = tiered(standing_charge=D(150), service_fee=D(50), vat_rate=D("0.16"))
    lines = bill([rate], "0")
    assert [line.kind for line in lines] == [LineKind.STANDING, LineKind.SERVICE_FEE, LineKind.VAT]
    assert total(lines) == "KES 232.00"


def test_units_above_the_last_bounded_tier_cost_its_price():
    lines = bill([tiered((Tier(D(10), D(1)), Tier(D(20), D(2))))], "25")
    assert [(line.quantity, line.amount.format()) for line in lines] == [
        (D(10), "KES 10.00"),
        (D(15), "KES 30.00"),
    ]


def test_missing_index_value_is_a_clear_error():
    with pytest.raises(PriceIndexMissing) as caught:
        bill([indexed(index_id=9)], "10", index_prices={7: D(20)})
    assert caught.value.code == "price_index_missing"
    assert caught.value.extra == {"price_index": 9, "month": "2026-11"}


def test_a_period_before_the_first_version_is_refused():
    with pytest.raises(TariffNotInForce) as caught:
        bill([flat(D(1), effective_from=date(2026, 11, 2))], "10")
    assert caught.value.code == "tariff_not_in_force"


def test_incomplete_versions_are_refused():
    with pytest.raises(TariffInvalid):
        bill([tiered(tiers=())], "1")
    with pytest.raises(TariffInvalid):
        bill([flat(None)], "1")


def test_versions_outside_the_period_are_ignored():
    rates = [
        flat(D(1), effective_from=date(2026, 1, 1)),
        flat(D(2), effective_from=date(2026, 10, 5)),
        flat(D(9), effective_from=date(2026, 12, 1)),
    ]
    assert amounts(bill(rates, "10")) == ["KES 20.00"]


def test_negative_consumption_credits_the_units_through_the_same_tiers():
    lines = bill([tiered(standing_charge=D(150), vat_rate=D("0.16"))], "-15")
    # -10 x 1.50 = -15.00; -5 x 2.00 = -10.00; + 150 = 125.00; VAT 20.00; total 145.00.
    assert [(line.description, line.quantity) for line in lines[:2]] == [
        ("Estimate correction, tier 1 (0-10 m3)", D(-10)),
        ("Estimate correction, tier 2 (10-30 m3)", D(-5)),
    ]
    assert amounts(lines) == ["KES -15.00", "KES -10.00", "KES 150.00", "KES 20.00"]
    assert total(lines) == "KES 145.00"
