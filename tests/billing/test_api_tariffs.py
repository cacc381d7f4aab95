"""Tariffs and price indexes through the API: managers write them, staff read them, and what
was already invoiced is never repriced."""

from decimal import Decimal

import pytest

from accounts.models import AuditEvent, Role
from billing.models import PriceIndexValue, Tariff, TariffVersion
from tests.billing.api_support import (
    account_open,
    billed,
    client_for,
    operator_make,
    staff_make,
    water_tariff,
)

pytestmark = pytest.mark.django_db
TARIFFS = "/api/tariffs/"
INDEXES = "/api/price-indexes/"


@pytest.fixture
def operator():
    return operator_make()


@pytest.fixture
def manager():
    return client_for(staff_make(Role.MANAGER))


def _tiered(operator, **version):
    return {
        "operator": operator.pk,
        "code": "WATER-T",
        "name": "Domestic water",
        "utility": "water",
        "version": {
            "effective_from": "2026-01-01",
            "pricing": "tiered",
            "tiers": [
                {"up_to": "10", "price": "1.50"},
                {"up_to": "30", "price": "2.00"},
                {"up_to": None, "price": "2.50"},
            ],
            "standing_charge": "100",
            "vat_rate": "0.16",
            "penalty_percent": "5",
            **version,
        },
    }


def test_a_manager_creates_a_tiered_tariff_that_staff_can_read(operator, manager):
    response = manager.post(TARIFFS, _tiered(operator), format="json")

    assert response.status_code == 201, response.content
    version = response.json()["versions"][0]
    assert [tier["up_to"] for tier in version["tiers"]] == ["10.000", "30.000", None]
    assert version["tiers"][0]["price"] == "1.500000"
    assert version["vat_rate"] == "0.1600"
    listed = client_for(staff_make(Role.AGENT)).get(TARIFFS, {"utility": "water"}).json()
    assert [tariff["code"] for tariff in listed["results"]] == ["WATER-T"]
    assert AuditEvent.objects.filter(action="tariff.create").exists()


def test_agents_cannot_create_tariffs(operator):
    response = client_for(staff_make(Role.AGENT)).post(TARIFFS, _tiered(operator), format="json")

    assert response.status_code == 403
    assert not Tariff.objects.exists()


@pytest.mark.parametrize(
    ("version", "field"),
    [
        ({"tiers": [{"up_to": "30", "price": "2"}, {"up_to": "10", "price": "1"}]}, "tiers"),
        ({"tiers": [{"up_to": None, "price": "2"}, {"up_to": "10", "price": "1"}]}, "tiers"),
        ({"tiers": []}, "tiers"),
        ({"pricing": "flat", "tiers": []}, "unit_price"),
        ({"pricing": "indexed", "tiers": []}, "price_index"),
        ({"vat_rate": "16"}, "vat_rate"),
        ({"standing_charge": "-1"}, "standing_charge"),
    ],
)
def test_an_inconsistent_version_is_refused_naming_the_field(operator, manager, version, field):
    response = manager.post(TARIFFS, _tiered(operator, **version), format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["extra"]["fields"]
    assert not Tariff.objects.exists()


def test_a_tariff_code_is_used_once_per_operator(operator, manager):
    manager.post(TARIFFS, _tiered(operator), format="json")

    again = manager.post(TARIFFS, _tiered(operator), format="json")

    assert (again.status_code, again.json()["code"]) == (409, "tariff_code_taken")


def test_a_new_version_applies_after_the_last_invoiced_period(operator, manager):
    tariff = water_tariff(operator)
    billed(account_open(operator, tariff), ["12"])  # June 2026 invoiced
    flat = {"pricing": "flat", "unit_price": "70"}

    inside = manager.post(
        f"{TARIFFS}{tariff.pk}/versions", {"effective_from": "2026-06-15", **flat}, format="json"
    )
    after = manager.post(
        f"{TARIFFS}{tariff.pk}/versions", {"effective_from": "2026-07-15", **flat}, format="json"
    )

    assert (inside.status_code, inside.json()["code"]) == (409, "tariff_version_backdated")
    assert after.status_code == 201, after.content
    detail = client_for(staff_make()).get(f"{TARIFFS}{tariff.pk}/").json()
    assert [v["effective_from"] for v in detail["versions"]] == ["2026-01-01", "2026-07-15"]


def test_an_indexed_tariff_uses_a_price_index_of_its_operator(operator, manager):
    index = manager.post(INDEXES, {"operator": operator.pk, "name": "Fuel kWh"}).json()
    foreign = manager.post(INDEXES, {"operator": operator_make().pk, "name": "Other"}).json()
    version = {"pricing": "indexed", "tiers": [], "service_fee": "50"}

    own = manager.post(
        TARIFFS, _tiered(operator, price_index=index["id"], **version), format="json"
    )
    other = manager.post(
        TARIFFS,
        _tiered(operator, price_index=foreign["id"], **version) | {"code": "P2"},
        format="json",
    )

    assert own.status_code == 201, own.content
    assert own.json()["versions"][0]["price_index"] == index["id"]
    assert (other.status_code, other.json()["code"]) == (400, "tariff_definition_invalid")


def test_a_manager_sets_an_index_month_and_may_correct_it_until_it_is_billed(operator, manager):
    index = manager.post(INDEXES, {"operator": operator.pk, "name": "Fuel kWh"}).json()
    values = f"{INDEXES}{index['id']}/values"

    created = manager.post(values, {"month": "2026-06", "price": "23.4567"})
    corrected = manager.post(values, {"month": "2026-06", "price": "23.5"})

    assert (created.status_code, corrected.status_code) == (201, 200)
    assert corrected.json() == {"month": "2026-06", "price": "23.500000"}
    assert PriceIndexValue.objects.get().price == Decimal("23.5")


def test_an_index_month_that_priced_invoices_no_longer_changes(operator, manager):
    index = manager.post(INDEXES, {"operator": operator.pk, "name": "Fuel kWh"}).json()
    values = f"{INDEXES}{index['id']}/values"
    manager.post(values, {"month": "2026-06", "price": "20"})
    power = _tiered(operator, pricing="indexed", tiers=[], price_index=index["id"])
    created = manager.post(
        TARIFFS, power | {"code": "POWER", "utility": "electricity"}, format="json"
    ).json()
    tariff = Tariff.objects.get(pk=created["id"])
    (invoice,) = billed(account_open(operator, tariff), ["100"])  # 100 kWh at 20 + 100 standing

    changed = manager.post(values, {"month": "2026-06", "price": "25"})
    same = manager.post(values, {"month": "2026-06", "price": "20"})

    assert invoice.total_minor == 2_100_00 * 116 // 100
    assert (changed.status_code, changed.json()["code"]) == (409, "price_index_month_billed")
    assert same.status_code == 200
    assert TariffVersion.objects.filter(tariff=tariff).count() == 1


@pytest.mark.parametrize("month", ["2026-13", "26-06", "June", ""])
def test_a_month_is_typed_as_year_dash_month(operator, manager, month):
    index = manager.post(INDEXES, {"operator": operator.pk, "name": "Fuel kWh"}).json()

    response = manager.post(f"{INDEXES}{index['id']}/values", {"month": month, "price": "1"})

    assert response.status_code == 400
    assert "month" in response.json()["extra"]["fields"]
