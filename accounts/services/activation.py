"""Activation: a phone number becomes an active identity once its owner types the code we texted.

The answers never tell who is a customer: asking for a code for an active number is treated
exactly like asking for a new one (same limits, a row recorded so quotas count it), but its
owner is told "someone tried to register your number" instead of getting a code. The caller
(sms.notifications) composes and queues that text; this app imports nothing from `sms`.
"""

import ipaddress
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import audit_record, audit_snapshot
from accounts.codes import code_generate, code_hash, code_matches
from accounts.errors import ApplicationError
from accounts.exceptions import (
    CodeExpired,
    InvalidCode,
    Locked,
    PasswordRejected,
    ResendCooldown,
    SendQuota,
    TooManyAttempts,
)
from accounts.models import SmsCode, SmsCodePurpose, User
from accounts.phones import phone_mask, phone_normalize

logger = logging.getLogger(__name__)

PURPOSE = SmsCodePurpose.ACTIVATION
CODE_TTL = timedelta(minutes=10)
# Wrong tries that burn one code.
CODE_MAX_ATTEMPTS = 5
# Wrong codes in a row, across codes, that lock the phone out of codes for LOCK_DURATION.
LOCK_AFTER_FAILURES = 10
LOCK_DURATION = timedelta(hours=1)
RESEND_COOLDOWN = timedelta(seconds=60)
# (how many codes, per how long) a phone may be sent.
SEND_QUOTAS = ((3, timedelta(minutes=15)), (5, timedelta(hours=24)))


@dataclass(frozen=True)
class ActivationSend:
    """What the caller must text to `phone`, in `language`.

    `code` is the plain code for an inactive number; None when the number is already active,
    and its owner must be told instead that someone asked to register it.
    """

    challenge_id: uuid.UUID
    phone: str
    code: str | None
    language: str


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _ip_or_none(ip: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(ip)) if ip else None
    except ValueError:
        return None


def _user_lock_or_create(phone: str) -> User:
    """The user of `phone`, row-locked for this transaction; created inactive if new."""
    user = User.objects.select_for_update().filter(phone=phone).first()
    if user is not None:
        return user
    try:
        with transaction.atomic():
            User.objects.create_user(phone)
    except IntegrityError:  # created meanwhile by a concurrent request for the same phone
        pass
    return User.objects.select_for_update().get(phone=phone)


def _limits_check(*, phone: str, user: User, now: datetime) -> None:
    """Raise when `phone` may not be sent a code now. Exact while the user row is locked."""
    if user.code_locked_until and user.code_locked_until > now:
        raise Locked(retry_after=_seconds_until(user.code_locked_until, now))
    longest = max(period for _, period in SEND_QUOTAS)
    sent = list(
        SmsCode.objects.filter(phone=phone, purpose=PURPOSE, created_at__gt=now - longest)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
    )
    for count, period in SEND_QUOTAS:
        in_window = [at for at in sent if at > now - period]
        if len(in_window) >= count:
            # Free again when the oldest send that still counts leaves the window.
            raise SendQuota(retry_after=_seconds_until(in_window[count - 1] + period, now))
    if sent and sent[0] > now - RESEND_COOLDOWN:
        raise ResendCooldown(retry_after=_seconds_until(sent[0] + RESEND_COOLDOWN, now))


@transaction.atomic
def activation_start(*, phone: str, ip: str | None) -> ActivationSend:
    """Record a new activation challenge for `phone` and say what must be texted.

    A new number gets an inactive account. A new challenge retires the phone's older codes.
    An active number gets the same treatment (limits, a row the quotas count) but no code.
    Raises Locked, SendQuota or ResendCooldown (each with retry_after) when over a limit.
    """
    phone = phone_normalize(phone)
    now = timezone.now()
    user = _user_lock_or_create(phone)
    _limits_check(phone=phone, user=user, now=now)

    challenge = SmsCode(
        phone=phone,
        purpose=PURPOSE,
        created_at=now,
        expires_at=now + CODE_TTL,
        requested_ip=_ip_or_none(ip),
    )
    code = None
    if not user.is_active:
        code = code_generate()
        challenge.pepper_version, challenge.code_hash = code_hash(
            code=code, challenge_id=challenge.id, phone=phone, purpose=PURPOSE
        )
    challenge.save(force_insert=True)
    logger.info(
        "activation challenge recorded",
        extra={
            "challenge_id": str(challenge.id),
            "phone": phone_mask(phone),
            "code_sent": code is not None,
        },
    )
    return ActivationSend(challenge_id=challenge.id, phone=phone, code=code, language=user.language)


