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
# Celery's Django fixup closes the database connections around every task unless this is set:
# a new PostgreSQL connection per task was most of a callback task's time. With it, workers
# keep their connections as web processes do, by DB_CONN_MAX_AGE (config/celery.py checks them
# around each task); the fixup still recycles them after this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Codes and receipts travel apart from bulk traffic so a backlog never delays them.
CELERY_TASK_DEFAULT_QUEUE = "default"

# Dunning runs once a day per operator, from this hour of the operator's own local time.
DUNNING_LOCAL_HOUR = env.int("DUNNING_LOCAL_HOUR", default=9)

CELERY_BEAT_SCHEDULE = {
    # Expired refresh tokens are useless; remove them from the blacklist tables every night.
    "flush-expired-tokens": {
        "task": "accounts.tasks.expired_tokens_flush",
        "schedule": crontab(hour=3, minute=15),
    },
    # Callbacks are hints: ask operators about pending payments (about 1, 3, 10 and 15 min
    # after each push) and expire those with no answer. Skips while a run is still going.
    "reconcile-payments": {
        "task": "payments.tasks.payments_reconcile",
        "schedule": 60.0,
    },
    # The SMS outbox: hand workers the messages that are due (deferred by quiet hours, limits
    # or the rate limit, retries, and sends whose worker died), most urgent first. Skips while
    # a run is still going.
    "sms-outbox-dispatch": {
        "task": "sms.tasks.outbox_dispatch",
        "schedule": 10.0,
    },
    # Dunning (reminders, late penalties, cut-offs): hourly, so each operator's run starts soon
    # after DUNNING_LOCAL_HOUR in its own time zone; it acts once a day per operator and skips
    # while a run still holds the lock.
    "dunning-daily": {
        "task": "billing.tasks.dunning_daily",
        "schedule": crontab(minute=7),
    },
}
