"""Fixtures of the SMS tests (tasks run in-process: see tests/conftest.py): a worker never
sleeps for the rate limit (a refused message is deferred instead), quiet hours are off unless
a test sets them, and the gateways are the real SDKs pointed at a local fake server."""

import pytest

from sms.gateways.fake import FakeSmsServer
from sms.throttle import buckets_reset_local

TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-test-token"


@pytest.fixture(autouse=True)
def _sms_defaults(settings):
    buckets_reset_local()
    settings.SMS_RATE_MAX_WAIT_SECONDS = 0
    settings.SMS_QUIET_HOURS = ""
    yield


@pytest.fixture
def fake_gateway():
    with FakeSmsServer() as fake:
        yield fake


@pytest.fixture
def gateways(settings, fake_gateway):
    """Africa's Talking and Twilio (real SDKs) on the fake; Kenya by AT then Twilio, Cameroon
    by Twilio then AT, anything else on the console."""
    settings.SMS_GATEWAYS = {
        "africastalking": {
            "class": "sms.gateways.africastalking.AfricasTalkingGateway",
            "options": {"username": "malipo", "api_key": "at-key", "base_url": fake_gateway.url},
        },
        "twilio": {
            "class": "sms.gateways.twilio.TwilioGateway",
            "options": {
                "account_sid": TWILIO_SID,
                "auth_token": TWILIO_TOKEN,
                "from_number": "+15005550006",
                "base_url": fake_gateway.url,
            },
        },
        "console": {"class": "sms.gateways.console.ConsoleGateway", "options": {}},
    }
    settings.SMS_ROUTES = ["+254:africastalking|twilio", "+237:twilio|africastalking", "*:console"]
    settings.SMS_ALLOWED_COUNTRIES = ["KE", "CM"]
    settings.SMS_PUBLIC_BASE_URL = "https://sms.example.com"
    return fake_gateway
