"""Fixtures of the USSD tests: demo-like customers, the gateway driver, the sandbox operator."""

import copy

import pytest

from payments.simulators.sandbox import sandbox_operator
from tests.payments.support import SANDBOX_CONF
from tests.ussd.support import AtGateway, demo_make
from ussd.tasks import payment_start, reading_record


@pytest.fixture
def demo(db):
    return demo_make()


@pytest.fixture
def at(client):
    """at(phone) -> a new Africa's Talking session for that phone."""

    def start(phone: str, **kwargs) -> AtGateway:
        return AtGateway(client, phone, **kwargs)

    return start


@pytest.fixture
def sandbox(settings):
    """The sandbox operator as the only provider; its callbacks wait for the test to send them."""
    settings.PAYMENT_PROVIDERS = {"sandbox": copy.deepcopy(SANDBOX_CONF)}
    settings.PUBLIC_BASE_URL = "http://testserver"
    with sandbox_operator._lock:
        sandbox_operator._pending.clear()
        sandbox_operator.sent.clear()
    sandbox_operator.pushes.clear()
    yield sandbox_operator
    with sandbox_operator._lock:
        sandbox_operator._pending.clear()
    sandbox_operator.pushes.clear()


@pytest.fixture
def in_worker(monkeypatch, django_capture_on_commit_callbacks):
    """in_worker(hop) -> what `hop()` (a function sending hops) returned, with the tasks the hops
    handed over then run in this process, as a worker would once the hops' sessions were
    saved. Tasks those tasks enqueue on commit (the push) are returned, not run."""
    for task in (payment_start, reading_record):
        monkeypatch.setattr(task, "delay", lambda *args, task=task: task.apply(args=args))

    def run(hop):
        with django_capture_on_commit_callbacks(execute=False) as handed:
            answer = hop()
        with django_capture_on_commit_callbacks(execute=False) as enqueued:
            for task in handed:
                task()
        run.handed, run.enqueued = len(handed), enqueued
        return answer

    return run
