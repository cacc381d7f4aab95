"""The Django admin for users, SMS codes and token chains: forms, role limits, secrets hidden."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, RefreshChain, Role, SmsCode, User

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "mango-tree-under-the-rain-42"
USERS = "/admin/accounts/user/"


def make_user(role: Role, phone: str, **fields) -> User:
    return User.objects.create_user(phone, None, role=role, is_active=True, **fields)


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(Role.ADMIN, "+254700000001", name="Root"))
    return client


@pytest.fixture
def manager_client(client):
    client.force_login(make_user(Role.MANAGER, "+254700000002", name="Grace"))
    return client


def _add(client, **fields):
    data = {
        "phone": "0712 345 678",
        "name": "Amina",
        "role": "agent",
        "language": "en",
        "is_active": "on",
        "usable_password": "true",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
        "_save": "Save",
    }
    data.update(fields)
    return client.post(f"{USERS}add/", data)


def test_adding_a_user_normalizes_the_phone_hashes_the_password_and_is_audited(admin_client):
    response = _add(admin_client)

    assert response.status_code == 302, response.content
    user = User.objects.get(phone="+254712345678")
    assert user.check_password(GOOD_PASSWORD)
    assert GOOD_PASSWORD not in user.password
    event = AuditEvent.objects.get(action="user.create")
    assert event.object_id == str(user.pk)
    assert event.actor.phone == "+254700000001"
    assert user.password not in json.dumps(event.after)


def test_a_bad_phone_in_the_add_form_is_shown_as_a_field_error(admin_client):
    response = _add(admin_client, phone="12345")

    assert response.status_code == 200
    assert "phone" in response.context["adminform"].form.errors
    assert not User.objects.filter(name="Amina").exists()


def test_editing_a_user_normalizes_the_phone_and_records_before_and_after(admin_client):
    agent = make_user(Role.AGENT, "+254722000111", name="Baraka")
    data = {"phone": "0733 000 222", "name": "Baraka O.", "role": "technician", "language": "sw"}

    response = admin_client.post(f"{USERS}{agent.pk}/change/", {**data, "is_active": "on"})

    assert response.status_code == 302, response.content
    agent.refresh_from_db()
    assert (agent.phone, agent.role) == ("+254733000222", "technician")
    event = AuditEvent.objects.get(action="user.update")
    assert (event.before["phone"], event.after["phone"]) == ("+254722000111", "+254733000222")


def test_a_password_set_in_the_admin_is_audited_without_it(admin_client):
    agent = make_user(Role.AGENT, "+254722000111")

    response = admin_client.post(
        f"{USERS}{agent.pk}/password/",
        {"usable_password": "true", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )

    assert response.status_code == 302, response.content
    agent.refresh_from_db()
    assert agent.check_password(GOOD_PASSWORD)
    event = AuditEvent.objects.get(action="user.password_set")
    assert event.object_id == str(agent.pk)
    assert GOOD_PASSWORD not in json.dumps([event.before, event.after])


def test_users_are_found_by_a_phone_typed_locally_and_filtered_by_role(admin_client):
    make_user(Role.TECHNICIAN, "+254722000111", name="Tech Tom")
    make_user(Role.CUSTOMER, "+254733000222", name="Customer Cate")

    by_phone = admin_client.get(USERS, {"q": "0722 000 111"})
    by_role = admin_client.get(USERS, {"role__exact": "customer"})

    assert [u.name for u in by_phone.context["cl"].result_list] == ["Tech Tom"]
    assert [u.name for u in by_role.context["cl"].result_list] == ["Customer Cate"]


def test_a_manager_cannot_grant_admin_or_superuser_nor_edit_an_admin(manager_client):
    admin = make_user(Role.ADMIN, "+254711000999", name="Root")
    agent = make_user(Role.AGENT, "+254722000111", name="Amina")

    refused_role = _add(manager_client, phone="0733000222", role="admin")
    promote = manager_client.post(
        f"{USERS}{agent.pk}/change/",
        {
            "phone": agent.phone,
            "name": "Amina",
            "role": "agent",
            "language": "en",
            "is_active": "on",
            "is_superuser": "on",
        },
    )
    edit_admin = manager_client.post(f"{USERS}{admin.pk}/change/", {"name": "Hacked"})
    admin_password = manager_client.post(
        f"{USERS}{admin.pk}/password/",
        {"usable_password": "true", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )

    assert "role" in refused_role.context["adminform"].form.errors
    assert not User.objects.filter(phone="+254733000222").exists()
    assert promote.status_code == 302
    agent.refresh_from_db()
    assert not agent.is_superuser
    assert edit_admin.status_code == 403
    assert admin_password.status_code == 403
    admin.refresh_from_db()
    assert admin.name == "Root" and not admin.has_usable_password()


def test_users_are_deactivated_not_deleted(admin_client):
    agent = make_user(Role.AGENT, "+254722000111")

    response = admin_client.post(f"{USERS}{agent.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert User.objects.filter(pk=agent.pk).exists()


@pytest.mark.parametrize("role", [Role.AGENT, Role.TECHNICIAN, Role.CUSTOMER])
def test_only_managers_and_admins_open_the_admin(client, role):
    client.force_login(make_user(role, "+254722000111"))

    response = client.get(USERS)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_sms_codes_are_shown_without_their_hash_and_cannot_be_changed(admin_client):
    code = SmsCode.objects.create(
        phone="+254722000111",
        purpose="activation",
        code_hash="c0ffee" * 10 + "beef",
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    base = "/admin/accounts/smscode/"

    listing = admin_client.get(base)
    page = admin_client.get(f"{base}{code.pk}/change/")

    assert listing.status_code == page.status_code == 200
    assert b"+254722000111" in page.content
    assert code.code_hash.encode() not in listing.content + page.content
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}{code.pk}/change/", {"attempts": 0}).status_code == 403
    assert admin_client.post(f"{base}{code.pk}/delete/", {"post": "yes"}).status_code == 403


def test_refresh_chains_are_read_only(admin_client):
    chain = RefreshChain.objects.create(user=make_user(Role.AGENT, "+254722000111"))
    base = "/admin/accounts/refreshchain/"

    assert admin_client.get(f"{base}{chain.pk}/change/").status_code == 200
    assert (
        admin_client.post(f"{base}{chain.pk}/change/", {"revoked_reason": "x"}).status_code == 403
    )
    assert admin_client.post(f"{base}{chain.pk}/delete/", {"post": "yes"}).status_code == 403
    chain.refresh_from_db()
    assert chain.revoked_reason == ""
