"""Africa's Talking bulk SMS through its official SDK (`africastalking`).

One recipient per call, so each message gets its own verdict. The SDK returns the parsed JSON
only when the response's content type is exactly `application/json` (otherwise the raw text),
raises AfricasTalkingException with the body on any non-2xx status and ValueError for a number
that is not "+<digits>". A 2xx response still carries a per-recipient verdict:

| statusCode | meaning                                          | we treat it as            |
|------------|--------------------------------------------------|---------------------------|
| 100-102    | Processed, Sent, Queued                          | taken                     |
| 403, 404   | InvalidPhoneNumber, UnsupportedNumberType        | permanent                 |
| 406        | UserInBlacklist (recipient opted out of promos)  | permanent, contact blocked|
| 409        | DoNotDisturbRejection                            | permanent                 |
| 401, 402,  | RiskHold, InvalidSenderId, InsufficientBalance,  | transient: another        |
| 405, 407,  | CouldNotRoute, InternalServerError, GatewayError,| gateway may take it, or   |
| 5xx, other | RejectedByGateway, anything unknown              | this one later            |

A non-2xx status (bad credentials, a 5xx) or a network error is transient too.

Connections are kept: the SDK posts each message with a bare `requests.post` (a new session,
a new TCP/TLS connection per message). Every SDK call goes through `Service._make_request(url,
method, headers, data, params, callback, timeout)`; our subclass of its SMSService sends that
request on a `requests.Session` of its own (one per process and thread) and reads the answer
by the SDK's own rules. The SDK still validates the numbers and builds the request.
"""

import json
import os
import threading
from decimal import Decimal, InvalidOperation

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService

from sms.gateways.base import GatewayRejected, GatewayUnavailable, OutgoingSms, SendResult

ACCEPTED = frozenset({100, 101, 102})
PERMANENT = frozenset({403, 404, 406, 409})
BLACKLISTED = 406


def at_cost(text: str) -> tuple[Decimal | None, str]:
    """'KES 0.8000' -> (Decimal('0.8000'), 'KES'); '0' -> (Decimal('0'), ''); junk -> None."""
    parts = (text or "").split()
    try:
        amount = Decimal(parts[-1])
    except (IndexError, InvalidOperation):
        return None, ""
    currency = parts[0] if len(parts) == 2 and len(parts[0]) == 3 else ""
    return amount, currency


class _KeptAliveSMSService(SMSService):
    """The SDK's SMS service, its requests sent on a kept session instead of a new one each."""

    def __init__(self, username: str, api_key: str) -> None:
        super().__init__(username, api_key)
        self._local = threading.local()

    def _session(self) -> requests.Session:
        # One per process (a forked worker must not share its parent's sockets) and thread.
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.session, local.pid = self._new_session(), os.getpid()
        return local.session

    def _new_session(self) -> requests.Session:
        """A session that read the environment (proxies, CA bundle) once, not per request."""
        session = requests.Session()
        session.proxies.update(requests.utils.get_environ_proxies(self._baseUrl))
        session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        session.trust_env = False
        return session

    def _make_request(self, url, method, headers, data, params, callback=None, **kwargs):
        if callback is not None:  # the SDK's threaded variant; we never use it
            return super()._make_request(url, method, headers, data, params, callback, **kwargs)
        res = self._session().request(
            method.upper(), url, headers=headers, data=data, params=params, **kwargs
        )
        if not 200 <= res.status_code < 300:
            raise AfricasTalkingException(res.text)
        if res.headers.get("content-type") == "application/json":  # the SDK's own rule
            return res.json()
        return res.text


class AfricasTalkingGateway:
    def __init__(
        self,
        *,
        name: str = "africastalking",
        username: str,
        api_key: str,
        sender_id: str = "",
        base_url: str = "",
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.sender_id = sender_id or None
        self.timeout = (min(3.05, timeout), timeout)
        self._sms = _KeptAliveSMSService(username, api_key)
        if base_url:  # a fake or a proxy; the SDK has no other seam
            self._sms._baseUrl = base_url.rstrip("/") + "/version1"

    def send(self, message: OutgoingSms) -> SendResult:
        try:
            reply = self._sms.send(
                message.text, [message.to], sender_id=self.sender_id, timeout=self.timeout
            )
        except ValueError as exc:
            raise GatewayRejected("InvalidPhoneNumber") from exc
        except requests.RequestException as exc:
            raise GatewayUnavailable(f"network: {exc.__class__.__name__}") from exc
        except AfricasTalkingException as exc:
            raise GatewayUnavailable(f"refused: {str(exc)[:80]}") from exc
        try:
            data = json.loads(reply) if isinstance(reply, str) else reply
            recipient = data["SMSMessageData"]["Recipients"][0]
            code = int(recipient["statusCode"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise GatewayUnavailable("unreadable response") from exc
        status = str(recipient.get("status", ""))[:40]
        if code in ACCEPTED:
            cost, currency = at_cost(str(recipient.get("cost", "")))
            return SendResult(str(recipient["messageId"]), cost=cost, cost_currency=currency)
        if code in PERMANENT:
            raise GatewayRejected(f"{code} {status}", recipient_blocked=code == BLACKLISTED)
        raise GatewayUnavailable(f"{code} {status}")
