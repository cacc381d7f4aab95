"""Dunning policies as data: what managers may change, and what history protects."""

from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from accounts.models import AuditEvent
from billing.models import DunningPolicy, DunningStage, WorkOrder, WorkOrderKind
from billing.services.dunning_messages import InvalidTemplate
from billing.services.dunning_policies import (
    DEFAULT_STAGES,
    InvalidPolicy,
    PolicyExists,
    StageInUse,
    StageSpec,
    dunning_policy_create,
    dunning_policy_default_ensure,
    dunning_policy_update,
)
from tests.billing.dunning_support import DUE, Timeline, bill, dunned_account
from tests.billing.factories import operator_make

pytestmark = pytest.mark.django_db
TEXT = {"en": "{operator}: {amount} overdue."}


def stage(code: str, offset: int, **fields) -> StageSpec:
    return StageSpec(code=code, name=code.title(), offset_days=offset, **fields)


@pytest.mark.parametrize(
    ("stages", "error"),
    [
        ([stage("a", 3), stage("a", 5)], InvalidPolicy),
        ([stage("a", 3), stage("b", 3)], InvalidPolicy),
        ([stage("a", 400)], InvalidPolicy),
        ([stage("a", 3, messages={"fr": "Payez {amount}"})], InvalidPolicy),
        ([stage("a", 3, messages={"de": "Zahlen"})], InvalidPolicy),
        ([stage("a", 3, messages={"en": "Pay {amount:.2f}"})], InvalidTemplate),
    ],
)
def test_invalid_stages_are_refused(stages, error):
    with pytest.raises(error):
        dunning_policy_create(operator=operator_make(), name="Bad", stages=stages)


def test_one_default_policy_per_operator():
    operator = operator_make()
    first = dunning_policy_default_ensure(operator=operator)
    assert dunning_policy_default_ensure(operator=operator) == first
    with pytest.raises(PolicyExists):
        dunning_policy_create(operator=operator, name="Another", stages=[])
    assert [s.code for s in first.stages.all()] == [spec.code for spec in DEFAULT_STAGES]


def test_stages_can_swap_offsets_and_keep_their_history():
    account = dunned_account()
    invoice = bill(account)
    Timeline(DUE - timedelta(days=7)).run_until(DUE - timedelta(days=7))
    policy = dunning_policy_default_ensure(operator=account.operator)
    due_soon = policy.stages.get(code="due-soon")
    specs = [
        stage("due-soon", 3, messages=TEXT),
        stage("reminder", -7, messages=TEXT),
        stage("late-penalty", 7, charge_penalty=True, messages=TEXT),
    ]
    with pytest.raises(StageInUse):
        dunning_policy_update(policy=policy, stages=specs[1:])  # drops due-soon
    dunning_policy_update(policy=policy, stages=specs, name="Swapped")
    due_soon.refresh_from_db()
    assert due_soon.offset_days == 3 and due_soon.events.get().invoice == invoice
    assert list(policy.stages.values_list("code", "offset_days")) == [
        ("reminder", -7),
        ("due-soon", 3),
        ("late-penalty", 7),
    ]
    assert not DunningStage.objects.filter(code="final-notice").exists()
    (event,) = AuditEvent.objects.filter(action="dunning_policy.update")
    assert len(event.before["stages"]) == 4 and len(event.after["stages"]) == 3


def test_a_field_visit_stage_makes_one_work_order_per_bill_and_no_meter_command():
    account = dunned_account()
    policy = dunning_policy_default_ensure(operator=account.operator)
    visit = stage("visit", 10, field_visit=True)
    specs = [*(s for s in DEFAULT_STAGES if s.code != "final-notice"), visit]
    dunning_policy_update(policy=policy, stages=specs)
    bill(account)
    Timeline(DUE - timedelta(days=14)).run_until(DUE + timedelta(days=30))
    (order,) = WorkOrder.objects.filter(account=account)
    assert (order.kind, order.status, order.notes) == (WorkOrderKind.VISIT, "open", "")
    account.refresh_from_db()
    assert account.status == "active"


def test_the_demo_operator_gets_the_default_policy_once():
    moment = datetime(2026, 11, 21, 12, 0, tzinfo=ZoneInfo("Africa/Nairobi"))
    for _ in range(2):
        with time_machine.travel(moment, tick=False):
            call_command("seed_demo", stdout=StringIO())

    (policy,) = DunningPolicy.objects.all()
    assert policy.tariff_id is None and policy.is_active
    codes = list(policy.stages.order_by("offset_days").values_list("code", flat=True))
    assert codes == [spec.code for spec in sorted(DEFAULT_STAGES, key=lambda s: s.offset_days)]
