"""The real Africa's Talking and Twilio SDKs, over HTTP, against a local fake of both."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from sms.dispatch import outbox_dispatch
from sms.gateways.africastalking import AfricasTalkingGateway
from sms.gateways.base import GatewayUnavailable, OutgoingSms
from sms.models import MessageKind, OutboundMessage, SmsContact
from sms.services import message_queue

pytestmark = pytest.mark.django_db

KENYA = "+254712345678"
CAMEROON = "+237677123456"


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    counter = iter(range(1, 1000))

    def _send(to: str, body: str = "Water off on Tuesday", kind=MessageKind.NOTICE):
        with django_capture_on_commit_callbacks(execute=True):
            message = message_queue(
                to=to, body=body, kind=kind, idempotency_key=f"test:{next(counter)}"
            )
        message.refresh_from_db()
        return message

    return _send


def test_a_kenyan_number_goes_through_africas_talking_and_its_cost_is_recorded(gateways, send):
    message = send(KENYA)

    assert [(s.gateway, s.to, s.text) for s in gateways.sent] == [
        ("africastalking", KENYA, "Water off on Tuesday")
    ]
    assert message.status == "sent"
    assert message.gateway == "africastalking"
    assert message.gateway_message_id == gateways.sent[0].message_id
    assert (message.cost, message.cost_currency) == (Decimal("0.8000"), "KES")


def test_a_cameroonian_number_goes_through_twilio_priced_by_our_table(gateways, send, settings):
    settings.SMS_PRICES = {"*": "1.00", "+237": "3.50"}

    message = send(CAMEROON)

    assert [(s.gateway, s.to) for s in gateways.sent] == [("twilio", CAMEROON)]
    assert message.gateway == "twilio"
    assert message.gateway_message_id.startswith("SM")
    assert (message.cost, message.cost_currency) == (Decimal("3.50"), "KES")


def test_a_transient_failure_fails_over_to_the_next_gateway(gateways, send):
    gateways.plan("africastalking", ("http", 503))

    message = send(KENYA)

    assert gateways.arrivals == {"africastalking": 1, "twilio": 1}
    assert [(s.gateway, s.to) for s in gateways.sent] == [("twilio", KENYA)]
    assert (message.status, message.gateway, message.attempts) == ("sent", "twilio", 1)


def test_our_account_refused_at_twilio_fails_over_to_africas_talking(gateways, send):
    gateways.plan("twilio", ("twilio_error", 401, 20003))

    message = send(CAMEROON)

    assert (message.status, message.gateway) == ("sent", "africastalking")


def test_every_gateway_down_leaves_the_message_for_a_retry_with_backoff(gateways, send, settings):
    settings.SMS_RETRY_BASE_SECONDS = 30
    gateways.plan("africastalking", ("http", 503))
    gateways.plan("twilio", ("http", 500))

    message = send(KENYA)

    assert (message.status, message.defer_reason, message.attempts) == ("queued", "retry", 1)
    assert "africastalking: refused" in message.error and "twilio: HTTP 500" in message.error
    assert message.not_before - timezone.now() > timedelta(seconds=25)
    assert gateways.sent == []


def test_a_blacklisted_recipient_fails_for_good_and_is_blocked_on_the_contact(
    gateways, send, settings
):
    settings.SMS_RECIPIENT_MIN_SPACING_SECONDS = 0
    gateways.plan("africastalking", ("at_status", 406, "UserInBlacklist"))

    bill = send(KENYA, "Your bill is ready", kind=MessageKind.BILL)

    assert (bill.status, bill.error) == ("failed", "africastalking: 406 UserInBlacklist")
    assert gateways.arrivals == {"africastalking": 1, "twilio": 0}  # permanent: no failover
    contact = SmsContact.objects.get(phone=KENYA)
    assert contact.blocked_on == ["africastalking"]
    assert "UserInBlacklist" in contact.blocked_reason
    OutboundMessage.objects.filter(pk=bill.pk).update(not_before=timezone.now())
    outbox_dispatch()
    bill.refresh_from_db()
    assert bill.status == "failed"  # never retried

    notice = send(KENYA, "Water off on Tuesday")  # later messages avoid the blocking gateway

    assert (notice.status, notice.gateway) == ("sent", "twilio")
    assert gateways.arrivals["africastalking"] == 1


def test_an_invalid_number_at_twilio_is_permanent(gateways, send):
    gateways.plan("twilio", ("twilio_error", 400, 21211))

    message = send(CAMEROON)

    assert (message.status, message.error) == ("failed", "twilio: 21211")
    assert gateways.arrivals == {"africastalking": 0, "twilio": 1}
    assert not SmsContact.objects.filter(phone=CAMEROON).exclude(blocked_gateways="").exists()


def test_a_recipient_who_sent_stop_to_twilio_is_blocked_there(gateways, send):
    gateways.plan("twilio", ("twilio_error", 400, 21610))

    message = send(CAMEROON)

    assert message.status == "failed"
    assert SmsContact.objects.get(phone=CAMEROON).blocked_on == ["twilio"]


def test_a_recipient_blocked_on_every_gateway_of_the_route_is_not_sent(gateways, send):
    SmsContact.objects.create(phone=KENYA, blocked_gateways="africastalking,twilio")

    message = send(KENYA)

    assert (message.status, message.error) == ("skipped", "blocked")
    assert gateways.arrivals == {"africastalking": 0, "twilio": 0}


def test_messages_to_africas_talking_share_one_kept_alive_connection(gateways, send):
    sent = [send(f"+2547123456{n:02d}") for n in range(3)]

    assert [m.status for m in sent] == ["sent"] * 3
    assert gateways.arrivals["africastalking"] == 3
    assert gateways.connections == 1


def test_africas_talking_still_goes_through_the_proxy_the_environment_names(
    fake_gateway, monkeypatch
):
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    message = OutgoingSms(KENYA, "Water off on Tuesday", "1")
    options = {"username": "malipo", "api_key": "at-key", "base_url": fake_gateway.url}

    with pytest.raises(GatewayUnavailable, match="network"):
        AfricasTalkingGateway(**options).send(message)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert AfricasTalkingGateway(**options).send(message).gateway_message_id

    assert [s.to for s in fake_gateway.sent] == [KENYA]
