"""MTN MoMo request-to-pay against the simulator: push, callback (PUT or POST), status."""

import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.cache import cache

from billing.money import Money
from payments.providers.base import InboundCallback, Outcome, ProviderError, PushRequest
from payments.providers.mtn_momo import MtnMomoProvider
from payments.simulators.base import Reply, SimulatorServer
from payments.simulators.mtn import MtnSimulator

FIXTURES = Path(settings.BASE_DIR).parent / "shared" / "fixtures"


class Receiver(SimulatorServer):
    """Our side of the callbacks: keeps every request as received."""

    name = "receiver"
    routes = [("POST", r"/.*", "take"), ("PUT", r"/.*", "take")]

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


def simulator(environment: str) -> MtnSimulator:
    return MtnSimulator(target_environment=environment, callback_delay=None)


@pytest.fixture
def sandbox():
    with simulator("sandbox") as server:
        yield server


@pytest.fixture
def live():
    with simulator("mtnuganda") as server:
        yield server


def make_provider(sim: MtnSimulator) -> MtnMomoProvider:
    return MtnMomoProvider(
        base_url=sim.base_url,
        api_user=sim.api_user,
        api_key=sim.api_key,
        subscription_key=sim.subscription_key,
        target_environment=sim.target_environment,
        callback_token="url-token",
    )


def push_request(receiver, **fields) -> PushRequest:
    defaults = {
        "reference": uuid.uuid4().hex,
        "phone": "+256772123456",
        "amount": Money(5000, "UGX"),
        "account_number": "UG-7781",
        "description": "",
        "callback_url": f"{receiver.base_url}/payments/mtn/callback/url-token/",
    }
    return PushRequest(**{**defaults, **fields})


def status(provider, started, request):
    return provider.status_query(
        provider_reference=started.provider_reference,
        provider_data=started.provider_data,
        amount=request.amount,
    )


def test_request_to_pay_sends_the_documented_request(live, receiver):
    request = push_request(receiver)
    started = make_provider(live).push_start(request)

    sent = next(r for r in live.requests if r.path == "/collection/v1_0/requesttopay")
    documented = json.loads((FIXTURES / "momo_requesttopay_request.json").read_text())
    assert set(sent.json) == set(documented["payload"])
    assert sent.json["amount"] == "5000"
    assert sent.json["currency"] == "UGX"
    assert sent.json["externalId"] == request.reference
    assert sent.json["payer"] == {"partyIdType": "MSISDN", "partyId": "256772123456"}
    assert sent.json["payerMessage"] and sent.json["payeeNote"]  # never empty (MTN's 500s)
    assert sent.headers["X-Reference-Id"] == str(uuid.UUID(request.reference))
    assert sent.headers["X-Target-Environment"] == "mtnuganda"
    assert sent.headers["X-Callback-Url"] == request.callback_url
    assert started.provider_reference == sent.headers["X-Reference-Id"]
    assert started.callback_key == request.reference


def test_live_round_trip_posts_the_callback_and_status_agrees(live, receiver):
    provider = make_provider(live)
    request = push_request(receiver)
    started = provider.push_start(request)
    assert status(provider, started, request).outcome == Outcome.PENDING

    live.deliver_pending()
    [callback] = receiver.callbacks()
    event = provider.callback_parse(callback)
    verdict = status(provider, started, request)

    assert callback.method == "POST"
    assert event.callback_key == request.reference
    assert event.verdict.outcome == verdict.outcome == Outcome.SUCCEEDED
    assert event.verdict.receipt == verdict.receipt == event.event_key
    assert event.verdict.amount == verdict.amount == Money(5000, "UGX")


def test_sandbox_pays_in_eur_calls_back_with_put_and_status_reads_the_intent_currency(
    sandbox, receiver
):
    provider = make_provider(sandbox)
    request = push_request(receiver)
    started = provider.push_start(request)
    assert sandbox.requests[-1].json["currency"] == "EUR"
    sandbox.deliver_pending()
    [callback] = receiver.callbacks()
    assert callback.method == "PUT"
    assert provider.callback_parse(callback).verdict.outcome == Outcome.SUCCEEDED
    assert status(provider, started, request).amount == Money(5000, "UGX")


def test_callback_is_delivered_in_the_background_after_the_delay(receiver):
    with MtnSimulator(target_environment="mtnuganda", callback_delay=0) as sim:
        make_provider(sim).push_start(push_request(receiver))
        sim.wait_idle()
    assert len(receiver.callbacks()) == 1


