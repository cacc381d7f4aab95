"""The command parser: any text is either a command or the help reply, never an error."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms.commands.parser import COMMANDS, KEYWORDS, Command, command_parse


@settings(max_examples=500)
@given(st.text(max_size=1000))
def test_any_text_yields_a_command_or_the_help_reply(text):
    command = command_parse(text)

    assert isinstance(command, Command)
    assert command.name in COMMANDS
    if not command.understood:
        assert command.name == "help"
    assert command.amount is None or command.amount >= 0
    assert command.target_language in (None, "en", "fr", "sw")


def _noise():
    return st.text(alphabet=" .,;:!*#-_\t", max_size=4)


def _cased(word: str):
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda flags: "".join(c.upper() if up else c for c, up in zip(word, flags, strict=True))
    )


@settings(max_examples=300)
@given(
    keyword=st.sampled_from(sorted(KEYWORDS)).flatmap(_cased),
    before=_noise(),
    after=_noise(),
)
def test_every_keyword_is_read_whatever_its_case_and_surrounding_punctuation(
    keyword, before, after
):
    command = command_parse(f"{before}{keyword}{after}")

    assert command.understood
    assert command.name == KEYWORDS[keyword.lower()][0]


@settings(max_examples=300)
@given(
    amount=st.integers(min_value=1, max_value=9_999_999),
    cents=st.one_of(st.none(), st.integers(min_value=0, max_value=99)),
    account=st.one_of(st.none(), st.sampled_from(["100000011", "1000-0001-1", "100 000 011"])),
    keyword=st.sampled_from(["PAY", "pay", "Payer", "LIPA", "payé"]),
    gap=st.sampled_from([" ", "  ", ": ", " - ", ""]),
)
def test_pay_reads_any_amount_and_optional_account(amount, cents, account, keyword, gap):
    amount_text = f"{amount:,}" if amount % 2 else str(amount)
    if cents is not None:
        amount_text += f".{cents:02d}"
    text = f"{keyword}{gap}{amount_text}" + (f" {account}" if account else "")

    command = command_parse(text)

    expected = Decimal(amount) + (Decimal(cents) / 100 if cents is not None else 0)
    assert (command.name, command.amount) == ("pay", expected)
    assert command.account == account


@pytest.mark.parametrize(
    ("text", "name", "fields"),
    [
        ("BAL", "bal", {"language": "en"}),
        ("  Bal. 1000-0001-1 ", "bal", {"account": "1000-0001-1"}),
        ("solde", "bal", {"language": "fr"}),
        ("SALIO 100000011", "bal", {"language": "sw", "account": "100000011"}),
        ("facture", "bill", {"language": "fr"}),
        ("Bili", "bill", {"language": "sw"}),
        ("lipa 1 500", "pay", {"amount": Decimal(1500), "language": "sw"}),
        ("PAY 1.500,50", "pay", {"amount": Decimal("1500.50")}),
        ("pay 1,50", "pay", {"amount": Decimal("1.50")}),
        ("pay 0.005", "pay", {"amount": Decimal("0.005")}),
        ("pay", "pay", {"amount": None}),
        ("\uff30\uff21\uff39\u3000\uff15\uff10\uff10", "pay", {"amount": Decimal(500)}),
        ("PAY 1 500 100 000 011", "pay", {"amount": Decimal(1500), "account": "100 000 011"}),
        ("PAY 1,234 100 000 011", "pay", {"amount": Decimal(1234), "account": "100 000 011"}),
        ("Relevé : 12 345,5", "read", {"index": Decimal("12345.5"), "language": "fr"}),
        ("READ 4521 100000011", "read", {"index": Decimal(4521), "account": "100000011"}),
        ("soma 98", "read", {"index": Decimal(98), "language": "sw"}),
        ("LANG fr", "lang", {"target_language": "fr"}),
        ("langue ANGLAIS", "lang", {"target_language": "en"}),
        ("lugha kiswahili", "lang", {"target_language": "sw"}),
        ("lang de", "lang", {"target_language": None}),
        ("HELP", "help", {"understood": True}),
        ("?", "help", {"understood": True}),
        ("STOP", "stop", {}),
        ("Arrêt!", "stop", {"language": "fr"}),
        ("start", "start", {}),
        ("anza", "start", {"language": "sw"}),
        ("hello there", "help", {"understood": False}),
        ("", "help", {"understood": False}),
        ("500", "help", {"understood": False}),
        ("please BAL", "help", {"understood": False}),
    ],
)
def test_examples(text, name, fields):
    command = command_parse(text)

    assert command.name == name
    for field, value in fields.items():
        assert getattr(command, field) == value, field
