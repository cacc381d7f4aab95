"""The SMS staff API: message log by phone and account, one-off messages, spend, contacts."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from accounts.models import AuditEvent, Role
from billing.models import AccountContact
from sms.models import MessageKind, OutboundMessage, SmsContact
from tests.billing.api_support import client_for, staff_make
from tests.billing.factories import account_make

pytestmark = pytest.mark.django_db

NAIROBI = ZoneInfo("Africa/Nairobi")


@pytest.fixture(autouse=True)
def _console(settings, tmp_path):
    settings.SMS_ROUTES = ["*:console"]
    settings.SMS_CONSOLE_FILE = str(tmp_path / "handset.log")


def message(to: str, n: int, **fields) -> OutboundMessage:
    fields.setdefault("kind", MessageKind.NOTICE)
    return OutboundMessage.objects.create(
        to=to, body=f"message {n}", idempotency_key=f"m:{n}", **fields
    )


def test_staff_read_the_message_log_of_a_phone_typed_in_any_format():
    mine = message("+254712345678", 1, status="sent", cost=Decimal("0.8"), cost_currency="KES")
    message("+254712000000", 2)
    agent = client_for(staff_make(Role.AGENT))

    response = agent.get("/api/sms/messages/", {"phone": "0712 345 678"})

    assert response.status_code == 200
    assert response.json()["count"] == 1
    row = response.json()["results"][0]
    assert (row["id"], row["status"], row["cost"], row["cost_currency"]) == (
        mine.pk,
        "sent",
        "0.8000",
        "KES",
    )


def test_the_log_of_an_account_has_its_messages_and_those_to_its_phones():
    account = account_make()
    contact = AccountContact.objects.create(account=account, phone="+254722000333")
    other = account_make()
    filed = message("+254799000001", 1, account_id=account.pk)
    to_owner = message(account.owner.phone, 2)
    to_contact = message(contact.phone, 3)
    message(account.owner.phone, 4, account_id=other.pk)  # about another account
    agent = client_for(staff_make(Role.AGENT))

    response = agent.get("/api/sms/messages/", {"account": account.number})

    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {filed.pk, to_owner.pk, to_contact.pk}


def test_an_unknown_account_or_phone_filter_is_a_clear_400():
    agent = client_for(staff_make(Role.AGENT))

    bad_account = agent.get("/api/sms/messages/", {"account": "123"})
    bad_phone = agent.get("/api/sms/messages/", {"phone": "not a phone"})

    assert (bad_account.status_code, bad_phone.status_code) == (400, 400)
    assert bad_account.json()["code"] == "invalid"
    assert "account" in bad_account.json()["extra"]["fields"]


def test_a_manager_sends_a_one_off_message_once_and_it_is_audited(
    django_capture_on_commit_callbacks,
):
    account = account_make()
    manager = staff_make(Role.MANAGER)
    payload = {
        "to": "0712 345 678",
        "body": "Water off on Tuesday 9-12",
        "account": account.number,
        "idempotency_key": "notice-42",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(manager).post("/api/sms/messages/send/", payload, format="json")
    again = client_for(manager).post("/api/sms/messages/send/", payload, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["to"], body["kind"], body["status"], body["account_id"]) == (
        "+254712345678",
        "notice",
        "queued",
        account.pk,
    )
    assert again.json()["id"] == body["id"]
    assert OutboundMessage.objects.get().status == "sent"
    assert AuditEvent.objects.filter(action="sms.send", actor=manager).count() == 2


def test_agents_read_but_do_not_send_and_customers_do_neither():
    agent = client_for(staff_make(Role.AGENT))
    customer = client_for(staff_make(Role.CUSTOMER))
    payload = {"to": "+254712345678", "body": "hello"}

    assert agent.post("/api/sms/messages/send/", payload, format="json").status_code == 403
    assert customer.get("/api/sms/messages/").status_code == 403
    assert customer.get("/api/sms/contacts/").status_code == 403
    assert not OutboundMessage.objects.exists()


def test_spend_is_summed_per_local_day_and_gateway():
    def sent(n, gateway, at, cost, segments=1):
        message(f"+25471200{n:04d}", n, status="sent", gateway=gateway, sent_at=at,
                cost=Decimal(cost), cost_currency="KES", segments=segments)  # fmt: skip

    sent(1, "africastalking", datetime(2026, 11, 20, 9, tzinfo=NAIROBI), "0.80")
    sent(2, "africastalking", datetime(2026, 11, 20, 23, 30, tzinfo=NAIROBI), "1.60", 2)
    sent(3, "twilio", datetime(2026, 11, 20, 10, tzinfo=NAIROBI), "3.50")
    sent(4, "africastalking", datetime(2026, 11, 21, 0, 30, tzinfo=NAIROBI), "0.80")
    manager = client_for(staff_make(Role.MANAGER))

    response = manager.get("/api/sms/spend/", {"date_from": "2026-11-20", "date_to": "2026-11-21"})

    assert response.status_code == 200
    assert response.json() == [
        {"day": "2026-11-20", "gateway": "africastalking", "currency": "KES", "messages": 2,
         "segments": 3, "cost": "2.4000"},
        {"day": "2026-11-20", "gateway": "twilio", "currency": "KES", "messages": 1,
         "segments": 1, "cost": "3.5000"},
        {"day": "2026-11-21", "gateway": "africastalking", "currency": "KES", "messages": 1,
         "segments": 1, "cost": "0.8000"},
    ]  # fmt: skip
    assert client_for(staff_make(Role.AGENT)).get("/api/sms/spend/").status_code == 403


def test_staff_see_who_opted_out_and_who_a_gateway_blocks():
    SmsContact.objects.create(
        phone="+254712000001", blocked_gateways="africastalking", blocked_reason="406"
    )
    SmsContact.objects.create(phone="+254712000002", opted_out=True)
    SmsContact.objects.create(phone="+254712000003")
    agent = client_for(staff_make(Role.AGENT))

    blocked = agent.get("/api/sms/contacts/", {"blocked": "true"}).json()["results"]
    opted_out = agent.get("/api/sms/contacts/", {"opted_out": "true"}).json()["results"]

    assert [(c["phone"], c["blocked_on"]) for c in blocked] == [
        ("+254712000001", ["africastalking"])
    ]
    assert [c["phone"] for c in opted_out] == ["+254712000002"]


def test_the_sms_endpoints_are_in_the_api_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    assert set(schema["paths"]) >= {
        "/api/sms/messages/",
        "/api/sms/messages/send/",
        "/api/sms/spend/",
        "/api/sms/contacts/",
    }
    params = {p["name"] for p in schema["paths"]["/api/sms/messages/"]["get"]["parameters"]}
    assert {"phone", "account", "status", "kind", "limit", "offset"} <= params
