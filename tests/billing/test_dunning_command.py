"""`manage.py run_dunning`: the beat task's code from the command line, with a dry run."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command

from billing.models import DunningEvent, DunningRun, Invoice, InvoiceKind
from billing.services.dunning_schedule import LOCK_KEY
from sms.models import OutboundMessage
from tests.billing.dunning_support import DUE, at, bill, dunned_account

pytestmark = pytest.mark.django_db
ON = DUE + timedelta(days=8)


def run(*args: str) -> str:
    out, err = StringIO(), StringIO()
    with time_machine.travel(at(ON), tick=False):
        call_command("run_dunning", *args, stdout=out, stderr=err)
    return out.getvalue()


def table(text: str) -> dict[str, list[int]]:
    rows = [line.split() for line in text.splitlines()]
    rows = [row for row in rows if len(row) == 7 and all(n.isdigit() for n in row[1:])]
    return {row[0]: [int(n) for n in row[1:]] for row in rows}


def test_dry_run_prints_the_summary_and_changes_nothing():
    account = dunned_account()
    bill(account)
    text = run("--dry-run")
    assert "dry run: nothing changed" in text
    # columns: events superseded messages penalties suspensions visits
    assert table(text) == {
        "due-soon": [1, 1, 0, 0, 0, 0],
        "reminder": [1, 1, 0, 0, 0, 0],
        "late-penalty": [1, 0, 1, 1, 0, 0],
        "total": [3, 2, 1, 1, 0, 0],
    }
    assert not DunningEvent.objects.exists() and not OutboundMessage.objects.exists()
    assert not Invoice.objects.filter(kind=InvoiceKind.PENALTY).exists()
    assert not DunningRun.objects.exists()


def test_a_run_for_a_date_acts_once_and_records_the_day():
    account = dunned_account()
    bill(account)
    first = run("--date", str(DUE + timedelta(days=3)), "--operator", account.operator.slug)
    assert table(first)["total"][:3] == [2, 1, 1]
    again = run("--date", str(DUE + timedelta(days=3)))
    assert table(again) == {"total": [0, 0, 0, 0, 0, 0]}
    assert DunningRun.objects.get().run_date == DUE + timedelta(days=3)
    assert OutboundMessage.objects.count() == 1


def test_bad_arguments_and_a_held_lock_are_refused():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        run("--date", "15/03/2026")
    with pytest.raises(CommandError, match="no operator"):
        run("--operator", "nobody")
    cache.add(LOCK_KEY, "beat", timeout=60)
    with pytest.raises(CommandError, match="in progress"):
        run()
