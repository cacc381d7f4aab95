"""Reads of payment intents, recorded payments and suspense, for the API, admin and jobs."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet

from billing.account_numbers import account_number_clean
from billing.models import Payment, ServiceAccount
from payments.models import IntentStatus, PaymentIntent, SuspensePayment

# Intents reconciliation looks at: pending ones, and final ones with a recheck scheduled.
CHECKED_STATUSES = (
    IntentStatus.PENDING,
    IntentStatus.EXPIRED,
    IntentStatus.FAILED,
    IntentStatus.CANCELLED,
)


def service_account_by_number(text: str) -> ServiceAccount | None:
    """The account a person typed the number of; None if unknown, mistyped or not unique."""
    number = account_number_clean(text)
    if number is None:
        return None
    accounts = list(
        ServiceAccount.objects.select_related("operator", "owner").filter(number=number)[:2]
    )
    return accounts[0] if len(accounts) == 1 else None


def payment_intent_get(*, intent_id: UUID) -> PaymentIntent | None:
    return PaymentIntent.objects.select_related("account").filter(pk=intent_id).first()


def _date_filters(queryset: QuerySet, field: str, filters: Mapping[str, Any]) -> QuerySet:
    if filters.get("date_from"):
        queryset = queryset.filter(**{f"{field}__date__gte": filters["date_from"]})
    if filters.get("date_to"):
        queryset = queryset.filter(**{f"{field}__date__lte": filters["date_to"]})
    return queryset


def payment_intent_list(*, filters: Mapping[str, Any]) -> QuerySet[PaymentIntent]:
    """Newest first; filters: status, provider, account (number), date_from, date_to, flagged."""
    intents = PaymentIntent.objects.select_related("account").order_by("-created_at", "-id")
    for name in ("status", "provider"):
        if filters.get(name):
            intents = intents.filter(**{name: filters[name]})
    if filters.get("account"):
        intents = intents.filter(account__number=filters["account"])
    if filters.get("flagged"):
        intents = intents.exclude(flags=[])
    return _date_filters(intents, "created_at", filters)


def payment_list(*, filters: Mapping[str, Any]) -> QuerySet[Payment]:
    """Recorded payments (all sources), newest first; filters: source, account, reference,
    date_from, date_to."""
    payments = Payment.objects.select_related("account").order_by("-received_at", "-id")
    if filters.get("source"):
        payments = payments.filter(source=filters["source"])
    if filters.get("account"):
        payments = payments.filter(account__number=filters["account"])
    if filters.get("reference"):
        payments = payments.filter(reference=filters["reference"])
    return _date_filters(payments, "received_at", filters)


def payment_get(*, payment_id: int) -> Payment | None:
    return Payment.objects.filter(pk=payment_id).first()


def suspense_list(*, filters: Mapping[str, Any]) -> QuerySet[SuspensePayment]:
    """Oldest first (the queue staff work through); filters: status, provider."""
    items = SuspensePayment.objects.select_related("allocated_account").order_by(
        "received_at", "id"
    )
    for name in ("status", "provider"):
        if filters.get(name):
            items = items.filter(**{name: filters[name]})
    return items


def payment_intents_due(
    *, now: datetime, min_age: timedelta | None = None, limit: int = 500
) -> list[UUID]:
    """Ids of intents to ask the operator about: due by their schedule (index on status,
    next_check_at), or, with `min_age`, every pending intent pushed at least that long ago."""
    if min_age is not None:
        due = PaymentIntent.objects.filter(
            status=IntentStatus.PENDING, pushed_at__lte=now - min_age
        )
    else:
        due = PaymentIntent.objects.filter(status__in=CHECKED_STATUSES, next_check_at__lte=now)
    return list(due.order_by("next_check_at").values_list("pk", flat=True)[:limit])


def payment_intents_stale(*, now: datetime, older_than: timedelta, limit: int = 500) -> list[UUID]:
    """Ids of intents still `created` (never pushed) after `older_than`."""
    stale = PaymentIntent.objects.filter(
        Q(status=IntentStatus.CREATED) & Q(created_at__lte=now - older_than)
    )
    return list(stale.order_by("created_at").values_list("pk", flat=True)[:limit])
