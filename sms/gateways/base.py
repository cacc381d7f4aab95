"""What every SMS gateway adapter offers. Adapters exchange these dataclasses, never models."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutgoingSms:
    to: str  # E.164
    text: str
    reference: str  # our message id, for the gateway's delivery reports


@dataclass(frozen=True)
class SendResult:
    gateway_message_id: str


class GatewayUnavailable(Exception):
    """The gateway could not take the message now (network, 5xx, throttled): try again later.

    The text is stored on the message for staff, so it must never hold the message text.
    """


class SmsGateway(Protocol):
    name: str

    def send(self, message: OutgoingSms) -> SendResult:
        """Hand one message to the network; raise GatewayUnavailable for transient failures."""
        ...
