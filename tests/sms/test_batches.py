"""Bulk kinds go to workers in batches: one claim, one token-bucket call and one spend
reservation for many; the sent ones recorded together, failures each at once."""

import threading
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from sms import tasks
from sms.dispatch import outbox_dispatch
from sms.models import KIND_PRIORITY, MessageKind, OutboundMessage, SmsContact
from sms.pipeline import messages_deliver
from tests.billing.factories import operator_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def handset(settings, tmp_path) -> Path:
    settings.SMS_ROUTES = ["*:console"]
    settings.SMS_CONSOLE_FILE = str(tmp_path / "handset.log")
    return Path(settings.SMS_CONSOLE_FILE)


def _waiting(n: int, kind=MessageKind.BILL, to=None, operator=None) -> OutboundMessage:
    return OutboundMessage.objects.create(
        to=to or f"+2547120010{n:02d}",
        kind=kind,
        priority=KIND_PRIORITY[kind],
        body=f"{kind} {n}",
        idempotency_key=f"b:{n}",
        operator_key=getattr(operator, "slug", ""),
        time_zone=getattr(operator, "timezone", ""),
    )


def _lines(handset: Path) -> list[str]:
    return handset.read_text().splitlines() if handset.exists() else []


def test_the_dispatcher_sends_bulk_kinds_in_batches_and_codes_one_by_one(
    handset, settings, monkeypatch
):
    settings.SMS_SEND_BATCH = 2
    batches, singles = [], []
    monkeypatch.setattr(tasks.messages_send, "apply_async", lambda a, **o: batches.append(a[0]))
    monkeypatch.setattr(tasks.message_send, "apply_async", lambda a, **o: singles.append(a[0]))
    bills = [_waiting(n).pk for n in range(5)]
    code = _waiting(9, MessageKind.OTP).pk

    outbox_dispatch()

    assert singles == [code, bills[4]]  # the code first; a batch of one is a single task
    assert batches == [bills[0:2], bills[2:4]]


def test_a_batch_sends_each_message_once_and_spaces_two_to_one_recipient(handset, settings):
    settings.SMS_RECIPIENT_MIN_SPACING_SECONDS = 60
    ids = [_waiting(n).pk for n in range(3)]
    ids.append(_waiting(3, to="+254712001000").pk)  # same phone as the first

    messages_deliver(message_ids=ids)
    messages_deliver(message_ids=ids)  # a re-delivered task

    statuses = dict(OutboundMessage.objects.values_list("pk", "status"))
    assert [statuses[pk] for pk in ids] == ["sent", "sent", "sent", "queued"]
    assert OutboundMessage.objects.get(pk=ids[3]).defer_reason == "spacing"
    assert len(_lines(handset)) == 3


def test_when_the_gateway_rate_runs_out_the_rest_of_the_batch_waits_uncounted(handset, settings):
    settings.SMS_GATEWAY_RATES = {"console": 2.0}
    settings.SMS_RATE_BURST_SECONDS = 1.0
    settings.SMS_URGENT_RESERVE = 0.0
    ids = [_waiting(n).pk for n in range(4)]

    messages_deliver(message_ids=ids)

    rows = OutboundMessage.objects.in_bulk(ids)
    assert [rows[pk].status for pk in ids] == ["sent", "sent", "queued", "queued"]
    assert {(rows[pk].defer_reason, rows[pk].attempts) for pk in ids[2:]} == {("rate_limit", 0)}
    assert SmsContact.objects.get(phone=rows[ids[3]].to).day_count == 0


def test_a_batch_that_runs_out_of_time_puts_the_rest_back_unsent(handset, settings):
    settings.SMS_SEND_LEASE_SECONDS = 0  # no send may start
    ids = [_waiting(n).pk for n in range(2)]

    messages_deliver(message_ids=ids)

    rows = OutboundMessage.objects.in_bulk(ids)
    assert {(r.status, r.defer_reason, r.attempts, r.claim) for r in rows.values()} == {
        ("queued", "released", 0, "")
    }
    assert _lines(handset) == []


def test_a_batch_records_each_outcome_when_one_fails_for_good_and_one_for_now(gateways, settings):
    settings.SMS_RETRY_BASE_SECONDS = 30
    ids = [_waiting(n).pk for n in range(4)]
    gateways.plan("africastalking", "ok", ("at_status", 406, "UserInBlacklist"), ("http", 503))
    gateways.plan("twilio", ("http", 503))  # the third fails over there, and fails again
    now = timezone.now()

    messages_deliver(message_ids=ids)

    rows = OutboundMessage.objects.in_bulk(ids)
    sent, blacklisted, retried, last = (rows[pk] for pk in ids)
    taken = {s.to: s.message_id for s in gateways.sent}
    assert set(taken) == {sent.to, last.to}
    for message in (sent, last):
        assert (message.status, message.gateway, message.claim) == ("sent", "africastalking", "")
        assert message.gateway_message_id == taken[message.to]  # each its own id
        assert (message.cost, message.cost_currency) == (Decimal("0.8000"), "KES")
    assert (blacklisted.status, blacklisted.error) == (
        "failed",
        "africastalking: 406 UserInBlacklist",
    )
    assert SmsContact.objects.get(phone=blacklisted.to).blocked_on == ["africastalking"]
    assert (retried.status, retried.defer_reason, retried.attempts) == ("queued", "retry", 1)
    assert retried.not_before >= now + timedelta(seconds=30)

    messages_deliver(message_ids=ids)  # the task again: nothing is due, nothing goes twice

    assert len(gateways.sent) == 2
    assert gateways.arrivals == {"africastalking": 4, "twilio": 1}


