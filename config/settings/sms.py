"""SMS: gateways and routes, and the limits of the outbound pipeline.

Each gateway has an <NAME>_ENABLED flag; an enabled gateway's required variables have no
defaults and every route must name a configured gateway, so a misconfigured deploy fails at
start. The embedded default routes everything to the console gateway (a file as handset).
"""

from django.core.exceptions import ImproperlyConfigured

from config.settings.env import BASE_DIR, env

# Where the console gateway writes each message (the "handset" of the embedded default).
SMS_CONSOLE_FILE = env("SMS_CONSOLE_FILE", default=str(BASE_DIR / "var" / "sms-console.log"))
# Key that seals message bodies holding a secret (activation codes) while they wait in the
# outbox; derived from SECRET_KEY when empty.
SMS_OUTBOX_SEAL_KEY = env("SMS_OUTBOX_SEAL_KEY", default="")
# Our public base URL as the gateways see it (Twilio signs it; status callbacks come back to it).
SMS_PUBLIC_BASE_URL = env(
    "SMS_PUBLIC_BASE_URL", default=env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
)
# Seconds before giving up on one call to a gateway.
SMS_GATEWAY_TIMEOUT = env.float("SMS_GATEWAY_TIMEOUT", default=10.0)


def _gateway(name: str, class_path: str, required: list[str], optional: dict) -> dict | None:
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
    options["timeout"] = SMS_GATEWAY_TIMEOUT
    return {"class": class_path, "options": options}


_CONFIGURED = {
    "console": {"class": "sms.gateways.console.ConsoleGateway", "options": {}},
    # BASE_URL: only to point the SDK at a fake or a proxy (default: Africa's Talking's own).
    "africastalking": _gateway(
        "africastalking",
        "sms.gateways.africastalking.AfricasTalkingGateway",
        ["USERNAME", "API_KEY"],
        {"SENDER_ID": "", "BASE_URL": ""},
    ),
    # FROM_NUMBER: our number (E.164), or MESSAGING_SERVICE_SID instead.
    "twilio": _gateway(
        "twilio",
        "sms.gateways.twilio.TwilioGateway",
        ["ACCOUNT_SID", "AUTH_TOKEN"],
        {"FROM_NUMBER": "", "MESSAGING_SERVICE_SID": "", "BASE_URL": ""},
    ),
}
SMS_GATEWAYS = {name: conf for name, conf in _CONFIGURED.items() if conf}
_twilio = SMS_GATEWAYS.get("twilio")
if _twilio and not (
    _twilio["options"]["from_number"] or _twilio["options"]["messaging_service_sid"]
):
    raise ImproperlyConfigured(
        "TWILIO_ENABLED is on but neither TWILIO_FROM_NUMBER nor "
        "TWILIO_MESSAGING_SERVICE_SID is set"
    )

# Which gateways carry a number: "<E.164 prefix>:<gateway>|<next gateway>...", longest prefix
# wins, "*" matches any number. A transient failure fails over to the next gateway listed.
# Example: SMS_ROUTES="+254:africastalking|twilio,+237:twilio|africastalking,*:console"
SMS_ROUTES = env.list("SMS_ROUTES", default=["*:console"])
for _route in SMS_ROUTES:
    _prefix, _, _names = _route.partition(":")
    for _name in _names.split("|"):
        if _name not in SMS_GATEWAYS:
            raise ImproperlyConfigured(f"SMS_ROUTES names {_name!r}, which is not enabled")

