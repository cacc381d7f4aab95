"""Liveness (/healthz: the process answers) and readiness (/readyz: its backends answer)."""

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from config.celery import app as celery_app


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
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = {"database": _database, "cache": _cache, "broker": _broker}


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    failed = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            failed[name] = exc.__class__.__name__
    if failed:
        return JsonResponse({"status": "unavailable", "failed": failed}, status=503)
    return JsonResponse({"status": "ok", "checked": list(CHECKS)})
