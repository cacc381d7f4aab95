"""Refresh rotation, reuse detection, chains, logout and revocation of staff tokens."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
import time_machine
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import RefreshChain, Role, User

PASSWORD = "correct horse battery staple"
START = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def agent(db):
    return User.objects.create_user(
        "+254712345678", PASSWORD, name="Amina Njeri", role=Role.AGENT, is_active=True
    )


def login(api) -> dict:
    response = api.post("/api/auth/login", {"phone": "+254712345678", "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()


def refresh(api, token: str):
    return api.post("/api/auth/refresh", {"refresh": token}, format="json")


def me(api, access: str):
    return api.get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {access}")


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_refresh_returns_a_new_pair_in_the_same_chain(api, agent):
    first = login(api)

    response = refresh(api, first["refresh"])

    assert response.status_code == 200, response.content
    second = response.json()
    assert second["refresh"] != first["refresh"]
    assert claims(second["refresh"])["chain"] == claims(first["refresh"])["chain"]
    assert me(api, second["access"]).status_code == 200
    assert refresh(api, second["refresh"]).status_code == 200


def test_refreshed_tokens_carry_the_users_current_role_and_name(api, agent):
    first = login(api)
    User.objects.filter(pk=agent.pk).update(role=Role.MANAGER, name="Amina N.")

    second = refresh(api, first["refresh"]).json()

    assert claims(second["access"])["role"] == "manager"
    assert claims(second["refresh"])["name"] == "Amina N."


def test_refresh_blacklists_the_presented_token(api, agent):
    first = login(api)

    refresh(api, first["refresh"])

    jti = claims(first["refresh"])["jti"]
    assert BlacklistedToken.objects.filter(token__jti=jti).exists()
    assert OutstandingToken.objects.filter(user=agent).count() == 2


def test_used_token_presented_again_within_grace_is_refused_without_revoking(api, agent):
    with time_machine.travel(START, tick=False) as traveller:
        first = login(api)
        second = refresh(api, first["refresh"]).json()
        traveller.shift(timedelta(seconds=10))

        again = refresh(api, first["refresh"])

        assert again.status_code == 401
        assert again.json()["code"] == "token_reused"
        assert RefreshChain.objects.get(user=agent).revoked_at is None
        assert refresh(api, second["refresh"]).status_code == 200


def test_used_token_presented_after_grace_revokes_its_whole_chain(api, agent):
    with time_machine.travel(START, tick=False) as traveller:
        first = login(api)
        second = refresh(api, first["refresh"]).json()
        traveller.shift(timedelta(seconds=11))

        again = refresh(api, first["refresh"])
        descendant = refresh(api, second["refresh"])

    assert again.status_code == 401
    assert again.json()["code"] == "token_reused"
    chain = RefreshChain.objects.get(user=agent)
    assert chain.revoked_at == START + timedelta(seconds=11)
    assert chain.revoked_reason == "reuse"
    assert descendant.status_code == 401
    assert descendant.json()["code"] == "invalid_token"


def test_reuse_in_one_chain_leaves_other_logins_working(api, agent):
    with time_machine.travel(START, tick=False) as traveller:
        stolen, other = login(api), login(api)
        refresh(api, stolen["refresh"])
        traveller.shift(timedelta(minutes=1))
        refresh(api, stolen["refresh"])

        assert refresh(api, other["refresh"]).status_code == 200


def test_refresh_is_capped_at_30_days_after_login(api, agent):
    with time_machine.travel(START, tick=False) as traveller:
        token = login(api)["refresh"]
        for _ in range(4):  # days 6, 12, 18, 24: each refresh well inside 7 days
            traveller.shift(timedelta(days=6))
            token = refresh(api, token).json()["refresh"]
        capped_exp = claims(token)["exp"]
        traveller.shift(timedelta(days=5, hours=23))  # day 29 and 23 hours
        token = refresh(api, token).json()["refresh"]
        traveller.shift(timedelta(hours=1))  # day 30: 1 hour after the last refresh

        late = refresh(api, token)

    assert capped_exp == (START + timedelta(days=30)).timestamp()
    assert late.status_code == 401
    assert late.json()["code"] == "invalid_token"


def test_chain_older_than_the_maximum_age_is_refused_with_a_live_token(api, agent):
    with time_machine.travel(START, tick=False) as traveller:
        token = login(api)["refresh"]
        traveller.shift(timedelta(days=2))

        with override_settings(JWT_REFRESH_CHAIN_MAX_DAYS=1):
            response = refresh(api, token)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_expired_refresh_token_is_refused(api, agent):
    with time_machine.travel(START, tick=False) as traveller:
        token = login(api)["refresh"]
        traveller.shift(timedelta(days=7))

        assert refresh(api, token).status_code == 401


def test_logout_revokes_the_token_and_its_chain(api, agent):
    first = login(api)
    second = refresh(api, first["refresh"]).json()

    response = api.post("/api/auth/logout", {"refresh": second["refresh"]}, format="json")

    assert response.status_code == 204
    chain = RefreshChain.objects.get(user=agent)
    assert chain.revoked_reason == "logout"
    assert refresh(api, second["refresh"]).json()["code"] == "invalid_token"
    again = api.post("/api/auth/logout", {"refresh": second["refresh"]}, format="json")
    assert again.status_code == 204


def test_password_change_kills_access_and_refresh_tokens(api, agent):
    pair = login(api)
    assert me(api, pair["access"]).status_code == 200

    agent.set_password("a brand new passphrase")
    agent.save()

    assert me(api, pair["access"]).status_code == 401
    response = refresh(api, pair["refresh"])
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_deactivation_kills_access_and_refresh_tokens(api, agent):
    pair = login(api)
    assert me(api, pair["access"]).status_code == 200

    agent.is_active = False
    agent.save()

    assert me(api, pair["access"]).status_code == 401
    response = refresh(api, pair["refresh"])
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_access_token_is_not_a_refresh_token(api, agent):
    pair = login(api)

    assert refresh(api, pair["access"]).json()["code"] == "invalid_token"
    assert me(api, pair["refresh"]).status_code == 401


def test_refresh_token_signed_with_another_key_is_refused(api, agent):
    forged = jwt.encode(
        claims(login(api)["refresh"]),
        "a different signing key, at least 32 bytes long",
        algorithm="HS256",
    )

    assert refresh(api, forged).json()["code"] == "invalid_token"


def test_me_needs_an_access_token(api, db):
    assert api.get("/api/auth/me").status_code == 401


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300))
def test_any_refresh_text_gets_401_or_400_never_a_crash(api, db, token):
    for endpoint in ("/api/auth/refresh", "/api/auth/logout"):
        response = api.post(endpoint, {"refresh": token}, format="json")

        assert response.status_code in (400, 401)
        assert response.json()["code"] in ("invalid", "invalid_token")


def test_endpoints_are_described_in_the_schema(api, db):
    schema = api.get("/api/schema/", {"format": "json"}).json()

    paths = schema["paths"]
    assert set(paths["/api/auth/login"]["post"]["responses"]) == {"200", "401", "429"}
    assert "/api/auth/refresh" in paths
    assert set(paths["/api/auth/logout"]["post"]["responses"]) == {"204", "401"}
    assert "200" in paths["/api/auth/me"]["get"]["responses"]
    login_body = paths["/api/auth/login"]["post"]["requestBody"]["content"]["application/json"]
    login_input = login_body["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][login_input]["required"]) == {"phone", "password"}
