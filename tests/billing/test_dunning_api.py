"""The dunning staff API: status and history, disputes, plans, work orders and policies."""

from datetime import timedelta

import pytest
import time_machine

from accounts.models import AuditEvent, Role
from billing.models import DunningPolicy, WorkOrder, WorkOrderStatus
from tests.billing.api_support import client_for, staff_make
from tests.billing.dunning_support import DUE, Timeline, at, bill, dunned_account

pytestmark = pytest.mark.django_db


def cut_off_account():
    account = dunned_account()
    bill(account)
    Timeline(DUE - timedelta(days=14)).run_until(DUE + timedelta(days=14))
    return account


@pytest.fixture
def overdue():
    """An account at D+8: due soon, reminder and late penalty reached; KES 1,218.00 owed."""
    account = dunned_account()
    bill(account)
    Timeline(DUE + timedelta(days=8)).run_until(DUE + timedelta(days=8))
    return account


def api(role: Role):
    return client_for(staff_make(role))


def test_status_shows_stages_reached_and_the_next_one(overdue):
    response = api(Role.AGENT).get(f"/api/accounts/{overdue.pk}/dunning/")
    assert response.status_code == 200
    body = response.json()
    assert body["paused"] is False and body["dispute"] is None and body["suspension"] is None
    (invoice,) = body["invoices"]
    assert invoice["reached"] == ["due-soon", "reminder", "late-penalty"]
    assert (invoice["next_stage"], invoice["next_date"]) == ("final-notice", "2026-03-29")
    assert invoice["open"] == {"amount": "1160.00", "currency": "KES", "minor": 116000}


def test_event_history_lists_passed_over_stages(overdue):
    response = api(Role.TECHNICIAN).get(f"/api/accounts/{overdue.pk}/dunning/events/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert sorted((row["stage"], row["superseded"]) for row in rows) == [
        ("due-soon", True),
        ("late-penalty", False),
        ("reminder", True),
    ]


def test_customers_see_nothing(overdue):
    customer = client_for(overdue.owner)
    assert customer.get(f"/api/accounts/{overdue.pk}/dunning/").status_code == 403


def test_agents_open_and_close_disputes_and_dunning_shows_paused(overdue):
    agent = api(Role.AGENT)
    url = f"/api/accounts/{overdue.pk}/dispute/"
    opened = agent.post(url, {"reason": "Meter misread"}, format="json")
    assert opened.status_code == 201
    again = agent.post(url, {"reason": "Again"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "dispute_open")
    assert agent.get(f"/api/accounts/{overdue.pk}/dunning/").json()["paused"] is True
    assert api(Role.TECHNICIAN).post(url, {"reason": "x"}, format="json").status_code == 403
    closed = agent.post(url + "close/", {"resolution": "Reading right"}, format="json")
    assert closed.status_code == 200 and closed.json()["closed_at"]
    assert AuditEvent.objects.filter(action__in=["dispute.open", "dispute.close"]).count() == 2


def test_managers_agree_instalment_plans(overdue):
    url = f"/api/accounts/{overdue.pk}/instalment-plans/"
    with time_machine.travel(at(DUE + timedelta(days=9)), tick=False):
        denied = api(Role.AGENT).post(url, {"count": 2, "first_due_date": "2026-03-30"})
        assert denied.status_code == 403
        manager = api(Role.MANAGER)
        wrong = manager.post(
            url,
            {"instalments": [{"due_date": "2026-03-30", "amount": "100.00"}]},
            format="json",
        )
        assert (wrong.status_code, wrong.json()["code"]) == (400, "invalid_instalment_plan")
        bad = manager.post(url, {"count": 2}, format="json")
        assert bad.status_code == 400
        made = manager.post(
            url, {"count": 3, "first_due_date": "2026-03-30", "every_days": 10}, format="json"
        )
    assert made.status_code == 201, made.json()
    plan = made.json()
    assert plan["total"]["amount"] == "1218.00"
    assert [(i["due_date"], i["amount"]["amount"]) for i in plan["instalments"]] == [
        ("2026-03-30", "406.00"),
        ("2026-04-09", "406.00"),
        ("2026-04-19", "406.00"),
    ]
    status = api(Role.AGENT).get(f"/api/accounts/{overdue.pk}/dunning/").json()
    assert status["paused"] is True and status["instalment_plan"]["id"] == plan["id"]
    assert api(Role.AGENT).get(url).json()["count"] == 1


def test_technicians_list_and_complete_work_orders():
    account = cut_off_account()
    technician = api(Role.TECHNICIAN)
    listed = technician.get("/api/work-orders/", {"status": "open", "kind": "disconnect"})
    assert listed.status_code == 200
    (row,) = listed.json()["results"]
    assert (row["account_number"], row["kind"]) == (account.number, "disconnect")
    done = technician.post(
        f"/api/work-orders/{row['id']}/complete/", {"notes": "Valve closed"}, format="json"
    )
    assert done.status_code == 200 and done.json()["status"] == "done"
    twice = technician.post(f"/api/work-orders/{row['id']}/complete/", {}, format="json")
    assert (twice.status_code, twice.json()["code"]) == (409, "work_order_closed")
    assert WorkOrder.objects.get().status == WorkOrderStatus.DONE
    assert technician.get("/api/work-orders/", {"status": "open"}).json()["count"] == 0
    assert technician.get("/api/work-orders/", {"status": "nope"}).status_code == 400
    assert api(Role.AGENT).get("/api/work-orders/").status_code == 403


STAGE = {
    "code": "nudge",
    "name": "Nudge",
    "offset_days": 2,
    "message_en": "{operator}: {amount} is overdue on account {account}.",
}


def test_managers_edit_policies_as_data(overdue):
    manager = api(Role.MANAGER)
    assert api(Role.AGENT).get("/api/dunning/policies/").status_code == 403
    (default,) = manager.get("/api/dunning/policies/").json()["results"]
    assert [stage["code"] for stage in default["stages"]] == [
        "due-soon",
        "reminder",
        "late-penalty",
        "final-notice",
    ]
    url = f"/api/dunning/policies/{default['id']}/"
    bad = manager.patch(url, {"stages": [{**STAGE, "message_en": "Pay {balance}"}]}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_template")
    in_use = manager.patch(url, {"stages": [STAGE]}, format="json")
    assert (in_use.status_code, in_use.json()["code"]) == (409, "dunning_stage_in_use")
    kept = [s for s in default["stages"] if s["code"] != "final-notice"]
    edited = manager.patch(url, {"stages": [*kept, STAGE], "name": "Gentler"}, format="json")
    assert edited.status_code == 200, edited.json()
    assert [s["offset_days"] for s in edited.json()["stages"]] == [-7, 2, 3, 7]
    deleted = manager.delete(url)
    assert (deleted.status_code, deleted.json()["code"]) == (409, "dunning_default_policy")

    tariff_policy = manager.post(
        "/api/dunning/policies/",
        {
            "operator": overdue.operator_id,
            "tariff": overdue.tariff_id,
            "name": "Kiosks",
            "stages": [STAGE],
        },
        format="json",
    )
    assert tariff_policy.status_code == 201
    assert manager.delete(f"/api/dunning/policies/{tariff_policy.json()['id']}/").status_code == 204
    assert DunningPolicy.objects.count() == 1
