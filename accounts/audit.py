"""The audit trail: who changed what through the staff API, with before and after.

Services call `audit_record(...)` with the object's state before and after. As a safety net,
`AuditMiddleware` records a bare event for any successful state-changing API call by staff
that no service recorded, so no change goes unlogged.
"""

import contextvars
import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.forms.models import model_to_dict

from accounts.models import AuditEvent

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Fields never copied into the trail.
SECRET_FIELDS = frozenset({"password", "code_hash", "sealed_body", "token"})


@dataclass
class _RequestContext:
    ip: str | None
    method: str
    path: str
    recorded: bool = False


_current: contextvars.ContextVar[_RequestContext | None] = contextvars.ContextVar(
    "audit_request", default=None
)


def audit_snapshot(instance: models.Model | None) -> dict[str, Any] | None:
    """A JSON-safe copy of a model's fields, secrets left out."""
    if instance is None:
        return None
    data = {k: v for k, v in model_to_dict(instance).items() if k not in SECRET_FIELDS}
    for key, value in data.items():
        if isinstance(value, list):
            data[key] = [getattr(v, "pk", v) for v in value]
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder, default=str))


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
        before=before,
        after=after,
        ip=ctx.ip if ctx else None,
        request_method=ctx.method if ctx else "",
        request_path=ctx.path[:255] if ctx else "",
    )


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in UNSAFE_METHODS or not request.path.startswith("/api/"):
            return self.get_response(request)
        from accounts.clientip import client_ip

        ctx = _RequestContext(ip=client_ip(request), method=request.method, path=request.path)
        token = _current.set(ctx)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        user = getattr(request, "user", None)
        if (
            not ctx.recorded
            and response.status_code < 400
            and getattr(user, "is_staff_member", False)
        ):
            _current.set(ctx)
            try:
                audit_record(actor=user, action=f"{request.method} {request.path}"[:64])
            finally:
                _current.set(None)
        return response
