"""Stage templates: what managers may write, and what customers receive."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.models import DunningStage
from billing.money import Money
from billing.services.dunning_messages import (
    PLACEHOLDERS,
    InvalidTemplate,
    MessageFacts,
    stage_message_text,
    template_check,
    template_render,
)
from billing.services.dunning_policies import DEFAULT_STAGES

FACTS = MessageFacts(
    phone="+254722000001",
    language="fr",
    amount=Money(121800, "KES"),
    due_date=date(2026, 3, 15),
    account="100000011",
    invoice="INV-000007",
    paybill="400200",
    ussd="*483*1#",
    operator="Maji Safi",
)


@pytest.mark.parametrize(
    "text",
    [
        "Pay {amount",
        "Pay {amount.__class__}",
        "Pay {amount!r}",
        "Pay {amount:>20}",
        "Pay {balance}",
        "Pay {0}",
        "Pay {}",
        "Pay }",
    ],
)
def test_templates_refuse_anything_but_known_placeholders(text):
    with pytest.raises(InvalidTemplate):
        template_check(text)


PIECES = [*(f"{{{name}}}" for name in PLACEHOLDERS), "{{", "}}", "{", "}", "{x}", ":", "!r", "é "]


@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=5), max_size=12).map("".join))
def test_accepted_templates_render_exactly_like_str_format(text):
    try:
        template_check(text)
    except InvalidTemplate:
        return
    values = {name: f"<{name}>" for name in PLACEHOLDERS}
    assert template_render(text, values) == text.format(**values)


def test_literal_braces_are_written_doubled():
    template_check("Code {{A}}: {amount}")
    assert template_render("Code {{A}}: {amount}", {"amount": "KES 5.00"}) == "Code {A}: KES 5.00"


@pytest.mark.parametrize("spec", DEFAULT_STAGES, ids=lambda spec: spec.code)
def test_default_texts_are_valid_in_every_language(spec):
    assert set(spec.messages) == {"en", "fr", "sw"}
    for text in spec.messages.values():
        template_check(text)


def test_a_stage_speaks_the_customers_language_or_falls_back_to_english():
    stage = DunningStage(
        message_en="{operator}: {amount} due {due_date} on {invoice}, account {account}",
        message_fr="{operator} : {amount} dû le {due_date} ({invoice}), compte {account}",
    )
    assert stage_message_text(stage, FACTS) == (
        "Maji Safi : KES 1,218.00 dû le 15/03/2026 (INV-000007), compte 100000011"
    )
    swahili = MessageFacts(**{**FACTS.__dict__, "language": "sw"})
    assert stage_message_text(stage, swahili).startswith("Maji Safi: KES 1,218.00 due")


def test_zero_decimal_currencies_are_written_without_decimals():
    stage = DunningStage(message_en="{amount}")
    facts = MessageFacts(**{**FACTS.__dict__, "amount": Money(15000, "XAF"), "language": "en"})
    assert stage_message_text(stage, facts) == "XAF 15,000"
