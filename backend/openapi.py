"""Make the OpenAPI document say what the server does (issue 14, item 7), in one pass over it.

Litestar documents a handler's success response and, for handlers with parameters, a "400 Validation
Exception" body of its own shape. The server answers more than that, always with one error body
(:class:`backend.core.errors.ErrorBody`): so every JSON operation gets the error statuses it can answer
with that body. Request bodies are msgspec structs that refuse unknown fields
(``forbid_unknown_fields``); their schemas say so with ``additionalProperties: false``, so a client
generated from the document does not send what the server rejects.

Ids are bounded as :mod:`backend.core.edge` bounds them at run time: every integer path parameter, and
every integer query parameter or schema property that :func:`~backend.core.edge.is_id_name` calls an id,
runs from 1 to 2^63-1; every other integer fits in 64 bits. Without those bounds a generated client or a
fuzzer sends ids the server can only refuse.

``OPTIONS`` answers without credentials on every path (204, the methods in ``Allow``): the API's paths get
the operation here, since Litestar leaves its automatic ``OPTIONS`` handlers out of the document. The public
pages answer HTML, errors included, and say so; a 204 has no body, so it documents none. An operation whose
``format`` query parameter offers ``csv`` answers ``text/csv`` as well as JSON (a campaign's report).

It runs once at start-up (``on_startup``), on the document object that ``/schema`` then serves.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    Schema,
)

from backend.core.edge import MAX_ID, MIN_ID, MIN_INT64, is_id_name

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
METHODS = ("get", "put", "post", "delete", "patch", "options")

PAGE_STATUSES: dict[int, str] = {
    400: "The form or link cannot be used as sent; the page says why",
    403: "The form expired or was opened in another browser; the page links to a fresh one",
    404: "No such form or link",
    429: "Too many attempts; retry after the Retry-After header's seconds",
}
"""What the public pages answer besides their page, as HTML pages themselves (backend/consent/public.py)."""


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
    responses = operation.responses if operation.responses is not None else {}
    for status in ERROR_STATUSES:
        if status in BODY_ONLY and operation.request_body is None:
            continue
        if status in API_ONLY and not path.startswith("/api/"):
            continue
        # Replaces Litestar's own "400 Validation Exception" schema, which is not the body we send.
        responses[str(status)] = _error_response(status)
    operation.responses = responses


def _html() -> dict[str, OpenAPIMediaType]:
    return {"text/html": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))}


def _document_page(operation: Operation, method: str) -> None:
    """A public page answers HTML, for its errors too (its exception handlers render pages)."""
    responses = operation.responses if operation.responses is not None else {}
    if "200" in responses and isinstance(page := responses["200"], OpenAPIResponse):
        page.content = _html()
    for status, description in PAGE_STATUSES.items():
        if status == 403 and method != "post":
            continue
        responses[str(status)] = OpenAPIResponse(description=description, content=_html())
    operation.responses = responses


def _error_response(status: int) -> OpenAPIResponse:
    reference = Reference(f"#/components/schemas/{ERROR_SCHEMA}")
    return OpenAPIResponse(
        description=ERROR_STATUSES[status], content={"application/json": OpenAPIMediaType(schema=reference)}
    )


def _options_operation(path: str, item: PathItem) -> Operation:
    """The ``OPTIONS`` operation of an API path, as Litestar's automatic handler answers it, without auth."""
    siblings = [op for method in METHODS if isinstance(op := getattr(item, method, None), Operation)]
    path_parameters = {
        parameter.name: parameter
        for sibling in siblings
        for parameter in sibling.parameters or []
        if isinstance(parameter, Parameter) and parameter.param_in == "path"
    }
    words = "".join(word.title() for word in re.findall(r"[A-Za-z0-9]+", path))
    return Operation(
        tags=siblings[0].tags if siblings else None,
        summary="The methods this path takes, in the Allow header (no credentials needed)",
        operation_id=f"Options{words}",
        parameters=list(path_parameters.values()) or None,
        responses={"204": OpenAPIResponse(description="The methods, in the Allow header")},
        security=[],
    )


def _document_options(operation: Operation) -> None:
    """``OPTIONS``: 204 with ``Allow`` and no body; the edge's 400 (a NUL) and 404 (an id out of range)."""
    responses = operation.responses if operation.responses is not None else {}
    responses["204"] = OpenAPIResponse(
        description="The methods, in the Allow header",
        headers={
            "Allow": OpenAPIHeader(
                schema=Schema(type=OpenAPIType.STRING),
                description="The methods this path takes, comma-separated",
                required=True,
            )
        },
    )
    for status in (400, 404):
        responses[str(status)] = _error_response(status)
    operation.responses = responses


