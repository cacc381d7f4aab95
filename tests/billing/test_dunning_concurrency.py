"""Two dunning runs at once against PostgreSQL (real threads, real transactions): the database's
constraints and row locks let each stage act once, whoever gets there first."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection

from billing.models import DunningEvent, Invoice, InvoiceKind, JournalTransaction, LedgerEntry
from billing.services.dunning import dunning_run
from billing.tasks import dunning_daily
from sms.models import OutboundMessage
from tests.billing.dunning_support import DUE, at, bill
from tests.billing.factories import operator_make, service_account_make, tariff_make

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ACCOUNTS = 24


def overdue_book():
    operator = operator_make(name="Maji Safi")
    tariff = tariff_make(operator=operator)
    for _ in range(ACCOUNTS):
        bill(service_account_make(operator=operator, tariff=tariff))
    return operator


def at_once(*calls):
    """Run the calls in threads released together; re-raise the first error."""
    barrier, errors, results = threading.Barrier(len(calls)), [], [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def test_two_runs_at_once_record_send_and_penalise_each_stage_once():
    operator = overdue_book()
    on_date = DUE + timedelta(days=8)

    def run():
        with time_machine.travel(at(on_date), tick=False):
            return dunning_run(operator=operator, on_date=on_date, chunk_size=5)

    first, second = at_once(run, run)
    assert first["totals"]["events"] + second["totals"]["events"] == 3 * ACCOUNTS
    assert first["totals"]["penalties"] + second["totals"]["penalties"] == ACCOUNTS
    assert DunningEvent.objects.count() == 3 * ACCOUNTS
    messages = OutboundMessage.objects.filter(idempotency_key__startswith="dunning:")
    assert messages.count() == ACCOUNTS
    assert Invoice.objects.filter(kind=InvoiceKind.PENALTY).count() == ACCOUNTS
    assert JournalTransaction.objects.filter(kind="penalty").count() == ACCOUNTS
    numbers = Invoice.objects.filter(kind=InvoiceKind.PENALTY).values_list("number", flat=True)
    assert sorted(numbers) == [f"PEN-{n:06d}" for n in range(1, ACCOUNTS + 1)]


def test_two_beat_ticks_at_once_run_the_day_once():
    overdue_book()

    def tick():
        with time_machine.travel(at(DUE + timedelta(days=3)), tick=False):
            return dunning_daily()

    results = at_once(tick, tick)
    ran = [result for result in results if result.get("operators")]
    assert len(ran) == 1
    assert DunningEvent.objects.count() == 2 * ACCOUNTS
    assert OutboundMessage.objects.filter(idempotency_key__startswith="dunning:").count() == (
        ACCOUNTS
    )


def test_a_run_in_two_worker_processes_acts_once_with_gap_free_numbers():
    operator = overdue_book()
    on_date = DUE + timedelta(days=8)

    with time_machine.travel(at(on_date), tick=False):
        first = dunning_run(operator=operator, on_date=on_date, chunk_size=5, workers=2)
        again = dunning_run(operator=operator, on_date=on_date, chunk_size=5, workers=2)

    assert first["invoices"] == ACCOUNTS
    assert (first["totals"]["events"], first["totals"]["superseded"]) == (
        3 * ACCOUNTS,
        2 * ACCOUNTS,
    )
    assert first["totals"]["messages"] == first["totals"]["penalties"] == ACCOUNTS
    assert again["totals"] == dict.fromkeys(again["totals"], 0)
    assert DunningEvent.objects.count() == 3 * ACCOUNTS
    numbers = Invoice.objects.filter(kind=InvoiceKind.PENALTY).values_list("number", flat=True)
    assert sorted(numbers) == [f"PEN-{n:06d}" for n in range(1, ACCOUNTS + 1)]
    penalties = LedgerEntry.objects.filter(journal__kind="penalty")
    assert penalties.count() == 2 * ACCOUNTS
    assert sum(penalties.values_list("amount_minor", flat=True)) == 0
