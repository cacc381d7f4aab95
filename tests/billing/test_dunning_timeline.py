"""Sixty days of daily dunning runs per scenario, with frozen time: which texts go out, once.

The bill is KES 1,160.00, due on DUE (15 March 2026). The default policy: D-7 "due soon", D+3
reminder, D+7 reminder and 5 % late-payment penalty, D+14 final notice and disconnection.
"""

from datetime import timedelta

import pytest

from billing.models import (
    AccountStatus,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Suspension,
    WorkOrder,
    WorkOrderKind,
    WorkOrderStatus,
)
from sms.models import OutboundMessage
from tests.billing.dunning_support import (
    DUE,
    Timeline,
    bill,
    dunned_account,
    events_of,
    pay,
    stage_codes,
    stage_messages,
)

pytestmark = pytest.mark.django_db
START = DUE - timedelta(days=14)
END = START + timedelta(days=60)
ALL_STAGES = ["due-soon", "reminder", "late-penalty", "final-notice"]


def penalties(invoice: Invoice) -> list[Invoice]:
    return list(Invoice.objects.filter(related=invoice, kind=InvoiceKind.PENALTY))


def test_bill_paid_before_the_due_date_gets_only_the_due_soon_text():
    account = dunned_account()
    invoice = bill(account)
    timeline = Timeline(START).on(DUE - timedelta(days=3), lambda: pay(account, "1160", "R1"))
    timeline.run_until(END)

    assert stage_codes(invoice) == ["due-soon"]
    body = stage_messages(invoice)[0][1]
    assert "KES 1,160.00" in body and "15/03/2026" in body and account.number in body
    assert "400200" in body and "*483*1#" in body
    assert penalties(invoice) == []
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_bill_paid_at_d_plus_5_stops_before_the_penalty():
    account = dunned_account()
    invoice = bill(account)
    Timeline(START).on(DUE + timedelta(days=5), lambda: pay(account, "1160", "R1")).run_until(END)

    assert stage_codes(invoice) == ["due-soon", "reminder"]
    assert [code for code, _, _ in events_of(invoice)] == ["due-soon", "reminder"]
    assert penalties(invoice) == []


def test_bill_never_paid_goes_through_every_stage_once_and_is_cut_off():
    account = dunned_account()
    invoice = bill(account)
    Timeline(START).run_until(END)

    assert stage_codes(invoice) == ALL_STAGES
    assert [(code, superseded) for code, superseded, _ in events_of(invoice)] == [
        (code, False) for code in ALL_STAGES
    ]
    run_dates = [day for _, _, day in events_of(invoice)]
    assert run_dates == [DUE - timedelta(days=7), *(DUE + timedelta(days=n) for n in (3, 7, 14))]
    (penalty,) = penalties(invoice)
    assert penalty.total_minor == 5800  # 5 % of 1,160.00
    texts = dict(stage_messages(invoice))
    assert "KES 1,218.00" in texts["late-penalty"] and "KES 1,218.00" in texts["final-notice"]
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    order = WorkOrder.objects.get(account=account)
    assert (order.kind, order.status) == (WorkOrderKind.DISCONNECT, WorkOrderStatus.OPEN)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OVERDUE
    sent = OutboundMessage.objects.filter(idempotency_key__startswith="dunning:")
    assert [(m.status, m.attempts, m.to) for m in sent] == [("sent", 1, account.owner.phone)] * 4


def test_partial_payments_keep_dunning_with_the_amount_left():
    account = dunned_account()
    invoice = bill(account)
    timeline = Timeline(START)
    timeline.on(DUE + timedelta(days=5), lambda: pay(account, "500", "R1"))
    timeline.on(DUE + timedelta(days=10), lambda: pay(account, "300", "R2"))
    timeline.run_until(END)

    texts = stage_messages(invoice)
    assert [code for code, _ in texts] == ALL_STAGES
    # 660.00 left at D+7, plus a 5 % penalty of 33.00 on it.
    assert "KES 693.00" in texts[2][1]
    # The 300.00 paid at D+10 settles the penalty first, then 267.00 of the bill.
    assert "KES 393.00" in texts[3][1]
    (penalty,) = penalties(invoice)
    assert penalty.total_minor == 3300
    assert Suspension.objects.filter(account=account, ended_at__isnull=True).exists()


def test_texts_follow_the_customers_language():
    account = dunned_account(language="sw")
    invoice = bill(account)
    Timeline(START).run_until(DUE + timedelta(days=3))

    (due_soon, reminder) = [body for _, body in stage_messages(invoice)]
    assert "inalipwa 15/03/2026" in due_soon
    assert "Bado unadaiwa KES 1,160.00" in reminder


def test_a_job_that_did_not_run_for_days_catches_up_without_stale_reminders():
    account = dunned_account()
    invoice = bill(account)
    Timeline(DUE + timedelta(days=9)).run_until(DUE + timedelta(days=9))

    assert events_of(invoice) == [
        ("due-soon", True, DUE + timedelta(days=9)),
        ("reminder", True, DUE + timedelta(days=9)),
        ("late-penalty", False, DUE + timedelta(days=9)),
    ]
    assert stage_codes(invoice) == ["late-penalty"]
    assert len(penalties(invoice)) == 1

    Timeline(DUE + timedelta(days=10)).run_until(END)
    assert stage_codes(invoice) == ["late-penalty", "final-notice"]
    assert len(penalties(invoice)) == 1


def test_catching_up_past_the_last_stage_still_penalises_and_cuts_off_once():
    account = dunned_account()
    invoice = bill(account)
    Timeline(DUE + timedelta(days=20)).run_until(END)

    assert stage_codes(invoice) == ["final-notice"]
    assert [superseded for _, superseded, _ in events_of(invoice)] == [True, True, True, False]
    assert [penalty.total_minor for penalty in penalties(invoice)] == [5800]
    assert "KES 1,218.00" in stage_messages(invoice)[0][1]
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
