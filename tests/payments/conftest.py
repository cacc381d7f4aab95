"""Fixtures of the payments tests: configured providers and accounts.

Tests run with DEBUG off, so no provider is configured unless a fixture sets one:
`sandbox` configures the sandbox operator (callbacks held until flushed), `mpesa` configures
M-Pesa against an address nothing listens on (a test that needs HTTP starts a simulator).
"""

import copy

import pytest

from payments.simulators.sandbox import sandbox_operator
from tests.billing.factories import account_make, invoice_make
from tests.payments.support import SANDBOX_CONF, mpesa_conf


@pytest.fixture
def sandbox(settings):
    settings.PAYMENT_PROVIDERS = {"sandbox": copy.deepcopy(SANDBOX_CONF)}
    settings.PUBLIC_BASE_URL = "http://testserver"
    _reset_sandbox()
    yield sandbox_operator
    _reset_sandbox()


def _reset_sandbox() -> None:
    sandbox_operator._stopping.set()  # wake threads still waiting to call back
    sandbox_operator.wait_idle()
    sandbox_operator._stopping.clear()
    with sandbox_operator._lock:
        sandbox_operator._pending.clear()
        sandbox_operator._scripts.clear()
        sandbox_operator.sent.clear()
    sandbox_operator.pushes.clear()


@pytest.fixture
def mpesa(settings):
    settings.PAYMENT_PROVIDERS = {"mpesa": mpesa_conf()}
    settings.PUBLIC_BASE_URL = "http://testserver"
    return settings.PAYMENT_PROVIDERS["mpesa"]


@pytest.fixture
def account(db):
    """A KES account that owes KES 1,200 (one invoice)."""
    account = account_make(currency="KES")
    invoice_make(account=account, net_minor=120_000)
    return account
