"""The callback inbox: every operator request stored raw, then processed exactly once.

`callback_receive` does, per request:
1. the checks that need no database, in memory: the HTTP method, the URL token (constant
   time; wrong -> 403), the provider's optional source-IP allow-list (403), the adapter's
   parse and signature check (CallbackRejected -> 400/403);
2. the raw store: committed on its own before anything else touches the database, of the
   request as received (headers, body, remote address, time, method, path with the token
   masked) with what step 1 concluded (rejected), and, in the same statement, the event's
   claim: an insert-on-conflict into ProcessedEvent keyed (provider, event_key), pointing at
   the delivery that owns the event (services/callback_store.py). The first copy of an event
   owns it; every other copy, resend or racing copy alike, is stored `duplicate` and
   acknowledged: one statement on PostgreSQL, nothing else. An owner whose processing failed
   gives the claim up, so an operator's retry still applies;
3. the owner is processed: in the request, or, with settings.PAYMENTS_CALLBACKS_ASYNC, by a
   worker (the operator is acknowledged once the raw row is committed; a burst of owners
   wakes one drain, which processes every delivery waiting: services/sweep.py). Processing
   confirms the claim under a transaction-scoped advisory lock taken without waiting
   (PostgreSQL), so two processes never apply one event at once, and applies it in that
   transaction. Either way the sweep (services/sweep.py, every minute) processes
   any delivery left `received` by a lost task or a crash, and retries for an hour those
   whose processing failed.

When to believe a callback: see services/verdicts.py (the doubt rule).

An event whose intent we cannot find is stored as unmatched and acknowledged, so the operator
stops retrying; its claim is released so that a resend, after the push committed, still
applies. A paybill confirmation is credited to the account it names, or parked in suspense
(services/paybill.py); a paybill validation changes nothing and is answered accept/reject.
"""

import hmac
import ipaddress
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from payments.models import (
    CallbackDelivery,
    CallbackStatus,
    PaymentIntent,
    ProcessedEvent,
)
from payments.providers import provider_get
from payments.providers.base import (
    Acknowledgement,
    CallbackEvent,
    CallbackRejected,
    InboundCallback,
    PaymentProvider,
)
from payments.services.callback_store import (
    BUSY,
    TAKEN,
    claim_release,
    delivery_store_claiming,
    event_claim,
)
from payments.services.paybill import paybill_account_find, paybill_payment_record
from payments.services.paybill_checks import (
    paybill_check_answer,
    paybill_check_open,
    paybill_needs_check,
)
from payments.services.verdicts import verdict_apply

logger = logging.getLogger(__name__)

HIDDEN_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
VALIDATION_KIND = "c2b_validation"
# Answers to our own status questions (M-Pesa Transaction Status: result, queue timeout).
STATUS_RESULT_KIND, STATUS_TIMEOUT_KIND = "status_result", "status_timeout"
STATUS_KINDS = (STATUS_RESULT_KIND, STATUS_TIMEOUT_KIND)
# Deliveries the sweep (services/sweep.py) may still process.
RETRIED_STATUSES = (CallbackStatus.RECEIVED, CallbackStatus.ERROR)


@dataclass(frozen=True)
class _Checked:
    """What the checks that need no database concluded about a request."""

    provider: PaymentProvider | None = None
    event: CallbackEvent | None = None
    refusal: tuple[int, str] | None = None  # (HTTP status, reason)


def _raw(*, provider, kind, method, path, token, headers, body, remote_addr) -> dict:
    """The request as received, token masked, credentials hidden, ready to store."""
    return {
        "provider": provider,
        "kind": kind,
        "method": method[:8],
        "path": (path.replace(token, "<token>") if token else path)[:255],
        "headers": {
            k: "<hidden>" if k.lower() in HIDDEN_HEADERS else v for k, v in headers.items()
        },
        "body": body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        "remote_addr": remote_addr,
    }


def delivery_mark(delivery: CallbackDelivery, status: str, outcome: str, **fields) -> None:
    CallbackDelivery.objects.filter(pk=delivery.pk).update(
        status=status, outcome=outcome[:200], **fields
    )


def delivery_failed(delivery: CallbackDelivery) -> None:
    """Processing `delivery` raised: mark it `error` (the sweep retries it for an hour) and give
    its event's claim up, so the operator's next copy is processed."""
    delivery_mark(delivery, CallbackStatus.ERROR, "processing failed")
    claim_release(provider=delivery.provider, event_key=delivery.event_key, delivery_id=delivery.pk)


