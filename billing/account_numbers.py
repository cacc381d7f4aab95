"""Account numbers people can type: digits ending in a Damm check digit.

The Damm algorithm catches every single-digit mistake and every swap of two adjacent digits,
so a mistyped reference on USSD, SMS or a paybill is refused before it reaches another
customer's account.
"""

import re

from stdnum import damm

NUMBER_BODY_DIGITS = 8
_SEPARATORS = re.compile(r"[\s\-./]")


def account_number_make(sequence: int) -> str:
    """The account number for a running sequence value (1 -> '100000011')."""
    body = str(10 ** (NUMBER_BODY_DIGITS - 1) + sequence)
    if len(body) != NUMBER_BODY_DIGITS:
        raise ValueError("account number space exhausted")
    return body + damm.calc_check_digit(body)


def account_number_clean(text: str) -> str | None:
    """The canonical number for what someone typed, or None if it cannot be one of ours."""
    digits = _SEPARATORS.sub("", text or "")
    if not digits.isdigit() or len(digits) != NUMBER_BODY_DIGITS + 1:
        return None
    if not damm.is_valid(digits):
        return None
    return digits
