"""The outbound pipeline's rules, with frozen time: quiet hours, opt-out, countries, per-recipient
limits, the spend cap, bursts of codes, priorities and the dispatcher."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from sms.dispatch import outbox_dispatch
from sms.models import MessageKind, OutboundMessage, SmsContact
from sms.services import MessageSpec, message_queue, message_queue_bulk
from tests.billing.factories import operator_make

pytestmark = pytest.mark.django_db

NAIROBI = ZoneInfo("Africa/Nairobi")


@pytest.fixture
def handset(settings, tmp_path) -> Path:
    settings.SMS_ROUTES = ["*:console"]
    settings.SMS_ALLOWED_COUNTRIES = ["KE"]
    settings.SMS_CONSOLE_FILE = str(tmp_path / "handset.log")
    return Path(settings.SMS_CONSOLE_FILE)


def _received(handset: Path) -> list[str]:
    """'to: text' of each message that reached a phone, in order."""
    if not handset.exists():
        return []
    return [line.split(" to ", 1)[1] for line in handset.read_text().splitlines()]


@pytest.fixture
def queue(django_capture_on_commit_callbacks):
    counter = iter(range(1, 10_000))

    def _queue(to, kind=MessageKind.NOTICE, body=None, **extra) -> OutboundMessage:
        body = body or f"{kind} {next(counter)}"
        with django_capture_on_commit_callbacks(execute=True):
            message = message_queue(
                to=to, body=body, kind=kind, idempotency_key=f"k:{body}", **extra
            )
        message.refresh_from_db()
        return message

    return _queue


def _status(message: OutboundMessage) -> tuple[str, str]:
    message.refresh_from_db()
    return message.status, message.defer_reason or message.error


def test_reminders_wait_for_the_morning_in_the_operators_time_zone(handset, queue, settings):
    settings.SMS_QUIET_HOURS = "21:00-07:00"
    nairobi = operator_make(timezone="Africa/Nairobi", phone_region="KE")
    douala = operator_make(timezone="Africa/Douala", phone_region="KE")
    # 19:30 UTC: 22:30 in Nairobi (quiet), 20:30 in Douala (not yet).
    with time_machine.travel(datetime(2026, 11, 20, 19, 30, tzinfo=ZoneInfo("UTC")), tick=False):
        reminder = queue("+254712000001", MessageKind.REMINDER, operator=nairobi)
        broadcast = queue("+254712000002", MessageKind.BROADCAST, operator=nairobi)
        bill = queue("+254712000003", MessageKind.BILL, operator=nairobi)
        elsewhere = queue("+254712000004", MessageKind.REMINDER, operator=douala)

    assert _status(reminder) == ("queued", "quiet_hours")
    assert _status(broadcast) == ("queued", "quiet_hours")
    assert reminder.not_before == datetime(2026, 11, 21, 7, 0, tzinfo=NAIROBI)
    assert _status(bill)[0] == "sent"
    assert _status(elsewhere)[0] == "sent"

    with time_machine.travel(datetime(2026, 11, 21, 6, 59, tzinfo=NAIROBI), tick=False):
        outbox_dispatch()
    assert _status(reminder) == ("queued", "quiet_hours")
    with time_machine.travel(datetime(2026, 11, 21, 7, 0, tzinfo=NAIROBI), tick=False):
        outbox_dispatch()

    assert _status(reminder)[0] == "sent"
    assert _status(broadcast)[0] == "sent"
    assert len(_received(handset)) == 4


def test_opted_out_recipients_get_no_reminders_or_broadcasts_but_still_bills_and_notices(
    handset, queue, settings
):
    settings.SMS_RECIPIENT_MIN_SPACING_SECONDS = 0
    phone = "+254712000010"
    SmsContact.objects.create(phone=phone, opted_out=True)

    skipped = [queue(phone, MessageKind.REMINDER), queue(phone, MessageKind.BROADCAST)]
    sent = [queue(phone, kind) for kind in (MessageKind.BILL, MessageKind.NOTICE)]
    sent += [queue(phone, MessageKind.RECEIPT), queue(phone, MessageKind.OTP)]

    assert [_status(m) for m in skipped] == [("skipped", "opted_out")] * 2
    assert [_status(m)[0] for m in sent] == ["sent"] * 4
    assert len(_received(handset)) == 4


def test_messages_go_only_to_the_countries_served(handset, queue, settings):
    tanzania = "+255712345678"
    settings.SMS_ALLOWED_COUNTRIES = ["KE"]

    refused = queue(tanzania, MessageKind.OTP)
    served = queue(tanzania, MessageKind.BILL, operator=operator_make(phone_region="TZ"))

    assert _status(refused) == ("skipped", "country_not_served")
    assert refused.dispatched_at is None  # never handed to a worker
    assert _status(served)[0] == "sent"
    assert _received(handset) == [f"{tanzania}: {served.body}"]


def test_the_daily_spend_cap_stops_bulk_but_keeps_a_share_for_codes_and_receipts(
    handset, queue, settings
):
    settings.SMS_PRICES = {"*": "1.00"}
    settings.SMS_DAILY_SPEND_CAPS = {"*": "10"}
    settings.SMS_URGENT_RESERVE = 0.2  # bulk may spend 8 of the 10
    maji = operator_make(slug="maji", timezone="Africa/Nairobi")
    other = operator_make(slug="other", timezone="Africa/Nairobi")
    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=NAIROBI), tick=False) as clock:
        reminders = [queue(f"+2547120001{i:02d}", MessageKind.REMINDER, operator=maji)
                     for i in range(9)]  # fmt: skip
        receipt = queue("+254712000200", MessageKind.RECEIPT, operator=maji)
        code = queue("+254712000201", MessageKind.OTP, operator=maji)
        code_over_cap = queue("+254712000202", MessageKind.OTP, operator=maji)
        other_operator = queue("+254712000203", MessageKind.REMINDER, operator=other)

        assert [_status(m)[0] for m in reminders[:8]] == ["sent"] * 8
        assert _status(reminders[8]) == ("queued", "spend_cap")
        assert reminders[8].not_before == datetime(2026, 11, 21, 0, 0, tzinfo=NAIROBI)
        assert _status(receipt)[0] == _status(code)[0] == "sent"
        assert _status(code_over_cap) == ("skipped", "spend_cap")  # a late code is useless
        assert _status(other_operator)[0] == "sent"

        clock.move_to(datetime(2026, 11, 21, 0, 0, tzinfo=NAIROBI))
        outbox_dispatch()

    assert _status(reminders[8])[0] == "sent"  # deferred to the next day, never dropped


def test_a_recipient_gets_messages_spaced_and_a_few_a_day_but_codes_always(
    handset, queue, settings
):
    settings.SMS_RECIPIENT_MIN_SPACING_SECONDS = 60
    settings.SMS_RECIPIENT_DAILY_MAX = 3
    phone = "+254712000300"
    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=NAIROBI), tick=False) as clock:
        first = queue(phone, MessageKind.NOTICE)
        second = queue(phone, MessageKind.RECEIPT)
        code = queue(phone, MessageKind.OTP)
        assert (_status(first)[0], _status(second), _status(code)[0]) == (
            "sent",
            ("queued", "spacing"),
            "sent",
        )
        assert second.not_before == datetime(2026, 11, 20, 10, 1, tzinfo=NAIROBI)

        clock.shift(60)
        outbox_dispatch()
        assert _status(second)[0] == "sent"
        clock.shift(60)
        third = queue(phone, MessageKind.BILL)
        clock.shift(60)
        fourth = queue(phone, MessageKind.BILL)
        assert _status(third)[0] == "sent"
        assert _status(fourth) == ("queued", "daily_limit")
        assert fourth.not_before == datetime(2026, 11, 21, 0, 0, tzinfo=NAIROBI)

        clock.move_to(datetime(2026, 11, 21, 0, 0, tzinfo=NAIROBI))
        outbox_dispatch()

    assert _status(fourth)[0] == "sent"
    assert len(_received(handset)) == 5


def test_a_burst_of_codes_to_one_number_range_is_flagged_then_blocked(handset, queue, settings):
    settings.SMS_OTP_PREFIX_TRIM = 3
    settings.SMS_OTP_PREFIX_FLAG = 2
    settings.SMS_OTP_PREFIX_BLOCK = 4

    codes = [queue(f"+254712345{n:03d}", MessageKind.OTP) for n in range(6)]
    elsewhere = queue("+254722000001", MessageKind.OTP)

    assert [(m.status, m.flagged) for m in codes] == [
        ("sent", False),
        ("sent", False),
        ("sent", True),
        ("sent", True),
        ("skipped", True),
        ("skipped", True),
    ]
    assert codes[-1].error == "otp_burst"
    assert (elsewhere.status, elsewhere.flagged) == ("sent", False)
    assert len(_received(handset)) == 5


def test_due_messages_go_out_most_urgent_first(handset, queue):
    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=NAIROBI), tick=False) as clock:
        later = datetime(2026, 11, 20, 10, 5, tzinfo=NAIROBI)
        kinds = [MessageKind.BROADCAST, MessageKind.REMINDER, MessageKind.BILL]
        kinds += [MessageKind.RECEIPT, MessageKind.OTP]
        for n, kind in enumerate(kinds):
            queue(f"+25471200040{n}", kind, body=f"{kind}", not_before=later)
        assert _received(handset) == []
        clock.move_to(later)
        outbox_dispatch()

    assert [line.split(": ")[1] for line in _received(handset)] == [
        "otp",
        "receipt",
        "bill",
        "reminder",
        "broadcast",
    ]


def test_bulk_queued_messages_are_handed_over_without_flooding_the_broker_or_duplicates(
    handset, settings, django_capture_on_commit_callbacks
):
    settings.SMS_DISPATCH_BATCH = 1
    settings.SMS_DISPATCH_MAX_IN_FLIGHT = 2
    specs = [
        MessageSpec(to=f"+2547120005{n:02d}", body=f"Bill {n}", kind=MessageKind.BILL,
                    idempotency_key=f"bill:{n}")
        for n in range(5)
    ]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        offered = message_queue_bulk(messages=[*specs, specs[0]])
    assert offered == 6
    assert OutboundMessage.objects.count() == 5
    assert len(_received(handset)) == 2  # the dispatch requested at commit: room for two

    assert outbox_dispatch() == {"dispatched": 2, "recovered": 0}
    assert outbox_dispatch() == {"dispatched": 1, "recovered": 0}
    assert outbox_dispatch() == {"dispatched": 0, "recovered": 0}
    assert sorted(_received(handset)) == sorted(f"{s.to}: {s.body}" for s in specs)


def test_codes_cannot_be_queued_in_bulk():
    spec = MessageSpec(to="+254712000600", body="1234", kind=MessageKind.OTP, idempotency_key="x")

    with pytest.raises(ValueError):
        message_queue_bulk(messages=[spec])
    assert not OutboundMessage.objects.exists()


def test_a_task_for_a_message_that_is_not_due_does_nothing(handset, queue):
    from sms.tasks import message_send

    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=NAIROBI), tick=False):
        later = datetime(2026, 11, 20, 12, 0, tzinfo=NAIROBI)
        message = queue("+254712000700", MessageKind.NOTICE, not_before=later)
        message_send.apply(args=(message.pk,))

    assert _status(message) == ("queued", "")
    assert _received(handset) == []
