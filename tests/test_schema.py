"""The OpenAPI document: valid OpenAPI 3, generated without warnings, and browsable."""

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_schema_endpoint_serves_a_valid_openapi_3_document(schema):
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 JSON schema

    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Malipo API"


def test_the_schema_generates_without_warnings_or_errors(tmp_path):
    GENERATOR_STATS.reset()  # warnings of earlier generations in this process do not count

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))

    assert (tmp_path / "s.yml").read_text().startswith("openapi: 3")


def test_staff_endpoints_are_documented_with_their_filters_and_pages(schema):
    paths = schema["paths"]
    users = paths["/api/users/"]["get"]
    audit = paths["/api/audit/"]["get"]
    params = {p["name"] for p in users["parameters"]}
    audit_params = {p["name"] for p in audit["parameters"]}

    assert {"role", "is_active", "search", "limit", "offset"} <= params
    assert {"actor", "action", "object_type", "object_id", "at__gte", "at__lte"} <= audit_params
    assert set(paths["/api/users/"]) >= {"get", "post"}
    assert set(paths["/api/users/{user_id}/"]) >= {"get", "patch"}
    assert "post" in paths["/api/users/{user_id}/password"]
    assert set(paths["/api/audit/"]) == {"get"}
    page = schema["components"]["schemas"]["PaginatedAuditEventList"]
    assert {"count", "next", "previous", "results"} <= set(page["properties"])


def test_no_documented_response_carries_a_password(schema):
    for name, component in schema["components"]["schemas"].items():
        if not name.endswith("Request"):
            assert "password" not in component.get("properties", {}), name


def test_the_docs_page_renders(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower()
