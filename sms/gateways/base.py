"""What every SMS gateway adapter offers. Adapters exchange these dataclasses, never models.

A gateway either takes the message (SendResult) or raises one of two errors:
- GatewayUnavailable: transient (network, timeout, 5xx, throttled, out of credit). The
  pipeline fails over to the next gateway of the route, then retries later with backoff.
- GatewayRejected: permanent for this recipient (invalid number, blacklisted, opted out at
  the gateway). Never retried; `recipient_blocked` records the block on the contact.
Error texts are stored on the message for staff, so they never hold the message text.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class OutgoingSms:
    to: str  # E.164
    text: str
    reference: str  # our message id, for the gateway's delivery reports


@dataclass(frozen=True)
class SendResult:
    gateway_message_id: str
    cost: Decimal | None = None  # what the gateway says it charged, if it says
    cost_currency: str = ""


class GatewayUnavailable(Exception):
    """The gateway could not take the message now: try another gateway, or again later."""


class GatewayRejected(Exception):
    """The gateway refused this message for good (`code`: the gateway's own reason)."""

    def __init__(self, code: str, *, recipient_blocked: bool = False) -> None:
        self.code = code
        self.recipient_blocked = recipient_blocked
        super().__init__(code)


class SmsGateway(Protocol):
    name: str

    def send(self, message: OutgoingSms) -> SendResult:
        """Hand one message to the network, or raise GatewayUnavailable / GatewayRejected."""
        ...
