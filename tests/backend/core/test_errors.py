"""Every 4xx, whoever raises it, has the one documented shape."""

from __future__ import annotations

SHAPE = {"status_code", "error", "detail", "errors"}


async def test_unknown_path_is_a_404_in_the_shape(client, tenant):
    response = await client.get("/api/v1/nothing-here", headers=tenant.headers())
    assert response.status_code == 404
    assert set(response.json()) == SHAPE
    assert response.json()["error"] == "not_found"


async def test_wrong_method_is_a_405_in_the_shape(client, tenant):
    response = await client.put("/api/v1/settings", json={}, headers=tenant.headers())
    assert response.status_code == 405
    assert set(response.json()) == SHAPE


async def test_wrong_path_parameter_type_names_it(client, tenant):
    response = await client.get("/api/v1/users/abc", headers=tenant.headers())
    assert response.status_code in (400, 404)
    assert set(response.json()) == SHAPE


async def test_a_body_with_bad_fields_names_one_of_them_and_its_source(client, tenant):
    response = await client.post(
        "/api/v1/users",
        json={"email": "x@example.com", "password": "p", "role": "owner"},
        headers=tenant.headers(),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["errors"], body
    assert body["errors"][0]["field"] in {"password", "role"}
    assert body["errors"][0]["source"] == "body"


async def test_a_missing_required_field_is_named(client, tenant):
    response = await client.post("/api/v1/api-keys", json={"role": "viewer"}, headers=tenant.headers())
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "name"
    assert "name" in response.json()["detail"]


async def test_a_missing_query_parameter_is_named_with_its_source(client, tenant):
    response = await client.get(
        "/api/v1/optouts/check", params={"channel": "whatsapp"}, headers=tenant.headers()
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "address", "message": "is required", "source": "query"}]
    assert response.json()["detail"] == "address: is required"


async def test_a_conflict_about_one_field_names_it_in_errors_too(client, tenant):
    first = await client.post("/api/v1/groups", json={"name": "Newsletter"}, headers=tenant.headers())
    assert first.status_code == 201
    again = await client.post("/api/v1/groups", json={"name": "Newsletter"}, headers=tenant.headers())
    assert again.status_code == 409
    assert again.json()["errors"] == [
        {"field": "name", "message": "another group is already called 'Newsletter'", "source": "body"}
    ]
