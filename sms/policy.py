"""The rules that decide whether a message goes now, later, or not at all. Pure decisions plus
atomic cache counters; the pipeline (sms.services) applies them under the message's lock.

- Countries: a message goes only to SMS_ALLOWED_COUNTRIES or its operator's own country.
- Activation bursts: codes to one number range (SMS pumping) are flagged, then not sent.
- Quiet hours: reminders and broadcasts wait for the end of SMS_QUIET_HOURS, local time.
- Per recipient (codes excepted): SMS_RECIPIENT_DAILY_MAX a local day, SMS_RECIPIENT_MIN_SPACING
  apart; a message over the limit waits (for the spacing, or for the next day), never dropped.
- Spend: per operator and local day; bulk kinds stop at (1 - SMS_URGENT_RESERVE) of the cap,
  codes and receipts may use the whole cap.
"""

import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.core.cache import cache

from accounts.phones import phone_mask
from sms.gateways import longest_prefix_value

logger = logging.getLogger(__name__)

# Spend counters hold ten-thousandths of the spend currency (gateway prices have 4 decimals).
SPEND_SCALE = Decimal("10000")


@dataclass(frozen=True)
class Defer:
    until: datetime
    reason: str


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name or settings.TIME_ZONE)


def country_allowed(phone: str, operator_region: str = "") -> bool:
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return False
    allowed = {c.strip().upper() for c in settings.SMS_ALLOWED_COUNTRIES if c.strip()}
    if operator_region:
        allowed.add(operator_region.upper())
    return region in allowed


def _counter_hit(key: str, window: int) -> int:
    full = f"sms:{key}:{window}"
    cache.add(full, 0, timeout=settings.SMS_OTP_PREFIX_WINDOW_SECONDS + 1)
    try:
        return cache.incr(full)
    except ValueError:  # expired between add and incr
        cache.add(full, 1, timeout=settings.SMS_OTP_PREFIX_WINDOW_SECONDS + 1)
        return 1


def otp_burst_level(phone: str, *, now: datetime) -> str:
    """Count one code to `phone`'s number range: "ok", "flagged" or "blocked"."""
    prefix = phone[: -settings.SMS_OTP_PREFIX_TRIM] if settings.SMS_OTP_PREFIX_TRIM else phone
    window = int(now.timestamp() // settings.SMS_OTP_PREFIX_WINDOW_SECONDS)
    hits = _counter_hit(f"otp-prefix:{prefix}", window)
    if hits > settings.SMS_OTP_PREFIX_BLOCK:
        level = "blocked"
    elif hits > settings.SMS_OTP_PREFIX_FLAG:
        level = "flagged"
    else:
        return "ok"
    logger.warning(
        "burst of codes to one number range",
        extra={"range": phone_mask(phone), "codes": hits, "level": level},
    )
    return level


def _quiet_window() -> tuple[time, time] | None:
    text = (settings.SMS_QUIET_HOURS or "").strip()
    if not text:
        return None
    start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    return start, end


def quiet_hours_end(now: datetime, tz_name: str) -> datetime | None:
    """When the quiet hours that `now` falls in end (None: `now` is not in quiet hours)."""
    window = _quiet_window()
    if window is None:
        return None
    start, end = window
    local = now.astimezone(zone(tz_name))
    clock = local.time()
    inside = (start <= clock < end) if start <= end else (clock >= start or clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=local.tzinfo)


def local_day(now: datetime, tz_name: str) -> date:
    return now.astimezone(zone(tz_name)).date()


def next_local_midnight(now: datetime, tz_name: str) -> datetime:
    local = now.astimezone(zone(tz_name))
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)


def recipient_defer(contact, *, now: datetime, tz_name: str) -> Defer | None:
    """Spacing and daily count for a recipient (the contact row is locked by the caller)."""
    if contact.last_sent_at is not None:
        spacing = timedelta(seconds=settings.SMS_RECIPIENT_MIN_SPACING_SECONDS)
        if now < contact.last_sent_at + spacing:
            return Defer(contact.last_sent_at + spacing, "spacing")
    if contact.day == local_day(now, tz_name) and (
        contact.day_count >= settings.SMS_RECIPIENT_DAILY_MAX
    ):
        return Defer(next_local_midnight(now, tz_name), "daily_limit")
    return None


def recipient_count(contact, *, now: datetime, tz_name: str) -> None:
    today = local_day(now, tz_name)
    contact.day_count = contact.day_count + 1 if contact.day == today else 1
    contact.day = today
    contact.last_sent_at = now


def cost_estimate(phone: str, segments: int) -> Decimal:
    price = longest_prefix_value(settings.SMS_PRICES, phone) or "0"
    return Decimal(price) * segments


def _spend_key(operator_key: str, day: date) -> str:
    return f"sms:spend:{operator_key or '-'}:{day:%Y%m%d}"


def spend_reserve(
    *, operator_key: str, cost: Decimal, urgent: bool, now: datetime, tz_name: str
) -> bool:
    """Count `cost` against today's cap of the operator; False (nothing counted) when over."""
    caps = settings.SMS_DAILY_SPEND_CAPS
    cap = Decimal(str(caps.get(operator_key) or caps.get("*") or "0"))
    if cap <= 0:
        return True
    limit = cap if urgent else cap * (1 - Decimal(str(settings.SMS_URGENT_RESERVE)))
    units = int(cost * SPEND_SCALE)
    key = _spend_key(operator_key, local_day(now, tz_name))
    try:
        total = cache.incr(key, units)  # one round trip once the day's counter exists
    except ValueError:
        total = units if cache.add(key, units, timeout=2 * 86400) else cache.incr(key, units)
    if total > limit * SPEND_SCALE:
        cache.decr(key, units)
        return False
    return True


def spend_release(*, operator_key: str, cost: Decimal, now: datetime, tz_name: str) -> None:
    """Give back a reservation for a message that was not sent after all."""
    with contextlib.suppress(ValueError):  # the counter expired: nothing to give back
        cache.decr(_spend_key(operator_key, local_day(now, tz_name)), int(cost * SPEND_SCALE))
