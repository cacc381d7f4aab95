"""Faults: Redis or the database down, a screen raising, a hop past its deadline. The customer
gets a polite END in their language with HTTP 200; the error is logged with the session id."""

import threading
import time

import pytest
from django.db import OperationalError

from tests.ussd.support import FATOU, OTIENO, WANJIRU
from ussd import deadline
from ussd.registry import SCREENS, Screen
from ussd.replies import Continue, End

pytestmark = pytest.mark.django_db

FAULT_FR = "END Desole, service indisponible pour le moment. Reessayez dans quelques minutes."
FAULT_SW = "END Samahani, huduma haipatikani sasa. Jaribu tena baada ya dakika chache."
FAULT_EN = "END Sorry, we cannot serve you right now. Please try again in a few minutes."


def failures(caplog, message: str) -> list:
    return [r for r in caplog.records if r.getMessage() == message]


def test_redis_down_answers_politely_in_the_customer_language(demo, at, settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    session = at(FATOU)
    assert session.walk(fresh=False) == FAULT_FR  # the driver checks: HTTP 200
    (record,) = failures(caplog, "ussd hop failed")
    assert record.session_id == session.session_id
    assert record.phone == "+254******003"


def test_the_database_down_mid_session_answers_politely(demo, at, monkeypatch, caplog):
    session = at(OTIENO)
    session.walk("1")

    def down(account):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("ussd.screens.account.account_balance", down)
    assert session.send("1") == FAULT_SW
    assert failures(caplog, "ussd hop failed")[0].session_id == session.session_id


def test_the_database_down_on_the_first_hop_answers_politely(demo, at, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("ussd.engine.caller_load", down)
    assert at(FATOU).walk() == FAULT_FR  # the language still comes from the user
    monkeypatch.setattr("ussd.engine.caller_user", down)
    assert at(WANJIRU).walk() == FAULT_EN


def test_a_screen_that_raises_answers_politely(demo, at, monkeypatch, caplog):
    def broken(ctx, answer):
        raise RuntimeError("bug")

    monkeypatch.setitem(SCREENS, "help", Screen("help", broken, frozenset(), ""))
    session = at(WANJIRU)
    assert session.walk("7") == FAULT_EN
    assert failures(caplog, "ussd hop failed")


def test_a_screen_going_where_it_did_not_declare_is_refused(demo, at, monkeypatch, caplog):
    def wanders(ctx, answer):
        return ctx.go("pay") if answer else Continue("Balance", next="balance")

    monkeypatch.setitem(SCREENS, "balance", Screen("balance", wanders, frozenset(), ""))
    assert at(WANJIRU).walk("1", "1") == FAULT_EN


def test_a_hop_past_its_deadline_ends_politely_without_waiting_longer(
    demo, at, monkeypatch, caplog
):
    def hangs(account):
        threading.Event().wait(5)  # a locked row, a hung server...

    monkeypatch.setattr("ussd.screens.account.account_balance", hangs)
    session = at(OTIENO)
    session.walk("1")
    # Set once at the hop that hangs: a busy machine may take that long over one that does not.
    monkeypatch.setattr(deadline, "HOP_DEADLINE_SECONDS", 0.05)
    started = time.monotonic()
    assert session.send("1") == (
        "END Samahani, imechukua muda mrefu. Jaribu tena baada ya dakika chache."
    )
    assert time.monotonic() - started < 1
    assert failures(caplog, "ussd hop past its deadline")[0].session_id == session.session_id


def test_a_text_too_long_for_the_screen_is_cut_to_fit(demo, at, monkeypatch, caplog):
    monkeypatch.setitem(
        SCREENS, "help", Screen("help", lambda ctx, answer: End("x" * 500), frozenset(), "")
    )
    assert at(WANJIRU).walk("7") == "END " + "x" * 178
    assert failures(caplog, "ussd text cut")
