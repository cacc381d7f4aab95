"""Which mobile-money provider serves a phone.

A USSD gateway tells us the caller's network as a mobile network code (MCC + MNC, e.g.
"63902"); otherwise the E.164 number's prefix says it. Routes come from two places, in order:

1. `settings.PAYMENT_ROUTES` (env `PAYMENT_ROUTES="63902:mpesa,+2547:mpesa"`): entries
   "<network code>:<provider>" or "+<E.164 prefix>:<provider>", first match wins;
2. the built-in table below: the network code if given, else the longest matching prefix.

| country       | operator  | code  | E.164 prefixes                                    | provider |
|---------------|-----------|-------|---------------------------------------------------|----------|
| Kenya         | Safaricom | 63902 | +25470-72, +254740-746/748, +254757-759,          | mpesa    |
|               |           |       | +254768-769, +25479, +254110-115                  |          |
| Kenya         | Airtel    | 63903 | +25473, +254750-756, +254762, +25478, +254100-102 | airtel   |
| Uganda        | MTN       | 64110 | +25676, +25677, +25678                            | mtn      |
| Uganda        | Airtel    | 64101 | +25670, +25674, +25675                            | airtel   |
| Cameroon      | MTN       | 62401 | +23767, +237650-654, +237680-683                  | mtn      |
| Cameroon      | Orange    | 62402 | +23769, +237655-659, +237686-689                  | orange   |
| Côte d'Ivoire | Orange    | 61203 | +22507                                            | orange   |
| Côte d'Ivoire | MTN       | 61205 | +22505                                            | mtn      |

A route only counts if its provider is configured (settings.PAYMENT_PROVIDERS). When the
sandbox is configured (the offline demo), a phone whose provider is not configured, or that
no route covers, goes to the sandbox.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from payments.exceptions import NoProviderForPhone, ProviderUnavailable

SANDBOX = "sandbox"


def _span(prefix: str, first: int, last: int) -> list[str]:
    return [f"{prefix}{digit}" for digit in range(first, last + 1)]


NETWORK_CODES: dict[str, str] = {
    "63902": "mpesa",
    "63903": "airtel",
    "64110": "mtn",
    "64101": "airtel",
    "62401": "mtn",
    "62402": "orange",
    "61203": "orange",
    "61205": "mtn",
}

_PREFIXES: dict[str, list[str]] = {
    "mpesa": [
        *_span("+2547", 0, 2),
        *_span("+25474", 0, 6),
        "+254748",
        *_span("+25475", 7, 9),
        "+254768",
        "+254769",
        "+25479",
        *_span("+25411", 0, 5),
    ],
    "airtel": [
        "+25473",
        *_span("+25475", 0, 6),
        "+254762",
        "+25478",
        *_span("+25410", 0, 2),
        "+25670",
        "+25674",
        "+25675",
    ],
    "mtn": [
        "+25676",
        "+25677",
        "+25678",
        "+23767",
        *_span("+23765", 0, 4),
        *_span("+23768", 0, 3),
        "+22505",
    ],
    "orange": [
        "+23769",
        *_span("+23765", 5, 9),
        *_span("+23768", 6, 9),
        "+22507",
    ],
}
PREFIXES: dict[str, str] = {
    prefix: provider for provider, prefixes in _PREFIXES.items() for prefix in prefixes
}


def _configured_routes() -> list[tuple[str, str]]:
    routes = []
    for entry in settings.PAYMENT_ROUTES:
        key, sep, provider = str(entry).strip().rpartition(":")
        if not sep or not key or not provider:
            raise ImproperlyConfigured(f"PAYMENT_ROUTES entry {entry!r} is not KEY:PROVIDER")
        routes.append((key.strip(), provider.strip()))
    return routes


def _matches(key: str, *, phone: str, network_code: str) -> bool:
    if key.startswith("+"):
        return phone.startswith(key)
    return bool(network_code) and key == network_code


def _builtin(*, phone: str, network_code: str) -> str | None:
    if network_code in NETWORK_CODES:
        return NETWORK_CODES[network_code]
    for length in range(len(phone), 1, -1):
        provider = PREFIXES.get(phone[:length])
        if provider:
            return provider
    return None


def provider_route(*, phone: str, network_code: str | None = None) -> str:
    """The configured provider for `phone` (E.164), using the caller's network when known.

    Raises NoProviderForPhone when no route covers the phone, ProviderUnavailable when the
    route's provider is not configured (and no sandbox stands in).
    """
    code = (network_code or "").strip()
    configured = settings.PAYMENT_PROVIDERS
    routed = (
        name for key, name in _configured_routes() if _matches(key, phone=phone, network_code=code)
    )
    provider = next(routed, None) or _builtin(phone=phone, network_code=code)
    if provider in configured:
        return provider
    if SANDBOX in configured:
        return SANDBOX
    if provider is None:
        raise NoProviderForPhone()
    raise ProviderUnavailable(extra={"provider": provider})
