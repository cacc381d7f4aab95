"""The billing admin: every model is there for managers; money and the ledger are read-only."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.contrib import admin

from accounts.models import AuditEvent, Role
from billing.models import (
    Dispute,
    DunningRun,
    InstalmentPlan,
    JournalTransaction,
    LedgerEntry,
    ServiceAccount,
)
from billing.money import Money
from billing.services.catalog import price_index_create, price_index_value_set
from billing.services.credit_notes import credit_note_issue
from billing.services.dunning import dunning_run
from billing.services.payments import payment_record
from tests.billing.api_support import (
    account_open,
    billed,
    operator_make,
    staff_make,
    water_tariff,
)
from tests.billing.api_support import at as api_at
from tests.billing.dunning_support import DUE, at, bill, committed, dunned_account

pytestmark = pytest.mark.django_db
# The billing engine's models (other modules of billing.models belong to later features).
ENGINE_MODULES = {
    f"billing.models.{name}"
    for name in ("operator", "customers", "meters", "tariffs", "invoices", "ledger")
}
BILLING_MODELS = [
    model
    for model in apps.get_app_config("billing").get_models()
    if model.__module__ in ENGINE_MODULES
]


def _url(model, suffix: str = "") -> str:
    return f"/admin/billing/{model._meta.model_name}/{suffix}"


@pytest.fixture
def books():
    """A billed account, a payment, a credit note, a price index: a row in every table."""
    operator = operator_make()
    account = account_open(operator, water_tariff(operator))
    account.contacts.create(phone="+254733000111", name="Landlord")
    (june,) = billed(account, ["12.5"])
    with time_machine.travel(api_at(date(2026, 7, 10)), tick=False):
        payment_record(
            account=account,
            amount=Money.of("500", "KES"),
            source="mpesa",
            reference="QX1",
            clearing="clearing:mpesa",
        )
    credit_note_issue(invoice=june, amount=Money.of("10", "KES"), reason="Goodwill", actor=None)
    index = price_index_create(operator=operator, name="Fuel kWh", actor=None)
    price_index_value_set(index=index, month=date(2026, 6, 1), price=Decimal("23.4"), actor=None)
    return account


@pytest.fixture
def manager_client(client):
    client.force_login(staff_make(Role.MANAGER, name="Grace"))
    return client


def test_every_billing_model_is_in_the_admin():
    assert len(BILLING_MODELS) == 19
    assert [m for m in BILLING_MODELS if m not in admin.site._registry] == []


@pytest.mark.parametrize("model", BILLING_MODELS, ids=lambda m: m.__name__)
def test_a_manager_browses_every_billing_model_and_opens_its_records(books, manager_client, model):
    listing = manager_client.get(_url(model))
    record = model.objects.order_by("pk").first()
    detail = manager_client.get(_url(model, f"{record.pk}/change/"))

    assert listing.status_code == 200
    assert detail.status_code == 200


@pytest.mark.parametrize("model", [LedgerEntry, JournalTransaction], ids=lambda m: m.__name__)
def test_ledger_records_cannot_be_added_changed_or_deleted(books, manager_client, model):
    record = model.objects.order_by("pk").first()
    before = list(model.objects.values())

    add = manager_client.get(_url(model, "add/"))
    change = manager_client.post(_url(model, f"{record.pk}/change/"), {})
    delete = manager_client.post(_url(model, f"{record.pk}/delete/"), {"post": "yes"})

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert list(model.objects.values()) == before


def test_the_change_form_of_money_records_has_no_save_button(books, manager_client):
    invoice = books.invoices.get()

    page = manager_client.get(f"/admin/billing/invoice/{invoice.pk}/change/").content.decode()

    assert 'name="_save"' not in page


def test_agents_and_technicians_do_not_get_into_the_admin(books, client):
    client.force_login(staff_make(Role.AGENT))

    response = client.get(_url(ServiceAccount))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_an_account_tariff_change_must_keep_operator_and_utility(books, manager_client):
    power = water_tariff(books.operator)
    power.utility = "electricity"
    power.save()
    form = {
        "holder_name": books.holder_name,
        "tariff": power.pk,
        "status": "suspended",
        "address": "",
        "zone": "",
        "contacts-TOTAL_FORMS": "0",
        "contacts-INITIAL_FORMS": "0",
        "meters-TOTAL_FORMS": "0",
        "meters-INITIAL_FORMS": "0",
    }

    refused = manager_client.post(_url(ServiceAccount, f"{books.pk}/change/"), form)
    form["tariff"] = water_tariff(books.operator).pk
    saved = manager_client.post(_url(ServiceAccount, f"{books.pk}/change/"), form)

    assert refused.status_code == 200
    assert "operator and utility" in refused.content.decode()
    assert saved.status_code == 302
    books.refresh_from_db()
    assert books.status == "suspended"
    event = AuditEvent.objects.get(action="serviceaccount.update")
    assert (event.before["status"], event.after["status"]) == ("active", "suspended")


# --- Dunning: every model browsable by managers, none editable -----------------------------
DUNNING_MODELS = [
    model
    for model in apps.get_app_config("billing").get_models()
    if model.__module__ == "billing.models.dunning"
]


@pytest.fixture
def dunned():
    """An invoice dunned through every stage (catch-up: events, penalty, suspension, work
    order), a closed dispute, a completed instalment plan and a recorded run."""
    account = dunned_account()
    bill(account)
    day = DUE + timedelta(days=60)
    with time_machine.travel(at(day), tick=False), committed():
        dunning_run(operator=account.operator, on_date=day)
    DunningRun.objects.create(operator=account.operator, run_date=day)
    Dispute.objects.create(account=account, reason="Meter misread", closed_at=at(day))
    plan = InstalmentPlan.objects.create(
        operator=account.operator,
        account=account,
        status="completed",
        currency="KES",
        total_minor=1000,
        agreed_by=staff_make(Role.MANAGER, name="Amina"),
    )
    plan.instalments.create(position=1, due_date=day, amount_minor=1000)
    return account


def test_every_dunning_model_is_in_the_admin():
    assert len(DUNNING_MODELS) == 9
    assert [m for m in DUNNING_MODELS if m not in admin.site._registry] == []


@pytest.mark.parametrize("model", DUNNING_MODELS, ids=lambda m: m.__name__)
def test_a_manager_browses_dunning_records_but_cannot_change_them(dunned, manager_client, model):
    record = model.objects.order_by("pk").first()
    before = list(model.objects.values())

    listing = manager_client.get(_url(model))
    detail = manager_client.get(_url(model, f"{record.pk}/change/"))
    add = manager_client.get(_url(model, "add/"))
    change = manager_client.post(_url(model, f"{record.pk}/change/"), {})
    delete = manager_client.post(_url(model, f"{record.pk}/delete/"), {"post": "yes"})

    assert (listing.status_code, detail.status_code) == (200, 200)
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert list(model.objects.values()) == before
