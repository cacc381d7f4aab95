"""POST /api/auth/login: phone and password in, a token pair out."""

import itertools
import logging
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.models import RefreshChain, Role, User

LOGIN = "/api/auth/login"
PASSWORD = "correct horse battery staple"
_addresses = itertools.count()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def agent(db):
    return User.objects.create_user(
        "+254712345678", PASSWORD, name="Amina Njeri", role=Role.AGENT, is_active=True
    )


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_login_with_local_format_phone_returns_a_working_token_pair(api, agent):
    response = api.post(LOGIN, {"phone": "0712 345 678", "password": PASSWORD}, format="json")

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "refresh"}
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    me = api.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json() == {
        "id": agent.pk,
        "phone": "+254712345678",
        "name": "Amina Njeri",
        "role": "agent",
    }


def test_tokens_carry_role_and_name_and_the_refresh_token_its_chain(api, agent):
    body = api.post(LOGIN, {"phone": "+254712345678", "password": PASSWORD}).json()

    access, refresh = claims(body["access"]), claims(body["refresh"])
    chain = RefreshChain.objects.get(user=agent)
    assert access["role"] == refresh["role"] == "agent"
    assert access["name"] == refresh["name"] == "Amina Njeri"
    assert access["user_id"] == refresh["user_id"] == str(agent.pk)
    assert access["token_type"] == "access"
    assert refresh["token_type"] == "refresh"
    assert refresh["chain"] == str(chain.pk)
    assert "chain" not in access
    assert chain.revoked_at is None


def test_login_lifetimes_are_ten_minutes_and_seven_days(api, agent):
    start = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        body = api.post(LOGIN, {"phone": "+254712345678", "password": PASSWORD}).json()

    assert claims(body["access"])["exp"] == (start + timedelta(minutes=10)).timestamp()
    assert claims(body["refresh"])["exp"] == (start + timedelta(days=7)).timestamp()


def test_each_login_begins_its_own_chain_and_records_last_login(api, agent):
    for _ in range(2):
        assert api.post(LOGIN, {"phone": "+254712345678", "password": PASSWORD}).status_code == 200

    assert RefreshChain.objects.filter(user=agent).count() == 2
    agent.refresh_from_db()
    assert agent.last_login is not None


@pytest.mark.parametrize(
    ("phone", "password"),
    [
        ("+254712345678", "wrong password"),
        ("+254799999999", PASSWORD),  # nobody has this number
        ("not a phone", PASSWORD),
        ("12", PASSWORD),
    ],
    ids=["wrong-password", "unknown-phone", "malformed-phone", "too-short-phone"],
)
def test_bad_credentials_all_get_the_same_401(api, agent, phone, password):
    response = api.post(LOGIN, {"phone": phone, "password": password}, format="json")

    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_credentials",
        "message": "Phone number or password is wrong.",
        "extra": {},
    }
    assert not RefreshChain.objects.exists()


def test_inactive_user_cannot_log_in_and_is_told_nothing_more(api, agent):
    agent.is_active = False
    agent.save()

    response = api.post(LOGIN, {"phone": "+254712345678", "password": PASSWORD}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_password_is_not_trimmed(api, db):
    User.objects.create_user("+254712345679", " spaced ", role=Role.AGENT, is_active=True)

    trimmed = api.post(LOGIN, {"phone": "+254712345679", "password": "spaced"}, format="json")
    exact = api.post(LOGIN, {"phone": "+254712345679", "password": " spaced "}, format="json")

    assert trimmed.status_code == 401
    assert exact.status_code == 200


@pytest.mark.parametrize("body", [{}, {"phone": "+254712345678"}, {"password": PASSWORD}])
def test_missing_fields_get_a_clear_400(api, db, body):
    response = api.post(LOGIN, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_login_is_limited_to_15_attempts_a_minute_per_address(api, agent):
    start = datetime(2030, 5, 1, 8, 0, 30, tzinfo=UTC)
    wrong = {"phone": "+254712345678", "password": "wrong"}
    right = {"phone": "+254712345678", "password": PASSWORD}
    with time_machine.travel(start, tick=False) as traveller:
        statuses = [api.post(LOGIN, wrong, REMOTE_ADDR="10.0.0.1").status_code for _ in range(15)]
        blocked = api.post(LOGIN, right, REMOTE_ADDR="10.0.0.1")
        other_address = api.post(LOGIN, right, REMOTE_ADDR="10.0.0.2")
        traveller.shift(timedelta(seconds=30))
        next_minute = api.post(LOGIN, right, REMOTE_ADDR="10.0.0.1")

    assert statuses == [401] * 15
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "rate_limited"
    assert blocked["Retry-After"] == "30"
    assert other_address.status_code == 200
    assert next_minute.status_code == 200


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(phone=st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40))
def test_any_phone_text_gets_401_or_400_never_a_token_or_a_crash(api, agent, phone):
    n = next(_addresses)  # a fresh client address per example keeps it under the login limit
    address = f"10.9.{n // 250}.{n % 250 + 1}"

    response = api.post(
        LOGIN, {"phone": phone, "password": "wrong"}, format="json", REMOTE_ADDR=address
    )

    assert response.status_code in (400, 401)
    assert response.json()["code"] in ("invalid", "invalid_credentials")


def test_logs_hold_no_password_token_or_full_phone(api, agent, caplog):
    caplog.set_level(logging.DEBUG)

    api.post(LOGIN, {"phone": "+254712345678", "password": "not the password"}, format="json")
    api.post(LOGIN, {"phone": "0712345678", "password": "also not it"}, format="json")
    pair = api.post(LOGIN, {"phone": "+254712345678", "password": PASSWORD}).json()
    rotated = api.post("/api/auth/refresh", {"refresh": pair["refresh"]}).json()
    api.post("/api/auth/refresh", {"refresh": pair["refresh"]})  # reuse: logged, refused
    api.post("/api/auth/logout", {"refresh": rotated["refresh"]})

    logged = caplog.text + " ".join(str(vars(record)) for record in caplog.records)
    assert "login" in caplog.text  # the flow was logged at all
    secrets = [
        PASSWORD,
        "not the password",
        "also not it",
        pair["access"],
        pair["refresh"],
        rotated["access"],
        rotated["refresh"],
        "+254712345678",
        "0712345678",
    ]
    for secret in secrets:
        assert secret not in logged
