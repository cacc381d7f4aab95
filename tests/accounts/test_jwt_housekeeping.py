"""The nightly flush of expired token records, and the start-up check of the JWT settings."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.checks import jwt_settings_check
from accounts.models import RefreshChain, Role, User
from accounts.services.tokens import token_pair_obtain, token_pair_refresh
from accounts.tasks import expired_tokens_flush

START = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def agent(db):
    return User.objects.create_user(
        "+254712345678", "pass phrase 42", role=Role.AGENT, is_active=True
    )


def login():
    return token_pair_obtain(phone="+254712345678", password="pass phrase 42", ip=None)


def test_flush_deletes_expired_token_records_and_keeps_live_ones(agent):
    with time_machine.travel(START, tick=False) as traveller:
        old = login()  # expires on day 7
        token_pair_refresh(refresh=old.refresh)  # old blacklisted, its successor: day 7 too
        traveller.shift(timedelta(days=3))
        live = login()  # expires on day 10
        traveller.shift(timedelta(days=4))  # day 7: the first chain's tokens have expired

        result = expired_tokens_flush()

        assert result == {"outstanding": 2, "blacklisted": 1, "chains": 0}
        assert not BlacklistedToken.objects.exists()
        assert OutstandingToken.objects.get().expires_at == START + timedelta(days=10)
        assert token_pair_refresh(refresh=live.refresh).access


def test_flush_deletes_chains_past_their_maximum_age(agent):
    with time_machine.travel(START, tick=False) as traveller:
        login()
        traveller.shift(timedelta(days=29))
        login()
        traveller.shift(timedelta(days=1))

        result = expired_tokens_flush()

    assert result["chains"] == 1
    assert RefreshChain.objects.get().started_at == START + timedelta(days=29)


def test_flush_twice_deletes_nothing_more(agent):
    with time_machine.travel(START, tick=False) as traveller:
        login()
        traveller.shift(timedelta(days=31))
        first = expired_tokens_flush()
        second = expired_tokens_flush()

    assert first == {"outstanding": 1, "blacklisted": 0, "chains": 1}
    assert second == {"outstanding": 0, "blacklisted": 0, "chains": 0}


def test_flush_is_scheduled_nightly():
    entry = settings.CELERY_BEAT_SCHEDULE["flush-expired-tokens"]

    assert entry["task"] == expired_tokens_flush.name


def test_start_up_check_passes_with_the_project_settings():
    jwt_settings_check()


def test_start_up_check_refuses_rotation_without_blacklisting():
    no_blacklisting = {**settings.SIMPLE_JWT, "BLACKLIST_AFTER_ROTATION": False}
    with override_settings(SIMPLE_JWT=no_blacklisting), pytest.raises(ImproperlyConfigured):
        jwt_settings_check()


def test_start_up_check_refuses_rotation_without_the_blacklist_app():
    apps = [a for a in settings.INSTALLED_APPS if a != "rest_framework_simplejwt.token_blacklist"]
    with override_settings(INSTALLED_APPS=apps), pytest.raises(ImproperlyConfigured):
        jwt_settings_check()


def test_start_up_check_allows_no_rotation_without_the_blacklist_app():
    apps = [a for a in settings.INSTALLED_APPS if a != "rest_framework_simplejwt.token_blacklist"]
    no_rotation = {**settings.SIMPLE_JWT, "ROTATE_REFRESH_TOKENS": False}
    with override_settings(INSTALLED_APPS=apps, SIMPLE_JWT=no_rotation):
        jwt_settings_check()