# Countries (ISO 3166 alpha-2) any message may go to; a message about an operator may also go
# to the operator's own country. Anything else is refused (SMS pumping, runaway cost).
SMS_ALLOWED_COUNTRIES = env.list(
    "SMS_ALLOWED_COUNTRIES", default=[env("DEFAULT_PHONE_REGION", default="KE")]
)
# Reminders and broadcasts wait for the morning: "HH:MM-HH:MM" in the operator's time zone
# (empty: no quiet hours).
SMS_QUIET_HOURS = env("SMS_QUIET_HOURS", default="21:00-07:00")
# Per recipient, codes excepted: at most this many messages a (local) day, this far apart.
SMS_RECIPIENT_DAILY_MAX = env.int("SMS_RECIPIENT_DAILY_MAX", default=10)
SMS_RECIPIENT_MIN_SPACING_SECONDS = env.int("SMS_RECIPIENT_MIN_SPACING_SECONDS", default=30)
# Per gateway, segments per second (token bucket in Redis; `*` for gateways not listed) and
# how many seconds of that rate may be spent at once.
SMS_GATEWAY_RATES = env.dict(
    "SMS_GATEWAY_RATES", cast={"value": float}, default={"*": 50.0, "console": 1000.0}
)
SMS_RATE_BURST_SECONDS = env.float("SMS_RATE_BURST_SECONDS", default=2.0)
# Share of each gateway's bucket and of the daily spend cap that only codes and receipts use.
SMS_URGENT_RESERVE = env.float("SMS_URGENT_RESERVE", default=0.2)
# A worker waits at most this long for its gateway's tokens, then defers the message.
SMS_RATE_MAX_WAIT_SECONDS = env.float("SMS_RATE_MAX_WAIT_SECONDS", default=1.0)
# Price of one segment, per E.164 prefix ("*": any other), in SMS_SPEND_CURRENCY.
SMS_SPEND_CURRENCY = env("SMS_SPEND_CURRENCY", default="KES")
SMS_PRICES = env.dict("SMS_PRICES", default={"*": "1.00", "+254": "0.80"})
# Daily spend cap per operator (slug; `*` for any other and for messages of no operator).
SMS_DAILY_SPEND_CAPS = env.dict("SMS_DAILY_SPEND_CAPS", default={"*": "5000"})
# Activation codes to one number range (E.164 minus its last SMS_OTP_PREFIX_TRIM digits) in
# SMS_OTP_PREFIX_WINDOW_SECONDS: past FLAG they are flagged, past BLOCK they are not sent.
SMS_OTP_PREFIX_TRIM = env.int("SMS_OTP_PREFIX_TRIM", default=3)
SMS_OTP_PREFIX_WINDOW_SECONDS = env.int("SMS_OTP_PREFIX_WINDOW_SECONDS", default=3600)
SMS_OTP_PREFIX_FLAG = env.int("SMS_OTP_PREFIX_FLAG", default=5)
SMS_OTP_PREFIX_BLOCK = env.int("SMS_OTP_PREFIX_BLOCK", default=15)
# Transient failures: retried after BASE, 2xBASE, 4xBASE ... seconds (at most MAX), then failed
# once a message has had SMS_MAX_ATTEMPTS attempts. Permanent failures are never retried.
SMS_RETRY_BASE_SECONDS = env.int("SMS_RETRY_BASE_SECONDS", default=30)
SMS_RETRY_MAX_SECONDS = env.int("SMS_RETRY_MAX_SECONDS", default=900)
SMS_MAX_ATTEMPTS = env.int("SMS_MAX_ATTEMPTS", default=7)
# Bills, reminders and broadcasts go to workers this many to a task (one claim transaction,
# one token-bucket call, the sent ones recorded in one UPDATE: sms.pipeline); codes and
# receipts always one by one.
SMS_SEND_BATCH = env.int("SMS_SEND_BATCH", default=50)
# A batch records its sent messages together, at its end or before the next send once the
# first of them has waited this long: a worker killed in between re-sends them after its lease.
SMS_SEND_RECORD_EVERY_SECONDS = env.float("SMS_SEND_RECORD_EVERY_SECONDS", default=1.0)
# A worker owns the messages it is sending this long; a send that crashed is retried after it.
# A batch starts no send after half of it, so keep half longer than the slowest send (every
# gateway of a route timing out: 2 x SMS_GATEWAY_TIMEOUT each, plus the rate wait).
SMS_SEND_LEASE_SECONDS = env.int("SMS_SEND_LEASE_SECONDS", default=120)
# The periodic dispatcher hands due messages to workers, BATCH per query, never more than
# MAX_IN_FLIGHT waiting in the broker at once (so a backlog waits in the outbox, in
# priority order, not in Celery). A handed-over message its worker never picked up (a lost
# task) is handed over again after GUARD seconds.
SMS_DISPATCH_BATCH = env.int("SMS_DISPATCH_BATCH", default=5000)
SMS_DISPATCH_MAX_IN_FLIGHT = env.int("SMS_DISPATCH_MAX_IN_FLIGHT", default=20000)
SMS_DISPATCH_GUARD_SECONDS = env.int("SMS_DISPATCH_GUARD_SECONDS", default=3600)
