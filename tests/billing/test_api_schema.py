"""The billing API in the OpenAPI document: every operation, its filters, pages and types."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _query_params(operation: dict) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}


def test_every_billing_operation_is_documented(schema):
    operations = {
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }

    assert {
        ("get", "/api/accounts/"),
        ("post", "/api/accounts/"),
        ("get", "/api/accounts/{account_id}/"),
        ("get", "/api/accounts/{account_id}/statement"),
        ("get", "/api/meters/"),
        ("post", "/api/meters/"),
        ("post", "/api/meters/{meter_id}/replace"),
        ("get", "/api/readings/"),
        ("post", "/api/readings/"),
        ("post", "/api/readings/{reading_id}/review"),
        ("get", "/api/tariffs/"),
        ("post", "/api/tariffs/"),
        ("get", "/api/tariffs/{tariff_id}/"),
        ("post", "/api/tariffs/{tariff_id}/versions"),
        ("get", "/api/price-indexes/"),
        ("post", "/api/price-indexes/"),
        ("post", "/api/price-indexes/{index_id}/values"),
        ("get", "/api/invoices/"),
        ("get", "/api/invoices/{invoice_id}/"),
        ("get", "/api/invoices/{invoice_id}/pdf"),
        ("get", "/api/credit-notes/"),
        ("post", "/api/credit-notes/"),
    } <= operations


def test_lists_document_their_filters_and_pages(schema):
    paths = schema["paths"]

    assert {"search", "number", "phone", "name", "meter", "limit", "offset"} <= _query_params(
        paths["/api/accounts/"]["get"]
    )
    assert {"status", "period", "account", "limit"} <= _query_params(paths["/api/invoices/"]["get"])
    assert {"status", "meter", "account"} <= _query_params(paths["/api/readings/"]["get"])
    assert {"limit"} == _query_params(paths["/api/accounts/{account_id}/statement"]["get"])
    assert "results" in schema["components"]["schemas"]["PaginatedInvoiceList"]["properties"]


def test_the_pdf_is_documented_as_a_pdf(schema):
    responses = schema["paths"]["/api/invoices/{invoice_id}/pdf"]["get"]["responses"]

    assert list(responses["200"]["content"]) == ["application/pdf"]


def test_money_is_documented_as_a_string_amount_never_a_float(schema):
    money = schema["components"]["schemas"]["Money"]["properties"]

    assert money["amount"]["type"] == "string"
    assert money["minor"]["type"] == "integer"
    invoice = schema["components"]["schemas"]["Invoice"]["properties"]
    assert invoice["total"]["allOf"] == [{"$ref": "#/components/schemas/Money"}]
