"""The staff payments API: who may do what, idempotent pushes, cash, suspense, reversals."""

import itertools
from unittest import mock

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import AuditEvent, Role, User
from billing.models import Payment
from billing.selectors import account_balance
from billing.services.payments import payment_record
from payments.models import IntentStatus, PaymentIntent, SuspensePayment, SuspenseStatus
from payments.providers.base import PaybillPayment
from payments.services.paybill import paybill_payment_record
from payments.services.push import payment_intent_push
from tests.payments.support import kes

pytestmark = pytest.mark.django_db
_phones = itertools.count(1)


def staff(role: Role) -> User:
    return User.objects.create_user(f"+2547009{next(_phones):05d}", role=role, is_active=True)


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def agent():
    return staff(Role.AGENT)


@pytest.fixture
def manager():
    return staff(Role.MANAGER)


def push(client, to, key="idem-1", **body):
    data = {"account": to.number, "phone": "0712 345 678", "amount": "1200", **body}
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/payments/intents/", data, format="json", **headers)


def test_an_agent_starts_a_push_and_the_key_makes_it_idempotent(
    sandbox, account, agent, django_capture_on_commit_callbacks
):
    client = client_for(agent)

    with (
        mock.patch(  # the worker's job, done here whatever broker the suite runs with
            "payments.tasks.payment_intent_push_task.delay",
            side_effect=lambda intent_id: payment_intent_push(intent_id=intent_id),
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = push(client, account)
    again = push(client, account)

    assert first.status_code == 201, first.content
    body = first.json()
    assert again.json()["id"] == body["id"]
    assert body["account"] == account.number
    assert body["phone"] == "+254712345678"
    assert (body["amount"], body["currency"], body["provider"]) == ("1200.00", "KES", "sandbox")
    assert body["status"] == IntentStatus.CREATED  # the push happens after the answer
    assert again.json()["status"] == IntentStatus.PENDING
    assert len(sandbox.pushes) == 1
    assert PaymentIntent.objects.count() == 1
    assert AuditEvent.objects.filter(action="payment_intent.create", actor=agent).count() == 1


def test_a_push_without_idempotency_key_is_refused(sandbox, account, agent):
    response = push(client_for(agent), account, key=None)

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"account": "100000012"}, "account_not_found"),
        ({"amount": "-5"}, "invalid"),
        ({"amount": "12.345"}, "invalid"),
        ({"phone": "not a phone"}, "invalid"),
    ],
)
def test_bad_push_requests_are_clear_400s(sandbox, account, agent, body, code):
    response = push(client_for(agent), account, **body)

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_a_second_mpesa_push_within_a_minute_says_when_to_retry(mpesa, account, agent):
    client = client_for(agent)
    push(client, account, key="a")

    response = push(client, account, key="b")

    assert response.status_code == 429
    assert response.json()["code"] == "push_too_soon"
    assert 0 < int(response["Retry-After"]) <= 60


def test_technicians_may_look_but_not_push(sandbox, account):
    client = client_for(staff(Role.TECHNICIAN))

    assert push(client, account).status_code == 403
    assert client.get("/api/payments/intents/").status_code == 200


def test_customers_and_strangers_are_kept_out(sandbox, account):
    assert APIClient().get("/api/payments/intents/").status_code == 401
    customer = client_for(staff(Role.CUSTOMER))
    assert customer.get("/api/payments/intents/").status_code == 403


def test_intents_are_listed_and_filtered(sandbox, account, agent):
    client = client_for(agent)
    created = push(client, account).json()
    PaymentIntent.objects.filter(pk=created["id"]).update(status=IntentStatus.FAILED)

    failed = client.get("/api/payments/intents/", {"status": "failed", "account": account.number})
    pending = client.get("/api/payments/intents/", {"status": "pending"})
    detail = client.get(f"/api/payments/intents/{created['id']}/")
    bad = client.get("/api/payments/intents/", {"date_from": "yesterday"})

    assert [i["id"] for i in failed.json()["results"]] == [created["id"]]
    assert pending.json()["count"] == 0
    assert detail.json()["status"] == "failed"
    assert bad.status_code == 400


