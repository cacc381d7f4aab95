"""The gateways' quirks: cumulative text that is truncated or reset, retried hops, extended dial
strings, missing fields; and the second adapter (Nalo, JSON, one answer per request)."""

import json
from urllib.parse import urlencode

import pytest

from payments.models import PaymentIntent
from tests.payments.support import FIXTURES, mpesa_conf
from tests.ussd.support import AT_URL, FORM, NALO_URL, OTIENO, STRANGER, WANJIRU, AtGateway
from ussd.gateways.africastalking import AfricasTalkingGateway
from ussd.gateways.base import Hop

pytestmark = pytest.mark.django_db


def fixture_payload(name: str):
    return json.loads((FIXTURES / name).read_text())["payload"]


def test_the_recorded_africastalking_session_is_answered_hop_by_hop(demo, client):
    hops = fixture_payload("at_ussd_requests.json")
    bodies = []
    for hop in hops:
        hop = {**hop, "phoneNumber": WANJIRU, "serviceCode": "*384*12#"}
        response = client.post(AT_URL, urlencode(hop), content_type=FORM)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        bodies.append(response.content.decode())
    assert bodies[0].startswith("CON Malipo Utilities\n1 Balance")
    assert bodies[1] == "CON Acct 100000011\nNothing to pay.\n0 Back 00 Home"
    assert bodies[2].startswith("CON Invalid choice.\nAcct 100000011")


def test_a_gateway_that_restarts_the_text_is_followed_by_its_last_segment(demo, client):
    session = AtGateway(client, OTIENO)
    session.dial()
    session.post("1")  # choose an account
    assert session.post("2").startswith("CON Akaunti 100000033")  # not "1*2": text restarted


def test_a_gateway_that_truncates_the_text_is_followed_by_its_last_segment(demo, client, sandbox):
    session = AtGateway(client, WANJIRU)
    session.dial()
    session.post("3")
    session.post("3*2")
    # A gateway that keeps only the tail of a long text: "*2*500" lost its head.
    assert session.post("2*500").startswith("CON Pay KES 500.00 to acct 100000011")


def test_a_retried_hop_gets_the_same_answer_and_is_not_applied_twice(demo, client):
    session = AtGateway(client, WANJIRU)
    session.walk("1")
    first = session.body
    assert session.post("1") == first  # the gateway sends the same hop again
    assert session.send("0").startswith("CON Malipo Utilities")  # one Back reaches the menu


def test_a_gateway_that_resets_the_text_may_send_the_same_answer_twice(
    demo, client, sandbox, in_worker
):
    session = AtGateway(client, OTIENO)
    session.dial()
    session.post("3")  # pay
    assert session.post("1").startswith("CON Lipa akaunti 100000022")  # "1": text restarted
    assert "Lipa KES 900.00 kwa akaunti 100000022" in session.post("1")  # all of it
    assert in_worker(lambda: session.post("1")).startswith("END Utapokea ombi")  # confirm
    assert PaymentIntent.objects.get().amount_minor == 90_000


def test_a_truncating_gateway_that_sends_its_text_again_is_still_retrying(demo, client, sandbox):
    session = AtGateway(client, WANJIRU)
    session.dial()
    session.post("3")
    session.post("3*2")
    confirm = session.post("2*500")
    assert session.post("2*500") == confirm
    assert session.post("2*500*0").startswith("CON Amount to pay in KES")  # one Back


def _answers(texts: list[str]) -> list[list[str] | str]:
    """What the adapter makes of the texts a gateway sends, hop after hop."""
    gateway, seen, resets, found = AfricasTalkingGateway(), None, False, []
    for text in texts:
        hop = Hop(session_id="S", phone=WANJIRU, service_code="*1#", network_code="", payload=text)
        new = gateway.answers_new(hop, seen, resets=resets)
        found.append("retry" if new.replay else new.answers)
        seen, resets = new.seen, new.resets
    return found


@pytest.mark.parametrize(
    ("texts", "answers"),
    [
        # cumulative: the same full text again is a retry
        (["", "1", "1*2", "1*2"], [[], ["1"], ["2"], "retry"]),
        # reset to the latest answer: once shown, the same answer again is an answer
        (["", "3", "1", "1", "1"], [[], ["3"], ["1"], ["1"], ["1"]]),
        # the first two answers alike say nothing of the gateway: taken as a retry
        (["", "1", "1"], [[], ["1"], "retry"]),
        # truncated to a tail with "*": still cumulative, its text again is a retry
        (["", "3", "3*2", "2*500", "2*500"], [[], ["3"], ["2"], ["500"], "retry"]),
        # a text that continues the one seen again clears the reset
        (["", "3", "1", "1*2", "1*2"], [[], ["3"], ["1"], ["2"], "retry"]),
    ],
)
def test_which_repeated_texts_are_retries(texts, answers):
    assert _answers(texts) == answers


def test_choices_prefilled_in_an_extended_dial_string_are_answers(demo, client):
    session = AtGateway(client, OTIENO)
    session.session_id = "ATUid_extended"
    assert session.post("1*2").startswith("CON Akaunti 100000033\nUnadaiwa KES 2,900.00.")


