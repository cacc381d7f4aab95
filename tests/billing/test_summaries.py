"""The one-SMS invoice summary: its words in each language, what it owes, and that it always
fits one GSM-7 SMS whatever the operator typed."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money
from billing.services.payments import payment_record
from billing.summaries import (
    GSM7_BASIC,
    SMS_LIMIT,
    SummaryFacts,
    gsm7_fold,
    invoice_summary_sms,
    summary_sms,
)
from tests.billing.api_support import account_open, billed, operator_make, water_tariff

LANGUAGES = ("en", "fr", "sw")


@pytest.fixture
def july(db):
    """June 12.5 m3 (KES 870.00) and July 14 m3 (KES 974.40, due 15/08) billed; KES 500 paid
    only after July's bill."""
    operator = operator_make(name="Maji Safi")
    account = account_open(operator, water_tariff(operator))
    _june, july = billed(account, ["12.5", "14"])
    payment_record(
        account=account,
        amount=Money.of("500", "KES"),
        source="mpesa",
        reference="QX1",
        clearing="clearing:mpesa",
    )
    # The payment came after July's bill: it does not change what July's bill asked for.
    return july


def test_summary_states_period_consumption_amount_due_and_how_to_pay_in_english(july):
    number = july.account.number

    text = invoice_summary_sms(july, "en")

    # 974.40 this month + 870.00 unpaid from June (the payment came after the bill).
    assert text == (
        f"Maji Safi water 2026-07 acct {number}: 14.000 m3, KES 1,844.40 due 15/08. "
        f"Pay: paybill 123456 acct {number} or *384*12#"
    )


def test_summary_speaks_french_and_swahili(july):
    number = july.account.number

    assert invoice_summary_sms(july, "fr") == (
        f"Maji Safi eau 2026-07 compte {number}: 14.000 m3, KES 1,844.40 à payer avant le "
        f"15/08. Payez: paybill 123456 compte {number} ou *384*12#"
    )
    assert invoice_summary_sms(july, "sw") == (
        f"Maji Safi maji 2026-07 akaunti {number}: 14.000 m3, KES 1,844.40 kulipwa kabla ya "
        f"15/08. Lipa: paybill 123456 akaunti {number} au *384*12#"
    )


def test_an_unknown_language_gets_the_default_one(july):
    assert invoice_summary_sms(july, "xx") == invoice_summary_sms(july, "en")


def test_amount_due_counts_what_was_owed_before_the_invoice(db):
    operator = operator_make(name="Maji Safi")
    account = account_open(operator, water_tariff(operator))
    payment_record(
        account=account,
        amount=Money.of("1000", "KES"),
        source="mpesa",
        reference="ADVANCE",
        clearing="clearing:mpesa",
    )
    (june,) = billed(account, ["12.5"])  # 870.00, covered by the 1,000 paid in advance

    text = invoice_summary_sms(june, "en")

    assert "nothing to pay, credit KES 130.00." in text
    assert "due" not in text


def test_an_estimated_consumption_is_marked_as_such(db):
    operator = operator_make(name="Maji Safi")
    account = account_open(operator, water_tariff(operator))
    *_, estimated = billed(account, ["12", "12", "12", None])

    assert "12.000 m3 est.," in invoice_summary_sms(estimated, "en")
    assert "12.000 m3 estimé," in invoice_summary_sms(estimated, "fr")
    assert "12.000 m3 makadirio," in invoice_summary_sms(estimated, "sw")


def test_operator_names_are_folded_to_gsm7():
    assert gsm7_fold("Société Générale d'Électricité 🚰") == "Société Générale d'Électricité"
    assert gsm7_fold("C\u00f4te d\u2019Ivoire \u00c9nergie") == "Cote dIvoire Énergie"


def _facts(**changes) -> SummaryFacts:
    facts = {
        "operator_name": "Maji Safi",
        "utility": "water",
        "label": "2026-11",
        "account_number": "100000011",
        "consumption": Decimal("12.000"),
        "is_estimated": False,
        "to_pay": Money.of("1234", "KES"),
        "due_date": date(2026, 12, 15),
        "paybill": "123456",
        "ussd_code": "*384*12#",
    }
    return SummaryFacts(**(facts | changes))


def test_a_long_operator_name_is_shortened_before_anything_else_is_left_out():
    text = summary_sms(_facts(operator_name="Nairobi City Water and Sewerage Company " * 3), "en")

    assert SMS_LIMIT - 2 <= len(text) <= SMS_LIMIT
    assert text.startswith("Nairobi City Water")
    assert "12.000 m3" in text and "or *384*12#" in text


money = st.builds(
    Money,
    st.integers(min_value=-(10**14), max_value=10**15),
    st.sampled_from(["KES", "XAF", "UGX", "EUR"]),
)
facts = st.builds(
    SummaryFacts,
    operator_name=st.text(max_size=120),
    utility=st.sampled_from(["water", "electricity", "solar"]),
    label=st.one_of(st.just("2026-11"), st.text(min_size=1, max_size=32)),
    account_number=st.text(alphabet="0123456789", min_size=9, max_size=12),
    consumption=st.one_of(
        st.none(), st.decimals(min_value=-99999, max_value=10**10, places=3, allow_nan=False)
    ),
    is_estimated=st.booleans(),
    to_pay=money,
    due_date=st.dates(),
    paybill=st.text(max_size=16),
    ussd_code=st.text(max_size=32),
)


@given(facts=facts)
def test_every_summary_fits_one_gsm7_sms_in_every_language(facts):
    for language in LANGUAGES:
        text = summary_sms(facts, language)

        assert len(text) <= SMS_LIMIT, (language, text)
        assert set(text) <= GSM7_BASIC, (language, set(text) - GSM7_BASIC)
        assert gsm7_fold(facts.account_number) in text  # where the money goes is never cut
        assert Money(abs(facts.to_pay.minor), facts.to_pay.currency).format() in text
