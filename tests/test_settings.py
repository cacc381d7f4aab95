"""Production settings refuse to start half-configured, and harden transport when DEBUG is off."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
    "s.SECURE_SSL_REDIRECT, list(s.SECURE_PROXY_SSL_HEADER), s.PASSWORD_HASHERS[0]]))"
)
GOOD = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 60,
    "ALLOWED_HOSTS": "billing.example.com",
    "SMS_CODE_PEPPERS": "1:a-real-pepper",
}


def _start(env_overrides: dict[str, str], probe: str = PROBE) -> subprocess.CompletedProcess:
    # A clean environment: only what any process has, plus the settings under test.
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY must be set"),
        ("ALLOWED_HOSTS", "ALLOWED_HOSTS must list"),
        ("SMS_CODE_PEPPERS", "SMS_CODE_PEPPERS must hold"),
    ],
)
def test_production_start_is_refused_without_each_required_secret(missing, message):
    result = _start({k: v for k, v in GOOD.items() if k != missing})

    assert result.returncode != 0
    assert message in result.stderr


def test_a_short_or_development_secret_key_is_refused():
    assert _start({**GOOD, "SECRET_KEY": "short"}).returncode != 0


def test_production_turns_on_secure_cookies_hsts_and_https_redirect_behind_a_proxy():
    result = _start(GOOD)

    assert result.returncode == 0, result.stderr
    secure_session, secure_csrf, hsts, redirect, proxy_header, hasher = json.loads(result.stdout)
    assert (secure_session, secure_csrf, redirect) == (True, True, True)
    assert hsts >= 31536000
    assert proxy_header == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert hasher.endswith("Argon2PasswordHasher")


def test_the_meter_command_hook_and_its_options_come_from_the_environment():
    probe = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.METER_COMMAND_HOOK, s.METER_COMMAND_HOOK_OPTIONS]))"
    )
    hook = {
        "METER_COMMAND_HOOK": "meters.vendor.Hook",
        "METER_COMMAND_HOOK_OPTIONS": '{"base_url": "https://meters.example", "timeout": 5}',
    }
    result = _start({**GOOD, **hook}, probe)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "meters.vendor.Hook",
        {"base_url": "https://meters.example", "timeout": 5},
    ]
