"""The documented M-Pesa request and response samples (../shared/fixtures/): what we send
carries exactly the sample's fields, and what Daraja answers, as printed, is read. (Callbacks
are replayed against our endpoints in test_fixture_replay.py; we send no reversal requests:
staff record reversals, so mpesa_reversal_request has no counterpart here.)"""

import pytest

from payments.simulators.daraja import DarajaSimulator
from tests.payments.mpesa_support import Receiver, fixture, provider_for, push

# The Transaction Status sample writes two keys with spaces (a doc typo, see its notes).
DOC_TYPOS = {"Command ID": "CommandID", "Transaction ID": "TransactionID"}


def sample_keys(name: str) -> set[str]:
    return {DOC_TYPOS.get(key, key) for key in fixture(name)["payload"]}


class AnsweringDaraja(Receiver):
    """Answers each path with the documented sample, OAuth's GET included."""

    routes = [*Receiver.routes, ("GET", r"/.*", "receive")]


@pytest.fixture
def daraja():
    with DarajaSimulator(callback_delay=None) as simulator:
        yield simulator


def sent(daraja, path: str) -> dict:
    [request] = [r for r in daraja.requests if r.path == path]
    return request.json


def test_our_requests_carry_exactly_the_documented_fields(daraja):
    mpesa = provider_for(daraja)
    started = push(mpesa)
    mpesa.status_query(provider_reference=started.provider_reference, provider_data={}, amount=None)
    mpesa.c2b_register(validation_url="https://x.test/v", confirmation_url="https://x.test/c")
    mpesa.transaction_status_request(
        result_url="https://x.test/r", queue_timeout_url="https://x.test/t", transaction_id="S1"
    )

    assert set(sent(daraja, "/mpesa/stkpush/v1/processrequest")) == sample_keys(
        "mpesa_stk_push_request"
    )
    assert set(sent(daraja, "/mpesa/stkpushquery/v1/query")) == sample_keys(
        "mpesa_stk_query_request"
    )
    assert set(sent(daraja, "/mpesa/c2b/v1/registerurl")) == sample_keys(
        "mpesa_c2b_register_url_request"
    )
    assert set(sent(daraja, "/mpesa/transactionstatus/v1/query")) == sample_keys(
        "mpesa_transaction_status_request"
    )


@pytest.mark.parametrize("oauth", ["mpesa_oauth_response_doc", "mpesa_oauth_response_observed"])
def test_the_documented_answers_are_read(oauth):
    with AnsweringDaraja() as daraja:
        daraja.answers = {
            "/oauth/v1/generate": fixture(oauth)["payload"],
            "/mpesa/stkpush/v1/processrequest": fixture("mpesa_stk_push_response")["payload"],
            "/mpesa/c2b/v1/registerurl": fixture("mpesa_c2b_register_url_response")["payload"],
        }
        mpesa = provider_for(daraja)

        started = push(mpesa)
        registered = mpesa.c2b_register(
            validation_url="https://x.test/v", confirmation_url="https://x.test/c"
        )

    assert mpesa.access_token() == fixture(oauth)["payload"]["access_token"]  # cached
    push_answer = fixture("mpesa_stk_push_response")["payload"]
    assert started.callback_key == push_answer["CheckoutRequestID"]
    assert started.provider_data["merchant_request_id"] == push_answer["MerchantRequestID"]
    assert (
        registered["OriginatorCoversationID"]
        == fixture("mpesa_c2b_register_url_response")["payload"]["OriginatorCoversationID"]
    )
    assert len(daraja.at("/oauth/v1/generate")) == 1  # one token for both calls
