"""The invoice as a PDF (reportlab), the document a customer can print or be sent.

It holds the operator's header (name, address, help line), the customer (holder, account
number, address), the period, the meter readings (previous and current index, consumption,
"estimated" when so), every invoice line (description, quantity, unit price, amount), the tax,
the total, the balance brought forward, what to pay and by when, and how to pay (paybill and
account number, USSD code). The output is deterministic: the same invoice gives the same bytes.
"""

from decimal import Decimal
from io import BytesIO
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.models import Invoice, InvoiceKind, LineKind, MeterReading, ReadingStatus
from billing.money import Money, exponent
from billing.services.metering import index_text
from billing.summaries import invoice_figures

_STYLES = getSampleStyleSheet()
BODY = ParagraphStyle("body", parent=_STYLES["Normal"], fontSize=9, leading=11)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8, leading=10, textColor=colors.grey)
RIGHT = ParagraphStyle("right", parent=BODY, alignment=TA_RIGHT)
TITLE = ParagraphStyle("title", parent=_STYLES["Title"], fontSize=16, leading=20, alignment=0)
HEADING = ParagraphStyle("heading", parent=_STYLES["Heading4"], spaceBefore=8, spaceAfter=3)
GRID = TableStyle(
    [
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)
WIDTH = A4[0] - 36 * mm


def _p(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(text), style)


def _amount(minor: int, currency: str) -> str:
    return f"{Money(minor, currency).amount:,.{exponent(currency)}f}"


def _rate(value: Decimal, currency: str) -> str:
    """A unit price with at least the currency's decimals and no trailing zeros beyond them."""
    places = max(exponent(currency), -value.normalize().as_tuple().exponent)
    return f"{value:,.{places}f}"


def _header(invoice: Invoice) -> list:
    operator, account = invoice.operator, invoice.account
    contact = [operator.address, f"Help: {operator.help_phone}" if operator.help_phone else ""]
    left = [_p(operator.name, TITLE), *(_p(line) for line in contact if line)]
    title = "Invoice" if invoice.kind == InvoiceKind.INVOICE else invoice.get_kind_display()
    facts = [
        (title, invoice.number),
        ("Issued", f"{invoice.issue_date:%d %b %Y}"),
        ("Due date", f"{invoice.due_date:%d %b %Y}"),
    ]
    if invoice.period_start and invoice.period_end:
        facts.insert(
            1, ("Period", f"{invoice.period_start:%d %b %Y} - {invoice.period_end:%d %b %Y}")
        )
    right = Table(
        [[_p(label), _p(value, RIGHT)] for label, value in facts],
        colWidths=[WIDTH * 0.12, WIDTH * 0.3],
    )
    customer = [
        _p("Customer", HEADING),
        _p(account.holder_name),
        _p(f"Account number: {account.number}"),
        *(_p(line) for line in (account.address, account.zone) if line),
    ]
    top = Table([[left, right]], colWidths=[WIDTH * 0.56, WIDTH * 0.44])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [top, *customer]


def _previous_index(reading: MeterReading) -> Decimal:
    previous = (
        MeterReading.objects.filter(
            meter_id=reading.meter_id, status=ReadingStatus.ACCEPTED, read_at__lt=reading.read_at
        )
        .order_by("-read_at")
        .values_list("index", flat=True)
        .first()
    )
    return reading.meter.initial_index if previous is None else previous


def _readings(invoice: Invoice) -> list:
    zone = ZoneInfo(invoice.operator.timezone)
    readings = list(invoice.readings.select_related("meter").order_by("read_at", "pk"))
    if not readings and invoice.consumption is None:
        return []
    rows = [["Meter", "Read on", "Previous index", "Current index", "Consumption", ""]]
    for reading in readings:
        notes = [
            "estimated" if reading.is_estimated else "",
            "rollover" if reading.rolled_over else "",
        ]
        rows.append(
            [
                _p(reading.meter.serial),
                f"{reading.read_at.astimezone(zone):%d %b %Y}",
                index_text(_previous_index(reading)),
                index_text(reading.index),
                f"{index_text(reading.consumption or Decimal(0))} {reading.meter.unit}",
                _p(", ".join(note for note in notes if note)),
            ]
        )
    if not readings:
        rows.append(["-", "-", "-", "-", index_text(invoice.consumption), ""])
    table = Table(rows, colWidths=[WIDTH * w for w in (0.2, 0.16, 0.17, 0.17, 0.17, 0.13)])
    table.setStyle(GRID)
    flow = [_p("Meter readings", HEADING), table]
    if invoice.is_estimated:
        flow.append(
            _p(
                "No reading was taken for this period: the consumption is estimated from the "
                "average of your last 3 periods and will be corrected by your next reading.",
                SMALL,
            )
        )
    return flow


def _lines(invoice: Invoice) -> list:
    currency = invoice.currency
    rows = [["Description", "Quantity", "Unit price", f"Amount ({currency})"]]
    for line in invoice.lines.order_by("position"):
        quantity = index_text(line.quantity)
        if line.kind == LineKind.VAT:  # the base the rate applies to, and the rate
            quantity = f"{line.quantity:,.{exponent(currency)}f}"
            price = f"{index_text(line.unit_price * 100)} %"
        else:
            price = _rate(line.unit_price, currency)
        rows.append([_p(line.description), quantity, price, _amount(line.amount_minor, currency)])
    table = Table(rows, colWidths=[WIDTH * w for w in (0.49, 0.15, 0.17, 0.19)], repeatRows=1)
    table.setStyle(GRID)
    return [_p("Charges", HEADING), table]


def _totals(invoice: Invoice) -> list:
    currency = invoice.currency
    figures = invoice_figures(invoice)
    tax = sum(line.amount_minor for line in invoice.lines.all() if line.kind == LineKind.VAT)
    rows = [
        ("Before tax", _amount(invoice.total_minor - tax, currency)),
        ("Tax (VAT)", _amount(tax, currency)),
        ("Total of this invoice", _amount(invoice.total_minor, currency)),
        ("Balance brought forward", _amount(figures.brought_forward.minor, currency)),
    ]
    if figures.to_pay.minor > 0:
        rows.append((f"To pay by {invoice.due_date:%d %b %Y}", figures.to_pay.format()))
    else:
        rows.append(("Nothing to pay: your credit", (-figures.to_pay).format()))
    table = Table(rows, colWidths=[WIDTH * 0.81, WIDTH * 0.19])
    table.setStyle(
        TableStyle(
            [
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("LINEABOVE", (0, -1), (-1, -1), 0.75, colors.black),
            ]
        )
    )
    return [Spacer(1, 4), table]


def _how_to_pay(invoice: Invoice) -> list:
    operator, number = invoice.operator, invoice.account.number
    ways = []
    if operator.paybill:
        ways.append(f"Mobile money: paybill {operator.paybill}, account number {number}.")
    if operator.ussd_code:
        ways.append(f"From any phone: dial {operator.ussd_code} and enter account number {number}.")
    ways.append(f"Always quote your account number {number}.")
    return [_p("How to pay", HEADING), *(_p(way) for way in ways)]


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF document (A4, one page for an ordinary invoice)."""
    invoice = Invoice.objects.select_related("operator", "account").get(pk=invoice.pk)
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{invoice.operator.name} {invoice.number}",
        author=invoice.operator.name,
        invariant=True,
    )
    story = [
        *_header(invoice),
        *_readings(invoice),
        *_lines(invoice),
        *_totals(invoice),
        *_how_to_pay(invoice),
    ]
    document.build(story)
    return buffer.getvalue()
