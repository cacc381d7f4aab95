"""The audit trail: who changed what through the staff API, with before and after.

Services call `audit_record(...)` with the object's state before and after. As a safety net,
`AuditMiddleware` records a bare event for any successful state-changing API call by staff
that no service recorded, so no change goes unlogged. Secrets (passwords, hashes, tokens,
sealed bodies) never reach the trail: `audit_snapshot` leaves them out and `audit_record`
drops them from whatever it is given.
"""

import contextvars
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, models
from django.forms.models import model_to_dict

from accounts.clientip import client_ip
from accounts.models import AuditEvent

logger = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Fields never copied into the trail, by name or by ending.
SECRET_FIELDS = frozenset({"password", "code_hash", "sealed_body", "token", "pin", "secret"})
SECRET_SUFFIXES = ("_hash", "_token", "_secret", "password", "_pin")
# The safety net covers the staff API; other paths (the admin) only lend their request context.
SAFETY_NET_PREFIX = "/api/"


@dataclass
class _RequestContext:
    ip: str | None
    method: str
    path: str
    recorded: bool = False


_current: contextvars.ContextVar[_RequestContext | None] = contextvars.ContextVar(
    "audit_request", default=None
)


def _is_secret(key: str) -> bool:
    key = key.lower()
    return key in SECRET_FIELDS or key.endswith(SECRET_SUFFIXES)


def _scrub(value: Any) -> Any:
    """Drop secret keys at any depth."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if not _is_secret(str(k))}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def audit_snapshot(instance: models.Model | None) -> dict[str, Any] | None:
    """A JSON-safe copy of a model's fields, secrets left out."""
    if instance is None:
        return None
    data = model_to_dict(instance)
    for key, value in data.items():
        if isinstance(value, list):
            data[key] = [getattr(v, "pk", v) for v in value]
    return _scrub(json.loads(json.dumps(data, cls=DjangoJSONEncoder, default=str)))


def audit_record(
    *,
    actor,
    action: str,
    instance: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Append one event to the trail. Call inside the transaction that makes the change."""
    ctx = _current.get()
    if ctx is not None:
        ctx.recorded = True
    if instance is not None:
        object_type = object_type or instance._meta.label_lower
        object_id = object_id or str(instance.pk)
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_role=getattr(actor, "role", "") or "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=_scrub(before),
        after=_scrub(after),
        ip=ctx.ip if ctx else None,
        request_method=ctx.method if ctx else "",
        request_path=ctx.path[:255] if ctx else "",
    )


class AuditMiddleware:
    """Lends every state-changing request's address, method and path to `audit_record`, and
    records a bare event for a successful staff API call that no service recorded."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in UNSAFE_METHODS:
            return self.get_response(request)
        ctx = _RequestContext(ip=client_ip(request), method=request.method, path=request.path)
        token = _current.set(ctx)
        try:
            response = self.get_response(request)
            user = getattr(request, "user", None)
            if (
                not ctx.recorded
                and response.status_code < 400
                and request.path.startswith(SAFETY_NET_PREFIX)
                and getattr(user, "is_staff_member", False)
            ):
                self._record_bare(user, request)
        finally:
            _current.reset(token)
        return response

    @staticmethod
    def _record_bare(user, request) -> None:
        try:
            audit_record(actor=user, action=f"{request.method} {request.path}"[:64])
        except DatabaseError:
            # The change is committed already; failing the response would not undo it.
            logger.exception("audit safety net failed", extra={"path": request.path})
