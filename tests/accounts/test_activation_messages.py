"""What a phone receives when an activation starts: its code, or a notice to its owner."""

import re
from pathlib import Path

import pytest

from accounts.models import SmsCode, User
from sms import notifications, tasks
from sms.models import MessageKind, OutboundMessage
from sms.notifications import (
    ACTIVATION_CODE_TEXTS,
    ACTIVATION_OWNER_NOTICE_TEXTS,
    activation_code_send,
    activation_code_text,
    activation_owner_notice_text,
)

pytestmark = pytest.mark.django_db

PHONE = "+254712345678"
# GSM 03.38 basic character set: a text made only of these costs one 7-bit SMS part.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


class _InProcess:
    """Stands in for the Celery task: runs it at once, in this process (no broker needed)."""

    def __init__(self, task):
        self.task = task

    def apply_async(self, args, **options):
        self.task(*args)


@pytest.fixture
def handset(settings, tmp_path, monkeypatch) -> Path:
    """The console gateway's file: what the phone shows, one line a message."""
    settings.SMS_GATEWAY = "sms.gateways.console.ConsoleGateway"
    settings.SMS_CONSOLE_FILE = str(tmp_path / "handset.log")
    monkeypatch.setattr(tasks, "message_send", _InProcess(tasks.message_send))
    return Path(settings.SMS_CONSOLE_FILE)


def _received(handset: Path) -> list[str]:
    if not handset.exists():
        return []
    return [line.split(": ", 1)[1] for line in handset.read_text("utf-8").splitlines()]


@pytest.mark.parametrize("language", ["en", "fr", "sw"])
def test_every_text_fits_one_gsm7_sms(language):
    for text in (
        activation_code_text(code="000000", language=language),
        activation_owner_notice_text(language=language),
    ):
        assert set(text) <= GSM7, set(text) - GSM7
        assert len(text) <= 160


def test_texts_exist_in_english_french_and_swahili():
    assert set(ACTIVATION_CODE_TEXTS) == set(ACTIVATION_OWNER_NOTICE_TEXTS) == {"en", "fr", "sw"}


def test_code_text_carries_the_code_and_its_lifetime():
    text = activation_code_text(code="042917", language="en")

    assert text == "Malipo code: 042917. It expires in 10 minutes. Never share it."


def test_unknown_language_falls_back_to_english():
    assert activation_code_text(code="1", language="xx") == activation_code_text(
        code="1", language="en"
    )


def test_code_is_queued_masked_and_arrives_in_the_users_language(
    handset, django_capture_on_commit_callbacks
):
    User.objects.create_user(PHONE, language="fr")

    with django_capture_on_commit_callbacks(execute=True):
        send = activation_code_send(phone=PHONE, ip=None)

    message = OutboundMessage.objects.get()
    assert message.kind == MessageKind.OTP
    assert message.idempotency_key == f"otp:{send.challenge_id}"
    assert send.code not in message.body and "******" in message.body
    assert message.sealed_body == ""  # wiped once sent
    assert _received(handset) == [
        f"Code Malipo : {send.code}. Il expire dans 10 minutes. Ne le partagez jamais."
    ]


def test_active_phone_owner_gets_a_notice_and_no_code(handset, django_capture_on_commit_callbacks):
    User.objects.create_user(PHONE, "correct horse battery staple", is_active=True)

    with django_capture_on_commit_callbacks(execute=True):
        activation_code_send(phone=PHONE, ip=None)

    assert OutboundMessage.objects.get().kind == MessageKind.NOTICE
    (text,) = _received(handset)
    assert text.startswith("Someone asked to register this number on Malipo.")
    assert not re.search(r"\d{6}", text)


def test_challenge_and_message_are_written_together_or_not_at_all(monkeypatch):
    def outbox_down(**kwargs):
        raise ConnectionError("outbox unavailable")

    monkeypatch.setattr(notifications, "message_queue", outbox_down)

    with pytest.raises(ConnectionError):
        activation_code_send(phone=PHONE, ip=None)

    assert not SmsCode.objects.exists()
    assert not User.objects.exists()
