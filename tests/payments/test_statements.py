"""import_statement: an M-Pesa statement matched by receipt against what we recorded."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from billing.models import Payment
from billing.selectors import account_balance
from billing.services.payments import payment_record
from payments.models import SuspensePayment
from payments.services.statements import NAIROBI, StatementInvalid, statement_parse
from tests.payments.support import kes

pytestmark = pytest.mark.django_db

HEADER = (
    "Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,"
    "Withdrawn,Balance,Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,"
    "A/C No."
)
TITLE = "Organisation Name:,Malipo Water\nTime Period:,01-03-2026 - 31-03-2026\n\n"


def statement(*rows: str) -> str:
    return TITLE + HEADER + "\n" + "\n".join(rows) + "\n"


def row(receipt, when, paid, account="", details="Pay Bill Online", status="Completed"):
    return (
        f'{receipt},{when},{when},{details},{status},"{paid}",,"10,000.00",true,'
        f"Pay Bill Online,2547****126 - JOHN DOE,,{account}"
    )


def test_money_in_lines_are_read_and_the_rest_skipped():
    lines = statement_parse(
        statement(
            row("QAA1", "2026-03-02 10:21:05", "1,200.00", account="100000011"),
            row("QAA2", "02-03-2026 11:00:00", "", account="100000011"),  # money out
            row("QAA3", "02/03/2026 12:00", "50.00", status="Failed"),
            row(
                "QAA4", "2026-03-02 13:00:00", "75.50", details="Pay Bill from JOHN Acc. 100000029"
            ),
        )
    )

    assert [(line.receipt, line.amount, line.account_reference) for line in lines] == [
        ("QAA1", kes("1200"), "100000011"),
        ("QAA4", kes("75.50"), "100000029"),
    ]
    assert lines[0].completed_at.isoformat() == "2026-03-02T10:21:05+03:00"


@pytest.mark.parametrize(
    "text",
    ["", "just,some,columns\n1,2,3\n", "Receipt No.,Paid In\nQ1,5\n"],
)
def test_a_file_without_the_needed_columns_is_refused(text):
    with pytest.raises(StatementInvalid):
        statement_parse(text)


@given(paid=st.text(max_size=12))
def test_any_paid_in_text_is_read_or_refused_cleanly(paid):
    text = statement(row("Q1", "2026-03-02 10:00:00", paid.replace('"', "")))
    try:
        lines = statement_parse(text)
    except StatementInvalid:
        return
    assert all(line.amount.minor > 0 for line in lines)


def test_unknown_time_format_is_refused():
    with pytest.raises(StatementInvalid, match="Line 5"):
        statement_parse(statement(row("Q1", "yesterday", "5.00")))


def test_the_import_lists_both_sides_and_records_what_is_missing(mpesa, account, tmp_path):
    ours = payment_record(
        account=account,
        amount=kes("100"),
        source="mpesa",
        reference="QAA1",
        clearing="clearing:mpesa",
    )
    only_ours = payment_record(
        account=account,
        amount=kes("50"),
        source="mpesa",
        reference="QZZ9",
        received_at=ours.received_at,
        clearing="clearing:mpesa",
    )
    local = ours.received_at.astimezone(NAIROBI)
    when = local.strftime("%Y-%m-%d %H:%M:%S")
    later, early = local.strftime("%Y-%m-%d 23:59:59"), local.strftime("%Y-%m-%d 00:00:00")
    path = tmp_path / "statement.csv"
    path.write_text(
        statement(
            row("QAA1", when, "100.00", account=account.number),
            row("QBB2", early, "1,100.00", account=account.number),
            row("QCC3", later, "20.00", account="99"),
        )
    )
    out = StringIO()

    call_command("import_statement", "mpesa", str(path), "--dry-run", stdout=out)
    assert Payment.objects.count() == 2
    call_command("import_statement", "mpesa", str(path), stdout=out)
    call_command("import_statement", "mpesa", str(path), stdout=out)

    text = out.getvalue()
    assert "3 money-in lines, 1 matched by receipt" in text
    assert "QBB2" in text and "not recorded (dry run)" in text
    assert f"payment {only_ours.pk} QZZ9" in text
    assert Payment.objects.filter(reference="QBB2").count() == 1
    assert SuspensePayment.objects.get().receipt == "QCC3"
    assert account_balance(account) == kes("0") - kes("50")
    assert "3 money-in lines, 3 matched by receipt" in text  # the second import found them all


def test_an_unreadable_file_is_a_command_error(mpesa, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("nothing here")

    with pytest.raises(CommandError, match=r"Receipt No\."):
        call_command("import_statement", "mpesa", str(path))


def test_decimal_amounts_never_pass_through_float():
    [line] = statement_parse(statement(row("Q1", "2026-03-02 10:00:00", "0.10")))

    assert line.amount.amount == Decimal("0.10")
