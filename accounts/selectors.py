"""Reads of users and of the audit trail, for the staff API and the admin."""

import re
from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet

from accounts.exceptions import InvalidPhoneNumber
from accounts.models import AuditEvent, User
from accounts.phones import phone_normalize

AUDIT_FILTERS = ("action", "object_type", "object_id", "at__gte", "at__lte")


def phone_search_q(term: str, *, field: str = "phone") -> Q:
    """Match a phone as staff type it: a whole number in any format, or a run of its digits.

    "0712 345 678" finds +254712345678 exactly; "712345" finds every number containing it
    (leading zeros, a national trunk prefix, are dropped from a fragment).
    """
    try:
        return Q(**{field: phone_normalize(term)})
    except InvalidPhoneNumber:
        digits = re.sub(r"\D", "", term).lstrip("0")
        return Q(**{f"{field}__contains": digits}) if digits else Q(pk__in=[])


def user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()


def user_list(*, filters: Mapping[str, Any]) -> QuerySet[User]:
    """Users by id, filtered by `role`, `is_active` and `search` (a phone or part of a name)."""
    users = User.objects.order_by("id")
    if filters.get("role"):
        users = users.filter(role=filters["role"])
    if filters.get("is_active") is not None:
        users = users.filter(is_active=filters["is_active"])
    term = (filters.get("search") or "").strip()
    if term:
        users = users.filter(Q(name__icontains=term) | phone_search_q(term))
    return users


def audit_event_list(*, filters: Mapping[str, Any]) -> QuerySet[AuditEvent]:
    """Events newest first, filtered by `actor` (a user id) and the exact AUDIT_FILTERS."""
    events = AuditEvent.objects.select_related("actor").order_by("-at", "-id")
    if filters.get("actor") is not None:
        events = events.filter(actor_id=filters["actor"])
    lookups = {name: filters[name] for name in AUDIT_FILTERS if filters.get(name) not in (None, "")}
    return events.filter(**lookups)
