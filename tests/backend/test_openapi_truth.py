"""What the server says about itself matches what it does (issue 14, item 7, the parts done so far):
CSV exports are ``text/csv`` with one charset, in the headers and in the OpenAPI document, and the
public pages that take POST say so to ``OPTIONS``."""

from __future__ import annotations

import pytest

from backend.consent.tokens import make_unsubscribe_token

CSV_EXPORTS = ["/api/v1/optouts/export", "/api/v1/contacts/export"]


@pytest.mark.parametrize("path", CSV_EXPORTS)
async def test_a_csv_export_is_text_csv_with_one_charset(client, tenant, path):
    response = await client.get(path, headers=tenant.headers("viewer"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


async def test_the_openapi_document_gives_every_csv_endpoint_text_csv(client):
    schema = (await client.get("/schema/openapi.json")).json()
    csv_operations = {
        path
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        if "text/csv" in (operation["responses"].get("200", {}).get("content") or {})
    }
    assert set(CSV_EXPORTS) <= csv_operations
    for path in csv_operations:
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]
        assert list(content) == ["text/csv"], path


@pytest.mark.parametrize("path", ["/optout", "/u/{token}"])
async def test_options_on_the_public_pages_lists_post(client, tenant, path):
    url = path.replace("{token}", make_unsubscribe_token(tenant.id, "email", "ann@example.com"))
    response = await client.options(url)
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, OPTIONS, POST"
    schema = (await client.get("/schema/openapi.json")).json()
    assert {"get", "post", "options"} <= set(schema["paths"][path])


# --- error responses and strict request bodies --------------------------------------------------------

ERROR_STATUSES = {"400", "401", "403", "404", "409", "422", "429"}


async def _schema(client) -> dict:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


def _error_body_ok(schema: dict, body: dict) -> None:
    """The body has exactly the documented error shape."""
    documented = schema["components"]["schemas"]["ErrorBody"]
    assert set(body) == set(documented["properties"]) == set(documented["required"])
    problem = schema["components"]["schemas"]["FieldProblem"]
    for item in body["errors"]:
        assert set(problem["required"]) <= set(item) <= set(problem["properties"])


async def test_every_api_operation_documents_the_error_body(client):
    schema = await _schema(client)
    reference = {"$ref": "#/components/schemas/ErrorBody"}
    checked = 0
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            assert set(responses) >= ERROR_STATUSES, (method, path)
            if "requestBody" in operation:
                assert {"413", "415"} <= set(responses), (method, path)
            for status in ERROR_STATUSES:
                assert responses[status]["content"]["application/json"]["schema"] == reference
            checked += 1
    assert checked > 50


async def test_real_error_answers_have_the_documented_shape_and_status(client, tenant):
    schema = await _schema(client)
    flows, one_flow = schema["paths"]["/api/v1/flows"], schema["paths"]["/api/v1/flows/{flow_id}"]
    body = {"name": "A", "graph": {"nodes": [], "edges": []}}
    answers = [
        (
            flows["post"],
            await client.post("/api/v1/flows", json={**body, "colour": "red"}, headers=tenant.headers()),
            400,
        ),
        (flows["get"], await client.get("/api/v1/flows"), 401),
        (flows["post"], await client.post("/api/v1/flows", json=body, headers=tenant.headers("viewer")), 403),
        (one_flow["get"], await client.get("/api/v1/flows/999999", headers=tenant.headers()), 404),
    ]
    for operation, response, status in answers:
        assert response.status_code == status, response.text
        assert str(status) in operation["responses"]
        _error_body_ok(schema, response.json())
    assert "colour" in answers[0][1].json()["detail"]


async def test_request_schemas_forbid_the_unknown_properties_the_server_refuses(client):
    schema = await _schema(client)
    components = schema["components"]["schemas"]
    request_refs = {
        operation["requestBody"]["content"]["application/json"]["schema"].get("$ref", "").rsplit("/", 1)[-1]
        for operations in schema["paths"].values()
        for operation in operations.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    request_refs.discard("")
    assert {"FlowCreate", "ContactCreate", "CampaignCreate"} <= request_refs
    for name in request_refs:
        assert components[name].get("additionalProperties") is False, name
    # Responses stay open: a client must accept fields added later.
    assert components["ErrorBody"].get("additionalProperties") is None