def test_payer_paying_another_amount_is_reported_with_what_was_paid(live, receiver):
    provider = make_provider(live)
    live.script("amount:4000")
    request = push_request(receiver)
    started = provider.push_start(request)
    live.deliver_pending()
    assert provider.callback_parse(receiver.callbacks()[0]).verdict.amount == Money(4000, "UGX")
    assert status(provider, started, request).amount == Money(4000, "UGX")


def test_declined_payment_reads_as_cancelled_with_the_customer_message(live, receiver):
    provider = make_provider(live)
    live.script("fail:APPROVAL_REJECTED")
    request = push_request(receiver)
    started = provider.push_start(request)
    live.deliver_pending()
    event = provider.callback_parse(receiver.callbacks()[0])
    verdict = status(provider, started, request)
    assert event.verdict.outcome == verdict.outcome == Outcome.CANCELLED
    assert verdict.failure_message == "You declined the payment."


def test_late_payment_stays_pending_then_lands(live, receiver):
    provider = make_provider(live)
    live.script("late:60")
    request = push_request(receiver)
    started = provider.push_start(request)
    assert status(provider, started, request).outcome == Outcome.PENDING
    live.deliver_pending()
    assert status(provider, started, request).outcome == Outcome.SUCCEEDED


def test_pushing_the_same_intent_again_is_not_a_second_request(live, receiver):
    provider = make_provider(live)
    live.script("twice")
    request = push_request(receiver)
    first = provider.push_start(request)
    again = provider.push_start(request)  # MTN answers 409 for the same X-Reference-Id
    assert again.provider_reference == first.provider_reference
    assert len(live.transfers) == 1
    live.deliver_pending()
    keys = {provider.callback_parse(c).event_key for c in receiver.callbacks()}
    assert len(receiver.callbacks()) == 2 and len(keys) == 1


def test_status_of_an_unknown_request_is_a_provider_error(live):
    provider = make_provider(live)
    with pytest.raises(ProviderError) as refused:
        provider.status_query(
            provider_reference=str(uuid.uuid4()), provider_data={}, amount=Money(1, "UGX")
        )
    assert refused.value.code == "RESOURCE_NOT_FOUND"


def test_empty_payer_message_makes_the_simulator_fail_like_mtn(live):
    token = make_provider(live).access_token()
    headers = {
        "Authorization": f"Bearer {token}",
        "Ocp-Apim-Subscription-Key": live.subscription_key,
        "X-Target-Environment": "mtnuganda",
        "X-Reference-Id": str(uuid.uuid4()),
    }
    body = json.loads((FIXTURES / "momo_requesttopay_request.json").read_text())["payload"]
    body = {**body, "currency": "UGX", "amount": "5", "payerMessage": ""}
    answer = requests.post(
        f"{live.base_url}/collection/v1_0/requesttopay", json=body, headers=headers, timeout=5
    )
    assert answer.status_code == 500
    fraction = {**body, "amount": "5.0", "payerMessage": "x"}
    answer = requests.post(
        f"{live.base_url}/collection/v1_0/requesttopay", json=fraction, headers=headers, timeout=5
    )
    assert answer.status_code == 400


def test_token_is_cached_and_renewed_after_a_401(live, receiver):
    provider = make_provider(live)
    provider.push_start(push_request(receiver))
    provider.push_start(push_request(receiver))
    assert len([r for r in live.requests if r.path == "/collection/token/"]) == 1
    live.expire_tokens()
    provider.push_start(push_request(receiver))
    assert len([r for r in live.requests if r.path == "/collection/token/"]) == 2
    assert len(live.transfers) == 3


def test_no_api_key_subscription_key_or_token_reaches_the_logs(live, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    provider = make_provider(live)
    request = push_request(receiver)
    started = provider.push_start(request)
    live.deliver_pending()
    provider.callback_parse(receiver.callbacks()[0])
    status(provider, started, request)
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in (live.api_key, live.subscription_key, cache.get(provider.token_cache_key)):
        assert secret not in logged


def test_simulator_runs_standalone_from_the_command_line():
    process = subprocess.Popen(
        [sys.executable, "-m", "payments.simulators.mtn", "--port", "0"],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().startswith("mtn simulator listening on http://")
    finally:
        process.terminate()
        process.wait(timeout=10)
