"""Helpers of the payments tests: provider settings, fixture files, sandbox callbacks."""

import json
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings as django_settings

from billing.money import Money
from payments.simulators.daraja import DarajaSimulator
from payments.simulators.sandbox import SIGNATURE_HEADER, body_sign

FIXTURES = Path(django_settings.BASE_DIR).parent / "shared" / "fixtures"
SANDBOX_TOKEN = "sandbox-token-0123456789abcdef"
MPESA_TOKEN = "mpesa-token-0123456789abcdef"
SANDBOX_CONF = {
    "class": "payments.providers.sandbox.SandboxProvider",
    "options": {"callback_token": SANDBOX_TOKEN, "delay_seconds": None, "allowed_ips": []},
}


def mpesa_conf(base_url: str = "http://127.0.0.1:9", **options) -> dict:
    return {
        "class": "payments.providers.mpesa.MpesaExpressProvider",
        "options": {
            "base_url": base_url,
            "consumer_key": "test-consumer-key",
            "consumer_secret": "test-consumer-secret",
            "shortcode": "174379",
            "passkey": "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
            "callback_token": MPESA_TOKEN,
            "transaction_type": "CustomerPayBillOnline",
            "initiator": "",
            "security_credential": "",
            "allowed_ips": [],
            **options,
        },
    }


@contextmanager
def daraja_serving(settings, live_server, *, simulator: dict | None = None, **conf_options):
    """The fake Daraja on loopback, our M-Pesa provider pointed at it (`conf_options` over
    mpesa_conf's) and its callbacks at the live server. Daraja calls back only when the test
    says so (deliver_pending)."""
    options = {"consumer_key": "test-consumer-key", "consumer_secret": "test-consumer-secret"}
    with DarajaSimulator(callback_delay=None, **options, **(simulator or {})) as daraja:
        settings.PAYMENT_PROVIDERS = {"mpesa": mpesa_conf(daraja.base_url, **conf_options)}
        settings.PUBLIC_BASE_URL = live_server.url
        settings.PAYMENTS_HTTP_BACKOFF = 0
        yield daraja


def fixture_body(name: str) -> bytes:
    """The fixture's bytes as the operator sent them (raw_body when it has one)."""
    data = json.loads((FIXTURES / name).read_text())
    return data["raw_body"].encode() if "raw_body" in data else json.dumps(data["payload"]).encode()


def kes(text: str) -> Money:
    return Money.of(text, "KES")


def sandbox_callback(
    client,
    *,
    reference: str,
    status: str = "SUCCESS",
    amount: str = "1200.00",
    receipt: str = "SBXRECEIPT1",
    signed: bool = True,
    token: str = SANDBOX_TOKEN,
    secret: str | None = None,
    code: str = "",
    currency: str = "KES",
    **extra,
):
    """POST a sandbox callback like the sandbox operator does, through the test client."""
    payload = {
        "reference": reference,
        "status": status,
        "amount": amount,
        "currency": currency,
        "receipt": receipt if status == "SUCCESS" else "",
        "code": code,
        "message": "" if status == "SUCCESS" else "Declined.",
    }
    body = json.dumps(payload).encode()
    headers = {}
    if signed:
        from payments.providers.sandbox import SandboxProvider

        key = secret or SandboxProvider(callback_token=SANDBOX_TOKEN)._secret
        headers[f"HTTP_{SIGNATURE_HEADER.upper().replace('-', '_')}"] = body_sign(key, body)
    return client.post(
        f"/payments/sandbox/callback/{token}/",
        data=body,
        content_type="application/json",
        **headers,
        **extra,
    )
