"""The sandbox operator of `make run`: a push is answered by a signed callback to our own URL a
moment later, over real HTTP, and status queries answer from the same state."""

import copy
import json
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.models import Payment
from billing.money import Money
from payments.models import Channel, IntentStatus
from payments.providers.base import CallbackRejected, InboundCallback, Outcome, PushRequest
from payments.providers.sandbox import SandboxProvider
from payments.services.intents import payment_intent_create
from payments.services.push import payment_intent_push
from payments.simulators.sandbox import SIGNATURE_HEADER, body_sign
from sms.models import MessageKind, OutboundMessage
from tests.billing.factories import account_make, invoice_make
from tests.payments.support import SANDBOX_CONF, SANDBOX_TOKEN, kes

REQUEST = PushRequest(
    reference="ab" * 16,
    phone="+254712345678",
    amount=kes("250"),
    account_number="100000011",
    description="Water",
    callback_url="http://127.0.0.1:9/nowhere",
)


@pytest.fixture
def provider(sandbox):
    return SandboxProvider(callback_token=SANDBOX_TOKEN, delay_seconds=None)


def test_status_queries_follow_the_customer(provider, sandbox):
    sandbox.script("never")
    started = provider.push_start(REQUEST)

    pending = provider.status_query(
        provider_reference=started.provider_reference, provider_data={}, amount=REQUEST.amount
    )
    sandbox.deliver_pending()
    paid = provider.status_query(
        provider_reference=started.provider_reference, provider_data={}, amount=REQUEST.amount
    )

    assert pending.outcome == Outcome.PENDING
    assert paid.outcome == Outcome.SUCCEEDED
    assert paid.amount == REQUEST.amount
    assert paid.receipt.startswith("SBX")
    assert sandbox.sent == []


@pytest.mark.parametrize(
    ("script", "outcome"),
    [("fail:cancelled", Outcome.CANCELLED), ("fail:wrong_pin", Outcome.FAILED)],
)
def test_scripted_failures_are_reported(provider, sandbox, script, outcome):
    sandbox.script(script)
    started = provider.push_start(REQUEST)
    sandbox.deliver_pending()

    verdict = provider.status_query(
        provider_reference=started.provider_reference, provider_data={}, amount=REQUEST.amount
    )

    assert verdict.outcome == outcome
    assert verdict.failure_message


def test_a_callback_signed_by_the_sandbox_is_trusted_and_a_tampered_one_refused(provider):
    body = b'{"reference": "SBX1", "status": "SUCCESS", "amount": "1", "currency": "KES"}'
    good = body_sign(provider._secret, body)

    event = provider.callback_parse(
        InboundCallback("callback", "POST", {SIGNATURE_HEADER: good}, body, None)
    )
    with pytest.raises(CallbackRejected) as refused:
        provider.callback_parse(
            InboundCallback("callback", "POST", {SIGNATURE_HEADER: good}, body + b" ", None)
        )

    assert event.trusted
    assert event.verdict.amount == Money.of("1", "KES")
    assert refused.value.status == 403


@pytest.mark.django_db(transaction=True)
def test_a_whole_payment_works_offline_over_http(sandbox, settings, live_server):
    conf = copy.deepcopy(SANDBOX_CONF)
    conf["options"]["delay_seconds"] = 0.1  # `make run` waits 3 s: the customer's PIN
    settings.PAYMENT_PROVIDERS = {"sandbox": conf}
    settings.PUBLIC_BASE_URL = live_server.url
    account = account_make(currency="KES")
    invoice_make(account=account, net_minor=120_000)
    with mock.patch("payments.tasks.payment_intent_push_task.delay"):
        intent = payment_intent_create(
            account=account,
            phone="+254712345678",
            amount=kes("1200"),
            channel=Channel.USSD,
            idempotency_key="ussd:demo",
        )
    payment_intent_push(intent_id=intent.pk)

    sandbox.wait_idle()  # the timer thread fired and POSTed the callback

    intent.refresh_from_db()
    assert [sent.status for sent in sandbox.sent] == [200]
    assert intent.status == IntentStatus.SUCCEEDED
    assert Payment.objects.get().reference == intent.receipt
    sms = OutboundMessage.objects.get(kind=MessageKind.RECEIPT)
    assert "New balance KES 0." in sms.body


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
sandbox_like = st.fixed_dictionaries(
    {"reference": json_values, "status": st.sampled_from(["SUCCESS", "FAILED", "x"])},
    optional={
        "amount": json_values | st.sampled_from(["1e9999", "NaN", "-1", "0.001"]),
        "currency": st.sampled_from(["KES", "XYZ", ""]),
    },
)


@given(body=st.binary(max_size=64) | sandbox_like.map(lambda d: json.dumps(d).encode()))
def test_any_body_is_read_or_refused_never_crashes(body):
    provider = SandboxProvider(callback_token=SANDBOX_TOKEN)
    try:
        event = provider.callback_parse(InboundCallback("callback", "POST", {}, body, None))
    except CallbackRejected as exc:
        assert exc.status in (400, 403)
    else:
        assert not event.trusted  # unsigned
        assert event.callback_key
