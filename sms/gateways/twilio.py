"""Twilio Programmable Messaging through its official SDK (`twilio`).

The SDK raises TwilioRestException (HTTP status and Twilio error code) for an API error and
lets requests' exceptions through for network failures. Classification:
- transient: network errors, 5xx, 429, and our own account's problems that another gateway
  does not share (401/403/404; 20003 authentication, 21408 region not enabled, 21606/21659
  "From" not usable, 21611 queue full);
- permanent: any other 4xx (21211 invalid "To", 21614 not a mobile number, ...);
  21610 (the recipient sent STOP to our number) also blocks the contact on this gateway.
Delivery (sent, delivered, undelivered with ErrorCode) arrives later on the status callback.
"""

from decimal import Decimal, InvalidOperation

import requests
from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from sms.gateways.base import GatewayRejected, GatewayUnavailable, OutgoingSms, SendResult

TWILIO_API = "https://api.twilio.com"
OUR_SIDE_STATUSES = frozenset({401, 403, 404, 429})
OUR_SIDE_CODES = frozenset({20003, 20429, 21408, 21606, 21611, 21659})
RECIPIENT_OPTED_OUT = 21610


class _RebasedHttpClient(TwilioHttpClient):
    """The SDK's documented seam: the HTTP client, here sending api.twilio.com elsewhere."""

    def __init__(self, base_url: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def _classify(exc: TwilioRestException) -> Exception:
    code = exc.code or 0
    if exc.status >= 500 or exc.status in OUR_SIDE_STATUSES or code in OUR_SIDE_CODES:
        return GatewayUnavailable(f"HTTP {exc.status} code {code}")
    return GatewayRejected(f"{code or exc.status}", recipient_blocked=code == RECIPIENT_OPTED_OUT)


class TwilioGateway:
    def __init__(
        self,
        *,
        name: str = "twilio",
        account_sid: str,
        auth_token: str,
        from_number: str = "",
        messaging_service_sid: str = "",
        base_url: str = "",
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        http = _RebasedHttpClient(base_url, timeout=timeout)
        self._client = Client(account_sid, auth_token, http_client=http)

    def send(self, message: OutgoingSms) -> SendResult:
        sender = (
            {"messaging_service_sid": self.messaging_service_sid}
            if self.messaging_service_sid
            else {"from_": self.from_number}
        )
        callback = settings.SMS_PUBLIC_BASE_URL.rstrip("/") + reverse("sms:twilio-status")
        try:
            sent = self._client.messages.create(
                to=message.to, body=message.text, status_callback=callback, **sender
            )
        except TwilioRestException as exc:
            raise _classify(exc) from exc
        except (requests.RequestException, TwilioException) as exc:
            raise GatewayUnavailable(f"network: {exc.__class__.__name__}") from exc
        cost = None
        try:
            cost = abs(Decimal(sent.price)) if sent.price not in (None, "") else None
        except InvalidOperation:
            cost = None
        return SendResult(sent.sid, cost=cost, cost_currency=(sent.price_unit or "")[:3])
