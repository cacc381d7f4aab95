"""The gateways' webhooks end to end, with the documented payloads (shared fixtures)."""

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from twilio.request_validator import RequestValidator

from billing.models import AccountContact
from sms.models import CallbackRequest, InboundMessage, MessageKind, OutboundMessage, SmsContact
from tests.billing.factories import customer_make, invoice_make, service_account_make
from tests.billing.factories import operator_make as billing_operator_make
from tests.sms.conftest import TWILIO_TOKEN

pytestmark = pytest.mark.django_db

FIXTURES = Path(django_settings.BASE_DIR).parent / "shared" / "fixtures"
FORM = "application/x-www-form-urlencoded"
PUBLIC = "https://sms.example.com"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())["payload"]


def post(client, path: str, data: dict, *, sign: bool | str = False):
    headers = {}
    if sign:
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, data)
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature if sign is True else sign
    return client.post(path, urlencode(data), content_type=FORM, **headers)


def sent_message(gateway: str, gateway_message_id: str, to="+254720123123") -> OutboundMessage:
    return OutboundMessage.objects.create(
        to=to,
        kind=MessageKind.BILL,
        body="Your bill",
        idempotency_key=f"bill:{gateway_message_id}",
        status="sent",
        gateway=gateway,
        gateway_message_id=gateway_message_id,
    )


def test_an_africas_talking_delivery_report_marks_the_message_delivered(client, gateways):
    report = fixture("at_delivery_report_success.json")
    message = sent_message("africastalking", report["id"])

    response = post(client, "/sms/africastalking/delivery/", report)

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered" and message.delivered_at is not None
    stored = CallbackRequest.objects.get()
    assert (stored.gateway, stored.endpoint, stored.outcome) == (
        "africastalking",
        "delivery",
        "handled",
    )
    assert stored.body == urlencode(report)


def test_a_blacklisted_failure_fails_the_message_and_blocks_the_contact(client, gateways):
    report = fixture("at_delivery_report_failed.json")
    message = sent_message("africastalking", report["id"])

    post(client, "/sms/africastalking/delivery/", report)

    message.refresh_from_db()
    assert (message.status, message.error) == ("failed", "delivery failed: UserInBlackList")
    assert SmsContact.objects.get(phone=message.to).blocked_on == ["africastalking"]


def test_a_late_report_never_moves_a_message_back(client, gateways):
    success = fixture("at_delivery_report_success.json")
    message = sent_message("africastalking", success["id"])
    post(client, "/sms/africastalking/delivery/", success)

    post(client, "/sms/africastalking/delivery/", {**success, "status": "Sent"})
    post(client, "/sms/africastalking/delivery/", {**success, "status": "Failed"})

    message.refresh_from_db()
    assert message.status == "delivered"
    outcomes = list(CallbackRequest.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["handled", "no_change", "no_change"]


def test_a_report_for_an_unknown_message_is_stored_and_otherwise_ignored(client, gateways):
    response = post(
        client, "/sms/africastalking/delivery/", {"id": "ATXid_nope", "status": "Success"}
    )

    assert response.status_code == 200
    assert CallbackRequest.objects.get().outcome == "unknown_message"
    assert not OutboundMessage.objects.exists()


def test_a_report_without_an_id_is_a_bad_request_but_still_stored(client, gateways):
    response = post(client, "/sms/africastalking/delivery/", {"status": "Success"})

    assert response.status_code == 400
    assert CallbackRequest.objects.get().outcome == "invalid"


def test_twilio_status_callbacks_update_the_message_when_signed(client, gateways):
    delivered = fixture("twilio_status_callback_delivered.json")
    undelivered = fixture("twilio_status_callback_undelivered.json")
    first = sent_message("twilio", delivered["MessageSid"], to=delivered["To"])
    second = sent_message("twilio", undelivered["MessageSid"], to=undelivered["To"])

    assert post(client, "/sms/twilio/status/", delivered, sign=True).status_code == 200
    assert post(client, "/sms/twilio/status/", undelivered, sign=True).status_code == 200

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "delivered"
    assert (second.status, second.error) == ("failed", "delivery failed: 30003")


def test_a_twilio_callback_with_a_bad_signature_is_refused_and_changes_nothing(client, gateways):
    delivered = fixture("twilio_status_callback_delivered.json")
    message = sent_message("twilio", delivered["MessageSid"])

    response = post(client, "/sms/twilio/status/", delivered, sign="AAAAwrongsignature=")
    unsigned = post(client, "/sms/twilio/status/", delivered)

    assert (response.status_code, unsigned.status_code) == (403, 403)
    message.refresh_from_db()
    assert message.status == "sent"
    assert set(CallbackRequest.objects.values_list("outcome", flat=True)) == {"bad_signature"}


def test_an_africas_talking_opt_out_blocks_the_contact_there(client, gateways):
    optout = fixture("at_bulk_sms_optout.json")

    assert post(client, "/sms/africastalking/optout/", optout).status_code == 200

    contact = SmsContact.objects.get(phone=optout["phoneNumber"])
    assert contact.blocked_on == ["africastalking"]
    assert "COMPANY" in contact.blocked_reason


@pytest.fixture
def customer_account():
    operator = billing_operator_make(slug="maji", timezone="Africa/Nairobi", phone_region="KE")
    owner = customer_make(phone="+254720123123")
    account = service_account_make(operator=operator, owner=owner)
    invoice_make(account=account, net_minor=120_000)
    return account


def test_an_inbound_text_is_stored_answered_through_the_outbox_and_deduplicated(
    client, gateways, customer_account, django_capture_on_commit_callbacks
):
    inbound = fixture("at_sms_inbound.json") | {"text": f"Bal {customer_account.number}"}

    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, "/sms/africastalking/inbound/", inbound)
    with django_capture_on_commit_callbacks(execute=True):
        again = post(client, "/sms/africastalking/inbound/", inbound)  # AT retries

    assert (first.status_code, again.status_code) == (200, 200)
    stored = InboundMessage.objects.get()
    assert (stored.external_id, stored.phone, stored.command) == (
        inbound["id"],
        inbound["from"],
        "bal",
    )
    assert [(s.gateway, s.to) for s in gateways.sent] == [("africastalking", inbound["from"])]
    assert gateways.sent[0].text.startswith(f"Account {customer_account.number}: balance due")
    outcomes = list(CallbackRequest.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["handled", "duplicate"]


def test_an_inbound_text_costs_a_bounded_number_of_queries(
    client, gateways, customer_account, django_assert_max_num_queries
):
    inbound = fixture("at_sms_inbound.json") | {"text": "BAL"}

    with django_assert_max_num_queries(30):
        post(client, "/sms/africastalking/inbound/", inbound)


def test_a_signed_twilio_inbound_text_is_answered_with_empty_twiml_and_an_sms(
    client, gateways, customer_account, django_capture_on_commit_callbacks
):
    AccountContact.objects.create(account=customer_account, phone="+237677123456")
    inbound = fixture("twilio_inbound_sms.json") | {"From": "+237677123456", "Body": "solde"}

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, "/sms/twilio/inbound/", inbound, sign=True)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content == b'<?xml version="1.0" encoding="UTF-8"?><Response />'
    assert [(s.gateway, s.to) for s in gateways.sent] == [("twilio", "+237677123456")]
    assert gateways.sent[0].text.startswith(f"Compte {customer_account.number} :")


