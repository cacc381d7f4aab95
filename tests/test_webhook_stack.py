"""The served application: gateways' and operators' webhooks go through the lean middleware
stack (config/webhook_handler.py), everything else through the full one."""

import io
import json
from dataclasses import dataclass
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings

from billing.models import ServiceAccount
from config.webhook_handler import WEBHOOK_MIDDLEWARE
from config.wsgi import application
from payments.models import CallbackDelivery, CallbackStatus
from tests.ussd.support import WANJIRU, AtGateway, demo_make

# The served application closes the connection after each request, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Served:
    status_code: int
    headers: dict[str, str]
    content: bytes

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]


class ServedClient:
    """Requests to the WSGI application a server would load (config.wsgi), as a server sends
    them; only `post` and `get`, which these tests need."""

    def request(self, method: str, path: str, body: bytes = b"", content_type: str = ""):
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "SERVER_NAME": "testserver",
            "HTTP_HOST": "testserver",
        }
        setup_testing_defaults(environ)
        answer = {}

        def start_response(status, headers, exc_info=None):
            answer.update(status=int(status.split()[0]), headers=headers)

        chunks = application(environ, start_response)
        try:
            content = b"".join(chunks)
        finally:
            chunks.close()
        headers = {name.lower(): value for name, value in answer["headers"]}
        return Served(answer["status"], headers, content)

    def post(self, path: str, data: str, content_type: str) -> Served:
        return self.request("POST", path, data.encode(), content_type)

    def get(self, path: str) -> Served:
        return self.request("GET", path)


def test_a_ussd_walk_through_the_served_application_answers_on_the_lean_stack():
    demo_make()
    gateway = AtGateway(ServedClient(), WANJIRU)

    assert gateway.dial().startswith("CON ")
    balance = gateway.send("1")

    number = ServiceAccount.objects.get(owner__phone=WANJIRU).number
    assert balance == f"CON Acct {number}\nNothing to pay.\n0 Back 00 Home"
    served = ServedClient().post("/ussd/africastalking/", "sessionId=x", "text/plain")
    assert served.status_code == 400  # a hop missing its fields, as on the full stack
    assert "x-frame-options" not in served.headers  # clickjacking middleware skipped
    assert "set-cookie" not in served.headers


def test_a_forged_callback_through_the_served_application_is_stored_and_refused():
    body = json.dumps({"Body": {"stkCallback": {"ResultCode": 0}}})

    served = ServedClient().post("/payments/mpesa/stk/wrong-token/", body, "application/json")

    assert served.status_code in (403, 404)
    delivery = CallbackDelivery.objects.get()
    assert delivery.status == CallbackStatus.REJECTED
    assert "wrong-token" not in delivery.path


def test_staff_pages_keep_the_full_stack_and_settings_are_left_as_they_were():
    served = ServedClient().get("/healthz")

    assert served.status_code == 200
    assert served["X-Frame-Options"] == "DENY"
    assert settings.MIDDLEWARE != WEBHOOK_MIDDLEWARE
    assert "django.contrib.sessions.middleware.SessionMiddleware" in settings.MIDDLEWARE
