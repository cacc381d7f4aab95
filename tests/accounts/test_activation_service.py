"""Activation by SMS code, at the service level: limits, expiry, locks, resends, races."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import override_settings

from accounts.exceptions import (
    CodeExpired,
    InvalidCode,
    Locked,
    ResendCooldown,
    SendQuota,
    TooManyAttempts,
)
from accounts.models import SmsCode, User
from accounts.services import activation
from accounts.services.activation import (
    PasswordRejected,
    activation_code_verify,
    activation_start,
)

pytestmark = pytest.mark.django_db

PHONE = "+254712345678"
PASSWORD = "correct horse battery staple"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def start(phone=PHONE, **kwargs):
    return activation_start(phone=phone, ip=kwargs.pop("ip", None), **kwargs)


def verify(code, phone=PHONE, password=None):
    return activation_code_verify(phone=phone, code=code, password=password)


def test_new_phone_gets_an_inactive_account_and_a_code(clock):
    send = start("0712 345 678", ip="203.0.113.9")

    user = User.objects.get(phone=PHONE)
    row = SmsCode.objects.get()
    assert not user.is_active
    assert (send.phone, send.language) == (PHONE, "en")
    assert len(send.code) == 6
    assert row.id == send.challenge_id
    assert row.code_hash and send.code not in row.code_hash
    assert row.pepper_version == 2  # the highest configured
    assert row.expires_at == T0 + timedelta(minutes=10)
    assert row.requested_ip == "203.0.113.9"


def test_right_code_activates_sets_password_and_works_once(clock):
    send = start()

    user = verify(send.code, password=PASSWORD)

    user.refresh_from_db()
    assert user.is_active and user.check_password(PASSWORD)
    assert SmsCode.objects.get().consumed_at == T0
    with pytest.raises(InvalidCode):
        verify(send.code)


def test_weak_password_is_a_field_error_and_costs_no_attempt(clock):
    send = start()

    with pytest.raises(PasswordRejected) as caught:
        verify(send.code, password="123")

    assert caught.value.extra["fields"]["password"]
    assert SmsCode.objects.get().attempts == 0
    verify(send.code, password=PASSWORD)


def test_code_expires_after_ten_minutes(clock):
    send = start()
    clock.shift(timedelta(minutes=10))

    with pytest.raises(CodeExpired):
        verify(send.code)
    assert not User.objects.get().is_active


def test_code_still_works_just_before_it_expires(clock):
    send = start()
    clock.shift(timedelta(minutes=10) - timedelta(seconds=1))

    assert verify(send.code).is_active


def test_five_wrong_codes_burn_the_code(clock):
    send = start()
    for _ in range(4):
        with pytest.raises(InvalidCode):
            verify(wrong(send.code))

    with pytest.raises(TooManyAttempts):
        verify(wrong(send.code))
    with pytest.raises(TooManyAttempts):
        verify(send.code)
    assert SmsCode.objects.get().attempts == 5
    assert not User.objects.get().is_active


def test_ten_wrong_codes_in_a_row_lock_the_phone_for_an_hour(clock):
    first = start()
    for _ in range(5):
        with pytest.raises((InvalidCode, TooManyAttempts)):
            verify(wrong(first.code))
    clock.shift(timedelta(minutes=2))
    second = start()
    for _ in range(4):
        with pytest.raises(InvalidCode):
            verify(wrong(second.code))

    with pytest.raises(Locked) as tenth:
        verify(wrong(second.code))
    assert tenth.value.retry_after == 3600

    clock.shift(timedelta(minutes=59))
    with pytest.raises(Locked) as still:
        verify(second.code)
    assert still.value.retry_after == 60
    with pytest.raises(Locked):
        start()

    clock.shift(timedelta(minutes=1))
    third = start()
    assert verify(third.code).is_active


def test_right_code_resets_the_failure_count(clock):
    send = start()
    for _ in range(3):
        with pytest.raises(InvalidCode):
            verify(wrong(send.code))
    assert User.objects.get().failed_code_checks == 3

    verify(send.code)

    assert User.objects.get().failed_code_checks == 0


def test_resend_waits_a_minute(clock):
    start()
    clock.shift(timedelta(seconds=20))

    with pytest.raises(ResendCooldown) as caught:
        start()

    assert caught.value.retry_after == 40
    clock.shift(timedelta(seconds=40))
    assert start().code


def test_at_most_three_codes_per_fifteen_minutes(clock):
    for _ in range(3):
        start()
        clock.shift(timedelta(seconds=61))

    with pytest.raises(SendQuota) as caught:
        start()

    assert caught.value.retry_after == 15 * 60 - 3 * 61
    clock.shift(timedelta(seconds=caught.value.retry_after))
    assert start().code


def test_at_most_five_codes_per_day(clock):
    for offset in (0, 61, 122, 900, 961):
        clock.move_to(T0 + timedelta(seconds=offset))
        start()
    clock.move_to(T0 + timedelta(minutes=30))

    with pytest.raises(SendQuota) as caught:
        start()

    assert caught.value.retry_after == 24 * 3600 - 30 * 60
    clock.move_to(T0 + timedelta(hours=24))
    assert start().code


def test_resend_retires_the_older_codes(clock, monkeypatch):
    drawn = iter(["111111", "222222"])
    monkeypatch.setattr(activation, "code_generate", lambda: next(drawn))
    start()
    clock.shift(timedelta(minutes=2))
    start()

    with pytest.raises(InvalidCode):
        verify("111111")
    assert verify("222222").is_active


def test_active_phone_gets_an_owner_notice_a_counted_row_and_the_same_limits(clock):
    User.objects.create_user(PHONE, PASSWORD, is_active=True, language="sw")

    send = start()

    assert (send.code, send.language) == (None, "sw")
    assert SmsCode.objects.get().code_hash == ""
    with pytest.raises(ResendCooldown):
        start()


def test_active_phone_answers_every_code_as_a_wrong_one(clock):
    User.objects.create_user(PHONE, PASSWORD, is_active=True)
    start()
    for _ in range(4):
        with pytest.raises(InvalidCode):
            verify("123456")
    with pytest.raises(TooManyAttempts):
        verify("123456")


def test_code_issued_before_activation_by_other_means_stops_working(clock):
    send = start()
    User.objects.filter(phone=PHONE).update(is_active=True)

    with pytest.raises(InvalidCode):
        verify(send.code, password=PASSWORD)
    assert not User.objects.get().check_password(PASSWORD)


def test_unknown_phone_is_an_invalid_code_and_writes_nothing(clock):
    with pytest.raises(InvalidCode):
        verify("123456")
    assert not User.objects.exists()
    assert not SmsCode.objects.exists()


def test_code_hashed_with_an_older_pepper_still_verifies(clock):
    with override_settings(SMS_CODE_PEPPERS=["1:old-pepper"]):
        send = start()
    assert SmsCode.objects.get().pepper_version == 1

    with override_settings(SMS_CODE_PEPPERS=["1:old-pepper", "2:new-pepper"]):
        assert verify(send.code).is_active


def test_unparseable_client_address_is_not_stored(clock):
    start(ip="not-an-ip")

    assert SmsCode.objects.get().requested_ip is None


def _in_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = []

    def run():
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            results.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_code_works_once_under_concurrent_checks():
    send = start()

    results = _in_threads(8, lambda: verify(send.code).is_active)

    assert sorted(map(str, results)) == ["InvalidCode"] * 7 + ["True"]
    assert SmsCode.objects.get().consumed_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_a_new_phone_send_one_code():
    results = _in_threads(6, lambda: start().code is not None)

    assert sorted(map(str, results)) == ["ResendCooldown"] * 5 + ["True"]
    assert User.objects.count() == 1
    assert SmsCode.objects.count() == 1
