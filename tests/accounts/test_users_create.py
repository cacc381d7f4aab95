"""Creating users through POST /api/users/: phones, roles, passwords, races, the trail."""

import itertools
import json
import threading

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.exceptions import InvalidPhoneNumber, PhoneTaken
from accounts.models import AuditEvent, Role, User
from accounts.phones import phone_normalize
from accounts.services.users import user_create

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "mango-tree-under-the-rain-42"
_phones = itertools.count(1)


def make_user(role: Role = Role.AGENT, **fields) -> User:
    fields.setdefault("is_active", True)
    phone = fields.pop("phone", f"+2547001{next(_phones):05d}")
    return User.objects.create_user(phone, fields.pop("password", None), role=role, **fields)


def client_for(user: User) -> APIClient:
    client = APIClient()
    token = RefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def manager():
    return make_user(Role.MANAGER, name="Grace Manager")


@pytest.fixture
def admin():
    return make_user(Role.ADMIN, name="Root Admin")


def test_manager_creates_an_agent_from_a_locally_typed_phone(manager):
    response = client_for(manager).post(
        "/api/users/", {"phone": "0712 345 678", "role": "agent", "name": "Amina"}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["phone"] == "+254712345678"
    assert body["role"] == "agent"
    assert body["is_active"] is True
    assert body["has_usable_password"] is False
    assert not User.objects.get(pk=body["id"]).has_usable_password()


def test_a_user_created_with_a_password_can_use_it(manager):
    response = client_for(manager).post(
        "/api/users/",
        {"phone": "+254712345678", "role": "technician", "password": GOOD_PASSWORD},
    )

    assert response.status_code == 201, response.content
    assert "password" not in response.json()
    assert User.objects.get(phone="+254712345678").check_password(GOOD_PASSWORD)


@pytest.mark.parametrize("phone", ["12", "not a phone", "+999 123 456", "", "0712 345 678 999 1"])
def test_a_bad_phone_is_a_400_naming_the_phone_field(manager, phone):
    response = client_for(manager).post("/api/users/", {"phone": phone, "role": "agent"})

    assert response.status_code == 400
    assert "phone" in response.json()["extra"]["fields"]
    assert User.objects.count() == 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.one_of(st.text(max_size=40), st.from_regex(r"\+?[0-9 ()-]{0,20}", fullmatch=True)))
def test_any_typed_phone_is_either_created_in_e164_or_refused_with_a_400(manager, text):
    response = client_for(manager).post("/api/users/", {"phone": text, "role": "customer"})

    assert response.status_code in (201, 400), response.content
    if response.status_code == 201:
        assert response.json()["phone"] == phone_normalize(text)
    else:
        body = response.json()
        assert "phone" in body["extra"]["fields"]
        if body["code"] != "phone_taken":
            with pytest.raises(InvalidPhoneNumber):
                phone_normalize(text)


def test_a_phone_already_taken_in_another_format_is_refused(manager):
    make_user(phone="+254712345678")

    response = client_for(manager).post("/api/users/", {"phone": "0712345678", "role": "agent"})

    assert response.status_code == 400
    assert response.json()["code"] == "phone_taken"
    assert "phone" in response.json()["extra"]["fields"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_creations_of_one_phone_at_once_make_one_user_and_one_clear_refusal():
    manager = make_user(Role.MANAGER)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(phone: str) -> None:
        try:
            barrier.wait()
            user_create(actor=manager, phone=phone, role=Role.AGENT)
            outcomes.append("created")
        except PhoneTaken:
            outcomes.append("taken")
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(p,)) for p in ("0712345678", "+254712345678")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created", "taken"]
    assert User.objects.filter(phone="+254712345678").count() == 1
    assert AuditEvent.objects.filter(action="user.create").count() == 1


def test_a_manager_cannot_create_an_admin_but_an_admin_can(manager, admin):
    refused = client_for(manager).post("/api/users/", {"phone": "0712345678", "role": "admin"})
    created = client_for(admin).post("/api/users/", {"phone": "0712345678", "role": "admin"})

    assert refused.status_code == 403
    assert refused.json()["code"] == "role_not_allowed"
    assert created.status_code == 201
    assert User.objects.get(phone="+254712345678").role == Role.ADMIN


def test_a_weak_password_is_refused_naming_the_password_field(manager):
    response = client_for(manager).post(
        "/api/users/", {"phone": "0712345678", "role": "agent", "password": "12345678"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_password"
    assert "password" in response.json()["extra"]["fields"]
    assert not User.objects.filter(phone="+254712345678").exists()


def test_creating_a_user_records_one_event_without_the_password(manager):
    response = client_for(manager).post(
        "/api/users/", {"phone": "0712345678", "role": "agent", "password": GOOD_PASSWORD}
    )

    event = AuditEvent.objects.get()
    created = User.objects.get(pk=response.json()["id"])
    assert (event.action, event.actor, event.actor_role) == ("user.create", manager, "manager")
    assert (event.object_type, event.object_id) == ("accounts.user", str(created.pk))
    assert event.before is None
    assert event.after["phone"] == "+254712345678"
    assert event.after["role"] == "agent"
    assert (event.request_method, event.request_path) == ("POST", "/api/users/")
    stored = json.dumps([event.before, event.after])
    assert "password" not in stored
    assert GOOD_PASSWORD not in stored
    assert created.password not in stored
