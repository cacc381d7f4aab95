"""The dunning run and its daily task: once per stage, per operator day, paused by disputes,
scoped by policy, and a dry run that changes nothing."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from billing.models import (
    AccountStatus,
    DunningEvent,
    DunningPolicy,
    DunningRun,
    Invoice,
    InvoiceKind,
    JournalTransaction,
)
from billing.services.dunning import dunning_run, policy_scopes
from billing.services.dunning_disputes import (
    DisputeAlreadyOpen,
    NoOpenDispute,
    dispute_close,
    dispute_open,
)
from billing.services.dunning_events import events_insert, events_recheck
from billing.services.dunning_policies import StageSpec, dunning_policy_create
from billing.services.dunning_schedule import LOCK_KEY
from billing.tasks import dunning_daily
from sms.models import OutboundMessage
from tests.billing.api_support import staff_make
from tests.billing.dunning_support import (
    DUE,
    Timeline,
    at,
    bill,
    committed,
    dunned_account,
    events_of,
    pay,
    stage_codes,
)
from tests.billing.factories import service_account_make, tariff_make

pytestmark = pytest.mark.django_db


def counts():
    return (
        DunningEvent.objects.count(),
        OutboundMessage.objects.filter(idempotency_key__startswith="dunning:").count(),
        Invoice.objects.filter(kind=InvoiceKind.PENALTY).count(),
        JournalTransaction.objects.filter(kind="penalty").count(),
    )


def test_running_twice_on_the_same_day_acts_once():
    account = dunned_account()
    bill(account)
    on_date = DUE + timedelta(days=8)
    with time_machine.travel(at(on_date), tick=False):
        first = dunning_run(operator=account.operator, on_date=on_date)
        second = dunning_run(operator=account.operator, on_date=on_date)
    assert first["totals"] == {
        "events": 3,
        "superseded": 2,
        "messages": 1,
        "penalties": 1,
        "suspensions": 0,
        "visits": 0,
    }
    assert set(second["totals"].values()) == {0}
    assert counts() == (3, 1, 1, 1)


def test_the_daily_task_runs_each_operator_once_a_day_after_its_local_hour():
    account = dunned_account()
    operator = account.operator
    operator.timezone = "Africa/Abidjan"  # UTC, three hours behind Nairobi
    operator.save(update_fields=["timezone"])
    bill(account)
    day = DUE - timedelta(days=7)
    with time_machine.travel(at(day, 11), tick=False):  # 08:00 in Abidjan
        assert dunning_daily() == {"operators": {}}
    with time_machine.travel(at(day, 12, 30), tick=False), committed():  # 09:30 in Abidjan
        assert dunning_daily()["operators"][operator.slug]["messages"] == 1
    with time_machine.travel(at(day, 18), tick=False):
        assert dunning_daily() == {"operators": {}}
    run = DunningRun.objects.get(operator=operator)
    assert run.run_date == day and run.summary["totals"]["messages"] == 1
    assert counts()[:2] == (1, 1)


def test_the_daily_task_skips_while_another_run_holds_the_lock():
    account = dunned_account()
    bill(account)
    cache.add(LOCK_KEY, "another worker", timeout=60)
    with time_machine.travel(at(DUE - timedelta(days=7)), tick=False):
        assert dunning_daily() == {"skipped": True}
    assert counts() == (0, 0, 0, 0)
    assert cache.get(LOCK_KEY) == "another worker"


def test_a_dispute_pauses_dunning_and_closing_it_resumes_without_stale_texts():
    account = dunned_account()
    invoice = bill(account)
    agent = staff_make("agent")
    timeline = Timeline(DUE - timedelta(days=14))
    timeline.on(
        DUE + timedelta(days=1),
        lambda: dispute_open(account=account, reason="Meter misread", actor=agent),
    )
    timeline.on(
        DUE + timedelta(days=10),
        lambda: dispute_close(account=account, resolution="Reading confirmed", actor=agent),
    )
    timeline.run_until(DUE + timedelta(days=9))
    assert stage_codes(invoice) == ["due-soon"]
    assert Invoice.objects.filter(kind=InvoiceKind.PENALTY).count() == 0

    timeline.run_until(DUE + timedelta(days=10))
    assert stage_codes(invoice) == ["due-soon", "late-penalty"]
    assert [(code, superseded) for code, superseded, _ in events_of(invoice)] == [
        ("due-soon", False),
        ("reminder", True),
        ("late-penalty", False),
    ]


def test_one_open_dispute_per_account():
    account = dunned_account()
    agent = staff_make("agent")
    dispute_open(account=account, reason="Wrong reading", actor=agent)
    with pytest.raises(DisputeAlreadyOpen):
        dispute_open(account=account, reason="Again", actor=agent)
    dispute_close(account=account, resolution="Corrected", actor=agent)
    with pytest.raises(NoOpenDispute):
        dispute_close(account=account, resolution="Again", actor=agent)


def test_a_tariff_policy_replaces_the_default_for_its_accounts():
    account = dunned_account()
    operator = account.operator
    business = tariff_make(operator=operator)
    shop = service_account_make(operator=operator, tariff=business)
    dunning_policy_create(
        operator=operator,
        tariff=business,
        name="Business",
        stages=[
            StageSpec(code="nudge", name="Nudge", offset_days=1, messages={"en": "Pay {amount}"})
        ],
    )
    home_bill, shop_bill = bill(account), bill(shop)
    Timeline(DUE - timedelta(days=14)).run_until(DUE + timedelta(days=4))
    assert stage_codes(home_bill) == ["due-soon", "reminder"]
    assert stage_codes(shop_bill) == ["nudge"]

    DunningPolicy.objects.filter(tariff=business).update(is_active=False)
    Timeline(DUE + timedelta(days=7)).run_until(DUE + timedelta(days=7))
    assert stage_codes(shop_bill) == ["nudge", "late-penalty"]  # the default's, caught up


def test_switching_the_default_policy_off_stops_dunning():
    account = dunned_account()
    bill(account)
    Timeline(DUE - timedelta(days=14)).run_until(DUE - timedelta(days=14))  # creates the default
    DunningPolicy.objects.filter(operator=account.operator).update(is_active=False)
    Timeline(DUE - timedelta(days=13)).run_until(DUE + timedelta(days=20))
    assert counts() == (0, 0, 0, 0)


def test_closed_accounts_are_not_dunned():
    account = dunned_account()
    bill(account)
    account.status = AccountStatus.CLOSED
    account.save(update_fields=["status"])
    Timeline(DUE - timedelta(days=14)).run_until(DUE + timedelta(days=20))
    assert counts() == (0, 0, 0, 0)


def test_the_first_run_creates_the_default_policy():
    account = dunned_account()
    Timeline(DUE).run_until(DUE)
    policy = DunningPolicy.objects.get(operator=account.operator)
    stages = [
        (s.code, s.offset_days, s.charge_penalty, s.suspend_service) for s in policy.stages.all()
    ]
    assert stages == [
        ("due-soon", -7, False, False),
        ("reminder", 3, False, False),
        ("late-penalty", 7, True, False),
        ("final-notice", 14, False, True),
    ]


def test_each_monthly_bill_is_dunned_on_its_own_schedule():
    account = dunned_account()
    march, april = bill(account), bill(account, due=DUE + timedelta(days=31))
    Timeline(DUE - timedelta(days=14)).run_until(DUE + timedelta(days=31 + 3))
    assert stage_codes(march) == ["due-soon", "reminder", "late-penalty", "final-notice"]
    assert stage_codes(april) == ["due-soon", "reminder"]


def test_a_dry_run_reports_what_it_would_do_and_changes_nothing():
    account = dunned_account()
    bill(account)
    on_date = DUE + timedelta(days=15)
    with time_machine.travel(at(on_date), tick=False):
        summary = dunning_run(operator=account.operator, on_date=on_date, dry_run=True)
    assert summary["totals"]["events"] == 4
    assert summary["totals"]["penalties"] == 1 and summary["totals"]["suspensions"] == 1
    assert summary["stages"]["final-notice"]["messages"] == 1
    assert counts() == (0, 0, 0, 0)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_an_invoice_paid_between_the_scan_and_the_lock_is_left_alone():
    account = dunned_account()
    bill(account)
    on_date = DUE + timedelta(days=3)
    (scope,) = policy_scopes(account.operator)
    with time_machine.travel(at(on_date), tick=False), transaction.atomic():
        events = events_insert(scope=scope, ids=(0, None), on_date=on_date, now=timezone.now())
        assert [(e.stage.code, e.superseded) for e in events] == [
            ("due-soon", True),
            ("reminder", False),
        ]
        pay(account, "1160", "PAID-MEANWHILE")
        assert events_recheck(events) == []
    assert counts() == (0, 0, 0, 0)