def _address_allowed(remote_addr: str | None, allowed: list[str] | tuple[str, ...]) -> bool:
    if not allowed:
        return True
    if not remote_addr:
        return False
    address = ipaddress.ip_address(remote_addr)
    return any(address in ipaddress.ip_network(net.strip(), strict=False) for net in allowed)


def _check(*, provider, kind, method, token, headers, body, remote_addr, methods) -> _Checked:
    """Method, URL token (constant time), source address, then the adapter's parse (signature,
    shape): everything that needs no database."""
    if method not in methods:
        return _Checked(refusal=(405, "method not allowed"))
    conf = settings.PAYMENT_PROVIDERS.get(provider)
    if conf is None:
        return _Checked(refusal=(404, "provider not configured"))
    options = conf["options"]
    expected = str(options.get("callback_token") or "")
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        return _Checked(refusal=(403, "wrong URL token"))
    if not _address_allowed(remote_addr, options.get("allowed_ips") or ()):
        return _Checked(refusal=(403, "source address not allowed"))
    adapter = provider_get(provider)
    inbound = InboundCallback(kind, method, headers, body, remote_addr)
    try:
        event = adapter.callback_parse(inbound)
    except CallbackRejected as exc:
        return _Checked(refusal=(exc.status, exc.reason))
    if not event.event_key:
        return _Checked(refusal=(400, "no event key"))
    return _Checked(provider=adapter, event=event)


def callback_receive(
    *,
    provider: str,
    kind: str,
    method: str,
    path: str,
    token: str,
    headers: dict[str, str],
    body: bytes,
    remote_addr: str | None,
    methods: tuple[str, ...] = ("POST",),
) -> Acknowledgement:
    """Store one operator request and act on it; returns what to answer the operator.

    The request is stored raw, in its own committed INSERT, before anything touches the
    database; that row already says what the checks needing no database concluded (rejected,
    or a resend of an event already processed: duplicate). Only then is a new event processed.
    Raises (after marking the stored request `error`) when processing fails unexpectedly.
    """
    raw = _raw(
        provider=provider,
        kind=kind,
        method=method,
        path=path,
        token=token,
        headers=headers,
        body=body,
        remote_addr=remote_addr,
    )
    try:
        checked = _check(
            provider=provider,
            kind=kind,
            method=method,
            token=token,
            headers=headers,
            body=body,
            remote_addr=remote_addr,
            methods=methods,
        )
    except Exception:
        CallbackDelivery.objects.create(**raw, status=CallbackStatus.ERROR, outcome="check failed")
        raise
    if checked.refusal is not None:
        return _refused(raw, *checked.refusal)
    event, adapter = checked.event, checked.provider
    key = event.event_key[:100]
    if kind == VALIDATION_KIND:  # answered at once, changes nothing: no claim
        delivery = CallbackDelivery.objects.create(**raw, event_key=key)
        try:
            return _paybill_validate(delivery, adapter, event)
        except Exception:
            delivery_mark(delivery, CallbackStatus.ERROR, "processing failed")
            raise
    delivery = delivery_store_claiming(raw, key=key)
    if delivery is None:  # another delivery of the event owns it: acknowledged, nothing else
        return adapter.callback_ack(event, accepted=True)
    if settings.PAYMENTS_CALLBACKS_ASYNC:
        _enqueue(delivery)
        return adapter.callback_ack(event, accepted=True)
    try:
        return callback_event_apply(delivery, adapter, event, key=key)
    except Exception:
        delivery_failed(delivery)
        raise


def _enqueue(delivery: CallbackDelivery) -> None:
    """Hand a stored delivery to the workers (the row is committed already): wake a drain,
    unless one is already due to look (services/sweep.py). If the broker is down, the sweep
    (every minute) processes it."""
    from payments.services.sweep import callback_drain_wake

    callback_drain_wake(delivery_id=delivery.pk)


