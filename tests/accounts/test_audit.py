"""The audit trail: the middleware's safety net, secrets kept out, the read-only API and admin."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.audit import audit_record, audit_snapshot
from accounts.models import AuditEvent, Role, User
from accounts.permissions import IsManager


class NoAuditApi(APIView):
    """Changes nothing it records: succeeds, or fails with 400 when asked to."""

    permission_classes = [AllowAny]

    def post(self, request):
        if request.data.get("fail"):
            return Response({"code": "invalid"}, status=400)
        return Response({"ok": True}, status=201)


class ManagersOnlyApi(NoAuditApi):
    permission_classes = [IsManager]


class RecordingApi(APIView):
    def post(self, request):
        audit_record(actor=request.user, action="thing.make", object_type="thing", object_id="7")
        return Response(status=201)


urlpatterns = [
    path("api/no-audit/", NoAuditApi.as_view()),
    path("api/managers-only/", ManagersOnlyApi.as_view()),
    path("api/recording/", RecordingApi.as_view()),
    path("elsewhere/no-audit/", NoAuditApi.as_view()),
    path("api/", include("accounts.api.urls")),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

T0 = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
SECRET_KEYS = ["password", "code_hash", "sealed_body", "token", "pin_hash", "refresh_token"]


def make_user(role: Role, phone: str = "+254700000001", **fields) -> User:
    return User.objects.create_user(phone, None, role=role, is_active=True, **fields)


def client_for(user: User) -> APIClient:
    client = APIClient()
    token = RefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def manager():
    return make_user(Role.MANAGER, "+254700000009")


# --- the middleware's safety net -------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.AGENT, Role.TECHNICIAN, Role.MANAGER, Role.ADMIN])
def test_a_staff_change_no_service_recorded_still_leaves_an_event(role):
    staff = make_user(role)

    response = client_for(staff).post("/api/no-audit/", {"x": 1}, REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 201
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_role, event.action) == (staff, role, "POST /api/no-audit/")
    assert (event.request_method, event.request_path, event.ip) == (
        "POST",
        "/api/no-audit/",
        "10.1.2.3",
    )
    assert event.before is None and event.after is None


def test_a_failed_call_leaves_no_event():
    agent = make_user(Role.AGENT)
    client = client_for(agent)

    assert client.post("/api/no-audit/", {"fail": "yes"}).status_code == 400
    assert client.post("/api/managers-only/", {}).status_code == 403
    assert not AuditEvent.objects.exists()


def test_customers_and_anonymous_callers_are_not_recorded_as_staff():
    customer = make_user(Role.CUSTOMER)

    assert client_for(customer).post("/api/no-audit/", {}).status_code == 201
    assert APIClient().post("/api/no-audit/", {}).status_code == 201
    assert not AuditEvent.objects.exists()


def test_a_change_a_service_recorded_is_not_recorded_twice():
    agent = make_user(Role.AGENT)

    client_for(agent).post("/api/recording/", REMOTE_ADDR="10.9.9.9")

    event = AuditEvent.objects.get()
    assert event.action == "thing.make"
    assert (event.ip, event.request_method, event.request_path) == (
        "10.9.9.9",
        "POST",
        "/api/recording/",
    )


def test_reads_and_calls_outside_the_api_are_not_recorded():
    client = client_for(make_user(Role.AGENT))

    client.get("/api/users/")
    client.post("/elsewhere/no-audit/", {})

    assert not AuditEvent.objects.exists()


@override_settings(NUM_PROXIES=1)
def test_behind_a_proxy_the_event_holds_the_address_the_proxy_saw():
    client = client_for(make_user(Role.AGENT))

    client.post("/api/no-audit/", {}, HTTP_X_FORWARDED_FOR="6.6.6.6, 41.90.1.2")

    assert AuditEvent.objects.get().ip == "41.90.1.2"


# --- secrets ---------------------------------------------------------------------------------


def test_secrets_are_dropped_from_before_and_after_at_any_depth():
    event = audit_record(
        actor=None,
        action="thing.change",
        before={"password": "p", "name": "n", "nested": {"pin_hash": "h", "rows": [{"token": 1}]}},
        after={"sealed_body": "s", "name": "m"},
    )

    event.refresh_from_db()
    assert event.before == {"name": "n", "nested": {"rows": [{}]}}
    assert event.after == {"name": "m"}


def test_a_user_snapshot_holds_the_profile_but_not_the_password_hash():
    user = User.objects.create_user("+254700000001", "mango-tree-under-the-rain-42")

    snapshot = audit_snapshot(user)

    assert snapshot["phone"] == "+254700000001"
    assert "password" not in snapshot
    assert user.password not in json.dumps(snapshot)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from([*SECRET_KEYS, "name", "role", "x"]), children, max_size=4
        )
    ),
    max_leaves=12,
)


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=st.dictionaries(st.sampled_from([*SECRET_KEYS, "name"]), _json, max_size=4))
def test_no_secret_key_survives_into_the_trail(db, before):
    event = audit_record(actor=None, action="fuzz", before=before, after={"wrap": before})

    event.refresh_from_db()
    assert not _keys([event.before, event.after]) & set(SECRET_KEYS)


# --- the read-only API -----------------------------------------------------------------------


def _event(at: datetime, action: str = "user.update", **fields) -> AuditEvent:
    return AuditEvent.objects.create(at=at, action=action, **fields)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [event["id"] for event in response.json()["results"]]


def test_managers_read_the_trail_newest_first_a_page_at_a_time(manager):
    old, new, middle = _event(T0), _event(T0 + timedelta(hours=2)), _event(T0 + timedelta(hours=1))

    response = client_for(manager).get("/api/audit/", {"limit": 2})

    assert _ids(response) == [new.pk, middle.pk]
    assert response.json()["count"] == 3
    nxt = client_for(manager).get(response.json()["next"])
    assert _ids(nxt) == [old.pk]


def test_the_trail_filters_by_actor_action_object_and_time(manager):
    agent = make_user(Role.AGENT, "+254700000002")
    by_agent = _event(T0, actor=agent, object_type="accounts.user", object_id="5")
    created = _event(T0 + timedelta(hours=1), action="user.create", object_type="accounts.user")
    later = _event(T0 + timedelta(days=2), action="tariff.update", object_type="billing.tariff")
    client = client_for(manager)

    assert _ids(client.get("/api/audit/", {"actor": agent.pk})) == [by_agent.pk]
    assert _ids(client.get("/api/audit/", {"action": "user.create"})) == [created.pk]
    assert _ids(client.get("/api/audit/", {"object_type": "accounts.user", "object_id": "5"})) == [
        by_agent.pk
    ]
    window = {"at__gte": T0.isoformat(), "at__lte": (T0 + timedelta(hours=1)).isoformat()}
    assert _ids(client.get("/api/audit/", window)) == [created.pk, by_agent.pk]
    assert _ids(client.get("/api/audit/", {"at__gte": "2030-03-02T00:00:00Z"})) == [later.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"at__gte": "yesterday"}, "at__gte"),
        ({"actor": "someone"}, "actor"),
        ({"at__gte": "2030-03-02T00:00:00Z", "at__lte": "2030-03-01T00:00:00Z"}, "at__lte"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field(manager, params, field):
    response = client_for(manager).get("/api/audit/", params)

    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.AGENT, Role.TECHNICIAN])
def test_only_managers_and_admins_read_the_trail(role):
    response = client_for(make_user(role)).get("/api/audit/")

    assert response.status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_nobody_changes_or_deletes_events_through_the_api(method):
    admin = make_user(Role.ADMIN)
    event = _event(T0, action="user.update", after={"name": "kept"})
    client = client_for(admin)

    on_list = getattr(client, method)("/api/audit/", {"action": "forged"}, format="json")
    on_item = getattr(client, method)(f"/api/audit/{event.pk}/", {"action": "x"}, format="json")

    assert on_list.status_code == 405
    assert on_item.status_code == 404
    assert list(AuditEvent.objects.values_list("action", "after")) == [
        ("user.update", {"name": "kept"})
    ]


def test_reading_the_trail_costs_the_same_queries_for_many_actors_as_for_one(manager):
    _event(T0, actor=manager)
    client = client_for(manager)
    with CaptureQueriesContext(connection) as one:
        client.get("/api/audit/")
    for n in range(2, 12):
        _event(T0, actor=make_user(Role.AGENT, f"+2547100000{n:02d}"))
    with CaptureQueriesContext(connection) as many:
        response = client.get("/api/audit/")

    assert response.json()["count"] == 11
    assert response.json()["results"][0]["actor_phone"].startswith("+2547")
    assert len(many) == len(one)


# --- the admin -------------------------------------------------------------------------------


@pytest.mark.urls("config.urls")
def test_the_admin_shows_events_but_cannot_add_change_or_delete_them(client):
    admin = make_user(Role.ADMIN)
    event = _event(T0, actor=admin, action="user.update", after={"name": "kept"})
    client.force_login(admin)
    base = "/admin/accounts/auditevent/"

    assert client.get(base).status_code == 200
    page = client.get(f"{base}{event.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}{event.pk}/change/", {"action": "forged"}).status_code == 403
    assert client.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = client.post(base, {"action": "delete_selected", "_selected_action": [event.pk]})
    assert bulk.status_code in (200, 302)
    assert AuditEvent.objects.filter(pk=event.pk, action="user.update").exists()
