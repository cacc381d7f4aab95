"""Staff management of users through /api/users/: who may do what, and what is recorded."""

import itertools
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import AuditEvent, Role, User

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


# --- listing ---------------------------------------------------------------------------------


def test_manager_lists_users_a_page_at_a_time(manager):
    for _ in range(3):
        make_user(Role.AGENT)

    response = client_for(manager).get("/api/users/", {"limit": 2})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 4
    assert len(body["results"]) == 2
    assert body["next"]
    assert all("password" not in user for user in body["results"])


def test_list_filters_by_role_and_by_activity(manager):
    technician = make_user(Role.TECHNICIAN, is_active=False)
    customer = make_user(Role.CUSTOMER)
    client = client_for(manager)

    def ids(**params):
        response = client.get("/api/users/", params)
        assert response.status_code == 200, response.content
        return {user["id"] for user in response.json()["results"]}

    assert ids(role="technician") == {technician.pk}
    assert ids(is_active="false") == {technician.pk}
    assert ids(is_active="true") == {manager.pk, customer.pk}
    assert ids() == {manager.pk, technician.pk, customer.pk}


@pytest.mark.parametrize("term", ["0712 345 678", "+254712345678", "345678", "njer", "AMINA"])
def test_search_finds_a_user_by_phone_in_any_format_or_by_name(manager, term):
    amina = make_user(Role.AGENT, phone="+254712345678", name="Amina Njeri")
    make_user(Role.AGENT, phone="+254722000111", name="Baraka Otieno")

    response = client_for(manager).get("/api/users/", {"search": term})

    assert [user["id"] for user in response.json()["results"]] == [amina.pk]


def test_an_unknown_role_filter_is_a_400_naming_the_field(manager):
    response = client_for(manager).get("/api/users/", {"role": "boss"})

    assert response.status_code == 400
    assert "role" in response.json()["extra"]["fields"]


def test_listing_users_costs_the_same_queries_for_many_users_as_for_few(manager):
    client = client_for(manager)
    make_user()
    with CaptureQueriesContext(connection) as few:
        assert client.get("/api/users/").status_code == 200
    for _ in range(10):
        make_user()
    with CaptureQueriesContext(connection) as many:
        assert client.get("/api/users/").status_code == 200

    assert len(many) == len(few)


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.AGENT, Role.TECHNICIAN])
def test_only_managers_and_admins_may_manage_users(role):
    target = make_user(Role.CUSTOMER)
    client = client_for(make_user(role))

    responses = [
        client.get("/api/users/"),
        client.post("/api/users/", {"phone": "0712345678", "role": "agent"}),
        client.get(f"/api/users/{target.pk}/"),
        client.patch(f"/api/users/{target.pk}/", {"name": "X"}),
        client.post(f"/api/users/{target.pk}/password", {"password": GOOD_PASSWORD}),
    ]

    assert [r.status_code for r in responses] == [403] * 5
    assert User.objects.count() == 2
    assert not AuditEvent.objects.exists()


def test_anonymous_callers_are_asked_to_authenticate():
    assert APIClient().get("/api/users/").status_code == 401


# --- reading and updating --------------------------------------------------------------------


def test_a_user_is_read_by_id_and_a_missing_one_is_a_404(manager):
    agent = make_user(Role.AGENT, name="Amina")
    client = client_for(manager)

    found = client.get(f"/api/users/{agent.pk}/")
    missing = client.get("/api/users/999999/")

    assert found.status_code == 200
    assert found.json()["name"] == "Amina"
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_manager_updates_a_user_and_the_trail_holds_before_and_after(manager):
    agent = make_user(Role.AGENT, name="Amina", language="en")

    response = client_for(manager).patch(
        f"/api/users/{agent.pk}/", {"name": "Amina N.", "role": "technician", "language": "sw"}
    )

    assert response.status_code == 200, response.content
    agent.refresh_from_db()
    assert (agent.name, agent.role, agent.language) == ("Amina N.", "technician", "sw")
    event = AuditEvent.objects.get()
    assert event.action == "user.update"
    assert (event.before["name"], event.before["role"]) == ("Amina", "agent")
    assert (event.after["name"], event.after["role"], event.after["language"]) == (
        "Amina N.",
        "technician",
        "sw",
    )


@pytest.mark.parametrize("data", [{"role": "boss"}, {"language": "de"}, {"is_active": "maybe"}])
def test_an_invalid_update_is_a_400_naming_the_field(manager, data):
    agent = make_user(Role.AGENT)

    response = client_for(manager).patch(f"/api/users/{agent.pk}/", data)

    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == set(data)


