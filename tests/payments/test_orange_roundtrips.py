"""Orange Money payments with the real provider class against the simulator: init,
notification, transaction status, token caching."""

import json
import logging
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from billing.money import Money
from payments.providers.base import InboundCallback, Outcome, ProviderError, PushRequest
from payments.providers.orange_money import OrangeWebPayProvider
from payments.simulators.base import Reply, SimulatorServer
from payments.simulators.orange import CLIENT_ID, CLIENT_SECRET, OrangeSimulator

FIXTURES = Path(settings.BASE_DIR).parent / "shared" / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


class Receiver(SimulatorServer):
    """Our side of the callbacks: keeps every request as received."""

    name = "receiver"
    routes = [("POST", r"/.*", "take"), ("PUT", r"/.*", "take")]

    def take(self, request):
        return Reply(200, {"status": "accepted"})

    def callbacks(self, kind: str) -> list[InboundCallback]:
        raw = [r for r in self.requests if r.method in ("POST", "PUT")]
        return [
            InboundCallback(kind, r.method, r.headers, json.dumps(r.json).encode(), "127.0.0.1")
            for r in raw
        ]


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def sim():
    # Scheduled work waits for deliver_pending(): the customer pays when the test says so.
    with OrangeSimulator(currency="XOF", callback_delay=None) as server:
        yield server


def make_provider(sim: OrangeSimulator, **options) -> OrangeWebPayProvider:
    defaults = {
        "base_url": sim.base_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "merchant_key": sim.merchant_key,
        "country": "dev",
        "callback_token": "url-token",
    }
    return OrangeWebPayProvider(**{**defaults, **options})


XOF_1500 = Money(1500, "XOF")


def push_request(receiver=None, amount=XOF_1500, **fields) -> PushRequest:
    callback = f"{receiver.base_url}/payments/orange/notify/url-token/" if receiver else ""
    defaults = {
        "reference": uuid.uuid4().hex,
        "phone": "+2250701020304",
        "amount": amount,
        "account_number": "CI-100234",
        "description": "Eau Abidjan",
        "callback_url": callback or "https://billing.example.com/payments/orange/notify/t/",
    }
    return PushRequest(**{**defaults, **fields})


def test_init_sends_the_documented_fields_and_keeps_the_notif_token_out_of_provider_data(
    sim, receiver
):
    request = push_request(receiver)
    started = make_provider(sim).push_start(request)

    sent = next(r for r in sim.requests if r.path.endswith("/webpayment"))
    documented = fixture("orange_webpay_init_request")["payload"]
    assert set(sent.json) == set(documented)
    assert sent.path == "/orange-money-webpay/dev/v1/webpayment"
    assert sent.json["currency"] == "OUV"
    assert sent.json["amount"] == 1500 and type(sent.json["amount"]) is int
    assert sent.json["order_id"] == request.reference[:30]
    assert sent.json["notif_url"] == request.callback_url
    assert sent.headers["Authorization"].startswith("Bearer ")

    payment = sim.payments[started.provider_reference]
    assert started.callback_key == payment.notif_token
    assert payment.notif_token not in json.dumps(started.provider_data)
    assert set(started.provider_data) == {"pay_token", "payment_url", "order_id"}
    assert started.provider_data["payment_url"] in started.customer_message


def test_payment_round_trip_notification_then_status_agree(sim, receiver):
    provider = make_provider(sim)
    request = push_request(receiver)
    started = provider.push_start(request)
    query = {
        "provider_reference": started.provider_reference,
        "provider_data": started.provider_data,
        "amount": request.amount,
    }
    assert provider.status_query(**query).outcome == Outcome.PENDING

    sim.deliver_pending()
    [callback] = receiver.callbacks("notify")
    event = provider.callback_parse(callback)
    verdict = provider.status_query(**query)

    assert event.callback_key == started.callback_key
    assert event.verdict.outcome == verdict.outcome == Outcome.SUCCEEDED
    assert event.verdict.receipt == verdict.receipt == event.event_key
    status_call = [r for r in sim.requests if r.path.endswith("/transactionstatus")][-1]
    assert set(status_call.json) == set(fixture("orange_transactionstatus_request")["payload"])


