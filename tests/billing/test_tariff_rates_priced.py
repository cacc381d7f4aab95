"""`tariff_rates_priced` (one query, for USSD estimates) gives what `tariff_rates` and
`index_prices` give together, for tiered, flat and index-priced versions over time."""

from datetime import date

import pytest

from billing.services.invoices import (
    index_prices,
    period_bounds,
    tariff_rates,
    tariff_rates_priced,
)
from tests.billing.invoice_factories import (
    NOV,
    operator_make,
    price_index_make,
    tariff_make,
    version_add,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("month", [date(2026, 10, 1), NOV, date(2026, 12, 1)])
def test_one_query_gives_the_rates_and_prices_of_the_two_reads(month, django_assert_num_queries):
    operator = operator_make()
    tariff = tariff_make(operator, standing_charge="50", vat_rate="0.16")
    index = price_index_make(operator, month=NOV, price="23.4567")
    version_add(tariff, effective_from=date(2026, 11, 1), pricing="flat", unit_price="3.10")
    version_add(
        tariff,
        effective_from=date(2026, 12, 1),
        pricing="indexed",
        price_index=index,
        service_fee="12",
    )
    version_add(tariff, effective_from=date(2027, 1, 1), tiers=((5, "1"), (None, "2")))

    with django_assert_num_queries(1):
        rates, prices = tariff_rates_priced(tariff_id=tariff.pk, month=month)

    expected = tariff_rates(tariff_ids=[tariff.pk], period_end=period_bounds(month)[1])
    assert rates == dict(expected)
    wanted = {rate.price_index_id for rate in rates[tariff.pk] if rate.price_index_id}
    every_price = index_prices(operator=operator, month=month)
    assert prices == {k: v for k, v in every_price.items() if k in wanted}
    assert [r.effective_from for r in rates[tariff.pk]] == sorted(
        r.effective_from for r in expected[tariff.pk]
    )


def test_a_tariff_with_no_version_yet_has_no_rates():
    operator = operator_make()
    tariff = tariff_make(operator, effective_from=date(2027, 6, 1))

    assert tariff_rates_priced(tariff_id=tariff.pk, month=NOV) == ({}, {})