def test_an_agent_records_cash_once_per_receipt_number(account, agent):
    client = client_for(agent)
    body = {"account": account.number, "amount": "1200.00", "receipt_number": "BK-0042"}

    first = client.post("/api/payments/cash/", body, format="json")
    again = client.post("/api/payments/cash/", body, format="json")
    other = client.post("/api/payments/cash/", {**body, "amount": "5"}, format="json")

    assert first.status_code == 201, first.content
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409
    payment = Payment.objects.get()
    assert (payment.source, payment.reference, payment.recorded_by) == ("cash", "BK-0042", agent)
    assert account_balance(account) == kes("0")
    assert AuditEvent.objects.filter(action="payment.cash").count() == 1


def test_transactions_are_listed_by_source(account, agent):
    payment_record(
        account=account, amount=kes("5"), source="mpesa", reference="Q1", clearing="clearing:mpesa"
    )
    payment_record(
        account=account,
        amount=kes("5"),
        source="cash",
        reference="B1",
        clearing=f"cash:agent:{agent.pk}",
    )

    response = client_for(agent).get("/api/payments/transactions/", {"source": "mpesa"})

    assert [p["reference"] for p in response.json()["results"]] == ["Q1"]
    assert response.json()["results"][0]["amount"] == "5.00"


def _parked(account) -> SuspensePayment:
    paybill = PaybillPayment(
        receipt="RKL51ZDR4F", amount=kes("1200"), bill_reference="1234", payer=""
    )
    return paybill_payment_record(provider="mpesa", paybill=paybill)


def test_managers_allocate_suspense_to_an_account(mpesa, account, manager, agent):
    parked = _parked(account)

    listed = client_for(manager).get("/api/payments/suspense/", {"status": "open"})
    refused = client_for(agent).post(
        f"/api/payments/suspense/{parked.pk}/allocate", {"account": account.number}, format="json"
    )
    done = client_for(manager).post(
        f"/api/payments/suspense/{parked.pk}/allocate", {"account": account.number}, format="json"
    )
    twice = client_for(manager).post(
        f"/api/payments/suspense/{parked.pk}/allocate", {"account": account.number}, format="json"
    )

    assert [s["receipt"] for s in listed.json()["results"]] == ["RKL51ZDR4F"]
    assert refused.status_code == 403
    assert done.status_code == 200, done.content
    assert done.json()["status"] == SuspenseStatus.ALLOCATED
    assert done.json()["allocated_account"] == account.number
    assert twice.status_code == 409
    assert account_balance(account) == kes("0")
    assert AuditEvent.objects.filter(action="suspense.allocate", actor=manager).count() == 1


def test_managers_mark_suspense_for_refund(mpesa, account, manager):
    parked = _parked(account)

    response = client_for(manager).post(
        f"/api/payments/suspense/{parked.pk}/refund", {"note": "payer called"}, format="json"
    )
    missing = client_for(manager).post("/api/payments/suspense/999999/refund", {}, format="json")

    assert response.json()["status"] == SuspenseStatus.REFUND
    assert missing.status_code == 404
    assert AuditEvent.objects.get(action="suspense.refund").after["note"] == "payer called"


def test_managers_record_a_reversal(sandbox, account, manager, agent):
    payment = payment_record(
        account=account,
        amount=kes("1200"),
        source="mpesa",
        reference="Q1",
        clearing="clearing:mpesa",
    )

    refused = client_for(agent).post(
        f"/api/payments/transactions/{payment.pk}/reverse", {"reason": "x"}, format="json"
    )
    done = client_for(manager).post(
        f"/api/payments/transactions/{payment.pk}/reverse",
        {"reason": "operator reversed"},
        format="json",
    )

    assert refused.status_code == 403
    assert done.status_code == 200
    assert done.json()["reversed_at"] is not None
    assert account_balance(account) == kes("1200")
