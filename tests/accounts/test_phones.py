"""Phone numbers as people type them: normalized to E.164, or a clear 400 naming the field."""

import re

import phonenumbers
import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.test import APIClient

from accounts.api.fields import PhoneNumberField
from accounts.exceptions import InvalidPhoneNumber
from accounts.phones import phone_normalize

E164 = re.compile(r"\+[1-9]\d{6,14}")

VALID = [
    ("KE", "0712 345 678", "+254712345678"),
    ("KE", "+254 712 345 678", "+254712345678"),
    ("KE", "00254712345678", "+254712345678"),
    ("KE", "(0712) 345-678", "+254712345678"),
    ("CM", "6 58 55 22 94", "+237658552294"),
    ("CM", "+237 6 58 55 22 94", "+237658552294"),
    ("CD", "081 234 5678", "+243812345678"),
    ("CD", "+243 81 234 5678", "+243812345678"),
    ("CI", "07 07 12 34 56", "+2250707123456"),
    ("CI", "+225 07 07 12 34 56", "+2250707123456"),
    ("PG", "7012 3456", "+67570123456"),
    ("PG", "+675 7012 3456", "+67570123456"),
    ("FR", "06 12 34 56 78", "+33612345678"),
    ("FR", "0033 6 12 34 56 78", "+33612345678"),
    # A number with its country code is read as such, whatever the default region.
    ("FR", "+254 712 345 678", "+254712345678"),
]

INVALID = [
    ("KE", "phone"),  # letters
    ("KE", "0712 34S 678"),  # a letter among digits
    ("KE", "0712 345"),  # too short
    ("KE", "0712 345 678 9"),  # too long
    ("KE", "+254 012 345 678"),  # impossible: no Kenyan number starts with 0 after +254
    ("KE", ""),
    ("KE", "   "),
    ("KE", "+" + "7" * 40),  # absurdly long
    ("CM", "6 58 55 22"),
    ("CM", "1 23 45 67 89"),  # no Cameroonian number starts with 1
    ("CD", "0812345"),
    ("CD", "081 234 5678 9"),
    ("CI", "07 07 12 34"),
    ("CI", "99 07 12 34 56"),
    ("PG", "7012 345"),
    ("PG", "0012 3456"),
    ("FR", "06 12 34 56"),
    ("FR", "00 00 00 00 00"),
]

# Not phone numbers although phonenumbers alone would take them: keypad letters ("vanity"
# numbers) and extensions.
JUNK = [
    pytest.param("KE", "0712-PAY-NOW", id="keypad-letters"),
    pytest.param("KE", "0712abcdef", id="trailing-letters"),
    pytest.param("KE", "0712 345 678 ext 99", id="extension"),
]


class PhoneSerializer(serializers.Serializer):
    phone = PhoneNumberField()


@pytest.mark.parametrize(("region", "raw", "e164"), VALID)
def test_local_and_international_formats_normalize_to_e164(region, raw, e164):
    with override_settings(DEFAULT_PHONE_REGION=region):
        assert phone_normalize(raw) == e164
        serializer = PhoneSerializer(data={"phone": raw})
        assert serializer.is_valid(), serializer.errors
        assert serializer.validated_data["phone"] == e164


@pytest.mark.parametrize(("region", "raw"), INVALID + JUNK)
def test_bad_numbers_are_rejected(region, raw):
    with override_settings(DEFAULT_PHONE_REGION=region):
        with pytest.raises(InvalidPhoneNumber):
            phone_normalize(raw)
        serializer = PhoneSerializer(data={"phone": raw})
        assert not serializer.is_valid()
        assert list(serializer.errors) == ["phone"]


@pytest.mark.parametrize("value", [None, True, ["0712345678"], {"n": 1}])
def test_field_rejects_values_that_are_not_text(value):
    serializer = PhoneSerializer(data={"phone": value})

    assert not serializer.is_valid()
    assert list(serializer.errors) == ["phone"]


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["not a phone", "0712", "", "+254 012 345 678", "😀" * 20])
def test_api_answers_bad_phone_with_400_naming_the_field(raw):
    response = APIClient().post("/api/auth/register", {"phone": raw}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["extra"]["fields"]) == ["phone"]
    assert body["extra"]["fields"]["phone"]


@pytest.mark.django_db
def test_api_answers_missing_phone_with_400_naming_the_field():
    response = APIClient().post("/api/auth/register", {}, format="json")

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["phone"]


@given(
    raw=st.one_of(
        st.text(max_size=40),
        st.from_regex(r"\A(\+|00)?[0-9 ()\-.]{0,20}\Z"),
        st.text(alphabet="0123456789+ ()-.xt:;=e#*", max_size=40),
    ),
    region=st.sampled_from(["KE", "CM", "CD", "CI", "PG", "FR", "ZZ"]),
)
def test_any_text_normalizes_to_valid_e164_or_raises_invalid_phone(raw, region):
    with override_settings(DEFAULT_PHONE_REGION=region):
        try:
            e164 = phone_normalize(raw)
        except InvalidPhoneNumber:
            return
    assert E164.fullmatch(e164)
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164))
    assert phone_normalize(e164) == e164
