"""The sandbox operator: an in-process fake mobile-money operator for the offline demo.

`make run` (DEBUG, no real provider enabled) pushes through `payments.providers.sandbox`, which
hands each push to `sandbox_operator` here. A few seconds later (a background thread: tasks run
in-process in the embedded default) the "customer" has answered and the operator POSTs a
signed callback to our own callback URL, so a whole payment works without any network. Status
queries answer from the same in-memory state, so reconciliation works too.

Scriptable like the HTTP simulators (see simulators/base.py): `sandbox_operator.script("fail:
cancelled")` decides the next push; outcomes "success", "fail:<code>" (cancelled, expired,
insufficient_funds, wrong_pin, or any code: failed), "never" (the money moves, no callback is
sent), "twice", "late:<seconds>", "amount:<value>" (the payer pays another amount).

Callback body (JSON, HMAC-SHA256 of the exact body in the X-Sandbox-Signature header, hex):
    {"reference": "SBX…", "status": "SUCCESS" | "FAILED" | "CANCELLED" | "EXPIRED",
     "amount": "1200.00", "currency": "KES", "receipt": "SBX…" | "", "code": "", "message": ""}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass

import requests

from billing.money import Money
from payments.simulators.base import SEND_TIMEOUT, Sent, SimulatorServer

SIGNATURE_HEADER = "X-Sandbox-Signature"
FAILURES = {
    "cancelled": ("CANCELLED", "You cancelled the payment."),
    "expired": ("EXPIRED", "The payment request expired."),
    "insufficient_funds": ("FAILED", "Not enough money in your wallet."),
    "wrong_pin": ("FAILED", "Wrong PIN."),
}


def body_sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class SandboxPush:
    reference: str
    phone: str
    amount: Money
    callback_url: str
    secret: str
    status: str = "PENDING"  # until the customer "answers"
    paid: Money | None = None
    receipt: str = ""
    code: str = ""
    message: str = ""

    def payload(self) -> dict[str, str]:
        paid = self.paid or self.amount
        return {
            "reference": self.reference,
            "status": self.status,
            "amount": str(paid.amount),
            "currency": paid.currency,
            "receipt": self.receipt,
            "code": self.code,
            "message": self.message,
        }


class SandboxOperator(SimulatorServer):
    """In memory; never needs `.start()` (nothing calls it over HTTP)."""

    name = "sandbox"

    def __init__(self, *, callback_delay: float | None = 3.0) -> None:
        super().__init__(callback_delay=callback_delay)
        self.pushes: dict[str, SandboxPush] = {}
        self._state_lock = threading.Lock()

    def push(
        self,
        *,
        phone: str,
        amount: Money,
        callback_url: str,
        secret: str,
        delay: float | None = None,
    ) -> str:
        """Register a push, schedule the customer's answer and callback; returns its reference."""
        push = SandboxPush(
            reference=f"SBX{secrets.token_hex(6).upper()}",
            phone=phone,
            amount=amount,
            callback_url=callback_url,
            secret=secret,
        )
        with self._state_lock:
            self.pushes[push.reference] = push
        script = self.next_script()
        if script.kind == "late":
            delay = script.seconds
        self.schedule(lambda: self._answer(push, script), delay=delay)
        return push.reference

    def _answer(self, push: SandboxPush, script) -> None:
        with self._state_lock:
            if script.kind == "fail":
                push.status, push.message = FAILURES.get(script.code, ("FAILED", "Failed."))
                push.code = script.code
            else:
                push.status = "SUCCESS"
                push.receipt = f"SBX{secrets.token_hex(4).upper()}"
                if script.kind == "amount":
                    push.paid = Money.of(script.amount, push.amount.currency)
        if script.kind == "never":
            return
        for _ in range(2 if script.kind == "twice" else 1):
            self.callback_send(push)

    def callback_send(self, push: SandboxPush) -> Sent:
        body = json.dumps(push.payload()).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: body_sign(push.secret, body),
        }
        try:
            response = requests.post(
                push.callback_url, data=body, headers=headers, timeout=SEND_TIMEOUT
            )
            status: int | None = response.status_code
        except requests.RequestException:
            status = None
        sent = Sent("POST", push.callback_url, push.payload(), status)
        with self._lock:
            self.sent.append(sent)
        return sent

    def status(self, reference: str) -> SandboxPush | None:
        with self._state_lock:
            return self.pushes.get(reference)


sandbox_operator = SandboxOperator()
