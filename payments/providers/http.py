"""Outgoing HTTP to the operators, the same way for every provider.

- Every call has a timeout (settings.PAYMENTS_HTTP_TIMEOUT seconds).
- Only idempotent calls (token requests, status queries) are retried, with exponential backoff
  (settings.PAYMENTS_HTTP_BACKOFF seconds, doubled each time; PAYMENTS_HTTP_ATTEMPTS tries in
  all). A push is sent once: a retried push could charge the customer twice.
- A connection error, a timeout or a 5xx answer raises ProviderError(transient=True), unless
  the caller's `answer` says the 5xx is the operator's definite reply (M-Pesa answers an STK
  query for a push still in progress with HTTP 500 and a JSON error code).
- Any other answer (2xx, 4xx) is returned as `HttpResponse(status, json, text)`: the provider
  reads the operator's error codes itself.

Logs carry the method, the URL path and the status: never headers, bodies or query strings
(credentials and tokens live there).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from payments.providers.base import ProviderError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    json: Any  # the parsed body (floats as Decimal), None when the body is not JSON
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _parse(response: requests.Response) -> HttpResponse:
    try:
        data = response.json(parse_float=Decimal) if response.content else None
    except ValueError:
        data = None
    return HttpResponse(response.status_code, data, response.text)


def http_request(
    method: str,
    url: str,
    *,
    idempotent: bool,
    answer: Callable[[HttpResponse], bool] | None = None,
    **kwargs: Any,
) -> HttpResponse:
    """One call to an operator; `kwargs` go to `requests.request` (json, params, headers,
    auth, data). `idempotent=True` allows retries; `answer(response)` marks a 5xx as a reply.
    """
    attempts = settings.PAYMENTS_HTTP_ATTEMPTS if idempotent else 1
    backoff = settings.PAYMENTS_HTTP_BACKOFF
    path = urlsplit(url).path
    error = ProviderError("no attempt made", transient=True)
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            time.sleep(backoff * 2 ** (attempt - 2))
        try:
            raw = requests.request(method, url, timeout=settings.PAYMENTS_HTTP_TIMEOUT, **kwargs)
        except requests.Timeout:
            error = ProviderError(f"{method} {path} timed out", code="timeout", transient=True)
        except requests.RequestException:
            error = ProviderError(
                f"{method} {path} could not connect", code="unreachable", transient=True
            )
        else:
            response = _parse(raw)
            if response.status < 500 or (answer is not None and answer(response)):
                logger.debug("payments http %s %s -> %s", method, path, response.status)
                return response
            error = ProviderError(
                f"{method} {path} answered {response.status}",
                code=f"http_{response.status}",
                transient=True,
            )
        logger.warning(
            "payments http %s %s failed (attempt %s of %s): %s",
            method,
            path,
            attempt,
            attempts,
            error.code,
        )
    raise error
