"""Disconnection and reconnection by rule: work orders, the meter-command hook, the fee, the SMS."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from billing.meter_commands import (
    MeterCommand,
    MeterCommandResult,
    MeterCommandUnavailable,
    NoOpMeterCommandHook,
    meter_command_hook_get,
)
from billing.models import (
    AccountStatus,
    Invoice,
    InvoiceKind,
    Meter,
    Suspension,
    WorkOrder,
    WorkOrderKind,
    WorkOrderStatus,
)
from billing.selectors import account_balance
from billing.services.service_control import (
    WorkOrderClosed,
    account_service_review,
    work_order_complete,
)
from sms.models import OutboundMessage
from tests.billing.api_support import staff_make
from tests.billing.dunning_support import DUE, Timeline, at, bill, committed, dunned_account, pay

pytestmark = pytest.mark.django_db
START = DUE - timedelta(days=14)


class RecordingHook:
    """A meter head-end double: records commands; `done` says whether it acts remotely."""

    sent: list[MeterCommand] = []
    done = False
    unavailable = False

    def __init__(self, **options) -> None:
        pass

    def send(self, command: MeterCommand) -> MeterCommandResult:
        type(self).sent.append(command)
        if type(self).unavailable:
            raise MeterCommandUnavailable("head-end timeout")
        return MeterCommandResult(done=type(self).done, detail="head-end answered")


@pytest.fixture
def hook(settings):
    settings.METER_COMMAND_HOOK = f"{__name__}.RecordingHook"
    RecordingHook.sent, RecordingHook.done, RecordingHook.unavailable = [], False, False
    return RecordingHook


def cut_off(**version):
    """An account cut off at D+14 for a bill of KES 1,160.00 (1,218.00 with its penalty)."""
    account = dunned_account(**version)
    Meter.objects.create(account=account, serial="WM-0042")
    bill(account)
    Timeline(START).run_until(DUE + timedelta(days=14))
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    return account


def test_cut_off_calls_the_meter_hook_and_leaves_the_order_to_a_technician(hook):
    account = cut_off()
    (command,) = hook.sent
    order = WorkOrder.objects.get(account=account)
    assert command == MeterCommand(
        action="disconnect",
        reference=f"work-order:{order.pk}",
        operator=account.operator.slug,
        account_number=account.number,
        utility="water",
        meter_serials=("WM-0042",),
    )
    assert order.status == WorkOrderStatus.OPEN and "head-end answered" in order.notes


def test_full_payment_after_the_visit_restores_service_with_fee_sms_and_reconnect_order(hook):
    account = cut_off(reconnection_fee=Decimal(200))
    technician = staff_make("technician")
    disconnect = WorkOrder.objects.get(account=account)
    work_order_complete(work_order=disconnect, actor=technician, notes="Valve closed")
    with time_machine.travel(at(DUE + timedelta(days=20), 8), tick=False), committed():
        pay(account, "1218", "FULL")

    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert Suspension.objects.get(account=account).ended_reason == "paid"
    reconnect = WorkOrder.objects.get(account=account, kind=WorkOrderKind.RECONNECT)
    assert reconnect.status == WorkOrderStatus.OPEN
    assert [command.action for command in hook.sent] == ["disconnect", "reconnect"]
    (fee,) = Invoice.objects.filter(account=account, kind=InvoiceKind.FEE)
    assert fee.total_minor == 20000
    assert account_balance(account).minor == 20000
    (sms,) = OutboundMessage.objects.filter(idempotency_key__startswith="reconnected:")
    assert sms.to == account.owner.phone
    assert "restored" in sms.body and "KES 200.00" in sms.body


def test_payment_before_anyone_went_out_cancels_the_disconnection(hook):
    account = cut_off()
    with time_machine.travel(at(DUE + timedelta(days=15), 8), tick=False):
        pay(account, "1218", "FULL")
    order = WorkOrder.objects.get(account=account)
    assert order.status == WorkOrderStatus.CANCELLED
    assert not WorkOrder.objects.filter(kind=WorkOrderKind.RECONNECT).exists()
    assert not Invoice.objects.filter(account=account, kind=InvoiceKind.FEE).exists()
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_partial_payment_keeps_the_account_cut_off(hook):
    account = cut_off()
    with time_machine.travel(at(DUE + timedelta(days=15), 8), tick=False):
        pay(account, "1000", "PART")
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    assert not OutboundMessage.objects.filter(idempotency_key__startswith="reconnected:").exists()


def test_an_account_suspended_by_hand_is_not_restored_by_a_payment():
    account = dunned_account()
    bill(account)
    account.status = AccountStatus.SUSPENDED
    account.save(update_fields=["status"])
    pay(account, "1160", "FULL")
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    assert account_service_review(account=account) is None


def test_a_smart_meter_hook_completes_the_work_orders_itself(hook):
    hook.done = True
    account = cut_off()
    order = WorkOrder.objects.get(account=account)
    assert order.status == WorkOrderStatus.DONE and order.completed_by is None
    with time_machine.travel(at(DUE + timedelta(days=16), 8), tick=False), committed():
        pay(account, "1218", "FULL")
    reconnect = WorkOrder.objects.get(account=account, kind=WorkOrderKind.RECONNECT)
    assert reconnect.status == WorkOrderStatus.DONE


def test_an_unreachable_head_end_is_retried_then_left_to_a_technician(hook):
    hook.unavailable = True
    account = cut_off()
    assert len(hook.sent) == 6  # the first try and five retries
    assert WorkOrder.objects.get(account=account).status == WorkOrderStatus.OPEN


def test_a_work_order_is_completed_once():
    account = cut_off()
    order = WorkOrder.objects.get(account=account)
    technician = staff_make("technician")
    work_order_complete(work_order=order, actor=technician, notes="Done")
    with pytest.raises(WorkOrderClosed):
        work_order_complete(work_order=order, actor=technician)
    order.refresh_from_db()
    assert (order.completed_by, order.notes) == (
        technician,
        "No remote meter control: visit needed.\nDone",
    )


def test_the_default_hook_does_nothing_remotely(settings):
    settings.METER_COMMAND_HOOK = ""
    hook = meter_command_hook_get()
    assert isinstance(hook, NoOpMeterCommandHook)
    command = MeterCommand("disconnect", "work-order:1", "op", "100000011", "water", ())
    assert hook.send(command).done is False
