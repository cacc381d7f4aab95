"""The outgoing HTTP helper, against a real server on loopback."""

import threading
from decimal import Decimal

import pytest

from payments.providers.base import ProviderError
from payments.providers.http import http_request
from payments.simulators.base import Reply, SimulatorServer


class Operator(SimulatorServer):
    """Answers /status with the queued replies in turn (then 200), /slow after `release`."""

    name = "operator"
    routes = [
        ("GET", r"/status", "status"),
        ("POST", r"/push", "status"),
        ("GET", r"/slow", "slow"),
        ("POST", r"/slow", "slow"),
    ]

    def __init__(self, **options):
        super().__init__(**options)
        self.replies: list[Reply] = []
        self.release = threading.Event()

    def status(self, request):
        return self.replies.pop(0) if self.replies else Reply(200, {"amount": 12.5})

    def slow(self, request):
        self.release.wait(5)
        return Reply(200, {})


@pytest.fixture
def operator(settings):
    settings.PAYMENTS_HTTP_TIMEOUT = 0.3
    settings.PAYMENTS_HTTP_BACKOFF = 0
    settings.PAYMENTS_HTTP_ATTEMPTS = 3
    server = Operator().start()
    yield server
    server.release.set()
    server.stop()


def _calls(server, path):
    return [r for r in server.requests if r.path == path]


def test_answer_comes_back_parsed_with_decimals_never_floats(operator):
    response = http_request("GET", f"{operator.base_url}/status", idempotent=True)

    assert response.status == 200
    assert response.ok
    assert response.json == {"amount": Decimal("12.5")}
    assert isinstance(response.json["amount"], Decimal)


def test_a_client_error_is_returned_for_the_provider_to_read(operator):
    operator.replies = [Reply(400, {"errorCode": "400.002.02"})]

    response = http_request("POST", f"{operator.base_url}/push", idempotent=False, json={})

    assert (response.status, response.json) == (400, {"errorCode": "400.002.02"})
    assert not response.ok


def test_a_non_json_answer_has_no_json(operator):
    operator.replies = [Reply(403, "Forbidden")]

    response = http_request("GET", f"{operator.base_url}/status", idempotent=True)

    assert (response.status, response.json, response.text) == (403, None, "Forbidden")


def test_a_query_is_retried_after_server_errors_until_it_succeeds(operator):
    operator.replies = [Reply(503, "busy"), Reply(502, "bad gateway")]

    response = http_request("GET", f"{operator.base_url}/status", idempotent=True)

    assert response.status == 200
    assert len(_calls(operator, "/status")) == 3


def test_a_query_gives_up_after_the_configured_attempts_with_a_transient_error(operator):
    operator.replies = [Reply(503, "busy")] * 5

    with pytest.raises(ProviderError) as caught:
        http_request("GET", f"{operator.base_url}/status", idempotent=True)

    assert caught.value.transient
    assert caught.value.code == "http_503"
    assert len(_calls(operator, "/status")) == 3


def test_a_push_is_never_retried_after_a_server_error(operator):
    operator.replies = [Reply(503, "busy"), Reply(200, {})]

    with pytest.raises(ProviderError) as caught:
        http_request("POST", f"{operator.base_url}/push", idempotent=False, json={"a": 1})

    assert caught.value.transient
    assert len(_calls(operator, "/push")) == 1


def test_a_push_that_times_out_is_not_sent_again(operator):
    with pytest.raises(ProviderError) as caught:
        http_request("POST", f"{operator.base_url}/slow", idempotent=False, json={})

    assert (caught.value.code, caught.value.transient) == ("timeout", True)
    assert len(_calls(operator, "/slow")) == 1


def test_a_query_that_times_out_is_retried_then_reported_transient(operator):
    with pytest.raises(ProviderError) as caught:
        http_request("GET", f"{operator.base_url}/slow", idempotent=True)

    assert (caught.value.code, caught.value.transient) == ("timeout", True)
    assert len(_calls(operator, "/slow")) == 3


def test_a_server_error_the_caller_calls_an_answer_is_returned_at_once(operator):
    operator.replies = [Reply(500, {"errorCode": "500.001.1001"})]

    response = http_request(
        "GET",
        f"{operator.base_url}/status",
        idempotent=True,
        answer=lambda r: r.json == {"errorCode": "500.001.1001"},
    )

    assert response.status == 500
    assert len(_calls(operator, "/status")) == 1


def test_an_unreachable_operator_is_a_transient_error(settings):
    settings.PAYMENTS_HTTP_BACKOFF = 0
    server = Operator().start()
    url = f"{server.base_url}/status"
    server.stop()

    with pytest.raises(ProviderError) as caught:
        http_request("GET", url, idempotent=True)

    assert (caught.value.code, caught.value.transient) == ("unreachable", True)
