"""The real path: a committed message travels through the broker to a Celery worker and out.

Needs a worker on the same broker and test database (`.ci/run` starts one); skips without one,
fails instead under MALIPO_REQUIRE_REAL_STACK=1. Both processes must share SMS_CONSOLE_FILE.
"""

import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from sms.models import MessageKind, MessageStatus, OutboundMessage
from sms.services import MessageSpec, message_queue, message_queue_bulk

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# How long the worker may take to pick a message up and send it.
WORKER_DEADLINE_SECONDS = 20


def _wait_until_sent(*message_ids: int) -> dict[int, str]:
    """Poll the database (the worker is another process) until every message left the outbox."""
    deadline = time.monotonic() + WORKER_DEADLINE_SECONDS
    while True:
        rows = OutboundMessage.objects.filter(pk__in=message_ids)
        statuses = dict(rows.values_list("pk", "status"))
        if all(statuses.get(pk) == MessageStatus.SENT for pk in message_ids):
            return statuses
        if time.monotonic() > deadline:
            pytest.fail(f"worker did not send within {WORKER_DEADLINE_SECONDS}s: {statuses}")
        time.sleep(0.1)


def test_worker_sends_committed_messages_from_both_queues_once():
    tag = uuid.uuid4().hex[:10]
    code = str(uuid.uuid4().int)[-6:]
    otp_text = f"Malipo {tag}: your code is {code}"
    notice_text = f"Malipo {tag}: water off on Tuesday"

    otp = message_queue(
        to="+254712345678",
        body=otp_text,
        kind=MessageKind.OTP,
        idempotency_key=f"worker-test:otp:{tag}",
        secret=code,
    )
    notice = message_queue(
        to="+254712345679",
        body=notice_text,
        kind=MessageKind.NOTICE,
        idempotency_key=f"worker-test:notice:{tag}",
    )

    _wait_until_sent(otp.pk, notice.pk)

    otp.refresh_from_db()
    assert otp.gateway == "console"
    assert otp.sealed_body == ""
    assert code not in otp.body
    handset = Path(settings.SMS_CONSOLE_FILE).read_text(encoding="utf-8").splitlines()
    mine = [line for line in handset if tag in line]
    assert len(mine) == 2
    assert any(line.endswith(f"to +254712345678: {otp_text}") for line in mine)
    assert any(line.endswith(f"to +254712345679: {notice_text}") for line in mine)


def test_worker_sends_a_bulk_run_in_batches_each_message_once(settings):
    tag = uuid.uuid4().hex[:10]
    specs = [
        MessageSpec(
            to=f"+2547130{n:05d}",
            body=f"Malipo {tag}: bill {n} is ready",
            kind=MessageKind.BILL,
            idempotency_key=f"worker-test:bill:{tag}:{n}",
        )
        for n in range(3 * settings.SMS_SEND_BATCH + 1)
    ]
    message_queue_bulk(messages=specs)  # the dispatcher runs in the worker once committed
    ids = list(
        OutboundMessage.objects.filter(idempotency_key__contains=tag).values_list("pk", flat=True)
    )

    _wait_until_sent(*ids)

    rows = OutboundMessage.objects.filter(pk__in=ids)
    assert {(r.attempts, r.gateway, r.claim) for r in rows} == {(1, "console", "")}
    handset = Path(settings.SMS_CONSOLE_FILE).read_text(encoding="utf-8").splitlines()
    assert sorted(line.split(": ", 1)[1] for line in handset if tag in line) == sorted(
        s.body for s in specs
    )
