"""Staff opening, finding and looking at service accounts through /api/accounts/."""

from datetime import date

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Role, User
from billing.account_numbers import account_number_clean
from billing.models import ServiceAccount
from billing.money import Money
from billing.services.onboarding import meter_install
from billing.services.payments import payment_record
from tests.billing.api_support import (
    account_open,
    at,
    billed,
    client_for,
    operator_make,
    staff_make,
    water_tariff,
)

pytestmark = pytest.mark.django_db
ACCOUNTS = "/api/accounts/"


@pytest.fixture
def operator():
    return operator_make()


@pytest.fixture
def tariff(operator):
    return water_tariff(operator)


def _open(client, tariff, **fields):
    body = {
        "tariff": getattr(tariff, "pk", tariff),
        "owner_phone": "0712 345 678",
        "owner_name": "Wanjiru Kamau",
        "holder_name": "Wanjiru Kamau",
        "address": "Plot 14, Ngong Road",
        "zone": "Kilimani",
        "contacts": [{"phone": "0733 000 111", "name": "Landlord"}],
    }
    return client.post(ACCOUNTS, body | fields, format="json")


def test_an_agent_opens_an_account_for_a_new_phone_which_must_then_activate(tariff):
    agent = staff_make(Role.AGENT)

    response = _open(client_for(agent), tariff)

    assert response.status_code == 201, response.content
    body = response.json()
    number = body["account"]["number"]
    assert account_number_clean(number) == number  # a valid check digit
    assert body["account"]["owner_phone"] == "+254712345678"
    assert body["account"]["utility"] == "water"
    assert body["contacts"] == [{"phone": "+254733000111", "name": "Landlord"}]
    assert body["balance"] == {"amount": "0.00", "currency": "KES", "minor": 0}
    owner = User.objects.get(phone="+254712345678")
    assert owner.role == Role.CUSTOMER and not owner.is_active
    assert AuditEvent.objects.filter(action="service_account.create", actor=agent).exists()


def test_a_second_account_for_a_known_phone_belongs_to_the_same_customer(tariff):
    client = client_for(staff_make(Role.MANAGER))

    first = _open(client, tariff).json()["account"]
    second = _open(client, tariff, holder_name="Kamau Shop").json()["account"]

    assert first["owner"] == second["owner"]
    assert first["number"] != second["number"]


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.CUSTOMER])
def test_only_agents_and_managers_open_accounts(tariff, role):
    response = _open(client_for(staff_make(role)), tariff)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not ServiceAccount.objects.exists()


def test_anonymous_callers_are_asked_to_authenticate(tariff):
    assert APIClient().get(ACCOUNTS).status_code == 401


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"owner_phone": "not a phone"}, "invalid_phone"),
        ({"contacts": [{"phone": "12"}]}, "invalid_phone"),
        ({"holder_name": "   "}, "invalid"),
        ({"utility": "electricity"}, "tariff_mismatch"),
    ],
)
def test_bad_details_are_refused_with_a_clear_code(tariff, fields, code):
    response = _open(client_for(staff_make(Role.AGENT)), tariff, **fields)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not ServiceAccount.objects.exists()


def test_an_unknown_tariff_is_a_field_error(tariff):
    response = _open(client_for(staff_make(Role.AGENT)), 999999)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert "tariff" in response.json()["extra"]["fields"]


@pytest.fixture
def three(operator, tariff):
    wanjiru = account_open(operator, tariff, phone="+254712000001", name="Wanjiru Kamau")
    otieno = account_open(operator, tariff, phone="+254712000002", name="Otieno Odhiambo")
    fatou = account_open(operator, tariff, phone="+254712000003", name="Fatou Diallo")
    meter_install(account=otieno, serial="WM-7781")
    return wanjiru, otieno, fatou


@pytest.mark.parametrize(
    ("query", "who"),
    [
        ({"search": "wanjiru"}, 0),
        ({"search": "0712 000 002"}, 1),  # a phone as people type it
        ({"search": "wm-7781"}, 1),  # a meter serial
        ({"name": "diallo"}, 2),
        ({"phone": "+254712000003"}, 2),
        ({"meter": "WM-7781"}, 1),
    ],
)
def test_staff_find_an_account_by_name_phone_or_meter(three, query, who):
    response = client_for(staff_make(Role.TECHNICIAN)).get(ACCOUNTS, query)

    assert response.status_code == 200, response.content
    assert [row["number"] for row in response.json()["results"]] == [three[who].number]


def test_search_by_account_number_accepts_spaces_and_dashes(three):
    number = three[2].number
    typed = f"{number[:3]} {number[3:6]}-{number[6:]}"

    by_search = client_for(staff_make()).get(ACCOUNTS, {"search": typed}).json()
    by_number = client_for(staff_make()).get(ACCOUNTS, {"number": typed}).json()

    assert [row["number"] for row in by_search["results"]] == [number]
    assert [row["number"] for row in by_number["results"]] == [number]


def test_a_mistyped_account_number_is_caught_by_its_check_digit(three):
    number = three[0].number
    swapped = number[:-3] + number[-2] + number[-3] + number[-1]

    response = client_for(staff_make()).get(ACCOUNTS, {"number": swapped})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "number" in response.json()["extra"]["fields"]


def test_a_contact_phone_finds_the_account_too(tariff):
    client = client_for(staff_make(Role.AGENT))
    number = _open(client, tariff).json()["account"]["number"]

    response = client.get(ACCOUNTS, {"phone": "0733000111"})

    assert [row["number"] for row in response.json()["results"]] == [number]


def test_the_list_comes_a_page_at_a_time_with_a_constant_number_of_queries(three):
    client = client_for(staff_make())
    client.get(ACCOUNTS)  # warm up (JWT user lookup, content types)

    with CaptureQueriesContext(connection) as few:
        first = client.get(ACCOUNTS, {"limit": 2})
    for n in range(5):
        account_open(three[0].operator, three[0].tariff, name=f"Extra {n}")
    with CaptureQueriesContext(connection) as many:
        client.get(ACCOUNTS, {"limit": 8})

    body = first.json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert len(many) == len(few)


def test_the_detail_shows_the_balance_from_the_ledger_as_exact_money(operator, tariff):
    account = account_open(operator, tariff)
    billed(account, ["12.5"])  # KES 870.00
    with time_machine.travel(at(date(2026, 7, 10)), tick=False):
        payment_record(
            account=account,
            amount=Money.of("500.50", "KES"),
            source="mpesa",
            reference="QX1",
            clearing="clearing:mpesa",
        )

    response = client_for(staff_make()).get(f"{ACCOUNTS}{account.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["balance"] == {"amount": "369.50", "currency": "KES", "minor": 36950}
    assert body["open_invoices"] == 1
    assert body["last_invoice"]["status"] == "partially_paid"
    assert body["last_invoice"]["total"] == {"amount": "870.00", "currency": "KES", "minor": 87000}
    assert body["meters"][0]["serial"].startswith("M-")


def test_an_unknown_account_is_a_404_in_the_error_shape():
    response = client_for(staff_make()).get(f"{ACCOUNTS}424242/")

    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "extra"}