def test_a_manager_cannot_grant_the_admin_role(manager):
    agent = make_user(Role.AGENT)

    response = client_for(manager).patch(f"/api/users/{agent.pk}/", {"role": "admin"})

    assert response.status_code == 403
    agent.refresh_from_db()
    assert agent.role == Role.AGENT
    assert not AuditEvent.objects.exists()


def test_a_manager_cannot_touch_an_admin_but_another_admin_can(manager, admin):
    other_admin = make_user(Role.ADMIN, name="Second")
    by_manager = client_for(manager)

    assert by_manager.patch(f"/api/users/{admin.pk}/", {"name": "X"}).status_code == 403
    assert (
        by_manager.post(f"/api/users/{admin.pk}/password", {"password": GOOD_PASSWORD}).status_code
        == 403
    )
    by_admin = client_for(other_admin).patch(f"/api/users/{admin.pk}/", {"name": "Renamed"})
    assert by_admin.status_code == 200
    admin.refresh_from_db()
    assert admin.name == "Renamed"


@pytest.mark.parametrize("data", [{"is_active": False}, {"role": "agent"}])
def test_nobody_deactivates_themselves_or_changes_their_own_role(admin, data):
    response = client_for(admin).patch(f"/api/users/{admin.pk}/", data)

    assert response.status_code == 403
    assert response.json()["code"] == "own_account"
    admin.refresh_from_db()
    assert admin.is_active and admin.role == Role.ADMIN


def test_a_user_may_rename_themselves(manager):
    response = client_for(manager).patch(f"/api/users/{manager.pk}/", {"name": "Grace W."})

    assert response.status_code == 200
    assert response.json()["name"] == "Grace W."


@pytest.mark.parametrize("fmt", ["multipart", "json"])
def test_an_update_leaves_fields_it_does_not_send_alone(manager, fmt):
    agent = make_user(Role.AGENT, name="Amina", language="fr")

    response = client_for(manager).patch(f"/api/users/{agent.pk}/", {"name": "A."}, format=fmt)

    assert response.status_code == 200, response.content
    agent.refresh_from_db()
    assert (agent.name, agent.is_active, agent.role, agent.language) == ("A.", True, "agent", "fr")


def test_deactivating_a_user_revokes_their_existing_access_token(admin, manager):
    managers_client = client_for(manager)
    assert managers_client.get("/api/users/").status_code == 200

    response = client_for(admin).patch(f"/api/users/{manager.pk}/", {"is_active": False})

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert managers_client.get("/api/users/").status_code == 401


# --- passwords -------------------------------------------------------------------------------


def test_setting_a_password_lets_the_user_use_it_and_revokes_their_tokens(admin, manager):
    managers_client = client_for(manager)
    assert managers_client.get("/api/users/").status_code == 200

    response = client_for(admin).post(
        f"/api/users/{manager.pk}/password", {"password": GOOD_PASSWORD}
    )

    assert response.status_code == 204
    manager.refresh_from_db()
    assert manager.check_password(GOOD_PASSWORD)
    assert managers_client.get("/api/users/").status_code == 401


def test_setting_a_password_is_audited_without_the_password(manager):
    agent = make_user(Role.AGENT)

    client_for(manager).post(f"/api/users/{agent.pk}/password", {"password": GOOD_PASSWORD})

    event = AuditEvent.objects.get()
    agent.refresh_from_db()
    assert (event.action, event.actor, event.object_id) == (
        "user.password_set",
        manager,
        str(agent.pk),
    )
    stored = json.dumps([event.before, event.after, event.action, event.request_path])
    assert GOOD_PASSWORD not in stored
    assert agent.password not in stored


def test_a_weak_new_password_is_refused_and_the_old_one_kept(manager):
    agent = make_user(Role.AGENT, password=GOOD_PASSWORD)

    response = client_for(manager).post(f"/api/users/{agent.pk}/password", {"password": "abc"})

    assert response.status_code == 400
    assert "password" in response.json()["extra"]["fields"]
    agent.refresh_from_db()
    assert agent.check_password(GOOD_PASSWORD)


def test_setting_the_password_of_a_missing_user_is_a_404(manager):
    response = client_for(manager).post("/api/users/999999/password", {"password": GOOD_PASSWORD})

    assert response.status_code == 404
