"""The outbox seam: a message is recorded in the caller's transaction and sent once, after it."""

from pathlib import Path

import pytest
import time_machine
from cryptography.fernet import InvalidToken
from django.db import transaction

from sms import tasks
from sms.dispatch import outbox_dispatch
from sms.gateways.base import GatewayUnavailable, OutgoingSms, SendResult
from sms.models import MessageKind, MessageStatus, OutboundMessage
from sms.sealing import body_unseal
from sms.services import message_deliver, message_queue

pytestmark = pytest.mark.django_db

TO = "+254712345678"


class Boom(Exception):
    pass


@pytest.fixture
def handset(settings, tmp_path) -> Path:
    """The console gateway's file: what the recipient's phone would show, one line a message."""
    settings.SMS_ROUTES = ["*:console"]
    settings.SMS_CONSOLE_FILE = str(tmp_path / "handset.log")
    return Path(settings.SMS_CONSOLE_FILE)


def _lines(handset: Path) -> list[str]:
    return handset.read_text(encoding="utf-8").splitlines() if handset.exists() else []


class _RecordingTask:
    """Stands in for the Celery task: records each enqueue, then runs the real task in-process."""

    def __init__(self, task):
        self.task = task
        self.calls: list[tuple[tuple, str]] = []
        self.priorities: list[int] = []

    def apply_async(self, args, queue, priority):
        self.calls.append((args, queue))
        self.priorities.append(priority)
        self.task(*args)


@pytest.fixture
def enqueued(monkeypatch) -> _RecordingTask:
    recorder = _RecordingTask(tasks.message_send)
    monkeypatch.setattr(tasks, "message_send", recorder)
    return recorder


def _queue(key="notice:1", *, kind=MessageKind.NOTICE, body="Water off on Tuesday", secret=None):
    return message_queue(to=TO, body=body, kind=kind, idempotency_key=key, secret=secret)


