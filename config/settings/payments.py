"""Mobile-money providers. Each has an <NAME>_ENABLED flag; an enabled provider's required
variables have no defaults, so a misconfigured deploy fails at start, not at the first payment.

The embedded default (DEBUG, nothing enabled) uses the sandbox provider, which speaks to the
operator simulators shipped in payments/simulators.
"""

from django.core.exceptions import ImproperlyConfigured

from config.settings.env import DEBUG, env

# Public base URL the operators call back (https://billing.example.com).
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# Outgoing HTTP to operators: seconds before giving up on one call.
PAYMENTS_HTTP_TIMEOUT = env.float("PAYMENTS_HTTP_TIMEOUT", default=10.0)
# Status queries (never pushes) are tried this many times, waiting BACKOFF seconds, doubled.
PAYMENTS_HTTP_ATTEMPTS = env.int("PAYMENTS_HTTP_ATTEMPTS", default=3)
PAYMENTS_HTTP_BACKOFF = env.float("PAYMENTS_HTTP_BACKOFF", default=0.5)
# Operators' callbacks are stored, acknowledged and credited in their request (False), or
# stored and acknowledged, then credited by a worker's drain task (True: the request is
# lighter, crediting lags by about a task's pick-up time; needs a running worker).
PAYMENTS_CALLBACKS_ASYNC = env.bool("PAYMENTS_CALLBACKS_ASYNC", default=False)


def _provider(name: str, class_path: str, required: list[str], optional: dict) -> dict | None:
    prefix = name.upper()
    if not env.bool(f"{prefix}_ENABLED", default=False):
        return None
    options = {}
    for key in required:
        value = env(f"{prefix}_{key}", default="")
        if not value:
            raise ImproperlyConfigured(f"{prefix}_ENABLED is on but {prefix}_{key} is not set")
        options[key.lower()] = value
    for key, default in optional.items():
        options[key.lower()] = env(f"{prefix}_{key}", default=default)
    options["allowed_ips"] = env.list(f"{prefix}_ALLOWED_IPS", default=[])
    return {"class": class_path, "options": options}


_CONFIGURED = {
    "mpesa": _provider(
        "mpesa",
        "payments.providers.mpesa.MpesaExpressProvider",
        ["BASE_URL", "CONSUMER_KEY", "CONSUMER_SECRET", "SHORTCODE", "PASSKEY", "CALLBACK_TOKEN"],
        {
            "TRANSACTION_TYPE": "CustomerPayBillOnline",
            "PARTY_B": "",
            "INITIATOR": "",
            "SECURITY_CREDENTIAL": "",
        },
    ),
    "orange": _provider(
        "orange",
        "payments.providers.orange_money.OrangeWebPayProvider",
        ["BASE_URL", "CLIENT_ID", "CLIENT_SECRET", "MERCHANT_KEY", "COUNTRY", "CALLBACK_TOKEN"],
        {"CURRENCY": "", "LANG": "fr", "RETURN_URL": "", "CANCEL_URL": ""},
    ),
    "airtel": _provider(
        "airtel",
        "payments.providers.airtel_money.AirtelMoneyProvider",
        ["BASE_URL", "CLIENT_ID", "CLIENT_SECRET", "COUNTRY", "CURRENCY", "CALLBACK_TOKEN"],
        {"CALLBACK_PRIVATE_KEY": ""},
    ),
    "mtn": _provider(
        "mtn",
        "payments.providers.mtn_momo.MtnMomoProvider",
        [
            "BASE_URL",
            "API_USER",
            "API_KEY",
            "SUBSCRIPTION_KEY",
            "TARGET_ENVIRONMENT",
            "CALLBACK_TOKEN",
        ],
        {},
    ),
}
PAYMENT_PROVIDERS = {name: conf for name, conf in _CONFIGURED.items() if conf}

if not PAYMENT_PROVIDERS and (DEBUG or env.bool("SANDBOX_PAYMENTS_ENABLED", default=False)):
    # Offline demo: a push is answered by the simulator a few seconds later.
    PAYMENT_PROVIDERS["sandbox"] = {
        "class": "payments.providers.sandbox.SandboxProvider",
        "options": {
            "callback_token": env("SANDBOX_CALLBACK_TOKEN", default="sandbox-callback-token"),
            "delay_seconds": env.float("SANDBOX_DELAY_SECONDS", default=3.0),
            "allowed_ips": [],
        },
    }

# Which provider serves a phone: mobile network codes (MCC+MNC, as USSD gateways send them)
# and E.164 prefixes, first match wins. Override with PAYMENT_ROUTES="63902:mpesa,+2547:mpesa".
PAYMENT_ROUTES = env.list("PAYMENT_ROUTES", default=[])
