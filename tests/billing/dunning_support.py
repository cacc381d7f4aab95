"""Shared set-up for the dunning, instalment, service-control and ageing tests.

- DUE: the due date of the bill every timeline is about (issued 14 days before)
- at(day, hour=10) -> an aware datetime in Nairobi (the operators' time zone)
- dunned_account(**version) -> a KES account (paybill 400200, USSD *483*1#) on a flat tariff
      (penalty 5 %; version fields such as reconnection_fee=Decimal(200) override)
- bill(account, due=DUE, net_minor=100000, vat_minor=16000, period=None) -> an issued invoice
      (KES 1,160.00) for the month before its issue (or `period`), issued 14 days before due
- pay(account, text, ref) -> Payment of KES `text` by M-Pesa
- Timeline(start): `.run_until(day)` runs the daily beat task at 10:00 every day from `start`
      up to `day` inclusive (nothing happens twice: days already run are skipped), and
      `.on(day, action)` runs `action()` at 08:00 that day, before the task
- committed(): a block whose on-commit work (SMS sends, meter commands) runs at its end
- stage_messages(invoice) -> [(stage code, body)] of the dunning SMS about the invoice, in order
"""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import time_machine
from django.test import TestCase

from billing.models import DunningEvent, Invoice, Payment, ServiceAccount
from billing.services.payments import payment_record
from billing.tasks import dunning_daily
from sms.models import OutboundMessage
from tests.billing.factories import money, operator_make, service_account_make, tariff_make

NAIROBI = ZoneInfo("Africa/Nairobi")
DUE = date(2026, 3, 15)


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NAIROBI)


def committed():
    """Run what the block leaves for after commit (SMS sends, meter commands) at its end, as
    the test's own transaction never commits."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def dunned_account(*, language: str = "en", **version_fields) -> ServiceAccount:
    operator = operator_make(name="Maji Safi")
    tariff = tariff_make(operator=operator, **version_fields)
    account = service_account_make(operator=operator, tariff=tariff)
    if language != "en":
        account.owner.language = language
        account.owner.save(update_fields=["language"])
    return account


def bill(
    account: ServiceAccount,
    *,
    due: date = DUE,
    net_minor: int = 100000,
    vat_minor: int = 16000,
    apply_credit: bool = True,
    period: date | None = None,
) -> Invoice:
    from tests.billing.factories import invoice_make

    issue = due - timedelta(days=14)
    with time_machine.travel(at(issue, 6), tick=False):
        return invoice_make(
            account=account,
            net_minor=net_minor,
            vat_minor=vat_minor,
            issue_date=issue,
            due_date=due,
            period=period or (issue.replace(day=1) - timedelta(days=1)).replace(day=1),
            apply_credit=apply_credit,
        )


def pay(account: ServiceAccount, text: str, ref: str) -> Payment:
    return payment_record(
        account=account,
        amount=money(text),
        source="mpesa",
        reference=ref,
        clearing="clearing:mpesa",
    )


class Timeline:
    def __init__(self, start: date) -> None:
        self.next_day = start
        self.actions: dict[date, list[Callable[[], object]]] = {}

    def on(self, day: date, action: Callable[[], object]) -> "Timeline":
        self.actions.setdefault(day, []).append(action)
        return self

    def run_until(self, last: date) -> None:
        while self.next_day <= last:
            day = self.next_day
            for action in self.actions.pop(day, []):
                with time_machine.travel(at(day, 8), tick=False), committed():
                    action()
            with time_machine.travel(at(day, 10), tick=False), committed():
                dunning_daily()
            self.next_day = day + timedelta(days=1)


def stage_messages(invoice: Invoice) -> list[tuple[str, str]]:
    keys = {
        f"dunning:{event.invoice_id}:{event.stage_id}": event.stage.code
        for event in DunningEvent.objects.filter(invoice=invoice).select_related("stage")
    }
    rows = OutboundMessage.objects.filter(idempotency_key__in=keys).order_by("created_at", "id")
    return [(keys[row.idempotency_key], row.body) for row in rows]


def stage_codes(invoice: Invoice) -> list[str]:
    return [code for code, _ in stage_messages(invoice)]


def events_of(invoice: Invoice) -> list[tuple[str, bool, date]]:
    rows = DunningEvent.objects.filter(invoice=invoice).select_related("stage")
    return [
        (event.stage.code, event.superseded, event.run_date)
        for event in rows.order_by("stage__offset_days")
    ]
