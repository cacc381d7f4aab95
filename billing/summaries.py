"""An invoice in one SMS (at most 160 GSM-7 characters), in English, French and Swahili.

USSD and SMS show the same text, e.g.

    Malipo water 2026-11 acct 100000011: 12.000 m3, KES 1,234.00 due 15/12.
    Pay: paybill 123456 acct 100000011 or *384*12#

The amount is what the customer had to pay when the invoice was issued: the invoice's total
plus the balance brought forward (`invoice_balance_brought_forward`). Names come from
operators and may hold any character: they are folded to GSM-7 (accents that GSM-7 lacks
dropped, anything else left out). When the text is too long, the operator's name is shortened
first, then the consumption and then the USSD alternative are left out; the account number,
the amount, the due date and the paybill always stay (utility and period go last).
"""

import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings

from billing.models import Invoice, InvoiceKind, JournalKind, JournalTransaction, LedgerEntry
from billing.money import Money
from billing.selectors import CUSTOMER_LEDGER_KINDS
from billing.services.invoices import UNITS

SMS_LIMIT = 160
# GSM 03.38 basic character set: one septet each. (The extension table, e.g. "€[]{}", costs
# two septets and is not used.)
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

TEXTS = {
    "en": {
        "head": "{operator}{utility} {period} acct {number}: ",
        "head_short": "{operator}acct {number}: ",
        "usage": "{quantity} {unit}{estimated}, ",
        "estimated": " est.",
        "due": "{amount} due {due}. ",
        "credit": "nothing to pay, credit {amount}. ",
        "pay": "Pay: paybill {paybill} acct {number}",
        "pay_ussd": "Pay: dial {ussd}",
        "or_ussd": " or {ussd}",
        "utility": {"water": "water", "electricity": "electricity", "solar": "solar"},
    },
    "fr": {
        "head": "{operator}{utility} {period} compte {number}: ",
        "head_short": "{operator}compte {number}: ",
        "usage": "{quantity} {unit}{estimated}, ",
        "estimated": " estimé",
        "due": "{amount} à payer avant le {due}. ",
        "credit": "rien à payer, crédit {amount}. ",
        "pay": "Payez: paybill {paybill} compte {number}",
        "pay_ussd": "Payez: composez {ussd}",
        "or_ussd": " ou {ussd}",
        "utility": {"water": "eau", "electricity": "électricité", "solar": "solaire"},
    },
    "sw": {
        "head": "{operator}{utility} {period} akaunti {number}: ",
        "head_short": "{operator}akaunti {number}: ",
        "usage": "{quantity} {unit}{estimated}, ",
        "estimated": " makadirio",
        "due": "{amount} kulipwa kabla ya {due}. ",
        "credit": "hakuna deni, salio {amount}. ",
        "pay": "Lipa: paybill {paybill} akaunti {number}",
        "pay_ussd": "Lipa: piga {ussd}",
        "or_ussd": " au {ussd}",
        "utility": {"water": "maji", "electricity": "umeme", "solar": "sola"},
    },
}


def gsm7_fold(text: str) -> str:
    """`text` in the GSM-7 basic set: letters GSM-7 lacks lose their accent (ê -> e),
    characters with no such letter (emoji, other scripts) are left out, spaces collapsed."""
    kept = []
    for char in text:
        if char in GSM7_BASIC:
            kept.append(char)
            continue
        base = unicodedata.normalize("NFKD", char)
        kept.extend(part for part in base if part in GSM7_BASIC)
    return " ".join("".join(kept).split())


def invoice_balance_brought_forward(invoice: Invoice) -> Money:
    """What the customer owed (negative: had in credit) just before this invoice was posted.

    Summed from the customer's ledger entries of the journals posted before the invoice's own
    journal; an invoice that posted nothing (a zero total) counts what was posted until it was
    created.
    """
    if invoice.kind == InvoiceKind.PENALTY:  # posted under the overdue invoice's id
        source = ("penalty", invoice.related_id, JournalKind.PENALTY)
    else:
        source = ("invoice", invoice.pk, JournalKind.INVOICE)
    journal = JournalTransaction.objects.filter(
        source_type=source[0], source_id=str(source[1]), kind=source[2]
    ).first()
    entries = LedgerEntry.objects.filter(
        account__service_account_id=invoice.account_id,
        account__kind__in=CUSTOMER_LEDGER_KINDS,
        currency=invoice.currency,
    )
    if journal is not None:
        entries = entries.filter(journal_id__lt=journal.pk)
    else:
        entries = entries.filter(journal__created_at__lte=invoice.created_at)
    return Money(sum(entries.values_list("amount_minor", flat=True)), invoice.currency)


