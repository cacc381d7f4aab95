"""Liveness (/healthz: the process answers) and readiness (/readyz: its backends answer).

Each readiness check is bounded by short timeouts, so a backend that is down or hangs turns
into a quick 503 naming it rather than a probe that never answers. The cache's timeouts are
its SOCKET_*_TIMEOUT options; the database's is the driver's connect timeout.
"""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from config.celery import app as celery_app

logger = logging.getLogger(__name__)

# Seconds the broker check may spend connecting and waiting for an answer.
BROKER_TIMEOUT = 1


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    cache.set("readyz", "1", timeout=5)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not return what was written")


def _broker() -> None:
    if celery_app.conf.task_always_eager:
        return
    timeouts = {"socket_connect_timeout": BROKER_TIMEOUT, "socket_timeout": BROKER_TIMEOUT}
    with celery_app.connection_for_write(transport_options=timeouts) as conn:
        conn.ensure_connection(max_retries=0)


CHECKS = {"database": _database, "cache": _cache, "broker": _broker}


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    failed = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            # The class name only: a message may carry a URL with credentials.
            failed[name] = exc.__class__.__name__
    if failed:
        logger.warning("not ready", extra={"failed": failed})
        return JsonResponse({"status": "unavailable", "failed": failed}, status=503)
    return JsonResponse({"status": "ok", "checked": list(CHECKS)})
