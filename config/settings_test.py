"""Settings for the test suite: the production settings with test-only defaults.

DATABASE_URL, REDIS_URL and CELERY_BROKER_URL are honoured as given, so the same suite runs on
the embedded default and on PostgreSQL/Redis/Celery.
"""

import os
from pathlib import Path

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SMS_CODE_PEPPERS", "1:test-pepper-one,2:test-pepper-two")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault(
    "SMS_CONSOLE_FILE", str(Path(__file__).parent.parent / "var" / "test-sms.log")
)

from config.settings import *  # noqa: F403
from config.settings import CACHES, DATABASES

# A fixed test-database name, so the Celery worker that CI starts can point at it.
DATABASES["default"].setdefault("TEST", {})
if not DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"]["NAME"] = os.environ.get("TEST_DATABASE_NAME", "malipo_test")

# Test runs sharing one Redis keep apart by key prefix; the suite clears only its own keys.
CACHES["default"]["KEY_PREFIX"] = os.environ.get("TEST_CACHE_PREFIX", "malipo-test")
