"""/health: no auth, reports the database and Redis, and answers 503 when a dependency is down."""

from __future__ import annotations


async def test_health_is_green_without_auth(client):
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True


async def test_health_is_503_when_redis_is_unreachable(settings, migrated):
    """A second app pointed at a closed Redis port: the api starts, but says it is not ready."""
    import httpx
    import msgspec

    from backend.app import create_app
    from tests.conftest import free_port

    broken = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    app = create_app(broken)
    app.state.queue = _closed_queue(broken.redis_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
        response = await http.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is False
    assert body["redis"]["error"]


def _closed_queue(url: str):
    from arq import ArqRedis

    return ArqRedis.from_url(url, socket_connect_timeout=0.5)


async def test_openapi_schema_describes_the_api(client):
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    for path in ("/health", "/api/v1/settings", "/api/v1/api-keys", "/api/v1/auth/login", "/api/v1/users"):
        assert path in schema["paths"], path
    assert "bearer" in schema["components"]["securitySchemes"]
    settings_patch = schema["paths"]["/api/v1/settings"]["patch"]
    assert "requestBody" in settings_patch
