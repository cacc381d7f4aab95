"""Invoices, their PDF and credit notes through the API."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.models import Role
from billing.models import CreditNote, InvoiceStatus
from billing.selectors import account_balance
from billing.services.penalties import penalty_charge
from tests.billing.api_support import (
    account_open,
    billed,
    client_for,
    operator_make,
    staff_make,
    water_tariff,
)

pytestmark = pytest.mark.django_db
INVOICES = "/api/invoices/"
CREDIT_NOTES = "/api/credit-notes/"


@pytest.fixture
def operator():
    return operator_make()


@pytest.fixture
def invoices(operator):
    """One account billed June (12.5 m3, KES 870.00) and July (14 m3, KES 974.40)."""
    return billed(account_open(operator, water_tariff(operator)), ["12.5", "14"])


@pytest.fixture
def manager():
    return client_for(staff_make(Role.MANAGER))


def _numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["number"] for row in response.json()["results"]]


def test_staff_filter_invoices_by_period_status_and_account(invoices, operator):
    june, july = invoices
    other = billed(account_open(operator, june.account.tariff), ["3"])[0]
    penalty_charge(invoice=june, on_date=date(2026, 7, 20))
    client = client_for(staff_make(Role.AGENT))

    assert _numbers(client.get(INVOICES, {"period": "2026-06"})) == [other.number, june.number]
    assert _numbers(client.get(INVOICES, {"status": "overdue"})) == [june.number]
    assert set(_numbers(client.get(INVOICES, {"account": july.account_id, "kind": "invoice"}))) == {
        june.number,
        july.number,
    }
    assert _numbers(client.get(INVOICES, {"account_number": other.account.number})) == [
        other.number
    ]


@pytest.mark.parametrize(
    "query", [{"period": "2026-13"}, {"period": "nov"}, {"status": "unpaid"}, {"account": "x"}]
)
def test_a_bad_filter_is_a_400_naming_it(invoices, query):
    response = client_for(staff_make()).get(INVOICES, query)

    assert response.status_code == 400
    assert set(query) <= set(response.json()["extra"]["fields"])


def test_the_list_costs_the_same_queries_for_one_page_or_many_rows(operator, invoices):
    client = client_for(staff_make())
    client.get(INVOICES)

    with CaptureQueriesContext(connection) as few:
        client.get(INVOICES, {"limit": 1})
    billed(account_open(operator, invoices[0].account.tariff), ["1", "2", "3"])
    with CaptureQueriesContext(connection) as many:
        client.get(INVOICES, {"limit": 5})

    assert len(many) == len(few)


def test_the_detail_has_every_line_as_exact_money_and_the_reading(invoices):
    july = invoices[1]

    response = client_for(staff_make()).get(f"{INVOICES}{july.pk}/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["invoice"]["total"] == {"amount": "974.40", "currency": "KES", "minor": 97440}
    assert body["invoice"]["period"] == "2026-07"
    lines = [
        (line["description"], line["quantity"], line["amount"]["amount"]) for line in body["lines"]
    ]
    assert lines == [
        ("Tier 1 (0-10 m3)", "10.000", "500.00"),
        ("Tier 2 (10-30 m3)", "4.000", "240.00"),
        ("Standing charge", "1.000", "100.00"),
        ("VAT 16%", "840.000", "134.40"),
    ]
    assert body["lines"][0]["unit_price"] == "50.000000"
    assert [(r["index"], r["consumption"]) for r in body["readings"]] == [("26.500", "14.000")]
    assert body["balance_brought_forward"]["amount"] == "870.00"
    assert body["to_pay"]["amount"] == "1844.40"


def test_the_pdf_downloads_as_a_pdf_named_after_the_invoice(invoices):
    july = invoices[1]

    response = client_for(staff_make()).get(f"{INVOICES}{july.pk}/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert f'filename="{july.number}.pdf"' in response["Content-Disposition"]


def test_pdf_errors_come_back_as_json_in_the_error_shape(invoices):
    client = client_for(staff_make())

    missing = client.get(f"{INVOICES}999999/pdf", HTTP_ACCEPT="application/pdf")
    anonymous = APIClient().get(f"{INVOICES}{invoices[0].pk}/pdf")

    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"code", "message", "extra"}


def test_a_manager_credits_part_of_an_invoice(invoices, manager):
    june = invoices[0]

    response = manager.post(
        CREDIT_NOTES, {"invoice": june.pk, "amount": "70.00", "reason": "Leak repaired"}
    )

    assert response.status_code == 201, response.content
    assert response.json()["amount"] == {"amount": "70.00", "currency": "KES", "minor": 7000}
    june.refresh_from_db()
    assert (june.credited_minor, june.status) == (7000, InvoiceStatus.PARTIALLY_PAID)
    assert account_balance(june.account).minor == 87000 + 97440 - 7000
    listed = manager.get(CREDIT_NOTES, {"invoice": june.pk}).json()["results"]
    assert [note["invoice_number"] for note in listed] == [june.number]


def test_only_managers_issue_credit_notes(invoices):
    response = client_for(staff_make(Role.AGENT)).post(
        CREDIT_NOTES, {"invoice": invoices[0].pk, "amount": "1", "reason": "x"}
    )

    assert response.status_code == 403
    assert not CreditNote.objects.exists()


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("870.01", "credit_note_exceeds_open"),
        ("1.005", "invalid_amount"),  # finer than the shilling's cents
        ("-5", "invalid"),
        ("0", "invalid"),
        ("1e3", "invalid"),
    ],
)
def test_a_credit_note_amount_must_be_exact_and_at_most_what_is_open(
    invoices, manager, amount, code
):
    response = manager.post(
        CREDIT_NOTES, {"invoice": invoices[0].pk, "amount": amount, "reason": "Correction"}
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not CreditNote.objects.exists()


def test_an_xaf_credit_note_has_no_fraction(manager):
    operator = operator_make(currency="XAF")
    (invoice,) = billed(account_open(operator, water_tariff(operator)), ["12"])

    fraction = manager.post(CREDIT_NOTES, {"invoice": invoice.pk, "amount": "10.5", "reason": "x"})
    whole = manager.post(CREDIT_NOTES, {"invoice": invoice.pk, "amount": "10", "reason": "x"})

    assert (fraction.status_code, fraction.json()["code"]) == (400, "invalid_amount")
    assert whole.json()["amount"] == {"amount": "10", "currency": "XAF", "minor": 10}


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amount=st.one_of(st.text(max_size=24), st.decimals(allow_nan=True), st.floats()))
def test_any_typed_credit_amount_is_credited_or_refused_never_a_server_error(
    invoices, manager, amount
):
    response = manager.post(
        CREDIT_NOTES,
        {"invoice": invoices[1].pk, "amount": str(amount), "reason": "Goodwill"},
        format="json",
    )

    assert response.status_code in (201, 400), response.content
    total = sum(CreditNote.objects.values_list("amount_minor", flat=True))
    assert total <= invoices[1].total_minor
    assert Decimal(total) >= 0
