"""Serializer fields shared by the API."""

from rest_framework import serializers

from accounts.exceptions import InvalidPhoneNumber
from accounts.phones import phone_normalize


class PhoneNumberField(serializers.CharField):
    """A phone number as a person types it, validated and returned in E.164.

    Numbers without a country code are read in `region` (default: DEFAULT_PHONE_REGION).
    Anything that is not a valid number is a field error (400), never a server error.
    """

    default_error_messages = {"invalid_phone": InvalidPhoneNumber.message}

    def __init__(self, *, region: str | None = None, **kwargs) -> None:
        self.region = region
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> str:
        text = super().to_internal_value(data)
        try:
            return phone_normalize(text, region=self.region)
        except InvalidPhoneNumber:
            self.fail("invalid_phone")
