"""The limits of /api/auth/*: cooldown, quotas, burned codes, locks and per-IP rates."""

from datetime import timedelta

import pytest
import time_machine

from tests.accounts.test_activation_api import (
    ACTIVATE,
    IP,
    PASSWORD,
    PHONE,
    REGISTER,
    RESEND,
    T0,
    Api,
    Handset,
    wrong,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def handset(settings, tmp_path, monkeypatch) -> Handset:
    return Handset.install(settings, tmp_path, monkeypatch)


@pytest.fixture
def api(django_capture_on_commit_callbacks) -> Api:
    return Api(django_capture_on_commit_callbacks)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_resend_cooldown_answers_429_with_retry_after(api, handset, clock):
    api.post(REGISTER, {"phone": PHONE})
    clock.shift(timedelta(seconds=20))

    response = api.post(RESEND, {"phone": PHONE})

    assert response.status_code == 429
    assert response.json()["code"] == "resend_cooldown"
    assert response["Retry-After"] == "40"


def test_three_codes_per_fifteen_minutes_then_429_with_retry_after(api, handset, clock):
    for path in (REGISTER, RESEND, RESEND):
        assert api.post(path, {"phone": PHONE}).status_code == 202
        clock.shift(timedelta(seconds=61))

    response = api.post(RESEND, {"phone": PHONE})

    assert (response.status_code, response.json()["code"]) == (429, "send_quota")
    assert response["Retry-After"] == str(15 * 60 - 3 * 61)
    assert len(handset.texts(PHONE)) == 3


def test_five_codes_per_day_then_429_with_retry_after(api, handset, clock):
    for offset in (0, 61, 122, 900, 961):
        clock.move_to(T0 + timedelta(seconds=offset))
        assert api.post(REGISTER, {"phone": PHONE}).status_code == 202
    clock.move_to(T0 + timedelta(minutes=30))

    response = api.post(REGISTER, {"phone": PHONE})

    assert (response.status_code, response.json()["code"]) == (429, "send_quota")
    assert response["Retry-After"] == str(24 * 3600 - 30 * 60)


def test_wrong_codes_burn_the_code_then_lock_the_phone(api, handset, clock):
    api.post(REGISTER, {"phone": PHONE})
    body = {"phone": PHONE, "code": wrong(handset.code(PHONE)), "password": PASSWORD}
    codes = [api.post(ACTIVATE, body).json()["code"] for _ in range(5)]
    clock.shift(timedelta(minutes=2))
    api.post(RESEND, {"phone": PHONE})
    body["code"] = wrong(handset.code(PHONE))
    codes += [api.post(ACTIVATE, body).json()["code"] for _ in range(4)]

    locked = api.post(ACTIVATE, body)

    assert codes == ["invalid_code"] * 4 + ["too_many_attempts"] + ["invalid_code"] * 4
    assert (locked.status_code, locked.json()["code"]) == (429, "locked")
    assert locked["Retry-After"] == "3600"


def test_expired_code_is_refused(api, handset, clock):
    api.post(REGISTER, {"phone": PHONE})
    clock.shift(timedelta(minutes=10))

    response = api.post(
        ACTIVATE, {"phone": PHONE, "code": handset.code(PHONE), "password": PASSWORD}
    )

    assert (response.status_code, response.json()["code"]) == (400, "code_expired")


@pytest.mark.parametrize(
    ("path", "allowed"),
    [(REGISTER, 10), (RESEND, 5), (ACTIVATE, 20)],
    ids=["register", "resend", "activate"],
)
def test_each_client_ip_is_limited_per_minute(api, handset, clock, path, allowed):
    def request(n: int, ip: str = IP):
        data = {"phone": f"+25471234{n:04d}", "code": "123456", "password": PASSWORD}
        return api.post(path, data, ip=ip)

    answers = [request(n).status_code for n in range(allowed)]
    over = request(allowed)
    other_ip = request(allowed + 1, ip="198.51.100.1")

    assert 429 not in answers
    assert (over.status_code, over.json()["code"]) == (429, "rate_limited")
    assert over["Retry-After"] == "45"
    assert other_ip.status_code != 429
    clock.shift(timedelta(seconds=45))
    assert request(allowed + 2).status_code != 429
