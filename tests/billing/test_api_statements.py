"""An account's statement through /api/accounts/<id>/statement: movements and running balance."""

from datetime import date

import pytest
import time_machine

from accounts.models import Role
from billing.money import Money
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


@pytest.fixture
def account():
    """June 870.00 billed 1 Jul, 500.50 paid 10 Jul, July 974.40 billed 1 Aug."""
    operator = operator_make()
    account = account_open(operator, water_tariff(operator))
    billed(account, ["12.5"])
    with time_machine.travel(at(date(2026, 7, 10)), tick=False):
        payment_record(
            account=account,
            amount=Money.of("500.50", "KES"),
            source="mpesa",
            reference="QX1",
            clearing="clearing:mpesa",
        )
    billed(account, ["14"], first=date(2026, 7, 1))
    return account


def _money(text: str) -> dict:
    money = Money.of(text, "KES")
    return {"amount": text, "currency": "KES", "minor": money.minor}


def test_the_statement_lists_movements_oldest_first_with_the_running_balance(account):
    response = client_for(staff_make(Role.AGENT)).get(f"/api/accounts/{account.pk}/statement")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["number"] == account.number
    assert body["balance"] == _money("1343.90")
    lines = [(line["kind"], line["amount"], line["balance"]) for line in body["lines"]]
    assert lines == [
        ("invoice", _money("870.00"), _money("870.00")),
        ("payment", _money("-500.50"), _money("369.50")),
        ("invoice", _money("974.40"), _money("1343.90")),
    ]
    assert body["lines"][1]["at"].startswith("2026-07-10")


def test_limit_keeps_the_latest_movements(account):
    response = client_for(staff_make()).get(f"/api/accounts/{account.pk}/statement", {"limit": 1})

    assert [line["balance"] for line in response.json()["lines"]] == [_money("1343.90")]


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_a_bad_limit_is_a_400(account, limit):
    response = client_for(staff_make()).get(
        f"/api/accounts/{account.pk}/statement", {"limit": limit}
    )

    assert response.status_code == 400
    assert "limit" in response.json()["extra"]["fields"]


def test_customers_cannot_read_statements_through_the_staff_api(account):
    account.owner.is_active = True  # an activated customer
    account.owner.save()

    response = client_for(account.owner).get(f"/api/accounts/{account.pk}/statement")

    assert response.status_code == 403
