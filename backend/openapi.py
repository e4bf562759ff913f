"""Make the OpenAPI document say what the server does (issue 14, item 7), in one pass over it.

Litestar documents a handler's success response and, for handlers with parameters, a "400 Validation
Exception" body of its own shape. The server answers more than that, always with one error body
(:class:`backend.core.errors.ErrorBody`): so every JSON operation gets the error statuses it can answer
with that body. Request bodies are msgspec structs that refuse unknown fields
(``forbid_unknown_fields``); their schemas say so with ``additionalProperties: false``, so a client
generated from the document does not send what the server rejects.

It runs once at start-up (``on_startup``), on the document object that ``/schema`` then serves.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

ERROR_SCHEMA = "ErrorBody"
FIELD_PROBLEM_SCHEMA = "FieldProblem"

ERROR_STATUSES: dict[int, str] = {
    400: "The request is malformed or a value is invalid; `errors` names each field",
    401: "Missing, unknown or expired credentials",
    403: "The credentials' role may not do this",
    404: "No such resource in this workspace (another workspace's looks the same)",
    409: "The change conflicts with the current state (a duplicate, a stale If-Match, a state that forbids it)",
    413: "The request body is too large",
    415: "The body's content type is not the one this operation takes",
    422: "The request is well-formed but cannot be processed as it stands",
    429: "Too many requests; retry after the Retry-After header's seconds",
}
BODY_ONLY = frozenset({413, 415})
"""Statuses only an operation with a request body can answer."""
API_ONLY = frozenset({403})
"""Roles exist for API credentials only; provider webhooks answer 401 for a bad signature, never 403."""


def _error_schemas() -> dict[str, Schema]:
    string, integer = Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.INTEGER)
    problem = Schema(
        type=OpenAPIType.OBJECT,
        properties={
            "field": string,
            "message": string,
            "source": Schema(type=OpenAPIType.STRING, description="body, query, path, header or a CSV row"),
            "node_id": Schema(type=OpenAPIType.STRING, description="For flow graphs: the node at fault"),
            "code": Schema(type=OpenAPIType.STRING, description="A stable code, when the problem has one"),
        },
        required=["field", "message"],
    )
    body = Schema(
        type=OpenAPIType.OBJECT,
        properties={
            "status_code": integer,
            "error": Schema(type=OpenAPIType.STRING, description="A stable code for programs"),
            "detail": Schema(type=OpenAPIType.STRING, description="A sentence for people, naming the field"),
            "errors": Schema(
                type=OpenAPIType.ARRAY, items=Reference(f"#/components/schemas/{FIELD_PROBLEM_SCHEMA}")
            ),
        },
        required=["status_code", "error", "detail", "errors"],
        description="The one error body of every 4xx and 5xx answer",
    )
    return {ERROR_SCHEMA: body, FIELD_PROBLEM_SCHEMA: problem}


def _is_json_api(path: str) -> bool:
    """Operations that answer errors as JSON: the API and the provider webhooks (public pages answer HTML)."""
    return path.startswith(("/api/", "/webhooks/"))


def _document_errors(path: str, operation: Operation) -> None:
    reference = Reference(f"#/components/schemas/{ERROR_SCHEMA}")
    responses = operation.responses if operation.responses is not None else {}
    for status, description in ERROR_STATUSES.items():
        if status in BODY_ONLY and operation.request_body is None:
            continue
        if status in API_ONLY and not path.startswith("/api/"):
            continue
        # Replaces Litestar's own "400 Validation Exception" schema, which is not the body we send.
        responses[str(status)] = OpenAPIResponse(
            description=description, content={"application/json": OpenAPIMediaType(schema=reference)}
        )
    operation.responses = responses


def _strict_structs() -> dict[str, list[type[msgspec.Struct]]]:
    """Flowgate's msgspec structs by class name (the name Litestar gives their schemas)."""
    found: dict[str, list[type[msgspec.Struct]]] = {}
    pending: list[type] = [msgspec.Struct]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith(("backend.", "flows.")):
            found.setdefault(cls.__name__, []).append(cls)
    return found


def _forbid_unknown_properties(components: Components) -> None:
    structs = _strict_structs()
    for name, schema in (components.schemas or {}).items():
        classes = structs.get(name, [])
        # Only a name that means one class: a shared name would not say which config holds.
        if (
            len(classes) == 1
            and classes[0].__struct_config__.forbid_unknown_fields
            and isinstance(schema, Schema)
        ):
            schema.additional_properties = False


def complete_openapi(app: Litestar) -> None:
    """Add the error responses and the unknown-property rule to the app's OpenAPI document (idempotent)."""
    document: OpenAPI = app.openapi_schema
    components = document.components if isinstance(document.components, Components) else Components()
    components.schemas = {**(components.schemas or {}), **_error_schemas()}
    document.components = components
    for path, item in (document.paths or {}).items():
        if not _is_json_api(path):
            continue
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if isinstance(operation, Operation):
                _document_errors(path, operation)
    _forbid_unknown_properties(components)
