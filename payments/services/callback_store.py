"""The callback inbox's two hot statements: store a delivery claiming its event, and confirm a
claim before processing. Used by services/callbacks.py; SQL here, rules there.

A delivery claims its event (a ProcessedEvent row keyed (provider, event_key), pointing at the
delivery) in the same statement that stores it raw: the first copy of an event is stored
`received` and owns the event; every other copy is stored `duplicate` and costs nothing more.
On PostgreSQL that is one INSERT (a data-modifying CTE; the claim's foreign key is checked at
commit); elsewhere a SELECT and one or two INSERTs in one transaction. Only the owner is ever
processed (in its request, by a worker, or by the sweep). An owner whose processing failed
(status `error`) gives the claim up (`claim_release`), so an operator's retry still applies.

Before processing, `event_claim` takes the event's transaction-scoped advisory lock without
waiting (PostgreSQL) and says whether this delivery owns the event: "mine", "taken" (another
delivery owns it: this one is a duplicate) or "busy" (another process is on the event right
now: it settles it). It also claims an event nobody owns yet (a delivery stored unclaimed).
"""

import hashlib
import json

from django.db import connection, transaction
from django.utils import timezone

from payments.models import CallbackDelivery, CallbackStatus, ProcessedEvent

MINE, TAKEN, BUSY = "mine", "taken", "busy"
DUPLICATE_OUTCOME = "already received"

_DELIVERY = CallbackDelivery._meta.db_table
_EVENT = ProcessedEvent._meta.db_table
# The raw columns, in the order of _STORE_SQL's placeholders after the id.
_RAW_COLUMNS = ("provider", "kind", "method", "path", "headers", "body", "remote_addr")
# Table names come from the models, values are all parameters.
_STORE_SQL = f"""
WITH new AS (SELECT nextval(pg_get_serial_sequence('{_DELIVERY}', 'id')) AS id),
claim AS (
    INSERT INTO {_EVENT} (provider, event_key, delivery_id, created_at)
    SELECT %(provider)s, %(key)s, new.id, %(now)s FROM new
    ON CONFLICT (provider, event_key) DO NOTHING RETURNING delivery_id
)
INSERT INTO {_DELIVERY} (
    id, provider, kind, method, path, headers, body, remote_addr,
    received_at, status, outcome, event_key
)
SELECT new.id, %(provider)s, %(kind)s, %(method)s, %(path)s, %(headers)s::jsonb, %(body)s,
    %(remote_addr)s::inet, %(now)s,
    CASE WHEN claim.delivery_id IS NULL THEN %(duplicate)s ELSE %(received)s END,
    CASE WHEN claim.delivery_id IS NULL THEN %(outcome)s ELSE '' END,
    %(key)s
FROM new LEFT JOIN claim ON true
RETURNING id, status
"""  # noqa: S608
_CLAIM_SQL = f"""
WITH lock AS (SELECT pg_try_advisory_xact_lock(%(lock)s) AS ok),
claim AS (
    INSERT INTO {_EVENT} (provider, event_key, delivery_id, created_at)
    SELECT %(provider)s, %(key)s, %(delivery)s, %(now)s FROM lock WHERE ok
    ON CONFLICT (provider, event_key) DO NOTHING RETURNING delivery_id
)
SELECT ok, COALESCE(
    (SELECT delivery_id FROM claim),
    (SELECT delivery_id FROM {_EVENT} WHERE provider = %(provider)s AND event_key = %(key)s)
) FROM lock
"""  # noqa: S608


def delivery_store_claiming(raw: dict, *, key: str) -> CallbackDelivery | None:
    """Store the request (`raw`: the CallbackDelivery fields as received) for event `key`,
    claiming the event unless a delivery owns it already. Returns the stored delivery (built,
    not re-read) when it owns the event, None for a copy (stored `duplicate`)."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        params = {name: raw[name] for name in _RAW_COLUMNS}
        params.update(
            headers=json.dumps(raw["headers"]),
            key=key,
            now=now,
            received=CallbackStatus.RECEIVED.value,
            duplicate=CallbackStatus.DUPLICATE.value,
            outcome=DUPLICATE_OUTCOME,
        )
        with connection.cursor() as cursor:
            cursor.execute(_STORE_SQL, params)
            pk, status = cursor.fetchone()
    else:  # SQLite: IMMEDIATE transactions run one writer at a time
        with transaction.atomic():
            owned = ProcessedEvent.objects.filter(provider=raw["provider"], event_key=key)
            status = CallbackStatus.DUPLICATE if owned.exists() else CallbackStatus.RECEIVED
            outcome = DUPLICATE_OUTCOME if status == CallbackStatus.DUPLICATE else ""
            pk = CallbackDelivery.objects.create(
                **raw, received_at=now, event_key=key, status=status, outcome=outcome
            ).pk
            if status == CallbackStatus.RECEIVED:
                ProcessedEvent.objects.create(
                    provider=raw["provider"], event_key=key, delivery_id=pk, created_at=now
                )
    if status != CallbackStatus.RECEIVED:
        return None  # a copy: nothing more to do with it
    return CallbackDelivery(pk=pk, **raw, received_at=now, event_key=key, status=status)


def claim_release(*, provider: str, event_key: str, delivery_id: int) -> None:
    """`delivery_id`'s processing failed: give its event up (if it still owns it), so the
    operator's next copy claims it and is processed. The failed delivery stays `error`; if it
    is retried (the sweep) after a copy settled the event, it finds the event taken."""
    ProcessedEvent.objects.filter(
        provider=provider, event_key=event_key, delivery_id=delivery_id
    ).delete()


def event_lock_key(provider: str, event_key: str) -> int:
    digest = hashlib.sha256(f"payments.event:{provider}:{event_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def event_claim(*, provider: str, event_key: str, delivery_id: int) -> str:
    """In the processing transaction: MINE when `delivery_id` owns the event (claiming it if
    nobody does), TAKEN when another delivery owns it, BUSY (PostgreSQL) when another process
    holds the event's advisory lock: it is processing the event right now."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        params = {
            "lock": event_lock_key(provider, event_key),
            "provider": provider,
            "key": event_key,
            "delivery": delivery_id,
            "now": now,
        }
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, params)
            locked, owner = cursor.fetchone()
        if not locked:
            return BUSY
    else:
        claim = ProcessedEvent(
            provider=provider, event_key=event_key, delivery_id=delivery_id, created_at=now
        )
        ProcessedEvent.objects.bulk_create([claim], ignore_conflicts=True)
        owner = (
            ProcessedEvent.objects.filter(provider=provider, event_key=event_key)
            .values_list("delivery_id", flat=True)
            .first()
        )
    return MINE if owner == delivery_id else TAKEN