def _refused(raw: dict, status: int, reason: str) -> Acknowledgement:
    delivery = CallbackDelivery.objects.create(
        **raw, status=CallbackStatus.REJECTED, outcome=reason[:200]
    )
    logger.warning(
        "callback rejected",
        extra={"provider": delivery.provider, "delivery": delivery.pk, "reason": reason},
    )
    code = {403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(status, "rejected")
    return Acknowledgement(status=status, body={"code": code})


def _paybill_validate(
    delivery: CallbackDelivery, provider: PaymentProvider, event: CallbackEvent
) -> Acknowledgement:
    reference = event.paybill.bill_reference if event.paybill else ""
    account = paybill_account_find(reference, provider=delivery.provider)
    accepted = account is not None
    outcome = f"accepted for {account.number}" if accepted else "refused: unknown account"
    delivery_mark(delivery, CallbackStatus.PROCESSED, outcome)
    if hasattr(provider, "c2b_validation_ack"):
        return provider.c2b_validation_ack(accepted=accepted, reason="invalid_account")
    return provider.callback_ack(event, accepted=accepted)


def _mark_duplicate(delivery: CallbackDelivery, outcome: str) -> None:
    # Only a delivery still waiting is relabelled: the sweep may meet one just processed.
    CallbackDelivery.objects.filter(pk=delivery.pk, status__in=RETRIED_STATUSES).update(
        status=CallbackStatus.DUPLICATE, outcome=outcome
    )


@transaction.atomic
def callback_event_apply(
    delivery: CallbackDelivery, provider: PaymentProvider, event: CallbackEvent, *, key: str
) -> Acknowledgement:
    claim = event_claim(provider=delivery.provider, event_key=key, delivery_id=delivery.pk)
    if claim == TAKEN:  # another delivery owns the event: it settles it
        _mark_duplicate(delivery, "already processed")
        return provider.callback_ack(event, accepted=True)
    waiting = CallbackDelivery.objects.filter(pk=delivery.pk, status__in=RETRIED_STATUSES)
    if claim == BUSY or not waiting.exists():
        # Another process is on the event right now, or has just settled this delivery
        # (should it fail, the sweep retries the stored row).
        return provider.callback_ack(event, accepted=True)
    return _event_process(delivery, provider, event, key=key)


def _event_process(
    delivery: CallbackDelivery, provider: PaymentProvider, event: CallbackEvent, *, key: str
) -> Acknowledgement:
    if event.paybill is not None:
        record = (
            paybill_check_open if paybill_needs_check(delivery.provider) else paybill_payment_record
        )
        result = record(provider=delivery.provider, paybill=event.paybill)
        outcome = f"paybill: {result._meta.model_name} {result.pk}"
        delivery_mark(delivery, CallbackStatus.PROCESSED, outcome)
        return provider.callback_ack(event, accepted=True)
    if delivery.kind in STATUS_KINDS:
        return _status_answer(delivery, provider, event)
    intent = None
    if event.callback_key and event.verdict is not None:
        intent = (
            PaymentIntent.objects.select_for_update(of=("self",))
            .select_related("account__operator")
            .filter(provider=delivery.provider, callback_key=event.callback_key[:100])
            .first()
        )
    if intent is None:
        ProcessedEvent.objects.filter(provider=delivery.provider, event_key=key).delete()
        delivery_mark(delivery, CallbackStatus.UNMATCHED, "no matching payment")
        return provider.callback_ack(event, accepted=True)
    outcome = verdict_apply(intent, provider, event, kind=delivery.kind)
    delivery_mark(delivery, CallbackStatus.PROCESSED, outcome, intent=intent)
    return provider.callback_ack(event, accepted=True)


def _status_answer(
    delivery: CallbackDelivery, provider: PaymentProvider, event: CallbackEvent
) -> Acknowledgement:
    """An answer to a question we asked about a held paybill confirmation
    (services/paybill_checks.py). A queue-timeout notice only says to ask again, which the
    sweep does; an answer nobody asked for is kept as unmatched."""
    outcome = None
    if event.verdict is not None:
        outcome = paybill_check_answer(
            provider=delivery.provider, conversation_id=event.callback_key, verdict=event.verdict
        )
    elif delivery.kind == STATUS_TIMEOUT_KIND:
        outcome = "queue timeout: asked again later"
    if outcome is None:
        delivery_mark(delivery, CallbackStatus.UNMATCHED, "no question of ours")
    else:
        delivery_mark(delivery, CallbackStatus.PROCESSED, outcome)
    return provider.callback_ack(event, accepted=True)