def test_message_is_enqueued_only_after_the_callers_transaction_commits(
    handset, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = _queue()
        assert OutboundMessage.objects.filter(pk=message.pk).exists()
        assert enqueued.calls == []

    assert enqueued.calls == [((message.pk,), "default")]
    assert _lines(handset)[0].endswith(f"to {TO}: Water off on Tuesday")


def test_rolled_back_transaction_leaves_no_message_and_enqueues_nothing(
    handset, enqueued, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        _queue()
        raise Boom

    assert callbacks == []
    assert enqueued.calls == []
    assert not OutboundMessage.objects.exists()
    assert _lines(handset) == []


def test_same_idempotency_key_queued_twice_records_one_message_and_sends_once(
    handset, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = _queue("receipt:42", kind=MessageKind.RECEIPT, body="Paid KES 1,500.00")
    with django_capture_on_commit_callbacks(execute=True):
        again = _queue("receipt:42", kind=MessageKind.RECEIPT, body="Paid KES 1,500.00")

    assert again.pk == first.pk
    assert OutboundMessage.objects.count() == 1
    assert len(enqueued.calls) == 1
    assert len(_lines(handset)) == 1


def test_delivering_a_message_twice_sends_it_once(handset, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        message = _queue()

    message_deliver(message_id=message.pk)
    message_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.attempts == 1
    assert message.gateway == "console"
    assert message.gateway_message_id.startswith("console-")
    assert len(_lines(handset)) == 1


def _stored_text(message: OutboundMessage) -> str:
    row = OutboundMessage.objects.filter(pk=message.pk).values().get()
    return " ".join(str(value) for value in row.values())


def test_secret_is_never_stored_readable_yet_reaches_the_handset(
    handset, enqueued, settings, django_capture_on_commit_callbacks
):
    body = "Your Malipo code is 493817"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = _queue("otp:7", kind=MessageKind.OTP, body=body, secret="493817")

    message.refresh_from_db()
    assert message.body == "Your Malipo code is ******"
    assert "493817" not in _stored_text(message)
    settings.SMS_OUTBOX_SEAL_KEY = "some-other-key"
    with pytest.raises(InvalidToken):
        body_unseal(message.sealed_body)

    settings.SMS_OUTBOX_SEAL_KEY = ""
    callbacks[0]()

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.sealed_body == ""
    assert "493817" not in _stored_text(message)
    assert _lines(handset)[0].endswith(f"to {TO}: {body}")


@pytest.mark.parametrize(
    ("kind", "queue", "priority"),
    [
        (MessageKind.OTP, "urgent", 0),
        (MessageKind.RECEIPT, "urgent", 1),
        (MessageKind.REPLY, "default", 2),
        (MessageKind.BILL, "default", 3),
        (MessageKind.NOTICE, "default", 3),
        (MessageKind.REMINDER, "default", 6),
        (MessageKind.BROADCAST, "default", 9),
    ],
)
def test_codes_and_receipts_travel_on_the_urgent_queue_and_the_rest_by_priority(
    kind, queue, priority, handset, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = _queue(f"{kind}:1", kind=kind)

    assert enqueued.calls == [((message.pk,), queue)]
    assert enqueued.priorities == [priority]


def test_unknown_kind_is_refused_and_nothing_is_recorded(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ValueError):
        _queue(kind="spam")

    assert callbacks == []
    assert not OutboundMessage.objects.exists()


class FlakyGateway:
    """Unavailable for the first `outage` sends, then takes messages like the console."""

    outage = 0
    texts: list[str] = []

    def __init__(self, *, name: str) -> None:
        self.name = name

    def send(self, message: OutgoingSms) -> SendResult:
        if FlakyGateway.outage > 0:
            FlakyGateway.outage -= 1
            raise GatewayUnavailable("503 from gateway")
        FlakyGateway.texts.append(message.text)
        return SendResult(gateway_message_id="flaky-1")


@pytest.fixture
def flaky_gateway(settings):
    settings.SMS_GATEWAYS = {"flaky": {"class": "tests.sms.test_outbox.FlakyGateway"}}
    settings.SMS_ROUTES = ["*:flaky"]
    FlakyGateway.texts = []
    return FlakyGateway


def _queued_otp(django_capture_on_commit_callbacks) -> OutboundMessage:
    with django_capture_on_commit_callbacks(execute=False):
        return _queue("otp:9", kind=MessageKind.OTP, body="Code 551234", secret="551234")


def test_gateway_outage_is_retried_with_backoff_until_the_message_is_sent(
    flaky_gateway, settings, django_capture_on_commit_callbacks
):
    settings.SMS_RETRY_BASE_SECONDS = 30
    with time_machine.travel("2026-11-20 10:00 +03:00", tick=False) as clock:
        message = _queued_otp(django_capture_on_commit_callbacks)
        flaky_gateway.outage = 2

        tasks.message_send.apply(args=(message.pk,))
        message.refresh_from_db()
        assert (message.status, message.defer_reason, message.attempts) == ("queued", "retry", 1)
        clock.shift(29)
        outbox_dispatch()  # not due yet: nothing is tried
        assert flaky_gateway.outage == 1
        clock.shift(1)
        outbox_dispatch()  # 30 s after the first failure: second try, fails
        clock.shift(59)
        outbox_dispatch()  # the backoff doubled: not due yet
        assert flaky_gateway.texts == []
        clock.shift(1)
        outbox_dispatch()  # 60 s after the second failure: sent

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.attempts == 3
    assert message.error == ""
    assert flaky_gateway.texts == ["Code 551234"]


def test_gateway_that_stays_unavailable_fails_the_message_and_wipes_its_secret(
    flaky_gateway, settings, django_capture_on_commit_callbacks
):
    settings.SMS_MAX_ATTEMPTS = 4
    with time_machine.travel("2026-11-20 10:00 +03:00", tick=False) as clock:
        message = _queued_otp(django_capture_on_commit_callbacks)
        flaky_gateway.outage = 100
        tasks.message_send.apply(args=(message.pk,))
        for _ in range(4):  # tries at 0, 2, 4 and 6 min: within the code's lifetime
            clock.shift(120)
            outbox_dispatch()

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.attempts == 4
    assert message.sealed_body == ""
    assert "503 from gateway" in message.error
    assert flaky_gateway.texts == []


def test_code_that_could_not_go_out_within_its_lifetime_is_never_sent_late(
    flaky_gateway, django_capture_on_commit_callbacks
):
    with time_machine.travel("2026-11-20 10:00 +03:00", tick=False) as clock:
        message = _queued_otp(django_capture_on_commit_callbacks)
        flaky_gateway.outage = 1
        tasks.message_send.apply(args=(message.pk,))
        clock.shift(11 * 60)  # the gateway is back, but the code has expired
        outbox_dispatch()

    message.refresh_from_db()
    assert (message.status, message.error, message.sealed_body) == ("skipped", "expired", "")
    assert flaky_gateway.texts == []