@dataclass(frozen=True)
class InvoiceFigures:
    total: Money  # this invoice
    brought_forward: Money  # owed before it (negative: credit)
    to_pay: Money  # brought forward + total


def invoice_figures(invoice: Invoice) -> InvoiceFigures:
    total = Money(invoice.total_minor, invoice.currency)
    brought = invoice_balance_brought_forward(invoice)
    return InvoiceFigures(total=total, brought_forward=brought, to_pay=brought + total)


@dataclass(frozen=True)
class SummaryFacts:
    """What a summary says, as plain values (names exactly as the operator typed them)."""

    operator_name: str
    utility: str
    label: str  # the billed month ("2026-11") or, for a penalty or fee, its number
    account_number: str
    consumption: Decimal | None
    is_estimated: bool
    to_pay: Money
    due_date: date
    paybill: str
    ussd_code: str


def _render(texts: dict, fields: dict, *, usage: bool, ussd: bool, head: bool) -> str:
    text = (texts["head"] if head else texts["head_short"]).format(**fields)
    if usage and fields["quantity"]:
        text += texts["usage"].format(**fields)
    text += fields["amount_text"]
    if fields["paybill"]:
        text += texts["pay"].format(**fields)
        if ussd and fields["ussd"]:
            text += texts["or_ussd"].format(**fields)
    elif fields["ussd"]:
        text += texts["pay_ussd"].format(**fields)
    return text.strip()


# From the richest text to the shortest: (consumption, USSD alternative, utility and period).
_VARIANTS = ((True, True, True), (False, True, True), (False, False, True), (False, False, False))


def summary_sms(facts: SummaryFacts, language: str) -> str:
    """The one-SMS text for `facts`, in `language` (en, fr, sw; others get the default)."""
    texts = TEXTS.get(language) or TEXTS.get(settings.LANGUAGE_CODE) or TEXTS["en"]
    if facts.to_pay.minor > 0:
        amount_text = texts["due"].format(amount=facts.to_pay, due=f"{facts.due_date:%d/%m}")
    else:
        amount_text = texts["credit"].format(amount=-facts.to_pay)
    fields = {
        "operator": "",
        "utility": texts["utility"].get(facts.utility) or gsm7_fold(facts.utility),
        "period": gsm7_fold(facts.label),
        "number": gsm7_fold(facts.account_number),
        "quantity": "" if facts.consumption is None else f"{facts.consumption:.3f}",
        "unit": UNITS.get(facts.utility, ""),
        "estimated": texts["estimated"] if facts.is_estimated else "",
        "amount_text": amount_text,
        "paybill": gsm7_fold(facts.paybill),
        "ussd": gsm7_fold(facts.ussd_code),
    }
    for usage, ussd, head in _VARIANTS:
        bare = _render(texts, fields, usage=usage, ussd=ussd, head=head)
        if len(bare) <= SMS_LIMIT:
            break
    # The shortest variant fits whatever the operator's settings (their fields are bounded).
    room = SMS_LIMIT - len(bare) - 1  # the name and a space
    name = gsm7_fold(facts.operator_name)[: max(room, 0)].strip()
    fields["operator"] = f"{name} " if name else ""
    return _render(texts, fields, usage=usage, ussd=ussd, head=head)


def invoice_summary_sms(invoice: Invoice, language: str) -> str:
    """The invoice in one GSM-7 SMS, in `language` (en, fr, sw; others get the default)."""
    account, operator = invoice.account, invoice.operator
    facts = SummaryFacts(
        operator_name=operator.name,
        utility=account.utility,
        label=f"{invoice.period:%Y-%m}" if invoice.period else invoice.number,
        account_number=account.number,
        consumption=invoice.consumption,
        is_estimated=invoice.is_estimated,
        to_pay=invoice_figures(invoice).to_pay,
        due_date=invoice.due_date,
        paybill=operator.paybill,
        ussd_code=operator.ussd_code,
    )
    return summary_sms(facts, language)
