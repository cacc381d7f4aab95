"""The arrears ageing report: buckets by days past due, JSON and CSV."""

import csv
import io
import itertools
from datetime import date, timedelta

import pytest
import time_machine

from accounts.models import Role
from billing.services.dunning_reports import arrears_ageing, arrears_ageing_totals
from tests.billing.api_support import client_for, staff_make
from tests.billing.dunning_support import at, bill, pay
from tests.billing.factories import operator_make, service_account_make, tariff_make

pytestmark = pytest.mark.django_db
TODAY = date(2026, 9, 30)
_periods = itertools.count()


def aged(account, days: int, net_minor: int = 10000):
    """A bill of net_minor (no VAT) that is `days` past due on TODAY (one per period)."""
    period = date(2020, 1, 1) + timedelta(days=31 * next(_periods))
    due = TODAY - timedelta(days=days)
    return bill(account, due=due, net_minor=net_minor, vat_minor=0, period=period.replace(day=1))


@pytest.fixture
def book():
    operator = operator_make(name="Maji Safi")
    tariff = tariff_make(operator=operator)
    first = service_account_make(operator=operator, tariff=tariff)
    second = service_account_make(operator=operator, tariff=tariff)
    # first: one bill at each boundary
    for days, net in ((1, 100), (30, 200), (31, 400), (60, 800), (61, 1600), (90, 3200)):
        aged(first, days, net)
    aged(first, 91, 6400)
    aged(first, 0, 99999)  # due today: not in arrears yet
    # second: 500 of a 1,000 bill paid, 45 days late
    aged(second, 45, 100000)
    with time_machine.travel(at(TODAY - timedelta(days=1)), tick=False):
        pay(second, "500", "PART")
    return operator, first, second


def test_each_bill_falls_in_the_bucket_of_its_days_past_due(book):
    operator, first, second = book
    rows = {row["account_id"]: row for row in arrears_ageing(operator=operator, as_of=TODAY)}
    assert {k: rows[first.pk][k] for k in ("days_0_30", "days_31_60", "days_61_90")} == {
        "days_0_30": 300,
        "days_31_60": 1200,
        "days_61_90": 4800,
    }
    assert (rows[first.pk]["days_90_plus"], rows[first.pk]["total"]) == (6400, 12700)
    assert (rows[second.pk]["days_31_60"], rows[second.pk]["total"]) == (50000, 50000)
    assert list(rows) == [second.pk, first.pk]  # largest arrears first
    totals = arrears_ageing_totals(operator=operator, as_of=TODAY)
    assert totals == {
        "days_0_30": 300,
        "days_31_60": 51200,
        "days_61_90": 4800,
        "days_90_plus": 6400,
        "total": 62700,
    }


def test_the_report_as_json_with_pages(book):
    operator, first, _ = book
    with time_machine.travel(at(TODAY), tick=False):
        client = client_for(staff_make(Role.MANAGER))
        response = client.get(
            "/api/reports/arrears-ageing/", {"operator": operator.pk, "limit": 1, "offset": 1}
        )
    assert response.status_code == 200
    body = response.json()
    assert (body["as_of"], body["currency"], body["count"]) == ("2026-09-30", "KES", 2)
    assert body["totals"]["total"] == {"amount": "627.00", "currency": "KES", "minor": 62700}
    (row,) = body["results"]
    assert row["account_number"] == first.number
    assert row["days_90_plus"]["amount"] == "64.00"


def test_the_report_as_csv(book):
    operator, first, second = book
    second.holder_name = "=HYPERLINK()"
    second.save(update_fields=["holder_name"])
    with time_machine.travel(at(TODAY), tick=False):
        client = client_for(staff_make(Role.AGENT))
        response = client.get("/api/reports/arrears-ageing.csv", {"operator": operator.pk})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["account", "holder_name", "zone", "0-30", "31-60", "61-90", "90+", "total"]
    assert rows[1] == [
        second.number,
        "'=HYPERLINK()",
        "",
        "0.00",
        "500.00",
        "0.00",
        "0.00",
        "500.00",
    ]
    assert rows[2][0] == first.number and rows[2][-1] == "127.00"


def test_the_report_needs_a_valid_operator_and_a_desk_role(book):
    agent = client_for(staff_make(Role.AGENT))
    for url in ("/api/reports/arrears-ageing/", "/api/reports/arrears-ageing.csv"):
        missing = agent.get(url)
        assert (missing.status_code, missing.json()["code"]) == (400, "invalid")
        assert agent.get(url, {"operator": "abc"}).status_code == 400
        assert client_for(staff_make(Role.TECHNICIAN)).get(url).status_code == 403