def test_an_unsigned_twilio_inbound_text_is_stored_raw_but_not_handled(client, gateways):
    inbound = fixture("twilio_inbound_sms.json")

    response = post(client, "/sms/twilio/inbound/", inbound, sign="bm90IGEgc2lnbmF0dXJl")

    assert response.status_code == 403
    assert not InboundMessage.objects.exists()
    stored = CallbackRequest.objects.get()
    assert (stored.outcome, stored.signature) == ("bad_signature", "bm90IGEgc2lnbmF0dXJl")
    assert "MessageSid=SM60566ee207e123ee2765abcc55c9b9c9" in stored.body


def test_a_text_from_a_country_we_do_not_serve_gets_no_reply(client, gateways):
    inbound = fixture("twilio_inbound_sms.json")  # from a US number

    response = post(client, "/sms/twilio/inbound/", inbound, sign=True)

    assert response.status_code == 200
    reply = OutboundMessage.objects.get()
    assert (reply.status, reply.error) == ("skipped", "country_not_served")


def test_a_failure_while_handling_is_recorded_and_still_acknowledged(client, gateways, monkeypatch):
    def broken(*, inbound):
        raise RuntimeError("bug")

    monkeypatch.setattr("sms.views.inbound_handle", broken)

    response = post(client, "/sms/africastalking/inbound/", fixture("at_sms_inbound.json"))

    assert response.status_code == 200
    assert InboundMessage.objects.get().error == "handling failed"
    assert CallbackRequest.objects.get().outcome == "error"


def test_a_text_with_a_nul_character_is_stored_and_answered(client, gateways):
    inbound = fixture("at_sms_inbound.json") | {"text": "BAL\x00 1", "id": "ATUid_\x00"}

    response = post(client, "/sms/africastalking/inbound/", inbound)

    assert response.status_code == 200
    assert InboundMessage.objects.get().text == "BAL\ufffd 1"
    assert "\x00" not in CallbackRequest.objects.get().body


def test_a_report_with_a_nul_character_is_stored_and_ignored(client, gateways):
    report = {"id": "ATXid_\x00", "status": "Failed", "failureReason": "x\x00"}

    response = post(client, "/sms/africastalking/delivery/", report)

    assert response.status_code == 200
    assert CallbackRequest.objects.get().outcome == "unknown_message"


def test_webhooks_take_only_post(client):
    assert client.get("/sms/africastalking/inbound/").status_code == 405
