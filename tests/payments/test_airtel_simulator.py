"""Airtel Money collections against the simulator: push, signed callback, enquiry."""

import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from billing.money import Money
from payments.providers.airtel_money import AirtelMoneyProvider
from payments.providers.base import (
    CallbackRejected,
    InboundCallback,
    Outcome,
    ProviderError,
    PushRequest,
)
from payments.simulators.airtel import CLIENT_ID, CLIENT_SECRET, AirtelSimulator
from payments.simulators.base import Reply, SimulatorServer

FIXTURES = Path(settings.BASE_DIR).parent / "shared" / "fixtures"
PRIVATE_KEY = "airtel-private-key-for-tests"


class Receiver(SimulatorServer):
    """Our side of the callbacks: keeps every request as received."""

    name = "receiver"
    routes = [("POST", r"/.*", "take")]

    def take(self, request):
        return Reply(200, {"status": "accepted"})

    def callbacks(self) -> list[InboundCallback]:
        return [
            InboundCallback("callback", r.method, r.headers, json.dumps(r.json).encode(), None)
            for r in self.requests
        ]


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def sim(receiver):
    callback_url = f"{receiver.base_url}/payments/airtel/callback/url-token/"
    with AirtelSimulator(
        callback_url=callback_url, private_key=PRIVATE_KEY, callback_delay=None
    ) as server:
        yield server


def make_provider(sim, **options) -> AirtelMoneyProvider:
    defaults = {
        "base_url": sim.base_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "country": "UG",
        "currency": "UGX",
        "callback_token": "url-token",
        "callback_private_key": PRIVATE_KEY,
    }
    return AirtelMoneyProvider(**{**defaults, **options})


def push_request(**fields) -> PushRequest:
    defaults = {
        "reference": uuid.uuid4().hex,
        "phone": "+256752123456",
        "amount": Money(5000, "UGX"),
        "account_number": "UG-7781",
        "description": "Kampala water",
        "callback_url": "https://billing.example.com/payments/airtel/callback/t/",
    }
    return PushRequest(**{**defaults, **fields})


def query(provider, request):
    return provider.status_query(
        provider_reference=request.reference, provider_data={}, amount=request.amount
    )


def test_collection_sends_the_documented_request_with_a_national_msisdn(sim):
    request = push_request()
    started = make_provider(sim).push_start(request)

    sent = next(r for r in sim.requests if r.path == "/merchant/v1/payments/")
    documented = json.loads((FIXTURES / "airtel_collection_request.json").read_text())
    assert set(sent.json) == set(documented["payload"])
    assert set(sent.json["transaction"]) == set(documented["payload"]["transaction"])
    assert sent.json["subscriber"]["msisdn"] == "752123456"
    assert sent.json["transaction"]["amount"] == 5000
    assert type(sent.json["transaction"]["amount"]) is int
    assert sent.json["transaction"]["id"] == request.reference
    assert (sent.headers["X-Country"], sent.headers["X-Currency"]) == ("UG", "UGX")
    assert started.provider_reference == started.callback_key == request.reference


def test_signed_callback_round_trip_credits_once_and_enquiry_agrees(sim, receiver):
    provider = make_provider(sim)
    request = push_request()
    provider.push_start(request)
    assert query(provider, request).outcome == Outcome.PENDING

    sim.deliver_pending()
    [callback] = receiver.callbacks()
    event = provider.callback_parse(callback)
    verdict = query(provider, request)

    assert event.trusted is True
    assert event.callback_key == request.reference
    assert event.verdict.outcome == verdict.outcome == Outcome.SUCCEEDED
    assert event.verdict.receipt == verdict.receipt != ""


def test_callback_signed_with_another_key_is_refused_403(receiver):
    callback_url = f"{receiver.base_url}/cb/"
    with AirtelSimulator(
        callback_url=callback_url, private_key="not-our-key", callback_delay=None
    ) as other:
        provider = make_provider(other)
        provider.push_start(push_request())
        other.deliver_pending()
        with pytest.raises(CallbackRejected) as refused:
            provider.callback_parse(receiver.callbacks()[0])
    assert refused.value.status == 403


def test_failed_payment_calls_back_tf_and_enquiry_says_failed(sim, receiver):
    provider = make_provider(sim)
    sim.script("fail:DP00800001007")
    request = push_request()
    provider.push_start(request)
    sim.deliver_pending()
    event = provider.callback_parse(receiver.callbacks()[0])
    assert event.verdict.outcome == query(provider, request).outcome == Outcome.FAILED
    assert event.verdict.failure_message


def test_lost_callback_is_healed_by_the_enquiry(sim, receiver):
    provider = make_provider(sim)
    sim.script("never")
    request = push_request()
    provider.push_start(request)
    sim.deliver_pending()
    assert receiver.requests == []
    assert query(provider, request).outcome == Outcome.SUCCEEDED


def test_callback_sent_twice_carries_one_event_key(sim, receiver):
    provider = make_provider(sim)
    sim.script("twice")
    provider.push_start(push_request())
    sim.deliver_pending()
    keys = {provider.callback_parse(c).event_key for c in receiver.callbacks()}
    assert len(receiver.callbacks()) == 2 and len(keys) == 1


def test_refusal_inside_http_200_raises_with_airtel_result_code(sim):
    provider = make_provider(sim)
    request = push_request()
    provider.push_start(request)
    with pytest.raises(ProviderError) as duplicate:
        provider.push_start(request)
    assert duplicate.value.code == "ESB000041"

    kenya = AirtelSimulator(country="KE", currency="KES")
    with kenya, pytest.raises(ProviderError) as wrong_country:
        make_provider(kenya).push_start(push_request())
    assert wrong_country.value.code == "ESB000034"


def test_phone_of_another_country_is_refused_before_calling_airtel(sim):
    with pytest.raises(ProviderError):
        make_provider(sim).push_start(push_request(phone="+254712345678"))
    assert sim.requests == []


def test_token_with_string_expiry_is_cached_then_renewed_after_a_401(sim):
    provider = make_provider(sim)
    provider.push_start(push_request())
    provider.push_start(push_request())
    assert len([r for r in sim.requests if r.path == "/auth/oauth2/token"]) == 1
    assert cache.get(provider.token_cache_key)

    sim.expire_tokens()
    provider.push_start(push_request())
    assert len([r for r in sim.requests if r.path == "/auth/oauth2/token"]) == 2
    assert len(sim.payments) == 3


def test_no_secret_key_or_token_reaches_the_logs(sim, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    provider = make_provider(sim)
    request = push_request()
    provider.push_start(request)
    sim.deliver_pending()
    provider.callback_parse(receiver.callbacks()[0])
    query(provider, request)
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in (CLIENT_SECRET, PRIVATE_KEY, cache.get(provider.token_cache_key)):
        assert secret not in logged


def test_simulator_runs_standalone_from_the_command_line():
    process = subprocess.Popen(
        [sys.executable, "-m", "payments.simulators.airtel", "--port", "0"],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("airtel simulator listening on http://127.0.0.1:")
    finally:
        process.terminate()
        process.wait(timeout=10)
