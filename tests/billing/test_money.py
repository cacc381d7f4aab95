"""The Money type: whole minor units only, one currency at a time, rounding stated explicitly."""

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import CURRENCY_EXPONENTS, CurrencyMismatch, Money

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
minors = st.integers(min_value=-(10**12), max_value=10**12)


@given(minors, minors, currencies, currencies)
def test_adding_or_comparing_two_currencies_raises(a, b, first, second):
    left, right = Money(a, first), Money(b, second)
    if first == second:
        assert (left + right).minor == a + b
        assert (left - right).minor == a - b
        assert (left < right) == (a < b)
    else:
        with pytest.raises(CurrencyMismatch):
            left + right
        with pytest.raises(CurrencyMismatch):
            left - right
        with pytest.raises(CurrencyMismatch):
            left < right  # noqa: B015 - the comparison itself must raise


@given(minors, currencies, st.floats(allow_nan=False))
def test_multiplying_by_a_float_is_a_type_error(minor, currency, factor):
    with pytest.raises(TypeError):
        Money(minor, currency) * factor
    with pytest.raises(TypeError):
        factor * Money(minor, currency)


@given(minors, currencies, st.integers(min_value=-1000, max_value=1000))
def test_multiplying_by_an_int_scales_the_minor_units(minor, currency, factor):
    assert (Money(minor, currency) * factor).minor == minor * factor


@given(minors, currencies)
def test_of_reads_back_its_own_amount(minor, currency):
    money = Money(minor, currency)
    assert Money.of(money.amount, currency) == money
    assert Money.of(str(money.amount), currency) == money


@pytest.mark.parametrize(
    ("text", "currency"), [("10.5", "XAF"), ("0.1", "UGX"), ("12.345", "KES"), ("0.001", "EUR")]
)
def test_of_refuses_amounts_finer_than_the_minor_unit(text, currency):
    with pytest.raises(ValueError, match="finer than"):
        Money.of(text, currency)


def test_of_refuses_a_float_and_an_unknown_currency():
    with pytest.raises(TypeError):
        Money.of(10.5, "KES")
    with pytest.raises(ValueError, match="unsupported currency"):
        Money.of("10", "USD")


def test_minor_units_must_be_a_whole_number():
    with pytest.raises(TypeError):
        Money(Decimal("10.5"), "XAF")
    with pytest.raises(TypeError):
        Money(True, "KES")


def test_from_decimal_needs_an_explicit_rounding():
    with pytest.raises(TypeError):
        Money.from_decimal(Decimal("1.005"), "KES")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Money.from_decimal(1.005, "KES", rounding=ROUND_HALF_UP)


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("1.005", "KES", 101),  # half up, not to even
        ("1.004999", "KES", 100),
        ("2.5", "XAF", 3),
        ("-2.5", "XAF", -3),  # away from zero on .5
        ("1234.49", "XAF", 1234),
    ],
)
def test_from_decimal_rounds_half_up_to_the_minor_unit(value, currency, minor):
    assert Money.from_decimal(Decimal(value), currency, rounding=ROUND_HALF_UP).minor == minor


def test_the_rounding_mode_is_the_callers_choice():
    assert Money.from_decimal(Decimal("2.5"), "XAF", rounding=ROUND_HALF_EVEN).minor == 2


@given(st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=6), currencies)
def test_from_decimal_is_within_half_a_minor_unit(value, currency):
    money = Money.from_decimal(value, currency, rounding=ROUND_HALF_UP)
    step = Decimal(1).scaleb(-CURRENCY_EXPONENTS[currency])
    assert abs(money.amount - value) <= step / 2


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (120050, "KES", "KES 1,200.50"),
        (5000, "XAF", "XAF 5,000"),
        (-7, "KES", "KES -0.07"),
        (0, "UGX", "UGX 0"),
        (123456789, "XOF", "XOF 123,456,789"),
    ],
)
def test_format_shows_the_currencys_decimals_and_thousands(minor, currency, text):
    assert Money(minor, currency).format() == text
    assert str(Money(minor, currency)) == text


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["XAF", "XOF", "UGX", "RWF"]))
def test_zero_decimal_currencies_never_show_a_fraction(minor, currency):
    money = Money(minor, currency)
    assert "." not in money.format()
    assert money.amount == money.amount.to_integral_value()
