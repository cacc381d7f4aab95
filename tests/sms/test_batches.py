"""Bulk kinds go to workers in batches: one claim for many, each result recorded at once."""

from pathlib import Path

import pytest

from sms import tasks
from sms.dispatch import outbox_dispatch
from sms.models import KIND_PRIORITY, MessageKind, OutboundMessage, SmsContact
from sms.pipeline import messages_deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def handset(settings, tmp_path) -> Path:
    settings.SMS_ROUTES = ["*:console"]
    settings.SMS_CONSOLE_FILE = str(tmp_path / "handset.log")
    return Path(settings.SMS_CONSOLE_FILE)


def _waiting(n: int, kind=MessageKind.BILL, to=None) -> OutboundMessage:
    return OutboundMessage.objects.create(
        to=to or f"+2547120010{n:02d}",
        kind=kind,
        priority=KIND_PRIORITY[kind],
        body=f"{kind} {n}",
        idempotency_key=f"b:{n}",
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
