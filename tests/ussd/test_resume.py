"""Resume after a drop: redialling within 2 minutes of a session that stopped in the middle of
a flow offers "1 Continue 2 Start again" (the clock is frozen and moved by hand)."""

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
import time_machine

from tests.ussd.support import FORM, OTIENO, WANJIRU

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
OFFER = "CON You left in the middle of: Pay.\n1 Continue\n2 Start again"
MENU = "CON Malipo Utilities\n1 Balance"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def dropped_in_pay(at):
    session = at(WANJIRU)
    session.walk("3", "2")  # waiting for the amount... and the call drops
    return session


def test_a_redial_within_two_minutes_offers_to_continue_where_it_stopped(demo, at, sandbox, clock):
    dropped_in_pay(at)
    clock.shift(110)
    session = at(WANJIRU)
    assert session.walk(fresh=False) == OFFER
    assert session.send("1") == "CON Amount to pay in KES:\n0 Back 00 Home"
    assert session.send("250").startswith("CON Pay KES 250.00 to acct 100000011")
    assert session.send("0") == "CON Amount to pay in KES:\n0 Back 00 Home"
    assert session.send("0").startswith("CON Acct 100000011: nothing to pay.")


def test_start_again_goes_to_the_main_menu(demo, at, sandbox, clock):
    dropped_in_pay(at)
    clock.shift(30)
    session = at(WANJIRU)
    session.walk(fresh=False)
    assert session.send("2").startswith(MENU)


def test_no_offer_after_two_minutes(demo, at, sandbox, clock):
    dropped_in_pay(at)
    clock.shift(121)
    assert at(WANJIRU).walk(fresh=False).startswith(MENU)


def test_no_offer_after_a_session_that_ended(demo, at, settings, clock):
    settings.PAYMENT_PROVIDERS = {}
    at(WANJIRU).walk("3")  # ends: mobile payment not available
    clock.shift(10)
    assert at(WANJIRU).walk(fresh=False).startswith(MENU)


def test_no_offer_after_leaving_a_screen_that_has_nothing_to_resume(demo, at, clock):
    at(OTIENO).walk("1", "2")  # reading a balance is not a flow
    clock.shift(10)
    assert at(OTIENO).walk(fresh=False).startswith("CON Malipo Utilities\n1 Salio")


def notify(client, session, status: str):
    form = {
        "date": "2026-11-20 09:00:00",
        "sessionId": session.session_id,
        "serviceCode": "*384*12#",
        "networkCode": "63902",
        "phoneNumber": session.phone,
        "status": status,
        "cost": "KES 0.10",
        "durationInMillis": "12345",
        "hopsCount": "3",
        "input": session.text,
        "lastAppResponse": session.body,
        "errorMessage": "",
    }
    response = client.post("/ussd/africastalking/events/", urlencode(form), content_type=FORM)
    assert response.status_code == 200


def test_the_gateway_saying_the_session_completed_cancels_the_offer(
    demo, at, client, sandbox, clock
):
    dropped = dropped_in_pay(at)
    notify(client, dropped, "Success")
    assert at(WANJIRU).walk(fresh=False).startswith(MENU)


def test_the_gateway_saying_the_session_stopped_starts_the_window_then(
    demo, at, client, sandbox, clock
):
    dropped = dropped_in_pay(at)
    clock.shift(100)
    notify(client, dropped, "Incomplete")  # the customer's answer timed out just now
    clock.shift(100)  # 200 s after the last hop, 100 s after the drop
    assert at(WANJIRU).walk(fresh=False) == OFFER


def test_an_end_of_session_notification_missing_fields_is_refused(db, client):
    form = urlencode({"sessionId": "ATUid_1", "status": "Success"})
    response = client.post("/ussd/africastalking/events/", form, content_type=FORM)
    assert response.status_code == 400