def test_answers_typed_with_spaces_are_read(demo, at):
    assert at(WANJIRU).walk(" 1 ").startswith("CON Acct 100000011")


@pytest.mark.parametrize("missing", ["sessionId", "phoneNumber", "serviceCode", "text"])
def test_a_hop_missing_a_required_field_is_refused_with_400(demo, client, missing):
    form = {
        "sessionId": "ATUid_1",
        "serviceCode": "*384*12#",
        "phoneNumber": WANJIRU,
        "networkCode": "63902",
        "text": "",
    }
    del form[missing]
    response = client.post(AT_URL, urlencode(form), content_type=FORM)
    assert response.status_code == 400
    assert missing in response.content.decode()


def test_a_phone_number_that_is_not_one_is_refused_with_400(db, client):
    form = {"sessionId": "S", "serviceCode": "*1#", "phoneNumber": "+2", "text": ""}
    assert client.post(AT_URL, urlencode(form), content_type=FORM).status_code == 400


def test_only_post_is_accepted(db, client):
    assert client.get(AT_URL).status_code == 405


def test_a_phone_unknown_to_the_operator_dialled_sees_no_account_of_another(demo, client):
    session = AtGateway(client, WANJIRU, service_code="*999#")
    assert session.walk().startswith("CON Malipo Utilities\n1 Balance")  # the only operator
    other = AtGateway(client, STRANGER)
    assert "No account is linked" in other.walk()


def nalo(client, *, userdata: str, first: bool, session: str = "16590115252429751", **fields):
    payload = {
        **fixture_payload("nalo_ussd_request.json"),
        "MSISDN": "254712000001",
        "USERDATA": userdata,
        "MSGTYPE": first,
        "SESSIONID": session,
        **fields,
    }
    return client.post(NALO_URL, json.dumps(payload), content_type="application/json")


def test_nalo_walks_the_same_menus_one_answer_per_request(demo, client):
    dialled = nalo(client, userdata="*920*55#", first=True)
    assert dialled.status_code == 200
    reply = dialled.json()
    assert reply == {
        "USERID": "NALOTest",
        "MSISDN": "254712000001",
        "MSG": reply["MSG"],
        "MSGTYPE": True,
    }
    assert reply["MSG"].startswith("Malipo Utilities\n1 Balance")
    balance = nalo(client, userdata="1", first=False).json()
    assert balance["MSG"] == "Acct 100000011\nNothing to pay.\n0 Back 00 Home"
    menu = nalo(client, userdata="0", first=False).json()
    assert menu["MSG"].startswith("Malipo Utilities")


@pytest.mark.parametrize(("network", "provider"), [("MTN", "sandbox"), ("", "mpesa")])
def test_nalo_network_routes_the_payment(
    demo, client, sandbox, settings, in_worker, network, provider
):
    """NETWORK is the caller's network code (routed by PAYMENT_ROUTES); without it, the
    number's prefix routes (+25471: M-Pesa)."""
    settings.PAYMENT_PROVIDERS = {**settings.PAYMENT_PROVIDERS, "mpesa": mpesa_conf()}
    settings.PAYMENT_ROUTES = ["MTN:sandbox"]
    nalo(client, userdata="*920*55#", first=True, NETWORK=network)
    for answer in ("3", "2", "500"):
        nalo(client, userdata=answer, first=False, NETWORK=network)
    confirmed = in_worker(lambda: nalo(client, userdata="1", first=False, NETWORK=network))
    assert confirmed.json()["MSGTYPE"] is False
    assert PaymentIntent.objects.get().provider == provider


def test_nalo_ends_with_msgtype_false(demo, client, settings):
    settings.PAYMENT_PROVIDERS = {}
    nalo(client, userdata="*920*55#", first=True)
    reply = nalo(client, userdata="3", first=False).json()
    assert reply["MSGTYPE"] is False
    assert reply["MSG"].startswith("Mobile payment is not available")


def test_a_hop_after_the_session_ended_gets_the_end_again(demo, client, settings):
    settings.PAYMENT_PROVIDERS = {}
    session = AtGateway(client, WANJIRU)
    ended = session.walk("3")
    assert ended.startswith("END ")
    assert session.post("3*2") == ended


def test_nalo_screens_fit_its_120_characters(demo, client):
    nalo(client, userdata="*920*55#", first=True)
    for answer in ("7", "0", "2", "0", "5", "0", "4"):
        message = nalo(client, userdata=answer, first=False).json()["MSG"]
        assert len(message) <= 120, message


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        json.dumps({"MSISDN": "254712000001", "USERDATA": "1", "MSGTYPE": False}),
        json.dumps({"SESSIONID": "1", "MSISDN": "254712000001", "USERDATA": "1"}),
        json.dumps({"SESSIONID": "1", "MSISDN": "254712000001", "MSGTYPE": "yes"}),
    ],
)
def test_nalo_requests_that_are_not_hops_are_refused_with_400(db, client, body):
    response = client.post(NALO_URL, body, content_type="application/json")
    assert response.status_code == 400
