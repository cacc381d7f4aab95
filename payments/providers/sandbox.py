"""The sandbox provider: the offline demo's operator (see payments/simulators/sandbox.py).

Enabled when DEBUG is on and no real provider is (config/settings/payments.py). A push is
answered a few seconds later by a signed callback to /payments/sandbox/callback/<token>/; the
signature (HMAC-SHA256 of the body, keyed by a secret derived from the callback token) makes
the callback trusted. Status queries answer from the simulator's in-memory state.
"""

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from billing.money import Money
from payments.providers.base import (
    Acknowledgement,
    CallbackEvent,
    CallbackRejected,
    InboundCallback,
    Outcome,
    ProviderError,
    PushRequest,
    PushStarted,
    Verdict,
)
from payments.simulators.sandbox import SIGNATURE_HEADER, body_sign, sandbox_operator

OUTCOMES = {
    "PENDING": Outcome.PENDING,
    "SUCCESS": Outcome.SUCCEEDED,
    "FAILED": Outcome.FAILED,
    "CANCELLED": Outcome.CANCELLED,
    "EXPIRED": Outcome.EXPIRED,
}


class SandboxProvider:
    name = "sandbox"

    def __init__(
        self,
        *,
        callback_token: str,
        delay_seconds: float | None = 3.0,
        allowed_ips: tuple[str, ...] | list[str] = (),
    ) -> None:
        self._secret = hashlib.sha256(f"sandbox-signing:{callback_token}".encode()).hexdigest()
        self.delay_seconds = delay_seconds
        self.allowed_ips = tuple(allowed_ips)

    def __repr__(self) -> str:
        return "SandboxProvider()"

    def push_start(self, request: PushRequest) -> PushStarted:
        reference = sandbox_operator.push(
            phone=request.phone,
            amount=request.amount,
            callback_url=request.callback_url,
            secret=self._secret,
            delay=self.delay_seconds,
        )
        return PushStarted(
            provider_reference=reference,
            callback_key=reference,
            customer_message="Enter your PIN on the phone to pay.",
        )

    def status_query(
        self, *, provider_reference: str, provider_data: dict[str, Any], amount: Money
    ) -> Verdict:
        push = sandbox_operator.status(provider_reference)
        if push is None:
            raise ProviderError("the sandbox does not know this push", code="unknown")
        return _verdict(push.payload())

    def callback_parse(self, callback: InboundCallback) -> CallbackEvent:
        signature = next(
            (v for k, v in callback.headers.items() if k.lower() == SIGNATURE_HEADER.lower()), ""
        )
        if signature and not hmac.compare_digest(signature, body_sign(self._secret, callback.body)):
            raise CallbackRejected("bad signature", status=403)
        try:
            data = json.loads(callback.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CallbackRejected("body is not JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("reference"), str):
            raise CallbackRejected("no reference")
        reference = data["reference"].strip()
        if not reference:
            raise CallbackRejected("no reference")
        verdict = _verdict(data)
        return CallbackEvent(
            event_key=f"{reference}:{data.get('status')}",
            callback_key=reference,
            verdict=verdict,
            trusted=bool(signature),
        )

    def callback_ack(self, event: CallbackEvent | None, *, accepted: bool) -> Acknowledgement:
        if not accepted:
            return Acknowledgement(400, {"status": "rejected"})
        return Acknowledgement(200, {"status": "ok"})


def _verdict(data: dict) -> Verdict:
    outcome = OUTCOMES.get(str(data.get("status", "")).upper())
    if outcome is None:
        raise CallbackRejected(f"unknown status {data.get('status')!r}")
    if outcome != Outcome.SUCCEEDED:
        return Verdict(
            outcome,
            failure_code=str(data.get("code") or "")[:32],
            failure_message=str(data.get("message") or "")[:200],
        )
    try:
        amount = Money.of(Decimal(str(data["amount"])), str(data["currency"]))
    except (KeyError, ArithmeticError, ValueError, TypeError) as exc:
        raise CallbackRejected("unreadable amount") from exc
    return Verdict(outcome, receipt=str(data.get("receipt") or "")[:64], amount=amount)
