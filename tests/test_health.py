"""Probes: /healthz says the process answers; /readyz says which backend does not, quickly."""

import socket
import threading
import time

import pytest
from django.db import connection
from django.db.utils import load_backend

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db

CLOSED_PORT = 1  # nothing listens on 127.0.0.1:1: connections are refused at once


def _redis_cache(port: int) -> dict:
    """A django-redis cache at 127.0.0.1:`port`, with the production timeouts."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }


@pytest.fixture
def broker_at(monkeypatch):
    """Point the readiness broker check at 127.0.0.1:`port`, even where tasks run in-process."""

    def point(port: int) -> None:
        celery_app.conf.task_always_eager = False
        monkeypatch.setenv("CELERY_BROKER_WRITE_URL", f"redis://127.0.0.1:{port}/0")

    eager = celery_app.conf.task_always_eager
    yield point
    celery_app.conf.task_always_eager = eager


@pytest.fixture
def hung_port():
    """A port that accepts connections (the kernel completes them) but never answers.

    After 10 s it closes, resetting them, so a check without timeouts fails instead of hanging.
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        closer = threading.Timer(10, listener.close)
        closer.start()
        yield listener.getsockname()[1]
        closer.cancel()


@pytest.fixture
def database_down(monkeypatch):
    """The readiness check's database connection points somewhere that cannot be opened."""
    broken = dict(connection.settings_dict)
    if connection.vendor == "sqlite":
        broken["NAME"] = "/nonexistent-directory/malipo.sqlite3"
    else:
        broken.update(HOST="127.0.0.1", PORT=CLOSED_PORT)
    wrapper = load_backend(broken["ENGINE"]).DatabaseWrapper(broken, alias="readyz-down")
    monkeypatch.setattr("config.health.connection", wrapper)
    yield
    wrapper.close()


def _ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_answers_ok_even_when_every_backend_is_down(
    client, settings, broker_at, database_down
):
    settings.CACHES = _redis_cache(CLOSED_PORT)
    broker_at(CLOSED_PORT)

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_ok_when_backends_answer(client):
    status, body = _ready(client)
    assert status == 200, body
    assert body == {"status": "ok", "checked": ["database", "cache", "broker"]}


def test_readyz_names_the_cache_when_redis_is_unreachable(client, settings):
    settings.CACHES = _redis_cache(CLOSED_PORT)

    status, body = _ready(client)

    assert status == 503
    assert body["status"] == "unavailable"
    assert list(body["failed"]) == ["cache"]


def test_readyz_names_the_broker_when_it_is_unreachable(client, broker_at):
    broker_at(CLOSED_PORT)

    status, body = _ready(client)

    assert status == 503
    assert list(body["failed"]) == ["broker"]


def test_readyz_names_the_database_when_it_is_unreachable(client, database_down):
    status, body = _ready(client)

    assert status == 503
    assert list(body["failed"]) == ["database"]


def test_readyz_answers_within_three_seconds_when_redis_hangs(
    client, settings, broker_at, hung_port
):
    settings.CACHES = _redis_cache(hung_port)
    broker_at(hung_port)

    started = time.monotonic()
    status, body = _ready(client)
    elapsed = time.monotonic() - started

    assert status == 503
    assert sorted(body["failed"]) == ["broker", "cache"]
    assert elapsed < 3, f"readyz took {elapsed:.1f}s with a hung Redis"
