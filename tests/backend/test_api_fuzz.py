"""A fuzzer over the whole OpenAPI document: no server error, no answer the document contradicts (issue 14).

Schemathesis generates requests for every operation of the app's own ``/schema/openapi.json`` (valid ones
and, separately, ones that break the schema) and checks each answer: never a 5xx, and status, content type
and body as documented. It runs on whichever engines this pass tests (SQLite and the embedded Redis, or
PostgreSQL and Redis), against the real app with a real API key, so requests reach the handlers and not only
the authentication.

The run is bounded and repeatable: a few examples per operation and mode, Hypothesis derandomized (a fixed
seed) with no example database and no shrinking, so a failure shows the same request on every run.

Why not Schemathesis's own ASGI transport: it drives the app from a private event loop in a thread, while
the app's database pool and Redis connections belong to the test session's loop. Instead Hypothesis runs in
a worker thread and each request is handed to the session loop, where the shared ``client`` sends it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.workspaces import service
from backend.workspaces.auth import Principal
from backend.workspaces.roles import Role
from tests.backend.campaigns.helpers import ONE_MESSAGE, campaign_body, published_flow
from tests.backend.senders.helpers import BODIES
from tests.conftest import Tenant

EXAMPLES_PER_MODE = int(os.environ.get("FLOWGATE_FUZZ_EXAMPLES", "10"))
"""Generated requests per operation and mode (valid / schema-breaking / valid on existing objects): enough
to cross every field's type and bounds a few times, few enough that the ~140 operations (OPTIONS included)
run in under two minutes on one core. Set FLOWGATE_FUZZ_EXAMPLES higher for a deeper run by hand."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_MODE,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


def _send(
    loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient, case: Case, headers: dict[str, str]
) -> httpx.Response:
    """Send ``case`` as Schemathesis would put it on the wire, through the session loop's client."""
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
    kwargs.pop("timeout", None)
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        cookies=kwargs.get("cookies"),
        json=kwargs.get("json"),
        data=kwargs.get("data"),
        files=kwargs.get("files"),
    ).prepare()
    request = client.request(
        prepared.method or "GET",
        prepared.url or "",
        headers=dict(prepared.headers),
        content=prepared.body,
    )
    return asyncio.run_coroutine_threadsafe(request, loop).result(timeout=60)


def _path_names(operation: APIOperation) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", operation.path))


def _fuzz_operation(
    operation: APIOperation,
    mode: GenerationMode,
    send: Callable[[Case], httpx.Response],
    path_parameters: dict[str, Any] | None = None,
) -> str | None:
    """Run one operation's examples in one mode; the failure report, or None."""
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @FUZZ_SETTINGS
    @given(case=strategy)
    def run(case: Case) -> None:
        response = send(case)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing to break: no parameter or body that a request could get wrong
    # Schemathesis raises its failures as a BaseExceptionGroup; report each operation's, then go on.
    except (Exception, BaseExceptionGroup) as failure:
        pinned = " with existing ids" if path_parameters else ""
        return f"{operation.label} ({mode.value}{pinned}):\n{failure}"
    return None


def _order(operation: APIOperation) -> tuple[bool, int, str]:
    """Deletions last, so the objects of the workspace stay there for the other operations to reach, and
    a group's members before the group."""
    deletes = operation.method.upper() == "DELETE"
    return (deletes, -operation.path.count("/") if deletes else 0, operation.label)


def _fuzz_all(
    schema: BaseSchema, send: Callable[[Case], httpx.Response], existing: dict[str, Any]
) -> list[str]:
    failures: list[str] = []
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    for operation in operations:
        runs: list[tuple[GenerationMode, dict[str, Any] | None]] = [
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, None),
        ]
        # Random ids find nothing: once more with the path naming objects that exist, to reach the handlers.
        pinned = {name: existing[name] for name in _path_names(operation) if name in existing}
        if pinned:
            runs.append((GenerationMode.POSITIVE, pinned))
        for mode, path_parameters in runs:
            failure = _fuzz_operation(operation, mode, send, path_parameters)
            if failure is not None:
                failures.append(failure)
    return failures


