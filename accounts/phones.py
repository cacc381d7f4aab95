"""Phone numbers are identities: everything we store is E.164 (+254712345678)."""

import phonenumbers
from django.conf import settings

from accounts.exceptions import InvalidPhoneNumber


def phone_normalize(raw: str, *, region: str | None = None) -> str:
    """Read a number as a person types it and return it in E.164.

    A number without a country code is read in `region` (default: DEFAULT_PHONE_REGION).
    Raises InvalidPhoneNumber for anything that is not a possible, valid number.
    """
    text = (raw or "").strip()
    if not text or len(text) > 32:
        raise InvalidPhoneNumber()
    # Letters are not digits here: phonenumbers would read "PAY" as keypad digits 729.
    if any(ch.isalpha() for ch in text):
        raise InvalidPhoneNumber()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region or settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber() from exc
    if number.extension or not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_mask(e164: str) -> str:
    """For logs: keep the country code and the last three digits (+254*******678)."""
    if len(e164) < 7:
        return "*" * len(e164)
    return e164[:4] + "*" * (len(e164) - 7) + e164[-3:]
