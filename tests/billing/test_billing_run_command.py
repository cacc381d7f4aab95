"""`manage.py run_billing`: the period argument, the operator filter and the summary."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from billing.management.commands.run_billing import period_parse
from billing.models import Invoice
from tests.billing.invoice_factories import billed_account, operator_make, tariff_make


def run(*args: str) -> str:
    out = StringIO()
    call_command("run_billing", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@given(st.dates(min_value=date(2000, 1, 1)))
def test_any_month_written_yyyy_mm_is_read_as_its_first_day(day):
    assert period_parse(f"{day:%Y-%m}") == day.replace(day=1)


# Month-shaped texts too, written with other digits (Arabic-Indic) that int() would accept.
LOOKALIKES = st.from_regex(r"[0-9\u0660-\u0669]{4}-[0-9\u0660-\u0669]{2}", fullmatch=True)


@given(st.text(max_size=12) | LOOKALIKES)
def test_anything_else_is_refused_with_a_value_error(text):
    try:
        parsed = period_parse(text)
    except ValueError:
        return
    assert f"{parsed:%Y-%m}" == text.strip()


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "", "x"])
def test_malformed_periods_are_refused(text):
    with pytest.raises(ValueError):
        period_parse(text)


@pytest.mark.django_db
def test_command_bills_the_month_and_prints_a_summary_and_a_rerun_skips():
    operator = operator_make(slug="maji")
    tariff = tariff_make(operator, standing_charge=100)
    for usage in ("3", "12"):
        billed_account(operator, tariff, usage)
    other = operator_make(slug="other")
    billed_account(other, tariff_make(other), "1")

    assert run("--period", "2026-11", "--operator", "maji") == (
        "maji 2026-11: 2 created, 0 skipped, 0 errors\n"
    )
    assert run("--period", "2026-11").splitlines() == [
        "maji 2026-11: 0 created, 2 skipped, 0 errors",
        "other 2026-11: 1 created, 0 skipped, 0 errors",
    ]
    assert Invoice.objects.count() == 3


@pytest.mark.django_db
def test_command_refuses_a_bad_period_or_an_unknown_operator():
    with pytest.raises(CommandError, match="YYYY-MM"):
        run("--period", "November")
    with pytest.raises(CommandError, match="no operator"):
        run("--period", "2026-11", "--operator", "nobody")
    with pytest.raises(CommandError, match="--workers"):
        run("--period", "2026-11", "--workers", "0")
