"""SMS codes: random six digits, kept only as a peppered keyed hash bound to their challenge."""

import re
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from accounts import codes
from accounts.codes import code_generate, code_hash, code_matches

PHONE = "+254712345678"
PURPOSE = "activation"


def _hash(code="123456", *, challenge_id, phone=PHONE, purpose=PURPOSE):
    return code_hash(code=code, challenge_id=challenge_id, phone=phone, purpose=purpose)


def _matches(code, version, digest, *, challenge_id, phone=PHONE, purpose=PURPOSE):
    return code_matches(
        code=code,
        challenge_id=challenge_id,
        phone=phone,
        purpose=purpose,
        pepper_version=version,
        expected_hash=digest,
    )


def test_codes_are_six_digits_and_keep_leading_zeros(monkeypatch):
    drawn = {code_generate() for _ in range(200)}
    assert all(re.fullmatch(r"\d{6}", code) for code in drawn)
    assert len(drawn) > 190  # random, not a counter or a constant

    monkeypatch.setattr(codes.secrets, "randbelow", lambda n: 42)
    assert code_generate() == "000042"


def test_hash_matches_its_code_only_and_does_not_contain_it():
    challenge = uuid.uuid4()
    version, digest = _hash("123456", challenge_id=challenge)

    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert "123456" not in digest
    assert _matches("123456", version, digest, challenge_id=challenge)
    assert not _matches("123457", version, digest, challenge_id=challenge)
    assert not _matches("", version, digest, challenge_id=challenge)


def test_hash_is_bound_to_challenge_phone_and_purpose():
    challenge = uuid.uuid4()
    version, digest = _hash("123456", challenge_id=challenge)

    assert not _matches("123456", version, digest, challenge_id=uuid.uuid4())
    assert not _matches("123456", version, digest, challenge_id=challenge, phone="+254712345679")
    assert not _matches("123456", version, digest, challenge_id=challenge, purpose="reset")


def test_empty_hash_never_matches():
    assert not _matches("123456", 2, "", challenge_id=uuid.uuid4())


def test_hash_depends_on_the_pepper():
    challenge = uuid.uuid4()
    with override_settings(SMS_CODE_PEPPERS=["1:first"]):
        _, first = _hash(challenge_id=challenge)
    with override_settings(SMS_CODE_PEPPERS=["1:second"]):
        _, second = _hash(challenge_id=challenge)
        assert not _matches("123456", 1, first, challenge_id=challenge)

    assert first != second


def test_pepper_rotation_new_codes_use_highest_version_old_ones_still_verify():
    challenge = uuid.uuid4()
    with override_settings(SMS_CODE_PEPPERS=["1:old-pepper"]):
        old_version, old_digest = _hash(challenge_id=challenge)

    with override_settings(SMS_CODE_PEPPERS=["2:new-pepper", "1:old-pepper"]):
        new_version, _ = _hash(challenge_id=uuid.uuid4())
        assert _matches("123456", old_version, old_digest, challenge_id=challenge)

    with override_settings(SMS_CODE_PEPPERS=["2:new-pepper"]):
        assert not _matches("123456", old_version, old_digest, challenge_id=challenge)

    assert (old_version, new_version) == (1, 2)


@pytest.mark.parametrize("peppers", [[], ["secret-without-version"], ["x:secret"], ["3:"]])
def test_misconfigured_peppers_fail_loudly(peppers):
    with override_settings(SMS_CODE_PEPPERS=peppers), pytest.raises(ImproperlyConfigured):
        _hash(challenge_id=uuid.uuid4())
