"""Suite-wide fixtures and the rule that keeps the real stack in CI.

Tests marked `postgres`, `redis` or `worker` need that backend. Without it they skip, with the
reason shown; with MALIPO_REQUIRE_REAL_STACK=1 (set by .ci/run) they fail instead, so the real
stack can never silently drop out of CI.
"""

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

REQUIRE_REAL_STACK = os.environ.get("MALIPO_REQUIRE_REAL_STACK") == "1"


def _database_is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _cache_is_redis() -> bool:
    return "django_redis" in settings.CACHES["default"]["BACKEND"]


def _worker_answers() -> bool:
    from config.celery import app

    if app.conf.task_always_eager:
        return False
    try:
        return bool(app.control.ping(timeout=2.0))
    except Exception:  # noqa: BLE001 - a broker that does not answer means no worker
        return False


_NEEDS = {
    "postgres": (_database_is_postgres, "needs PostgreSQL: set DATABASE_URL=postgres://..."),
    "redis": (_cache_is_redis, "needs Redis: set REDIS_URL=redis://..."),
    "worker": (
        _worker_answers,
        "needs a Celery worker: set CELERY_BROKER_URL and start `make worker` (see .ci/run)",
    ),
}
_answers: dict[str, bool] = {}


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    broker = settings.CELERY_BROKER_URL
    return [
        f"malipo backends: database={db['ENGINE'].rsplit('.', 1)[-1]} "
        f"cache={settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]} "
        f"celery={'in-process (eager)' if broker == 'memory://' else broker.split('@')[-1]}",
        f"malipo real stack required: {REQUIRE_REAL_STACK}",
    ]


def pytest_runtest_setup(item):
    for name, (probe, reason) in _NEEDS.items():
        if item.get_closest_marker(name) is None:
            continue
        if name not in _answers or not _answers[name]:
            _answers[name] = probe()
        if not _answers[name]:
            if REQUIRE_REAL_STACK:
                pytest.fail(f"real stack required but missing: {reason}", pytrace=False)
            pytest.skip(reason)


@pytest.fixture(autouse=True)
def _clean_cache():
    """Counters and sessions in the cache never leak from one test into the next."""
    if _cache_is_redis():
        cache.delete_pattern("*")  # only this run's keys (KEY_PREFIX), not the whole db
    else:
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def _tasks_in_process(request):
    """Tasks queued by a test run in the test's own process, on every backend, so a test sees
    their effects at once. Only `worker` tests publish to the real broker: they prove delivery
    through a live worker."""
    from config.celery import app

    if request.node.get_closest_marker("worker"):
        yield
        return
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager
