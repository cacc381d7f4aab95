"""One-time SMS codes: drawn from `secrets`, stored only as a keyed hash.

Why HMAC with a server-side pepper and not Argon2 (or any slow password hash)?
A six-digit code has only 10**6 values. Whoever holds the database and its salt can try them
all, however slow the hash: with Argon2 at 50 ms that is under 14 CPU-hours, so the slowness
buys no real secrecy. What does keep a stolen hash useless is a key the database does not hold:
the pepper, which lives in settings (SMS_CODE_PEPPERS). Meanwhile a slow hash would cost us,
not the attacker: every activation request would burn 50 ms of CPU, a cheap flood of requests
would exhaust the web workers. Guessing online is stopped by attempt limits, not by the hash.

The hashed message binds the code to its challenge (row id), phone and purpose, so a hash
copied to another row, phone or purpose never matches. Peppers carry a version: new codes use
the highest; older versions still verify until their codes have expired, then are removed.
"""

import hashlib
import hmac
import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CODE_DIGITS = 6


def code_generate() -> str:
    """A uniformly random code of CODE_DIGITS digits, leading zeros kept ("004217")."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _peppers() -> dict[int, bytes]:
    peppers: dict[int, bytes] = {}
    for entry in settings.SMS_CODE_PEPPERS:
        version, sep, secret = entry.partition(":")
        if not sep or not version.strip().isdigit() or not secret:
            raise ImproperlyConfigured("SMS_CODE_PEPPERS entries must read 'version:secret'.")
        peppers[int(version)] = secret.encode()
    if not peppers:
        raise ImproperlyConfigured("SMS_CODE_PEPPERS must hold at least one 'version:secret'.")
    return peppers


def _digest(*, pepper: bytes, code: str, challenge_id: uuid.UUID, phone: str, purpose: str) -> str:
    message = f"{challenge_id}\n{phone}\n{purpose}\n{code}".encode()
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


def code_hash(*, code: str, challenge_id: uuid.UUID, phone: str, purpose: str) -> tuple[int, str]:
    """Hash `code` with the current (highest) pepper; returns (pepper version, hex digest)."""
    peppers = _peppers()
    version = max(peppers)
    digest = _digest(
        pepper=peppers[version], code=code, challenge_id=challenge_id, phone=phone, purpose=purpose
    )
    return version, digest


def code_matches(
    *,
    code: str,
    challenge_id: uuid.UUID,
    phone: str,
    purpose: str,
    pepper_version: int,
    expected_hash: str,
) -> bool:
    """Whether `code` is the one hashed into `expected_hash`, compared in constant time.

    An empty hash (no code was sent) or a pepper version no longer configured never matches.
    """
    pepper = _peppers().get(pepper_version)
    if pepper is None or not expected_hash:
        return False
    digest = _digest(
        pepper=pepper, code=code, challenge_id=challenge_id, phone=phone, purpose=purpose
    )
    return hmac.compare_digest(digest, expected_hash)
