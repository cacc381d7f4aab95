"""Meters through /api/meters/: technicians and managers install, list and replace them."""

from decimal import Decimal

import pytest

from accounts.models import Role
from billing.models import Meter, MeterReading
from tests.billing.api_support import (
    account_open,
    client_for,
    operator_make,
    staff_make,
    water_tariff,
)

pytestmark = pytest.mark.django_db
METERS = "/api/meters/"


@pytest.fixture
def account():
    operator = operator_make()
    return account_open(operator, water_tariff(operator))


@pytest.fixture
def technician():
    return client_for(staff_make(Role.TECHNICIAN))


def test_a_technician_installs_a_meter_with_the_unit_of_the_utility(account, technician):
    response = technician.post(
        METERS,
        {"account": account.pk, "serial": "WM-1001", "max_index": "9999", "initial_index": "12.5"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["unit"] == "m3"
    assert body["max_index"] == "9999.000" and body["initial_index"] == "12.500"
    assert body["account_number"] == account.number


def test_agents_do_not_install_meters(account):
    response = client_for(staff_make(Role.AGENT)).post(
        METERS, {"account": account.pk, "serial": "WM-1001"}, format="json"
    )

    assert response.status_code == 403
    assert not Meter.objects.exists()


def test_a_serial_is_used_once_and_an_account_has_one_meter_in_service(account, technician):
    other = account_open(account.operator, account.tariff)
    assert technician.post(METERS, {"account": account.pk, "serial": "A1"}).status_code == 201

    taken = technician.post(METERS, {"account": other.pk, "serial": "A1"})
    second = technician.post(METERS, {"account": account.pk, "serial": "A2"})

    assert (taken.status_code, taken.json()["code"]) == (409, "meter_serial_taken")
    assert (second.status_code, second.json()["code"]) == (409, "meter_already_installed")


@pytest.mark.parametrize(
    "fields",
    [{"initial_index": "100000"}, {"initial_index": "-1"}, {"max_index": "abc"}],
)
def test_an_impossible_index_is_a_400(account, technician, fields):
    response = technician.post(
        METERS, {"account": account.pk, "serial": "WM-1", **fields}, format="json"
    )

    assert response.status_code == 400, response.content
    assert not Meter.objects.exists()


def test_replacing_a_meter_records_its_final_reading_and_installs_the_new_one(account, technician):
    old = technician.post(METERS, {"account": account.pk, "serial": "OLD-1"}).json()

    response = technician.post(
        f"{METERS}{old['id']}/replace",
        {"final_index": "42.5", "new_serial": "NEW-1"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["serial"] == "NEW-1"
    final = MeterReading.objects.get(meter_id=old["id"])
    assert final.index == Decimal("42.5") and final.consumption == Decimal("42.5")
    assert Meter.objects.get(pk=old["id"]).removed_at is not None
    in_service = technician.get(METERS, {"account": account.pk, "in_service": "true"}).json()
    assert [meter["serial"] for meter in in_service["results"]] == ["NEW-1"]


def test_a_removed_meter_cannot_be_replaced_again(account, technician):
    old = technician.post(METERS, {"account": account.pk, "serial": "OLD-1"}).json()
    replace = f"{METERS}{old['id']}/replace"
    technician.post(replace, {"final_index": "1", "new_serial": "NEW-1"})

    again = technician.post(replace, {"final_index": "2", "new_serial": "NEW-2"})

    assert (again.status_code, again.json()["code"]) == (409, "meter_removed")
