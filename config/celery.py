"""The Celery application. Settings come from Django's settings under the CELERY_ prefix."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("malipo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def database_connections_check(task=None, **kwargs) -> None:
    """Around a task in a worker, close database connections that are broken or older than
    DB_CONN_MAX_AGE, as Django does around each request (with DB_CONN_MAX_AGE=0, after every
    task, as Celery did by default); the others are reused (CELERY_DB_REUSE_MAX)."""
    if task is not None and getattr(task.request, "is_eager", False):
        return  # runs inside the caller's transaction
    from django.db import close_old_connections

    close_old_connections()
