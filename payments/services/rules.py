"""Operator rules checked before a push: amount limits and the spacing of pushes to a phone."""

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from billing.money import Money
from payments.exceptions import AmountOutOfRange, PushTooSoon
from payments.models import IntentStatus, PaymentIntent


@dataclass(frozen=True)
class AmountLimit:
    min_minor: int
    max_minor: int
    step_minor: int = 1  # M-Pesa takes whole shillings only: 100 cents


# What each operator accepts per push, in minor units (operators' published consumer limits;
# check your contract). A currency missing for a provider is not accepted by it.
AMOUNT_LIMITS: dict[str, dict[str, AmountLimit]] = {
    "mpesa": {"KES": AmountLimit(100, 25_000_000, 100)},
    "airtel": {"KES": AmountLimit(1_000, 15_000_000, 100), "UGX": AmountLimit(500, 5_000_000)},
    "mtn": {
        "UGX": AmountLimit(500, 5_000_000),
        "XAF": AmountLimit(100, 1_000_000),
        "XOF": AmountLimit(100, 1_500_000),
        "EUR": AmountLimit(100, 1_000_000),  # the MTN sandbox's currency
    },
    "orange": {"XAF": AmountLimit(100, 1_000_000), "XOF": AmountLimit(100, 1_500_000)},
}
SANDBOX_LIMIT = AmountLimit(1, 100_000_000)
# No second push to the same phone within this many seconds (M-Pesa locks the subscriber).
PUSH_SPACING_SECONDS: dict[str, int] = {"mpesa": 60}


def amount_check(*, provider: str, amount: Money) -> None:
    """Raise AmountOutOfRange unless the provider takes `amount` in one push."""
    limit = (
        SANDBOX_LIMIT
        if provider == "sandbox"
        else AMOUNT_LIMITS.get(provider, {}).get(amount.currency)
    )
    if limit is None or not limit.min_minor <= amount.minor <= limit.max_minor:
        extra = {"currency": amount.currency}
        if limit is not None:
            low, high = (
                Money(limit.min_minor, amount.currency),
                Money(limit.max_minor, amount.currency),
            )
            extra.update(min=str(low.amount), max=str(high.amount))
        raise AmountOutOfRange(extra=extra)
    if amount.minor % limit.step_minor:
        raise AmountOutOfRange("The operator takes whole amounts only.", extra={"step": "1"})


def _phone_lock(phone: str) -> None:
    """Serialize pushes to one phone until commit. SQLite's IMMEDIATE transactions already
    serialize all writers; PostgreSQL takes a transaction-scoped advisory lock on the phone."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(f"payments.push:{phone}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def push_spacing_enforce(*, provider: str, phone: str) -> None:
    spacing = PUSH_SPACING_SECONDS.get(provider)
    if not spacing:
        return
    _phone_lock(phone)
    now = timezone.now()
    last = (
        PaymentIntent.objects.filter(
            provider=provider, phone=phone, created_at__gt=now - timedelta(seconds=spacing)
        )
        # A push the operator refused never reached the phone.
        .exclude(status=IntentStatus.FAILED, pushed_at__isnull=True)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is not None:
        wait = math.ceil(spacing - (now - last).total_seconds())
        raise PushTooSoon(retry_after=max(1, wait), extra={"retry_after": max(1, wait)})
