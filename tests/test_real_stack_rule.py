"""tests/conftest.py's rule: a real-stack test skips without its backend, or fails in CI.

Runs pytest in a subprocess on a one-test file, with the suite's conftest, on the embedded
default (SQLite). A test the rule stops is reported as an error at setup: the run fails.
"""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def postgres_test_on_sqlite(pytester, monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MALIPO_REQUIRE_REAL_STACK"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini(
        f"""
        [pytest]
        DJANGO_SETTINGS_MODULE = config.settings_test
        pythonpath = {PROJECT}
        markers =
            postgres: needs PostgreSQL
            redis: needs Redis
            worker: needs a Celery worker
        """
    )
    pytester.makeconftest((PROJECT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.postgres
        @pytest.mark.django_db
        def test_needs_row_locks():
            pass
        """
    )
    return pytester


def test_postgres_test_skips_on_sqlite_by_default(postgres_test_on_sqlite):
    result = postgres_test_on_sqlite.runpytest_subprocess("-rs")

    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs PostgreSQL*"])


def test_postgres_test_fails_on_sqlite_when_the_real_stack_is_required(
    postgres_test_on_sqlite, monkeypatch
):
    monkeypatch.setenv("MALIPO_REQUIRE_REAL_STACK", "1")

    result = postgres_test_on_sqlite.runpytest_subprocess()

    result.assert_outcomes(errors=1)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*real stack required but missing*needs PostgreSQL*"])
