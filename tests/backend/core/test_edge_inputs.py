"""Hostile inputs at the edge (issue 14, items 1, 2, 6 and 8): each answers a clear 4xx, never a 500.

The walking tests read the app's own route table and OpenAPI document, so a route added later is covered
without editing this file: every integer path parameter, every integer query parameter (a dependency's
too, like the export filters) and every JSON body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from backend.consent.tables import ConsentEvent, OptOutEntry

SHAPE = {"status_code", "error", "detail", "errors"}
BEYOND = 2**63  # one past the largest id PostgreSQL's bigint and SQLite's INTEGER hold
_PARAM = re.compile(r"\{(\w+):(\w+)\}")
_SKIPPED_METHODS = {"HEAD", "OPTIONS", "TRACE"}


def _fill(path: str, ints: dict[str, int] | None = None) -> str:
    """``path`` with every parameter set: ints from ``ints`` (else 1), strings to ``x``."""
    ints = ints or {}
    return _PARAM.sub(lambda m: str(ints.get(m[1], 1)) if m[2] == "int" else "x", path)


def _http_routes(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if isinstance(handler, HTTPRouteHandler):
                for method in sorted(handler.http_methods - _SKIPPED_METHODS):
                    yield route.path, method, handler


def _operations(app: Litestar) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in app.openapi_schema.to_schema()["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and method.upper() not in _SKIPPED_METHODS:
                yield path, method.upper(), operation


def _is_integer(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
        return True
    return any(_is_integer(option) for key in ("oneOf", "anyOf") for option in schema.get(key, []))


def _openapi_path(path: str) -> str:
    """An OpenAPI path (``/a/{id}``) made requestable: ids 1, other parameters ``x``."""
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m[1].endswith("_id") or m[1] == "number" else "x", path)


def _json_operations(app: Litestar) -> list[tuple[str, str, bool]]:
    found = []
    for path, method, operation in _operations(app):
        body = operation.get("requestBody")
        if body and "application/json" in body.get("content", {}):
            found.append((_openapi_path(path), method, bool(body.get("required"))))
    return found


def _assert_problem(response: httpx.Response, status: int, field: str, source: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == SHAPE, body
    assert body["errors"], body
    assert body["errors"][0]["field"] == field, body
    if source is not None:
        assert body["errors"][0]["source"] == source, body
    assert field in body["detail"], body
    return body["detail"]


# --- the rule covers every route ---------------------------------------------------------------------------


async def test_every_route_runs_the_edge_rules(app):
    """Litestar keeps one ``before_request`` per layer: a router or controller with its own would bypass them."""
    hooks = {handler.resolve_before_request() for _, _, handler in _http_routes(app)}
    assert hooks == {app.before_request}, hooks


async def test_every_integer_path_parameter_beyond_int64_answers_404(client, app, tenant):
    checked = 0
    for path, method, _ in _http_routes(app):
        for name, kind in _PARAM.findall(path):
            if kind != "int":
                continue
            url = _fill(path, {name: BEYOND})
            response = await client.request(method, url, json={}, headers=tenant.headers())
            assert response.status_code == 404, f"{method} {url}: {response.text}"
            assert set(response.json()) == SHAPE
            assert response.json()["error"] == "not_found"
            assert name in response.json()["detail"]
            checked += 1
    assert checked > 50  # the walk reached the route table


async def test_the_unauthenticated_provider_webhook_answers_404_for_an_id_beyond_int64(client):
    for method in ("GET", "POST"):
        response = await client.request(method, f"/webhooks/{BEYOND}", content=b"{}")
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "not_found"
    assert (await client.post(f"/webhooks/{2**64 + 7}", content=b"{}")).status_code == 404


async def test_every_integer_query_parameter_beyond_int64_names_itself(client, app, tenant):
    checked = set()
    for path, method, operation in _operations(app):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query" or not _is_integer(parameter.get("schema", {})):
                continue
            name = parameter["name"]
            url = _openapi_path(path)
            response = await client.request(method, url, params={name: str(BEYOND)}, headers=tenant.headers())
            _assert_problem(response, 400, name, "query")
            checked.add(name)
    assert {"category_id", "group_id", "sender_id", "flow_id", "limit"} <= checked


async def test_every_json_body_refuses_an_integer_beyond_int64_naming_where_it_is(client, app, tenant):
    operations = _json_operations(app)
    assert len(operations) > 20
    for url, method, _ in operations:
        response = await client.request(method, url, json={"flow_id": BEYOND}, headers=tenant.headers())
        _assert_problem(response, 400, "flow_id", "body")
        nested = {"graph": {"nodes": [{"data": {"seconds": -(2**63) - 1}}]}}
        response = await client.request(method, url, json=nested, headers=tenant.headers())
        _assert_problem(response, 400, "graph.nodes[0].data.seconds", "body")


async def test_every_json_body_refuses_deep_nesting_bad_encoding_and_the_wrong_content_type(
    client, app, tenant
):
    for url, method, required in _json_operations(app):
        headers = tenant.headers() | {"Content-Type": "application/json"}

        deep = await client.request(method, url, content=b"[" * 1000 + b"]" * 1000, headers=headers)
        assert "nested deeper than" in _assert_problem(deep, 400, "body", "body")

        bad = await client.request(method, url, content=b'{"name": "caf\xe9"}', headers=headers)
        detail = _assert_problem(bad, 400, "body", "body")
        assert "UTF-8" in detail and "offset 13" in detail

        malformed = await client.request(method, url, content=b'{"name": ', headers=headers)
        assert "not valid JSON" in _assert_problem(malformed, 400, "body", "body")

        for content_type in ("text/plain", None):
            sent = tenant.headers() | ({"Content-Type": content_type} if content_type else {})
            response = await client.request(method, url, content=b"{}", headers=sent)
            detail = _assert_problem(response, 415, "Content-Type", "header")
            assert response.json()["error"] == "unsupported_media_type"
            assert "application/json" in detail

        # An optional body (publish, validate) may be left out; a required one says so, never "'data'".
        empty = await client.request(method, url, content=b"", headers=headers)
        assert empty.status_code < 500 and "'data'" not in empty.text, f"{method} {url}: {empty.text}"
        if required and empty.status_code == 400 and empty.json()["errors"][0]["field"] == "body":
            assert "is empty" in empty.json()["detail"], f"{method} {url}: {empty.text}"


# --- the unauthenticated login -------------------------------------------------------------------------------


async def test_login_with_deeply_nested_json_is_a_400_without_a_key(client):
    response = await client.post(
        "/api/v1/auth/login",
        content=b'{"email": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    detail = _assert_problem(response, 400, "body", "body")
    assert "nested deeper than 64 levels" in detail


async def test_login_sent_as_text_plain_is_a_415(client):
    response = await client.post(
        "/api/v1/auth/login",
        content=b'{"email": "a@example.com", "password": "x"}',
        headers={"Content-Type": "text/plain"},
    )
    _assert_problem(response, 415, "Content-Type", "header")


async def test_an_empty_body_says_a_json_body_is_needed_not_a_key_error(client, tenant):
    response = await client.post("/api/v1/api-keys", content=b"", headers=tenant.headers())
    detail = _assert_problem(response, 400, "body", "body")
    assert "'data'" not in detail
    assert "is empty" in detail


async def test_a_json_media_type_with_a_charset_or_a_suffix_is_accepted(client, tenant):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.post(
            "/api/v1/api-keys",
            content=b'{"name": "ci", "role": "viewer"}',
            headers=tenant.headers() | {"Content-Type": content_type},
        )
        assert response.status_code == 201, response.text


# --- ids outside the path: body, export, cursor, If-Match ---------------------------------------------------


async def test_an_opt_out_with_a_category_beyond_int64_names_it_and_stores_nothing(client, tenant):
    response = await client.post(
        "/api/v1/optouts",
        json={"channel": "email", "address": "ana@example.com", "category_id": BEYOND},
        headers=tenant.headers(),
    )
    _assert_problem(response, 400, "category_id", "body")
    assert await OptOutEntry.count() == 0
    assert await ConsentEvent.count() == 0


async def test_the_opt_out_export_checks_its_filters_before_the_first_byte(client, tenant):
    response = await client.get(
        "/api/v1/optouts/export", params={"category_id": str(BEYOND)}, headers=tenant.headers()
    )
    _assert_problem(response, 400, "category_id", "query")
    assert response.headers["content-type"].startswith("application/json")
    response = await client.get(
        "/api/v1/contacts/export", params={"group_id": str(BEYOND)}, headers=tenant.headers()
    )
    _assert_problem(response, 400, "group_id", "query")


async def test_a_cursor_beyond_int64_is_not_a_cursor_this_api_returned(client, tenant):
    import base64

    for number in (BEYOND, -BEYOND - 1):
        cursor = base64.urlsafe_b64encode(f"id:{number}".encode()).decode().rstrip("=")
        response = await client.get("/api/v1/optouts", params={"cursor": cursor}, headers=tenant.headers())
        _assert_problem(response, 400, "cursor", "query")


async def test_an_if_match_beyond_int64_names_the_header(client, tenant):
    created = await client.post(
        "/api/v1/flows",
        json={"name": "Edge"},
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    flow = created.json()
    response = await client.put(
        f"/api/v1/flows/{flow['id']}",
        json={"graph": flow["graph"]},
        headers=tenant.headers() | {"If-Match": f'"{BEYOND}"'},
    )
    _assert_problem(response, 400, "If-Match", "header")


async def test_an_import_form_with_ids_beyond_int64_names_the_field_and_stores_nothing(client, tenant):
    from backend.imports.tables import Import

    csv = b"phone,name\n+14155550100,Ana\n"
    response = await client.post(
        "/api/v1/contacts/import",
        data={"group_id": str(BEYOND)},
        files={"file": ("contacts.csv", csv, "text/csv")},
        headers=tenant.headers(),
    )
    _assert_problem(response, 400, "group_id", "body")
    response = await client.post(
        "/api/v1/optouts/import",
        data={"sender_mapping": f'{{"Shop": {BEYOND}}}'},
        files={"file": ("optouts.csv", b"channel,address,sender\nsms,+14155550100,Shop\n", "text/csv")},
        headers=tenant.headers(),
    )
    _assert_problem(response, 400, "sender_mapping.Shop", "body")
    assert await Import.count() == 0
    assert await OptOutEntry.count() == 0


async def test_every_id_query_parameter_below_1_names_itself(client, app, tenant):
    """No row has id 0 or below: a query id there is a mistake, answered as one (the document says 1 …)."""
    checked = set()
    for path, method, operation in _operations(app):
        for parameter in operation.get("parameters", []):
            name = parameter["name"]
            if parameter["in"] != "query" or not _is_integer(parameter.get("schema", {})):
                continue
            if not (name == "id" or name.endswith(("_id", "_ids"))):
                continue
            for value in ("0", "-3"):
                response = await client.request(
                    method, _openapi_path(path), params={name: value}, headers=tenant.headers()
                )
                _assert_problem(response, 400, name, "query")
            checked.add(name)
    assert {"category_id", "group_id", "sender_id", "flow_id"} <= checked


OUT_OF_UTC = "0001-01-01T00:00:01+08:00"  # year 0 in UTC: Python's datetime cannot hold it


async def test_every_time_query_parameter_outside_utc_s_years_names_itself(client, app, tenant):
    """Found by the API fuzzer: such a time reached the query and raised OverflowError (a 500, both engines)."""
    checked = set()
    for path, method, operation in _operations(app):
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            options = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
            if parameter["in"] != "query" or not any(o.get("format") == "date-time" for o in options):
                continue
            name = parameter["name"]
            response = await client.request(
                method, _openapi_path(path), params={name: OUT_OF_UTC}, headers=tenant.headers()
            )
            _assert_problem(response, 400, name, "query")
            checked.add((path, name))
    assert {("/api/v1/contacts", "updated_since"), ("/api/v1/consent-events", "since")} <= checked


async def test_a_body_time_outside_utc_s_years_names_its_field(client, tenant):
    for path, body, field in [
        ("/api/v1/api-keys", {"name": "k", "role": "viewer", "expires_at": OUT_OF_UTC}, "expires_at"),
        (
            "/api/v1/optouts",
            {"channel": "sms", "address": "+351911111111", "valid_until": OUT_OF_UTC},
            "valid_until",
        ),
    ]:
        response = await client.post(path, json=body, headers=tenant.headers())
        _assert_problem(response, 400, field, "body")
