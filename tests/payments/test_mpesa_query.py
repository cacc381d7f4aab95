"""STK query against the fake Daraja: pending while Daraja is "processing", then the result,
with retries only where they can help."""

import pytest
import requests

from billing.money import Money
from payments.providers.base import Outcome, ProviderError
from payments.simulators.daraja import DarajaSimulator
from tests.payments.mpesa_support import SECRET, provider_for, push


@pytest.fixture(autouse=True)
def _no_backoff(settings):
    settings.PAYMENTS_HTTP_BACKOFF = 0
    settings.PAYMENTS_HTTP_TIMEOUT = 5.0


@pytest.fixture
def daraja():
    with DarajaSimulator(callback_delay=None) as sim:
        yield sim


@pytest.fixture
def mpesa(daraja):
    return provider_for(daraja)


def test_stk_query_is_pending_while_processed_then_gives_the_result(daraja, mpesa):
    started = push(mpesa)
    ask = {
        "provider_reference": started.provider_reference,
        "provider_data": {},
        "amount": Money.of("1200", "KES"),
    }

    pending = mpesa.status_query(**ask)
    daraja.deliver_pending()
    final = mpesa.status_query(**ask)

    assert pending.outcome == Outcome.PENDING
    assert final.outcome == Outcome.SUCCEEDED
    queries = [r for r in daraja.requests if r.path == "/mpesa/stkpushquery/v1/query"]
    assert len(queries) == 2  # "being processed" is an answer, not an outage to retry


class SpikeArrestOnce(DarajaSimulator):
    def stk_query(self, request):
        if not getattr(self, "arrested", False):
            self.arrested = True
            return self.error(500, "500.003.02", "Spike Arrest Violation")
        return super().stk_query(request)


def test_a_query_refused_by_spike_arrest_is_retried():
    with SpikeArrestOnce(callback_delay=None) as sim:
        mpesa = provider_for(sim)
        started = push(mpesa)
        verdict = mpesa.status_query(
            provider_reference=started.provider_reference,
            provider_data={},
            amount=Money.of(1, "KES"),
        )

        queries = [r for r in sim.requests if r.path == "/mpesa/stkpushquery/v1/query"]
        assert (verdict.outcome, len(queries)) == (Outcome.PENDING, 2)


def test_a_query_with_wrong_credentials_is_a_permanent_error_at_once(daraja):
    started = push(provider_for(daraja))

    with pytest.raises(ProviderError) as caught:
        provider_for(daraja, passkey="wrong").status_query(
            provider_reference=started.provider_reference,
            provider_data={},
            amount=Money.of(1, "KES"),
        )

    assert (caught.value.code, caught.value.transient) == ("500.001.1001", False)
    assert len([r for r in daraja.requests if r.path == "/mpesa/stkpushquery/v1/query"]) == 1


@pytest.mark.parametrize(
    ("script", "outcome", "message"),
    [
        ("fail:1032", Outcome.CANCELLED, "You cancelled the payment."),
        ("fail:1037", Outcome.FAILED, "No answer from your phone."),
        ("fail:2001", Outcome.FAILED, "Wrong PIN."),
        ("fail:1019", Outcome.EXPIRED, "The payment request expired."),
    ],
)
def test_stk_query_reports_failures_readably(daraja, mpesa, script, outcome, message):
    daraja.script(script)
    started = push(mpesa)
    daraja.deliver_pending()

    verdict = mpesa.status_query(
        provider_reference=started.provider_reference, provider_data={}, amount=Money.of(1, "KES")
    )

    assert (verdict.outcome, verdict.failure_message) == (outcome, message)


def test_a_replaced_token_is_dropped_and_the_next_call_fetches_a_new_one(daraja, mpesa):
    started = push(mpesa)
    requests.get(  # another app with the same keys takes a new token: ours stops working
        f"{daraja.base_url}/oauth/v1/generate?grant_type=client_credentials",
        auth=("sim-consumer-key", SECRET),
        timeout=5,
    )
    ask = {
        "provider_reference": started.provider_reference,
        "provider_data": {},
        "amount": Money.of(1, "KES"),
    }

    with pytest.raises(ProviderError) as caught:
        mpesa.status_query(**ask)
    verdict = mpesa.status_query(**ask)

    assert (caught.value.code, caught.value.transient) == ("404.001.03", True)
    assert verdict.outcome == Outcome.PENDING
    assert daraja.oauth_calls == 3
