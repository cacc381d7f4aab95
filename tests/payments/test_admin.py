"""The payments admin: staff can look at intents, the raw inbox and suspense; nobody edits."""

import pytest

from accounts.models import Role, User
from payments.models import CallbackDelivery
from tests.payments.support import SANDBOX_TOKEN, sandbox_callback

pytestmark = pytest.mark.django_db

PAGES = ["paymentintent", "callbackdelivery", "processedevent", "suspensepayment"]


@pytest.fixture
def admin_client(client):
    admin = User.objects.create_user("+254700000001", None, role=Role.ADMIN, is_active=True)
    client.force_login(admin)
    return client


@pytest.mark.parametrize("model", PAGES)
def test_every_payments_list_opens_and_offers_no_add(admin_client, model):
    response = admin_client.get(f"/admin/payments/{model}/")

    assert response.status_code == 200
    assert admin_client.get(f"/admin/payments/{model}/add/").status_code == 403


def test_a_stored_delivery_shows_without_the_url_token(sandbox, admin_client, client):
    sandbox_callback(client, reference="SBXUNKNOWN")
    delivery = CallbackDelivery.objects.get()

    page = admin_client.get(f"/admin/payments/callbackdelivery/{delivery.pk}/change/")

    assert page.status_code == 200
    assert SANDBOX_TOKEN not in page.content.decode()
    assert (
        admin_client.post(f"/admin/payments/callbackdelivery/{delivery.pk}/delete/").status_code
        == 403
    )