def test_a_batch_task_run_twice_sends_each_message_once(gateways):
    ids = [_waiting(n).pk for n in range(5)]

    tasks.messages_send.apply(args=(ids,))
    tasks.messages_send.apply(args=(ids,))

    rows = OutboundMessage.objects.in_bulk(ids)
    assert {(r.status, r.attempts) for r in rows.values()} == {("sent", 1)}
    assert sorted(s.to for s in gateways.sent) == sorted(r.to for r in rows.values())
    assert len({r.gateway_message_id for r in rows.values()}) == 5
    assert gateways.arrivals["africastalking"] == 5


NAIROBI = ZoneInfo("Africa/Nairobi")


def test_a_batch_gives_back_the_spend_of_what_it_did_not_send(handset, settings):
    """A batch reserves its whole estimate at once; what the policy defers is given back."""
    settings.SMS_PRICES = {"*": "1.00"}
    settings.SMS_DAILY_SPEND_CAPS = {"*": "10"}
    settings.SMS_URGENT_RESERVE = 0.2  # bulk may spend 8
    settings.SMS_RECIPIENT_MIN_SPACING_SECONDS = 60
    maji = operator_make(slug="maji", timezone="Africa/Nairobi")
    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=NAIROBI), tick=False):
        first = [_waiting(n, operator=maji).pk for n in range(4)]
        first += [_waiting(n, to="+254712001000", operator=maji).pk for n in (10, 11)]
        messages_deliver(message_ids=first)  # the last two wait for the spacing
        second = [_waiting(n, operator=maji).pk for n in range(20, 24)]
        messages_deliver(message_ids=second)

    rows = OutboundMessage.objects.in_bulk(first + second)
    assert [rows[pk].status for pk in first] == ["sent"] * 4 + ["queued"] * 2
    assert [rows[pk].status for pk in second] == ["sent"] * 4  # 8 in all: the bulk share
    assert len(_lines(handset)) == 8


def test_the_spend_cap_stops_a_batch_where_it_would_stop_one_message_at_a_time(handset, settings):
    settings.SMS_PRICES = {"*": "1.00"}
    settings.SMS_DAILY_SPEND_CAPS = {"*": "10"}
    settings.SMS_URGENT_RESERVE = 0.2
    maji = operator_make(slug="maji", timezone="Africa/Nairobi")
    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=NAIROBI), tick=False):
        bills = [_waiting(n, operator=maji).pk for n in range(10)]
        messages_deliver(message_ids=bills)
        receipts = [_waiting(n, MessageKind.RECEIPT, operator=maji).pk for n in (30, 31, 32)]
        for pk in receipts:
            messages_deliver(message_ids=[pk])

    rows = OutboundMessage.objects.in_bulk(bills + receipts)
    assert [rows[pk].status for pk in bills] == ["sent"] * 8 + ["queued"] * 2
    assert {rows[pk].defer_reason for pk in bills[8:]} == {"spend_cap"}
    assert [rows[pk].status for pk in receipts] == ["sent", "sent", "queued"]  # the urgent 2


def test_messages_put_off_by_the_rate_limit_give_back_their_spend(handset, settings):
    settings.SMS_PRICES = {"*": "1.00"}
    settings.SMS_DAILY_SPEND_CAPS = {"*": "4"}
    settings.SMS_URGENT_RESERVE = 0.0  # no share kept: bulk may spend 4, and take every token
    settings.SMS_GATEWAY_RATES = {"console": 2.0}
    settings.SMS_RATE_BURST_SECONDS = 1.0  # a bucket of 2, refilled in 1 s
    maji = operator_make(slug="maji", timezone="Africa/Nairobi")
    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=NAIROBI), tick=False) as clock:
        ids = [_waiting(n, operator=maji).pk for n in range(4)]
        messages_deliver(message_ids=ids)  # 2 sent, 2 put off
        clock.shift(1)
        messages_deliver(message_ids=ids)  # the 2 put off: they still fit under the cap

    rows = OutboundMessage.objects.in_bulk(ids)
    assert {(r.status, r.attempts) for r in rows.values()} == {("sent", 1)}
    assert len(_lines(handset)) == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_records_what_it_sent_before_a_slow_send_when_its_record_is_due(gateways, settings):
    """The duplicate window on a crash is bounded in time, not only by the batch's end."""
    settings.SMS_SEND_RECORD_EVERY_SECONDS = 0
    ids = [_waiting(n).pk for n in range(3)]
    release = threading.Event()
    gateways.plan("africastalking", "ok", ("hold", release))

    def worker():
        try:
            messages_deliver(message_ids=ids)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert gateways.holding.wait(timeout=10)  # the second send hangs at the gateway
        statuses = dict(OutboundMessage.objects.values_list("pk", "status"))
    finally:
        release.set()
        thread.join(timeout=10)

    assert [statuses[pk] for pk in ids] == ["sent", "sending", "sending"]
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"sent"}
