"""Sent once: a task run twice, two workers at once, a worker killed mid-send."""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from sms import pipeline, tasks
from sms.claims import claims_take
from sms.dispatch import outbox_dispatch
from sms.models import MessageKind, MessageStatus, OutboundMessage

KENYA = "+254712345678"
WORKER_SCRIPT = """
import sys, django
django.setup()
from sms.pipeline import message_deliver
message_deliver(message_id=int(sys.argv[1]))
"""


def _waiting_message(**fields) -> OutboundMessage:
    """A committed message no worker has been handed yet."""
    return OutboundMessage.objects.create(
        to=KENYA,
        kind=MessageKind.NOTICE,
        body="Water off on Tuesday",
        idempotency_key=f"notice:{fields.pop('n', 1)}",
        dispatched_at=timezone.now(),
        **fields,
    )


@pytest.mark.django_db
def test_a_task_run_twice_sends_once(gateways):
    message = _waiting_message()

    tasks.message_send.apply(args=(message.pk,))
    tasks.message_send.apply(args=(message.pk,))

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 1)
    assert len(gateways.sent) == 1
    assert gateways.arrivals["africastalking"] == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_same_task_at_once_send_once(gateways):
    message = _waiting_message()
    release = threading.Event()
    gateways.plan("africastalking", ("hold", release))

    def first_worker():
        try:
            pipeline.message_deliver(message_id=message.pk)
        finally:
            connection.close()

    first = threading.Thread(target=first_worker)
    first.start()
    assert gateways.holding.wait(timeout=10)  # the first worker is inside the gateway call

    pipeline.message_deliver(message_id=message.pk)  # a re-delivered task
    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING  # it saw the claim and did nothing
    release.set()
    first.join(timeout=10)

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 1)
    assert gateways.arrivals["africastalking"] == 1
    assert len(gateways.sent) == 1


def _database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_is_taken_over_after_its_lease_and_sends_once(gateways, settings):
    message = _waiting_message()
    release = threading.Event()
    gateways.plan("africastalking", ("hold", release))
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": _database_url(),
        "AFRICASTALKING_ENABLED": "true",
        "AFRICASTALKING_USERNAME": "malipo",
        "AFRICASTALKING_API_KEY": "at-key",
        "AFRICASTALKING_BASE_URL": gateways.url,
        "SMS_ROUTES": "+254:africastalking",
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, str(message.pk)],
        cwd=Path(django_settings.BASE_DIR),
        env=env,
    )
    try:
        assert gateways.holding.wait(timeout=30)  # the worker claimed it and is sending
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    release.set()  # the gateway notices its client is gone and takes nothing

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sending", 1)
    assert outbox_dispatch() == {"dispatched": 0, "recovered": 0}  # the lease still holds
    lease_over = message.lease_until + timedelta(seconds=1)
    with time_machine.travel(lease_over, tick=False):
        assert outbox_dispatch() == {"dispatched": 0, "recovered": 1}
        assert outbox_dispatch() == {"dispatched": 0, "recovered": 0}

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)
    assert gateways.arrivals["africastalking"] == 2
    assert [s.to for s in gateways.sent] == [KENYA]


@pytest.mark.django_db
def test_a_worker_that_outlives_its_lease_cannot_undo_the_takeover(gateways):
    """The at-least-once window (documented in sms.pipeline): a send that overran its lease
    and was taken over is sent twice, but the record of the takeover stands."""
    message = _waiting_message()
    (slow,) = claims_take([message.pk])
    message.refresh_from_db()
    with time_machine.travel(message.lease_until + timedelta(seconds=1), tick=False):
        outbox_dispatch()  # the takeover sends it
        message.refresh_from_db()
        taken_over = (message.status, message.gateway_message_id)

        late = pipeline._Batch([slow])
        late.record(slow, late.send(0, patience_until=0))
        late.finish()

    message.refresh_from_db()
    assert taken_over[0] == "sent"
    assert (message.status, message.gateway_message_id) == taken_over
    assert len(gateways.sent) == 2