def _document_csv_format(operation: Operation) -> None:
    """``?format=csv`` (or ``Accept: text/csv``) turns the 200 into a CSV file: document both media types."""
    offers_csv = False
    for parameter in operation.parameters or []:
        if isinstance(parameter, Parameter) and parameter.param_in == "query" and parameter.name == "format":
            offers_csv = isinstance(parameter.schema, Schema) and "csv" in (parameter.schema.enum or [])
    answer = (operation.responses or {}).get("200")
    if offers_csv and isinstance(answer, OpenAPIResponse):
        answer.content = {
            **(answer.content or {}),
            "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
        }


def _no_content(operation: Operation) -> None:
    """A 204 has no body (RFC 9110 15.3.5); Litestar documents a JSON ``null`` one."""
    answer = (operation.responses or {}).get("204")
    if isinstance(answer, OpenAPIResponse):
        answer.content = None


def _is_integer(schema: Schema) -> bool:
    kind = schema.type
    return kind == OpenAPIType.INTEGER or (isinstance(kind, list | tuple) and OpenAPIType.INTEGER in kind)


def _narrow(schema: Schema, low: int, high: int) -> None:
    """Bound an integer schema to ``low`` … ``high``, keeping tighter bounds it already has."""
    schema.minimum = low if schema.minimum is None else max(schema.minimum, low)
    schema.maximum = high if schema.maximum is None else min(schema.maximum, high)


def _bound_integers(schema: Schema | Reference | None, is_id: bool, seen: set[int]) -> None:
    """Bound every integer in ``schema``: ids to 1 … 2^63-1, others to 64 bits (named per property)."""
    if not isinstance(schema, Schema) or id(schema) in seen:
        return
    seen.add(id(schema))  # Litestar may share one Schema object between several places
    if _is_integer(schema):
        _narrow(schema, MIN_ID if is_id else MIN_INT64, MAX_ID)
    alternatives: Iterable[Schema | Reference] = [
        *(schema.one_of or []),
        *(schema.any_of or []),
        *(schema.all_of or []),
        *(schema.prefix_items or []),
    ]
    for alternative in alternatives:
        _bound_integers(alternative, is_id, seen)
    if schema.items is not None:
        _bound_integers(schema.items, is_id, seen)
    for name, child in (schema.properties or {}).items():
        _bound_integers(child, is_id_name(name), seen)
    if isinstance(schema.additional_properties, Schema):
        _bound_integers(schema.additional_properties, False, seen)


def _bound_ids(document: OpenAPI) -> None:
    """Bound the integers of every parameter and component schema as the edge does at run time."""
    seen: set[int] = set()
    for item in (document.paths or {}).values():
        for method in METHODS:
            operation = getattr(item, method, None)
            if not isinstance(operation, Operation):
                continue
            for parameter in operation.parameters or []:
                if isinstance(parameter, Parameter) and parameter.param_in in ("path", "query"):
                    # Every integer in a path is an id (edge: 404 outside the range); in a query, by name.
                    is_id = parameter.param_in == "path" or is_id_name(parameter.name)
                    # A copy: one schema object may serve an id here and a count elsewhere.
                    parameter.schema = copy.deepcopy(parameter.schema)
                    _bound_integers(parameter.schema, is_id, set())
    components = document.components
    if isinstance(components, Components):
        for schema in (components.schemas or {}).values():
            _bound_integers(schema, False, seen)


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
    """Add the error responses, ``OPTIONS``, id bounds and the unknown-property rule to the app's OpenAPI
    document (idempotent)."""
    document: OpenAPI = app.openapi_schema
    components = document.components if isinstance(document.components, Components) else Components()
    components.schemas = {**(components.schemas or {}), **_error_schemas()}
    document.components = components
    for path, item in (document.paths or {}).items():
        if path.startswith("/api/") and item.options is None:
            item.options = _options_operation(path, item)
        for method in METHODS:
            operation = getattr(item, method, None)
            if not isinstance(operation, Operation):
                continue
            if method == "options":
                _document_options(operation)
            elif _is_json_api(path):
                _document_errors(path, operation)
                _document_csv_format(operation)
            elif path != "/health":
                _document_page(operation, method)
            _no_content(operation)
    _bound_ids(document)
    _forbid_unknown_properties(components)
