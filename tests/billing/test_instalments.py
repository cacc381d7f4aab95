"""Instalment plans: agreed by a manager, they pause dunning and restore service while they are
kept, and dunning resumes (with a second cut-off if there was one) when an instalment is missed.

Timelines as in test_dunning_timeline: a KES 1,160.00 bill due on DUE, never paid on time, so
by D+7 it carries a 58.00 penalty (1,218.00 in all) and at D+14 the account is cut off.
"""

from datetime import date, timedelta
from itertools import pairwise

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from billing.models import (
    AccountStatus,
    InstalmentPlan,
    PlanStatus,
    Suspension,
    SuspensionReason,
    WorkOrder,
    WorkOrderKind,
    WorkOrderStatus,
)
from billing.money import Money
from billing.services.instalments import (
    InstalmentSpec,
    InvalidPlan,
    NothingOverdue,
    PlanExists,
    instalment_plan_agree,
    instalments_split,
)
from sms.models import OutboundMessage
from tests.billing.api_support import staff_make
from tests.billing.dunning_support import DUE, Timeline, at, bill, dunned_account, pay, stage_codes
from tests.billing.factories import money

pytestmark = pytest.mark.django_db
START = DUE - timedelta(days=14)
END = START + timedelta(days=60)


def d(n: int) -> date:
    return DUE + timedelta(days=n)


def agree(account, dates, amount="406"):
    return instalment_plan_agree(
        account=account,
        instalments=[InstalmentSpec(day, money(amount)) for day in dates],
        actor=staff_make("manager"),
    )


def state(account):
    account.refresh_from_db()
    return account.status


def test_plan_kept_restores_service_and_stops_dunning_until_completed():
    account = dunned_account()
    invoice = bill(account)
    plans = []
    timeline = Timeline(START)
    timeline.on(d(16), lambda: plans.append(agree(account, [d(20), d(30), d(40)])))
    for n, ref in ((20, "I1"), (30, "I2"), (40, "I3")):
        timeline.on(d(n), lambda ref=ref: pay(account, "406", ref))
    timeline.run_until(d(16))
    (plan,) = plans
    assert plan.total_minor == 121800
    assert state(account) == AccountStatus.ACTIVE
    suspension = Suspension.objects.get(account=account)
    assert suspension.ended_reason == "plan"
    disconnect = WorkOrder.objects.get(account=account, kind=WorkOrderKind.DISCONNECT)
    assert disconnect.status == WorkOrderStatus.CANCELLED  # nobody had gone out yet

    timeline.run_until(END)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED
    assert stage_codes(invoice) == ["due-soon", "reminder", "late-penalty", "final-notice"]
    assert state(account) == AccountStatus.ACTIVE
    assert not OutboundMessage.objects.filter(idempotency_key__startswith="plan-broken").exists()


def test_missed_instalment_breaks_the_plan_and_cuts_service_again_once():
    account = dunned_account()
    bill(account)
    timeline = Timeline(START)
    timeline.on(d(16), lambda: agree(account, [d(20), d(30), d(40)]))
    timeline.on(d(20), lambda: pay(account, "406", "I1"))
    timeline.run_until(d(30))
    assert state(account) == AccountStatus.ACTIVE

    timeline.run_until(END)
    plan = InstalmentPlan.objects.get(account=account)
    assert plan.status == PlanStatus.BROKEN
    assert state(account) == AccountStatus.SUSPENDED
    again = Suspension.objects.get(account=account, ended_at__isnull=True)
    assert (again.reason, again.plan) == (SuspensionReason.PLAN_BROKEN, plan)
    assert WorkOrder.objects.filter(kind=WorkOrderKind.DISCONNECT, suspension=again).count() == 1
    (notice,) = OutboundMessage.objects.filter(idempotency_key=f"plan-broken:{plan.pk}")
    assert "14/04/2026" in notice.body  # the instalment due at D+30
    assert "KES 812.00" in notice.body


def test_missed_instalment_before_the_cut_off_resumes_dunning_at_the_next_stage():
    account = dunned_account()
    invoice = bill(account)
    timeline = Timeline(START)
    timeline.on(d(9), lambda: agree(account, [d(15), d(25)], amount="609"))
    timeline.on(d(15), lambda: pay(account, "609", "I1"))
    timeline.run_until(d(25))
    assert stage_codes(invoice) == ["due-soon", "reminder", "late-penalty"]

    timeline.run_until(END)
    assert stage_codes(invoice) == ["due-soon", "reminder", "late-penalty", "final-notice"]
    assert InstalmentPlan.objects.get(account=account).status == PlanStatus.BROKEN
    assert state(account) == AccountStatus.SUSPENDED
    assert Suspension.objects.get(account=account).reason == SuspensionReason.DUNNING


def test_plan_must_add_up_to_the_overdue_balance():
    account = dunned_account()
    bill(account)
    Timeline(START).run_until(d(8))
    with time_machine.travel(at(d(8)), tick=False):
        with pytest.raises(InvalidPlan) as wrong_sum:
            agree(account, [d(10), d(20)], amount="600")
        assert "KES 1,218.00" in wrong_sum.value.message
        with pytest.raises(InvalidPlan):
            agree(account, [d(7), d(20)], amount="609")  # first instalment in the past
        with pytest.raises(InvalidPlan):
            agree(account, [d(20), d(20)], amount="609")  # dates must increase
        agree(account, [d(10), d(20)], amount="609")
        with pytest.raises(PlanExists):
            agree(account, [d(10), d(20)], amount="609")


def test_no_plan_without_an_overdue_balance():
    account = dunned_account()
    bill(account)
    with time_machine.travel(at(DUE), tick=False), pytest.raises(NothingOverdue):
        agree(account, [d(20)])  # due today, not overdue yet


@given(
    total=st.integers(min_value=1, max_value=10**12),
    count=st.integers(min_value=1, max_value=24),
    every=st.integers(min_value=1, max_value=90),
)
def test_split_instalments_add_up_exactly(total, count, every):
    if total < count:
        with pytest.raises(InvalidPlan):
            instalments_split(total=Money(total, "UGX"), count=count, first_due=DUE)
        return
    parts = instalments_split(
        total=Money(total, "UGX"), count=count, first_due=DUE, every_days=every
    )
    assert sum(part.amount.minor for part in parts) == total
    assert len(parts) == count and parts[0].due_date == DUE
    assert len({part.amount.minor for part in parts[:-1]}) <= 1
    assert all(b.due_date - a.due_date == timedelta(days=every) for a, b in pairwise(parts))
