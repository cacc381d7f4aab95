"""Readings through /api/readings/: technicians record, held readings wait for a manager."""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEvent, Role
from billing.models import MeterReading
from billing.services.onboarding import meter_install
from tests.billing.api_support import (
    account_open,
    client_for,
    operator_make,
    staff_make,
    water_tariff,
)

pytestmark = pytest.mark.django_db
READINGS = "/api/readings/"


@pytest.fixture
def meter():
    operator = operator_make()
    account = account_open(operator, water_tariff(operator))
    return meter_install(
        account=account, serial="WM-1", installed_at=timezone.now() - timedelta(days=90)
    )


@pytest.fixture
def technician():
    return client_for(staff_make(Role.TECHNICIAN))


def _read(client, meter, index, days_ago: int = 0, **fields):
    read_at = timezone.now() - timedelta(days=days_ago)
    body = {"meter": meter.pk, "index": index, "read_at": read_at.isoformat(), **fields}
    return client.post(READINGS, body, format="json")


def test_a_technicians_reading_is_accepted_with_its_consumption(meter, technician):
    _read(technician, meter, "10", days_ago=30)

    response = _read(technician, meter, "22.5")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["consumption"], body["source"]) == (
        "accepted",
        "12.500",
        "technician",
    )


def test_a_reading_below_the_previous_one_is_refused_with_both_indexes(meter, technician):
    _read(technician, meter, "500", days_ago=30)

    response = _read(technician, meter, "450")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "reading_below_previous"
    assert body["extra"] == {"index": "450", "previous_index": "500"}
    assert "check the digits" in body["message"]


def test_a_reading_a_customer_sent_waits_for_review(meter, technician):
    response = _read(technician, meter, "10", source="customer_sms")

    assert response.json()["status"] == "pending_review"
    assert response.json()["anomaly"] == "customer_submitted"


def test_agents_read_but_do_not_record_readings(meter):
    agent = client_for(staff_make(Role.AGENT))

    assert _read(agent, meter, "10").status_code == 403
    assert agent.get(READINGS).status_code == 200


def test_held_readings_are_listed_by_status_and_reviewed_by_a_manager(meter, technician):
    _read(technician, meter, "5", days_ago=10)
    held = _read(technician, meter, "9", source="customer_ussd").json()
    manager = client_for(staff_make(Role.MANAGER))

    waiting = manager.get(READINGS, {"status": "pending_review", "meter": meter.pk}).json()
    response = manager.post(f"{READINGS}{held['id']}/review", {"accept": True}, format="json")

    assert [row["id"] for row in waiting["results"]] == [held["id"]]
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["consumption"]) == ("accepted", "4.000")
    assert AuditEvent.objects.filter(action="meter_reading.accept").exists()


def test_a_reading_is_reviewed_once_and_only_by_a_manager(meter, technician):
    held = _read(technician, meter, "9", source="customer_sms").json()
    review = f"{READINGS}{held['id']}/review"
    manager = client_for(staff_make(Role.MANAGER))

    by_technician = technician.post(review, {"accept": True}, format="json")
    first = manager.post(review, {"accept": False}, format="json")
    second = manager.post(review, {"accept": True}, format="json")

    assert by_technician.status_code == 403
    assert first.json()["status"] == "rejected"
    assert (second.status_code, second.json()["code"]) == (409, "reading_not_pending")


def test_an_estimate_cannot_be_posted_as_a_reading(meter, technician):
    response = _read(technician, meter, "10", source="estimate")

    assert response.status_code == 400
    assert "source" in response.json()["extra"]["fields"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    index=st.one_of(
        st.text(max_size=20),
        st.sampled_from(["NaN", "Infinity", "-0", "1e400", "99999.999", "1E+2", " 12 "]),
        st.floats(allow_nan=False, allow_infinity=False),  # JSON has no NaN or infinity
        st.integers(),
    )
)
def test_any_typed_index_is_recorded_or_refused_never_a_server_error(meter, technician, index):
    before = MeterReading.objects.count()

    response = _read(technician, meter, index)

    assert response.status_code in (201, 400, 409), response.content
    if response.status_code == 201:
        MeterReading.objects.filter(pk=response.json()["id"]).delete()
    else:
        assert MeterReading.objects.count() == before
        assert response.json()["code"]


def test_an_index_finer_than_the_register_is_refused(meter, technician):
    response = _read(technician, meter, "10.1234")  # the register shows three decimals

    assert response.status_code == 400
    assert "index" in response.json()["extra"]["fields"]
    assert not MeterReading.objects.exists()
