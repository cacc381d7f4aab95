"""Role permissions: every role against every ready-made class and a custom one, over HTTP."""

import pytest
from django.urls import path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Role, User
from accounts.permissions import IsAdmin, IsManager, IsStaffMember, role_required


def _probe(permission):
    class ProbeApi(APIView):
        permission_classes = [permission]

        def get(self, request):
            return Response({"ok": True})

    return ProbeApi.as_view()


urlpatterns = [
    path("api/probe/staff/", _probe(IsStaffMember)),
    path("api/probe/manager/", _probe(IsManager)),
    path("api/probe/admin/", _probe(IsAdmin)),
    path("api/probe/field/", _probe(role_required(Role.TECHNICIAN, Role.AGENT))),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

ALLOWED = {
    "staff": {Role.AGENT, Role.TECHNICIAN, Role.MANAGER, Role.ADMIN},
    "manager": {Role.MANAGER, Role.ADMIN},
    "admin": {Role.ADMIN},
    "field": {Role.AGENT, Role.TECHNICIAN, Role.ADMIN},
}
CASES = [(probe, role) for probe in ALLOWED for role in Role]


def _client_for(user: User) -> APIClient:
    client = APIClient()
    token = RefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _user(role: Role, **fields) -> User:
    return User.objects.create_user("+254700000001", None, role=role, is_active=True, **fields)


@pytest.mark.parametrize(("probe", "role"), CASES, ids=[f"{p}-{r.value}" for p, r in CASES])
def test_each_role_passes_exactly_the_endpoints_that_name_it(probe, role):
    response = _client_for(_user(role)).get(f"/api/probe/{probe}/")

    expected = 200 if role in ALLOWED[probe] else 403
    assert response.status_code == expected, response.content
    if expected == 403:
        assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("probe", list(ALLOWED))
def test_a_superuser_passes_everything_whatever_their_role(probe):
    superuser = _user(Role.CUSTOMER, is_superuser=True)

    assert _client_for(superuser).get(f"/api/probe/{probe}/").status_code == 200


@pytest.mark.parametrize("probe", list(ALLOWED))
def test_anonymous_callers_are_asked_to_authenticate(probe):
    response = APIClient().get(f"/api/probe/{probe}/")

    assert response.status_code == 401


def test_a_deactivated_admin_is_refused_with_a_token_issued_before():
    admin = _user(Role.ADMIN)
    client = _client_for(admin)
    assert client.get("/api/probe/admin/").status_code == 200

    User.objects.filter(pk=admin.pk).update(is_active=False)

    assert client.get("/api/probe/admin/").status_code == 401


def test_an_unknown_role_is_a_programming_error_caught_at_import():
    with pytest.raises(ValueError):
        role_required("supervisor")


def test_permission_classes_have_readable_names():
    assert IsManager.__name__ == "RoleRequired_manager"
    assert IsAdmin.allowed_roles == {Role.ADMIN}
    assert IsStaffMember.allowed_roles == {Role.AGENT, Role.TECHNICIAN, Role.MANAGER, Role.ADMIN}
