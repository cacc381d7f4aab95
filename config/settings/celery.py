"""Celery: a real broker when CELERY_BROKER_URL is set, otherwise tasks run in-process."""

from celery.schedules import crontab

from config.settings.env import env

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
if not CELERY_BROKER_URL:
    # Embedded default: no broker; `.delay()` runs the task at once, in the calling process.
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = env("TIME_ZONE", default="Africa/Nairobi")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis re-delivers an unacknowledged task after this many seconds; acks_late tasks are
# idempotent, so a re-delivery is harmless. Longer than any task may run.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Codes and receipts travel apart from bulk traffic so a backlog never delays them.
CELERY_TASK_DEFAULT_QUEUE = "default"

CELERY_BEAT_SCHEDULE = {
    # Expired refresh tokens are useless; remove them from the blacklist tables every night.
    "flush-expired-tokens": {
        "task": "accounts.tasks.expired_tokens_flush",
        "schedule": crontab(hour=3, minute=15),
    },
}
