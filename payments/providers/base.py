"""What every mobile-money provider adapter offers. Adapters exchange these dataclasses only.

A provider module (one per operator) knows its wire format; the services in payments/ know
intents, money and the ledger. Nothing else crosses the line.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from billing.money import Money


class Outcome(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class PushRequest:
    reference: str  # our unique id for this push (the intent id, hex, 32 chars)
    phone: str  # E.164 of the wallet asked to pay
    amount: Money
    account_number: str  # shown to the payer (M-Pesa AccountReference, ...)
    description: str
    callback_url: str  # absolute, carries the provider's secret URL token


@dataclass(frozen=True)
class PushStarted:
    provider_reference: str  # the operator's id of the push
    callback_key: str  # what the callback will carry to find the intent
    provider_data: dict[str, Any] = field(default_factory=dict)  # kept for status queries
    customer_message: str = ""


@dataclass(frozen=True)
class Verdict:
    """What the operator says happened to a push (from a callback or a status query)."""

    outcome: Outcome
    receipt: str = ""  # the operator's receipt for the money, when it moved
    amount: Money | None = None  # what was actually paid, when the operator says
    failure_code: str = ""  # the operator's code (M-Pesa 1032, MTN APPROVAL_REJECTED, ...)
    failure_message: str = ""  # short, readable by the customer


@dataclass(frozen=True)
class PaybillPayment:
    """Money the customer sent on their own (M-Pesa paybill / C2B), with a typed reference."""

    receipt: str
    amount: Money
    bill_reference: str  # what the payer typed as account number
    payer: str  # masked or hashed MSISDN as the operator sent it
    payer_name: str = ""


@dataclass(frozen=True)
class InboundCallback:
    """A request from an operator, as received (already stored raw by then)."""

    kind: str  # "stk", "c2b_validation", "c2b_confirmation", "notify", "callback", ...
    method: str
    headers: dict[str, str]
    body: bytes
    remote_addr: str | None


@dataclass(frozen=True)
class CallbackEvent:
    """A parsed, authentic-looking callback.

    `trusted` is True only when the operator vouched for it (a signature or a token we issued
    matched); otherwise the services confirm with a status query before crediting.
    """

    event_key: str  # unique per provider: a resend carries the same key
    callback_key: str = ""  # finds the intent ("" for paybill payments)
    verdict: Verdict | None = None
    paybill: PaybillPayment | None = None
    trusted: bool = False


@dataclass(frozen=True)
class Acknowledgement:
    status: int
    body: dict[str, Any] | str
    content_type: str = "application/json"


class CallbackRejected(Exception):
    """Forged or malformed: answered 403 (forged) or 400 (malformed), credits nothing."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class ProviderError(Exception):
    """The operator refused or could not be reached. `transient` errors may be retried."""

    def __init__(self, message: str, *, code: str = "", transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.transient = transient


class PaymentProvider(Protocol):
    name: str

    def push_start(self, request: PushRequest) -> PushStarted: ...

    def status_query(
        self, *, provider_reference: str, provider_data: dict[str, Any], amount: Money
    ) -> Verdict: ...

    def callback_parse(self, callback: InboundCallback) -> CallbackEvent: ...

    def callback_ack(self, event: CallbackEvent | None, *, accepted: bool) -> Acknowledgement: ...
