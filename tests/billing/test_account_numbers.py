"""Account numbers: one mistyped digit or two swapped neighbours never reach another account."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.account_numbers import account_number_clean, account_number_make

# Every sequence value the 8-digit body can hold (the body starts at 10_000_000).
sequences = st.integers(min_value=0, max_value=89_999_999)


def test_first_account_number_is_the_sequence_after_ten_million_plus_its_check_digit():
    assert account_number_make(1) == "100000011"
    assert account_number_clean("1000 0001-1") == "100000011"


def test_sequence_beyond_the_number_space_is_refused():
    with pytest.raises(ValueError, match="exhausted"):
        account_number_make(90_000_000)


@given(sequences)
def test_every_single_digit_substitution_is_refused(sequence):
    number = account_number_make(sequence)
    assert account_number_clean(number) == number
    for position, digit in enumerate(number):
        for other in "0123456789":
            if other != digit:
                typo = number[:position] + other + number[position + 1 :]
                assert account_number_clean(typo) is None, typo


@given(sequences)
def test_every_adjacent_transposition_is_refused(sequence):
    number = account_number_make(sequence)
    for position in range(len(number) - 1):
        first, second = number[position], number[position + 1]
        if first != second:
            swapped = number[:position] + second + first + number[position + 2 :]
            assert account_number_clean(swapped) is None, swapped


@given(sequences, st.lists(st.sampled_from([" ", "-", ".", "/", "  "]), min_size=9, max_size=9))
def test_separators_and_spaces_between_digits_are_accepted(sequence, separators):
    number = account_number_make(sequence)
    typed = "".join(sep + digit for sep, digit in zip(separators, number, strict=True)) + " "

    assert account_number_clean(typed) == number


@pytest.mark.parametrize(
    "text",
    ["", "   ", "10000001", "1000000130", "10000001x", "+100000011", "١٠٠٠٠٠٠١٣", None],
)
def test_text_that_is_not_nine_digits_is_refused(text):
    assert account_number_clean(text) is None