def activation_code_verify(*, phone: str, code: str, password: str | None = None) -> User:
    """Activate `phone`'s account with the code of its latest challenge; return the user.

    The password, when given, is validated first (a rejected password costs no attempt).
    Failures are committed before they are raised, so counters survive the error:
    invalid_code (also for unknown and already active numbers), code_expired,
    too_many_attempts (the code is burned), locked.
    """
    phone = phone_normalize(phone)
    if password is not None:
        try:
            validate_password(password, user=User(phone=phone))
        except ValidationError as exc:
            raise PasswordRejected(
                exc.messages[0], extra={"fields": {"password": exc.messages}}
            ) from None
    with transaction.atomic():
        user, error = _code_check(phone=phone, code=code, password=password, now=timezone.now())
    if error is not None:
        raise error
    return user


def _code_check(
    *, phone: str, code: str, password: str | None, now: datetime
) -> tuple[User | None, ApplicationError | None]:
    user = User.objects.filter(phone=phone).first()
    if user is None:
        return None, InvalidCode()
    if user.code_locked_until and user.code_locked_until > now:
        return None, Locked(retry_after=_seconds_until(user.code_locked_until, now))
    # Only the latest challenge counts: a resend retires the codes sent before it.
    challenge = SmsCode.objects.filter(phone=phone, purpose=PURPOSE).order_by("-created_at").first()
    if challenge is None or challenge.consumed_at is not None:
        return None, InvalidCode()
    if challenge.expires_at <= now:
        return None, CodeExpired()
    if challenge.attempts >= CODE_MAX_ATTEMPTS:
        return None, TooManyAttempts()

    right = not user.is_active and code_matches(
        code=code,
        challenge_id=challenge.id,
        phone=phone,
        purpose=PURPOSE,
        pepper_version=challenge.pepper_version,
        expected_hash=challenge.code_hash,
    )
    if not right:
        return None, _failure_record(user=user, challenge=challenge, now=now)

    # One conditional UPDATE: of concurrent checks of the same code, exactly one wins.
    won = SmsCode.objects.filter(
        pk=challenge.pk,
        consumed_at__isnull=True,
        attempts__lt=CODE_MAX_ATTEMPTS,
        expires_at__gt=now,
    ).update(consumed_at=now)
    if won != 1:
        return None, InvalidCode()
    user = User.objects.select_for_update().get(pk=user.pk)
    before = audit_snapshot(user)
    user.is_active = True
    user.failed_code_checks = 0
    user.code_locked_until = None
    if password is not None:
        user.set_password(password)
    user.save()
    audit_record(
        actor=user, action="user_activate", instance=user, before=before, after=audit_snapshot(user)
    )
    logger.info("phone activated", extra={"user_id": user.pk, "phone": phone_mask(phone)})
    return user, None


def _failure_record(*, user: User, challenge: SmsCode, now: datetime) -> ApplicationError:
    """Count one wrong code against the challenge and the phone; say which error to answer."""
    counted = SmsCode.objects.filter(pk=challenge.pk, attempts__lt=CODE_MAX_ATTEMPTS).update(
        attempts=F("attempts") + 1
    )
    User.objects.filter(pk=user.pk).update(failed_code_checks=F("failed_code_checks") + 1)
    failures = User.objects.values_list("failed_code_checks", flat=True).get(pk=user.pk)
    logger.info(
        "wrong activation code",
        extra={
            "challenge_id": str(challenge.id),
            "phone": phone_mask(user.phone),
            "failures": failures,
        },
    )
    if failures >= LOCK_AFTER_FAILURES:
        until = now + LOCK_DURATION
        User.objects.filter(pk=user.pk).update(code_locked_until=until, failed_code_checks=0)
        return Locked(retry_after=_seconds_until(until, now))
    attempts = SmsCode.objects.values_list("attempts", flat=True).get(pk=challenge.pk)
    if not counted or attempts >= CODE_MAX_ATTEMPTS:
        return TooManyAttempts()
    return InvalidCode()
