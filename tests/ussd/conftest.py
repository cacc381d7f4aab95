"""Fixtures of the USSD tests: demo-like customers, the gateway driver, the sandbox operator."""

import copy

import pytest

from payments.simulators.sandbox import sandbox_operator
from tests.payments.support import SANDBOX_CONF
from tests.ussd.support import AtGateway, demo_make


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
