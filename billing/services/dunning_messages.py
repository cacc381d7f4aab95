"""What dunning says: stage templates with placeholders, fixed texts, and the bulk outbox write.

Templates are plain text with `{placeholder}` fields from PLACEHOLDERS, written per language
(en, fr, sw); `{{` and `}}` are literal braces. They are checked when a manager saves them
(`template_check`) and rendered by substitution only (`template_render`): no attribute access,
no format specs, so a template can never reach into Python objects.

Stage messages of a daily run go to the outbox in bulk (sms.services.message_queue_bulk, once
per chunk) with the key `dunning:<invoice id>:<stage id>`: the SMS pipeline applies quiet
hours, opt-outs and priorities and its dispatcher sends them.
"""

from dataclasses import dataclass
from datetime import date
from string import Formatter

from accounts.errors import ApplicationError
from billing.models import DunningStage
from billing.money import Money

LANGUAGES = ("en", "fr", "sw")
PLACEHOLDERS = {
    "amount": "what is still to pay on the bill, its late-payment penalty included",
    "due_date": "the bill's due date, DD/MM/YYYY",
    "account": "the account number",
    "invoice": "the bill's number",
    "paybill": "the operator's paybill number",
    "ussd": "the operator's USSD code",
    "operator": "the operator's name",
}


class InvalidTemplate(ApplicationError):
    code = "invalid_template"
    message = "The message template is not valid."


def template_check(text: str) -> None:
    """Refuse unknown placeholders, format specs, conversions and unbalanced braces."""
    try:
        parts = list(Formatter().parse(text))
    except ValueError as error:
        raise InvalidTemplate(f"Unbalanced braces: {error}.") from None
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            raise InvalidTemplate(
                f"Unknown placeholder {{{field}}}; use one of: "
                + ", ".join(f"{{{name}}}" for name in PLACEHOLDERS),
                extra={"placeholder": field, "allowed": sorted(PLACEHOLDERS)},
            )


Parts = tuple[tuple[str, str | None], ...]


def template_compile(text: str) -> Parts:
    """(literal, placeholder or None) pairs of a template, parsed once for many renders."""
    try:
        return tuple((literal, field) for literal, field, _, _ in Formatter().parse(text))
    except ValueError:
        return ((text, None),)


def parts_render(parts: Parts, values: dict[str, str]) -> str:
    out = []
    for literal, field in parts:
        out.append(literal)
        if field is not None:
            out.append(values.get(field, "{" + field + "}"))
    return "".join(out)


def template_render(text: str, values: dict[str, str]) -> str:
    """Substitute known placeholders; anything else is left as written."""
    return parts_render(template_compile(text), values)


def stage_template(stage: DunningStage, language: str) -> str:
    """The stage's text in `language`, else English, else any language it has ('' if none)."""
    texts = {lang: getattr(stage, f"message_{lang}") for lang in LANGUAGES}
    return texts.get(language) or texts["en"] or next((t for t in texts.values() if t), "")


def date_text(day: date) -> str:
    return f"{day:%d/%m/%Y}"


@dataclass(frozen=True)
class MessageFacts:
    """What a stage message of one invoice is about."""

    phone: str
    language: str
    amount: Money
    due_date: date
    account: str
    invoice: str
    paybill: str
    ussd: str
    operator: str


def _values(facts: MessageFacts) -> dict[str, str]:
    return {
        "amount": facts.amount.format(),
        "due_date": date_text(facts.due_date),
        "account": facts.account,
        "invoice": facts.invoice,
        "paybill": facts.paybill,
        "ussd": facts.ussd,
        "operator": facts.operator,
    }


def stage_message_text(stage: DunningStage, facts: MessageFacts) -> str:
    return template_render(stage_template(stage, facts.language), _values(facts))


class StageTexts:
    """A stage's templates parsed once per run, rendered for thousands of invoices."""

    def __init__(self, stage: DunningStage):
        self._parts = {lang: template_compile(stage_template(stage, lang)) for lang in LANGUAGES}

    def render(self, language: str, values: dict[str, str]) -> str:
        return parts_render(self._parts.get(language) or self._parts["en"], values)


def stage_message_key(invoice_id: int, stage_id: int) -> str:
    return f"dunning:{invoice_id}:{stage_id}"


# --- fixed texts (not stage data) ---------------------------------------------------------
RECONNECTED_TEXTS = {
    "en": "{operator}: service on account {account} is restored. Thank you.",
    "fr": "{operator} : le service du compte {account} est rétabli. Merci.",
    "sw": "{operator}: huduma kwenye akaunti {account} imerejeshwa. Asante.",
}
RECONNECTION_FEE_TEXTS = {
    "en": " A reconnection fee of {amount} was added to your bill.",
    "fr": " Des frais de reconnexion de {amount} ont été ajoutés à votre facture.",
    "sw": " Ada ya kuunganisha tena ya {amount} imeongezwa kwenye bili yako.",
}
PLAN_BROKEN_TEXTS = {
    "en": (
        "{operator}: the instalment due on {due_date} for account {account} was not paid; "
        "your payment plan has ended. {amount} is overdue. Pay via paybill {paybill} or dial "
        "{ussd}."
    ),
    "fr": (
        "{operator} : l'échéance du {due_date} du compte {account} n'a pas été payée ; votre "
        "plan de paiement prend fin. {amount} est en retard. Payez par paybill {paybill} ou "
        "composez {ussd}."
    ),
    "sw": (
        "{operator}: awamu iliyopaswa kulipwa {due_date} kwa akaunti {account} haikulipwa; "
        "mpango wako wa malipo umekoma. {amount} imechelewa. Lipa kupitia paybill {paybill} "
        "au piga {ussd}."
    ),
}


def fixed_text(texts: dict[str, str], language: str, values: dict[str, str]) -> str:
    return template_render(texts.get(language) or texts["en"], values)
