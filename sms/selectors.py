"""Reads of the outbox and of contacts, for the staff API and the admin."""

from collections.abc import Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from accounts.selectors import phone_search_q
from sms.models import OutboundMessage, SmsContact

MESSAGE_FILTERS = ("status", "kind", "created_at__gte", "created_at__lte")


def message_list(
    *,
    filters: Mapping[str, Any],
    account_id: int | None = None,
    account_phones: list[str] | None = None,
) -> QuerySet[OutboundMessage]:
    """Messages newest first. For an account: those filed under it, and those to its phones
    filed under no account (codes, receipts)."""
    messages = OutboundMessage.objects.order_by("-created_at", "-id")
    if filters.get("phone"):
        messages = messages.filter(to=filters["phone"])
    if account_id is not None:
        messages = messages.filter(
            Q(account_id=account_id) | Q(account_id__isnull=True, to__in=account_phones or [])
        )
    return messages.filter(**{k: filters[k] for k in MESSAGE_FILTERS if k in filters})


def spend_by_day(*, date_from: date, date_to: date) -> list[dict]:
    """Messages, segments and cost of what was sent, per day (local time), gateway, currency."""
    day = TruncDate("sent_at", tzinfo=ZoneInfo(settings.TIME_ZONE))
    return list(
        OutboundMessage.objects.filter(sent_at__isnull=False)
        .annotate(day=day)
        .filter(day__gte=date_from, day__lte=date_to)
        .values("day", "gateway", "cost_currency")
        .annotate(messages=Count("id"), segments=Sum("segments"), cost=Sum("cost"))
        .order_by("day", "gateway", "cost_currency")
    )


def contact_list(*, filters: Mapping[str, Any]) -> QuerySet[SmsContact]:
    contacts = SmsContact.objects.order_by("phone")
    if filters.get("phone"):
        contacts = contacts.filter(phone_search_q(filters["phone"]))
    if filters.get("blocked") is True:
        contacts = contacts.exclude(blocked_gateways="")
    elif filters.get("blocked") is False:
        contacts = contacts.filter(blocked_gateways="")
    if filters.get("opted_out") is not None:
        contacts = contacts.filter(opted_out=filters["opted_out"])
    return contacts