async def _created(client: httpx.AsyncClient, tenant: Tenant, path: str, body: dict[str, Any]) -> dict:
    response = await client.post(path, json=body, headers=tenant.headers())
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


async def _existing_objects(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    """One object of each kind in the workspace, by the path parameter that names it."""
    flow = await published_flow(client, tenant, ONE_MESSAGE)
    sender = await _created(client, tenant, "/api/v1/senders", BODIES["sandbox"])
    group = await _created(client, tenant, "/api/v1/groups", {"name": "Fuzzed"})
    contact = await _created(client, tenant, "/api/v1/contacts", {"phone": "+351911111111", "name": "Ann"})
    await client.post(
        f"/api/v1/groups/{group['id']}/members",
        json={"contact_ids": [contact["id"]]},
        headers=tenant.headers(),
    )
    category = await _created(client, tenant, "/api/v1/marketing-categories", {"name": "Offers"})
    entry = await _created(client, tenant, "/api/v1/optouts", {"channel": "sms", "address": "+351922222222"})
    webhook = await _created(client, tenant, "/api/v1/webhooks", {"url": "https://93.184.215.14/hooks"})
    campaign = await _created(
        client, tenant, "/api/v1/campaigns", campaign_body(flow["id"], group["id"], sender["id"])
    )
    message = await _created(
        client,
        tenant,
        "/api/v1/messages",
        {"sender_id": sender["id"], "to": "+351911111111", "kind": "transactional", "text": "Hi"},
    )
    user = await _created(
        client,
        tenant,
        "/api/v1/users",
        {"email": "viewer@example.com", "password": "correct horse battery", "role": "viewer"},
    )
    key = await _created(client, tenant, "/api/v1/api-keys", {"name": "spare", "role": "viewer"})
    return {
        "flow_id": flow["id"],
        "number": 1,
        "sender_id": sender["id"],
        "group_id": group["id"],
        "contact_id": contact["id"],
        "category_id": category["id"],
        "entry_id": entry["id"],
        "webhook_id": webhook["id"],
        "campaign_id": campaign["id"],
        "message_id": message["id"],
        "user_id": user["id"],
        "key_id": key["id"],
    }


MAY_REVOKE_THE_CALLER = frozenset(
    {"POST /api/v1/auth/logout", "DELETE /api/v1/api-keys/{key_id}", "DELETE /api/v1/users/{user_id}"}
)
"""Operations that may revoke the key that calls them (a small generated id is the admin key's own)."""


async def _keep_an_admin_key(client: httpx.AsyncClient, tenant: Tenant, principal: Principal) -> None:
    """After a request that may have revoked the admin key, make a new one, or every later request is a 401."""
    if (await client.get("/api/v1/auth/me", headers=tenant.headers())).status_code == 401:
        # A key of no user: the admin's own user may be the one that was deleted.
        keeper = dataclasses.replace(principal, user_id=None)
        token, _ = await service.create_api_key(keeper, "fuzz admin", Role.admin, None, datetime.now(UTC))
        tenant.keys["admin"] = token


async def test_the_api_answers_every_generated_request_as_documented(client, tenant):
    document = (await client.get("/schema/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    existing = await _existing_objects(client, tenant)
    loop = asyncio.get_running_loop()
    statuses: dict[str, Counter[int]] = defaultdict(Counter)

    found = await service.authenticate(tenant.keys["admin"], datetime.now(UTC))
    assert found is not None
    admin = found[0]

    def send(case: Case) -> httpx.Response:
        response = _send(loop, client, case, tenant.headers())
        if case.operation.label in MAY_REVOKE_THE_CALLER:
            asyncio.run_coroutine_threadsafe(_keep_an_admin_key(client, tenant, admin), loop).result()
        statuses[case.operation.label][response.status_code] += 1
        return response

    failures = await asyncio.to_thread(_fuzz_all, schema, send, existing)
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)
    # The fuzzer got past authentication and validation: most operations answered a success at least once.
    reached = [label for label, seen in statuses.items() if any(200 <= status < 300 for status in seen)]
    assert len(reached) > len(statuses) * 2 // 3, dict(statuses)
