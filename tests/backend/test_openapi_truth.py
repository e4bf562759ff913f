"""What the server says about itself matches what it does (issue 14, item 7, the parts done so far):
CSV exports are ``text/csv`` with one charset, in the headers and in the OpenAPI document, and the
public pages that take POST say so to ``OPTIONS``."""

from __future__ import annotations

import re

import pytest

from backend.consent.tokens import make_unsubscribe_token

CSV_EXPORTS = ["/api/v1/optouts/export", "/api/v1/contacts/export"]
REPORT = "/api/v1/campaigns/{campaign_id}/report"


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
    assert set(CSV_EXPORTS) | {REPORT} <= csv_operations
    for path in csv_operations:
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]
        # A campaign's report is JSON pages or, with ?format=csv, one CSV file (found by the API fuzzer).
        assert list(content) == (["application/json", "text/csv"] if path == REPORT else ["text/csv"]), path
    report = schema["paths"][REPORT]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert report != {"type": "object"}  # the page of rows, not an anonymous object


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
            if method == "options":
                continue  # no credentials, no body: 204, or the edge's 400 and 404 (checked below)
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


# --- ids and OPTIONS -----------------------------------------------------------------------------------------

MAX_ID = 2**63 - 1


def _integer_schemas(schema: dict, name: str = "") -> list[tuple[str, dict]]:
    """(property name, schema) of every integer inside ``schema``, through unions, arrays and objects."""
    found = []
    kind = schema.get("type")
    if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
        found.append((name, schema))
    for key in ("oneOf", "anyOf", "allOf"):
        for option in schema.get(key, []):
            found.extend(_integer_schemas(option, name))
    if isinstance(schema.get("items"), dict):
        found.extend(_integer_schemas(schema["items"], name))
    for child, value in (schema.get("properties") or {}).items():
        found.extend(_integer_schemas(value, child))
    return found


def _is_id(name: str) -> bool:
    return name == "id" or name.endswith(("_id", "_ids"))


async def test_every_id_is_documented_from_1_to_the_largest_bigint(client):
    schema = await _schema(client)
    ids: list[tuple[str, dict]] = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method} {path} {parameter['in']} {parameter['name']}"
                for name, integer in _integer_schemas(parameter["schema"], parameter["name"]):
                    if parameter["in"] == "path" or (parameter["in"] == "query" and _is_id(name)):
                        ids.append((where, integer))
    for component, body in schema["components"]["schemas"].items():
        for name, integer in _integer_schemas(body):
            if _is_id(name):
                ids.append((f"{component}.{name}", integer))
            else:  # the edge refuses integers beyond 64 bits anywhere
                assert integer.get("maximum", MAX_ID + 1) <= MAX_ID, (component, name)
    wheres = {where for where, _ in ids}
    assert "get /api/v1/flows/{flow_id} path flow_id" in wheres
    assert "get /api/v1/messages query contact_id" in wheres
    assert "CampaignCreate.flow_id" in wheres
    for where, integer in ids:
        assert integer.get("minimum") == 1 and integer.get("maximum") == MAX_ID, where
    raw = (await client.get("/schema/openapi.json")).text
    assert '"maximum":9223372036854775807' in raw.replace(" ", "")  # an integer, not a rounded float


async def test_options_answers_every_api_path_without_credentials(client):
    schema = await _schema(client)
    checked = 0
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        url = path.replace("{number}", "1").replace("{preview_id}", "x")
        url = re.sub(r"\{\w+\}", "1", url)
        response = await client.options(url)
        assert response.status_code == 204, (path, response.text)
        assert response.content == b""
        documented = {method.upper() for method in operations}
        assert set(response.headers["allow"].split(", ")) == documented, path
        options = operations["options"]
        assert options["security"] == [] and "Allow" in options["responses"]["204"]["headers"], path
        checked += 1
    assert checked > 50
    # An id out of range is still no path at all, with or without credentials.
    assert (await client.options("/api/v1/flows/0")).status_code == 404
