"""The embedded default: messages are written to a file (and the terminal) instead of a phone.

This file stands in for the recipient's handset, so it is where `make run` shows activation
codes. It is not the application log, which never carries a code: the text is echoed only to
an interactive terminal, never to a redirected stdout such as a Celery worker's log file.
"""

import sys
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from sms.gateways.base import OutgoingSms, SendResult


class ConsoleGateway:
    def __init__(self, *, name: str = "console") -> None:
        self.name = name

    def send(self, message: OutgoingSms) -> SendResult:
        line = f"{timezone.now():%Y-%m-%d %H:%M:%S} to {message.to}: {message.text}\n"
        path = Path(settings.SMS_CONSOLE_FILE)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handset:
            handset.write(line)
        if sys.stdout.isatty():
            sys.stdout.write(f"[sms] {line}")
        return SendResult(gateway_message_id=f"console-{uuid.uuid4().hex[:12]}")
