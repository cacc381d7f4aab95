"""The invoice PDF: a valid one-page document carrying everything a customer needs to pay.

The text is read back from the PDF's own content streams (reportlab writes ASCII85 + Flate
streams with text-showing operators), so these tests need no PDF library; when poppler's
`pdftotext` is installed, one test also reads the PDF the way a viewer would.
"""

import base64
import re
import shutil
import subprocess
import zlib
from datetime import date
from decimal import Decimal

import pytest
import time_machine

from billing.models import Invoice, InvoiceKind
from billing.money import Money
from billing.pdf import invoice_pdf
from billing.services.payments import payment_record
from billing.services.penalties import penalty_charge
from tests.billing.api_support import account_open, at, billed, operator_make, water_tariff

pytestmark = pytest.mark.django_db

STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
TEXT_OBJECT = re.compile(rb"\bBT\b(.*?)\bET\b", re.S)
# A shown string, or T* (next line).
SHOWN = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj|(T\*)")
ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)


def _unescape(match: re.Match) -> bytes:
    code = match[1]
    return bytes([int(code, 8)]) if code[:1].isdigit() else code


def pdf_text(data: bytes) -> str:
    """The lines of text the PDF shows (each table cell on a line of its own), in drawing
    order."""
    lines = []
    for stream in STREAM.findall(data):
        body = stream.strip()
        if not body.endswith(b"~>"):
            continue
        content = zlib.decompress(base64.a85decode(body[:-2], adobe=False))
        for text_object in TEXT_OBJECT.findall(content):
            line = b""
            for shown, next_line in SHOWN.findall(text_object):
                if next_line:
                    lines.append(line)
                    line = b""
                else:
                    line += ESCAPE.sub(_unescape, shown)
            lines.append(line)
    return "\n".join(line.decode("cp1252") for line in lines if line)


def page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", data))


@pytest.fixture
def july() -> Invoice:
    """June 12.5 m3 = 500 + 150 + 100 standing + 16 % VAT = 870.00, KES 500 paid on it;
    July 14 m3 = 500 (10 at 50) + 240 (4 at 60) + 100 + VAT 134.40 = 974.40."""
    operator = operator_make(name="Maji Safi", address="Moi Avenue 12, Nairobi")
    account = account_open(operator, water_tariff(operator), name="Achieng & Sons <Ltd>")
    billed(account, ["12.5"])
    with time_machine.travel(at(date(2026, 7, 10)), tick=False):
        payment_record(
            account=account,
            amount=Money.of("500", "KES"),
            source="mpesa",
            reference="QX1",
            clearing="clearing:mpesa",
        )
    (july,) = billed(account, ["14"], first=date(2026, 7, 1))
    return july


def test_the_invoice_pdf_is_one_page_and_says_everything_needed_to_pay(july):
    number = july.account.number

    data = invoice_pdf(july)

    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert page_count(data) == 1
    text = pdf_text(data)
    for expected in [
        # the operator, and the customer
        "Maji Safi",
        "Moi Avenue 12, Nairobi",
        "Help: +254700000100",
        "Achieng & Sons <Ltd>",
        f"Account number: {number}",
        "Plot 14, Ngong Road",
        # the invoice and its period
        july.number,
        "01 Jul 2026 - 31 Jul 2026",
        # the reading: previous and current index, consumption
        "12.5\n26.5\n14 m3",
        # every line: description, quantity, unit price, amount
        "Tier 1 (0-10 m3)\n10\n50.00\n500.00",
        "Tier 2 (10-30 m3)\n4\n60.00\n240.00",
        "Standing charge\n1\n100.00\n100.00",
        "VAT 16%\n840.00\n16 %\n134.40",
        # taxes, total, balance brought forward, what to pay by when
        "Before tax\n840.00",
        "Tax (VAT)\n134.40",
        "Total of this invoice\n974.40",
        "Balance brought forward\n370.00",
        "To pay by 15 Aug 2026\nKES 1,344.40",
        # how to pay
        f"paybill 123456, account number {number}",
        f"dial *384*12# and enter account number {number}",
    ]:
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert "estimated" not in text


def test_the_same_invoice_always_gives_the_same_document(july):
    assert invoice_pdf(july) == invoice_pdf(july)


def test_an_estimated_period_says_so_on_the_reading_and_explains_it(db):
    operator = operator_make()
    account = account_open(operator, water_tariff(operator))
    *_, estimated = billed(account, ["12", "15", "18", None])  # estimate: (12+15+18)/3 = 15

    text = pdf_text(invoice_pdf(estimated))

    assert "45\n60\n15 m3\nestimated" in text
    assert "estimated from the average of your last 3 periods" in text


def test_a_penalty_pdf_names_the_overdue_invoice_and_its_amount(july):
    penalty = penalty_charge(invoice=july, on_date=date(2026, 8, 20))

    text = pdf_text(invoice_pdf(penalty))

    assert penalty.kind == InvoiceKind.PENALTY
    assert f"Late-payment penalty on {july.number}\n1\n48.72\n48.72" in text  # 5 % of 974.40
    assert "Balance brought forward\n1,344.40" in text


def test_amounts_in_a_currency_without_decimals_carry_no_fraction(db):
    operator = operator_make(currency="XAF", name="Eneo", paybill="", ussd_code="#150*4#")
    tariff = water_tariff(operator, standing_charge=Decimal(1000), vat_rate=Decimal(0))
    (invoice,) = billed(account_open(operator, tariff), ["12"])  # 500 + 120 + 1000

    text = pdf_text(invoice_pdf(invoice))

    assert "Total of this invoice\n1,620" in text
    assert "To pay by 15 Jul 2026\nXAF 1,620" in text
    assert "1,620.00" not in text and "paybill" not in text
    assert "dial #150*4#" in text


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler's pdftotext not installed")
def test_a_pdf_viewer_reads_the_amounts_and_the_way_to_pay(july, tmp_path):
    path = tmp_path / "invoice.pdf"
    path.write_bytes(invoice_pdf(july))

    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout

    assert "KES 1,344.40" in text
    assert f"paybill 123456, account number {july.account.number}" in text
