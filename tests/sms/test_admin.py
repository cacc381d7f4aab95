"""The outbox in the admin: readable by managers, never editable, sealed text never shown."""

import pytest

from accounts.models import Role, User
from sms.models import MessageKind, OutboundMessage

pytestmark = pytest.mark.django_db

BASE = "/admin/sms/outboundmessage/"


@pytest.fixture
def message():
    return OutboundMessage.objects.create(
        to="+254722000111",
        kind=MessageKind.OTP,
        body="Your Malipo code is ******",
        sealed_body="SEALED-c2VjcmV0LTQ4MjkxNw",
        idempotency_key="otp:test:1",
    )


@pytest.fixture
def manager_client(client):
    manager = User.objects.create_user(
        "+254700000002", None, role=Role.MANAGER, is_active=True, name="Grace"
    )
    client.force_login(manager)
    return client


def test_a_manager_reads_a_message_without_its_sealed_text(manager_client, message):
    listing = manager_client.get(BASE, {"q": "0722 000 111"})
    page = manager_client.get(f"{BASE}{message.pk}/change/")

    assert [m.pk for m in listing.context["cl"].result_list] == [message.pk]
    assert page.status_code == 200
    assert b"Your Malipo code is ******" in page.content
    assert message.sealed_body.encode() not in listing.content + page.content


def test_nobody_adds_changes_or_deletes_messages_in_the_admin(manager_client, message):
    assert manager_client.get(f"{BASE}add/").status_code == 403
    assert manager_client.post(f"{BASE}{message.pk}/change/", {"body": "x"}).status_code == 403
    assert manager_client.post(f"{BASE}{message.pk}/delete/", {"post": "yes"}).status_code == 403
    message.refresh_from_db()
    assert message.body == "Your Malipo code is ******"