def test_failed_payment_notifies_failed_and_status_says_failed(sim, receiver):
    provider = make_provider(sim)
    sim.script("fail:60019")
    request = push_request(receiver)
    started = provider.push_start(request)
    sim.deliver_pending()
    [callback] = receiver.callbacks("notify")
    assert provider.callback_parse(callback).verdict.outcome == Outcome.FAILED
    verdict = provider.status_query(
        provider_reference=started.provider_reference,
        provider_data=started.provider_data,
        amount=request.amount,
    )
    assert verdict.outcome == Outcome.FAILED


@pytest.mark.parametrize(("script", "outcome"), [("never", "SUCCESS"), ("fail:EXPIRED", "EXPIRED")])
def test_payments_without_notification_are_still_answered_by_the_status_query(
    sim, receiver, script, outcome
):
    provider = make_provider(sim)
    sim.script(script)
    request = push_request(receiver)
    started = provider.push_start(request)
    sim.deliver_pending()
    assert receiver.requests == []
    verdict = provider.status_query(
        provider_reference=started.provider_reference,
        provider_data=started.provider_data,
        amount=request.amount,
    )
    expected = {"SUCCESS": Outcome.SUCCEEDED, "EXPIRED": Outcome.EXPIRED}[outcome]
    assert verdict.outcome == expected


def test_a_notification_sent_twice_carries_the_same_event_key(sim, receiver):
    provider = make_provider(sim)
    sim.script("twice")
    provider.push_start(push_request(receiver))
    sim.deliver_pending()
    first, second = (provider.callback_parse(c) for c in receiver.callbacks("notify"))
    assert first.event_key == second.event_key


def test_token_is_fetched_once_then_again_after_orange_revokes_it(sim, receiver):
    provider = make_provider(sim)
    provider.push_start(push_request(receiver))
    provider.push_start(push_request(receiver))
    tokens = [r for r in sim.requests if r.path == "/oauth/v3/token"]
    assert len(tokens) == 1
    assert tokens[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert cache.get(provider.token_cache_key)

    sim.expire_tokens()
    provider.push_start(push_request(receiver))
    assert len([r for r in sim.requests if r.path == "/oauth/v3/token"]) == 2
    assert len([r for r in sim.requests if r.path.endswith("/webpayment")]) == 4


def test_live_country_sends_its_currency_and_refuses_another(sim, receiver):
    provider = make_provider(sim, country="ci", currency="XOF")
    provider.push_start(push_request(receiver, amount=Money(2500, "XOF")))
    assert sim.requests[-1].json["currency"] == "XOF"
    assert sim.requests[-1].path == "/orange-money-webpay/ci/v1/webpayment"
    with pytest.raises(ProviderError) as refused:
        provider.push_start(push_request(receiver, amount=Money(2500, "XAF")))
    assert refused.value.code == "currency"


def test_a_notif_url_over_120_characters_is_refused_before_calling_orange(sim):
    long_url = "https://billing.example.com/payments/orange/notify/" + "t" * 80 + "/"
    with pytest.raises(ProviderError) as refused:
        make_provider(sim).push_start(push_request(callback_url=long_url))
    assert refused.value.code == "url"
    assert sim.requests == []


def test_orange_refusal_becomes_a_provider_error_with_its_code(sim, receiver):
    provider = make_provider(sim, merchant_key="wrong-key")
    with pytest.raises(ProviderError) as refused:
        provider.push_start(push_request(receiver))
    assert refused.value.code == "1"
    assert refused.value.transient is False


def test_no_token_secret_or_notif_token_reaches_the_logs(sim, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    provider = make_provider(sim)
    request = push_request(receiver)
    started = provider.push_start(request)
    sim.deliver_pending()
    provider.callback_parse(receiver.callbacks("notify")[0])
    provider.status_query(
        provider_reference=started.provider_reference,
        provider_data=started.provider_data,
        amount=request.amount,
    )
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in (CLIENT_SECRET, cache.get(provider.token_cache_key), started.callback_key):
        assert secret not in logged
