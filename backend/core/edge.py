"""The edge rules every request passes before a handler sees it: ids, JSON bodies and content types.

Litestar checks the *types* of path, query and body values, but several hostile inputs pass those checks and
then fail deep inside, as a 500: an ``{id:int}`` path segment or an ``int`` field takes any size (SQLite
raises ``OverflowError`` beyond int64, asyncpg a ``DataError``), JSON nested a thousand levels deep raises
``RecursionError`` in the decoder, invalid UTF-8 a ``UnicodeDecodeError``, an empty body leaks a ``KeyError``
(``"body: 'data'"``), and a JSON body sent as ``text/plain`` is accepted. Rather than bound every field and
route by hand (and forget the next one), :func:`guard_request` runs as the application's ``before_request``
hook, after authentication and before the handler's arguments are parsed, and applies one rule per input:

* a path integer outside 1 … 2^63-1 answers 404: no object can have that id;
* a query integer (of the handler or of one of its dependencies, e.g. an export's filters) or any integer in
  a JSON body that does not fit in 64 bits answers 400 naming the field, before the first byte of a streamed
  export is sent; a query id (:func:`is_id_name`) below 1 answers 400 too, since no row has it;
* a query time that cannot be expressed in UTC (``0001-01-01T00:00:00+08:00`` is in year 0 there) answers 400
  naming it, where Python's ``astimezone`` would raise ``OverflowError`` in the query (request bodies: the same
  rule in :class:`backend.core.schemas.Input`);
* a JSON body must be sent as ``application/json`` (or ``application/*+json``), else 415 naming the type; a
  required body that is empty, a body that is not UTF-8 or not JSON, or JSON nested deeper than
  :data:`MAX_JSON_DEPTH` answers 400 saying what is wrong and where.

The body is decoded once here and handed to Litestar through its per-connection cache, so handlers keep their
usual ``data`` argument. A layer that sets its own ``before_request`` would replace this hook: don't, or call
:func:`guard_request` from it (tests/backend/core/test_edge_inputs.py walks the route table to check).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import BodyKwarg, ParameterKwarg
from litestar.types import BeforeRequestHookHandler as BeforeRequestHook
from litestar.typing import FieldDefinition
from litestar.utils.scope.state import ScopeState

from backend.core.errors import FieldProblem, FlowgateError, InvalidInput

MAX_ID = 2**63 - 1
"""The largest id a row can have: PostgreSQL's ``bigint`` and SQLite's ``INTEGER`` are signed 64-bit."""
MIN_INT64 = -(2**63)
MIN_ID = 1
MAX_INT32 = 2**31 - 1
"""The largest counter a PostgreSQL ``integer`` column holds (flow revisions and version numbers): a larger
one in a request cannot match a row, and asyncpg refuses to even send it (a server error, not an answer)."""
"""Ids start at 1 on both engines (PostgreSQL identities and SQLite rowids alike)."""

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects a JSON body may have. Flow graphs, the deepest bodies the API takes,
need about eight levels; the limit stops bodies that would exhaust the stack of the decoder or of later code
that walks stored JSON."""

_JSON_TYPE = "application/json"
_PATH_PARAM = re.compile(r"\{(\w+)")

# Handler arguments Litestar fills from the connection itself, never from the query string.
_RESERVED_KWARGS = frozenset(
    {"data", "request", "socket", "state", "scope", "headers", "cookies", "query", "body"}
)


class UnsupportedMediaType(FlowgateError):
    """The request body is not in the media type the endpoint reads."""

    status_code = 415
    code = "unsupported_media_type"


def check_int64(name: str, value: int, *, source: str) -> int:
    """``value`` unchanged if it fits in a signed 64-bit integer, else :class:`InvalidInput` naming ``name``.

    For integers parsed outside Litestar's arguments (cursors, headers): the database cannot compare with a
    larger one and would fail with a server error instead of telling the client what it sent wrong.
    """
    if not MIN_INT64 <= value <= MAX_ID:
        raise InvalidInput(name, f"{value} is out of range: a number here must fit in 64 bits", source=source)
    return value


def is_id_name(name: str) -> bool:
    """Whether an integer called ``name`` (a query key or body field) holds row ids: ``id``, ``…_id``, ``…_ids``.

    Path integers are ids whatever their name. The OpenAPI document bounds the same names
    (:mod:`backend.openapi`), so the document and this module agree on what an id is.
    """
    return name == "id" or name.endswith(("_id", "_ids"))


@dataclass(frozen=True)
class _HandlerPlan:
    """What the edge must check for one route handler, worked out once from its signature."""

    json_body: bool = False
    """The handler takes a ``data`` argument decoded from JSON."""
    body_required: bool = False
    int_queries: frozenset[str] = field(default_factory=frozenset)
    """Query keys (aliases) that the handler or a dependency reads as integers."""
    int_form_fields: frozenset[str] = field(default_factory=frozenset)
    """Fields of a form body (``multipart/form-data``, urlencoded) that the handler reads as integers."""
    time_queries: frozenset[str] = field(default_factory=frozenset)
    """Query keys that the handler or a dependency reads as datetimes."""


_PLANS: dict[HTTPRouteHandler, _HandlerPlan] = {}
"""Plans by handler (hashed by identity; the key keeps it alive, so an id is never reused for another)."""


def _is_int_annotation(annotation: Any) -> bool:
    """True for ``int``, ``int | None``, ``Annotated[int, …]`` and lists of those (never for ``bool``)."""
    return _is_annotation_of(annotation, int)


def _is_annotation_of(annotation: Any, kind: type) -> bool:
    """True for ``kind``, ``kind | None``, ``Annotated[kind, …]`` and lists of those (never for ``bool``)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_annotation_of(typing.get_args(annotation)[0], kind)
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
        return any(
            _is_annotation_of(arg, kind) for arg in typing.get_args(annotation) if arg is not type(None)
        )
    return isinstance(annotation, type) and issubclass(annotation, kind) and not issubclass(annotation, bool)


def check_utc(name: str, value: datetime, *, source: str) -> datetime:
    """``value`` unchanged if it can be expressed in UTC (the database compares in UTC), else
    :class:`InvalidInput` naming ``name``: ``0001-01-01T00:00:00+08:00`` is in year 0 in UTC, which Python's
    ``datetime`` cannot hold, and converting it raised ``OverflowError`` deep inside a query (a 500)."""
    if value.tzinfo is None:
        return value
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(
            name,
            f"{value.isoformat()} is out of range: in UTC it falls outside the years 1 to 9999",
            source=source,
        ) from None
    return value


def _query_fields(
    parameters: dict[str, FieldDefinition],
    dependencies: dict[str, Provide],
    path_names: set[str],
    seen: set[int],
) -> Iterator[tuple[str, FieldDefinition]]:
    """(query key, field) for every argument of a handler and, recursively, of the dependencies it uses."""
    for name, definition in parameters.items():
        if name in path_names:
            continue
        if name in dependencies:
            provider = dependencies[name]
            if id(provider) not in seen:
                seen.add(id(provider))
                yield from _query_fields(
                    provider.parsed_fn_signature.parameters, dependencies, path_names, seen
                )
            continue
        kwarg = definition.kwarg_definition
        if name in _RESERVED_KWARGS or isinstance(kwarg, BodyKwarg):
            continue
        if isinstance(kwarg, ParameterKwarg):
            if kwarg.header or kwarg.cookie:
                continue
            yield kwarg.query or name, definition
        else:
            yield name, definition


def _plan(handler: HTTPRouteHandler) -> _HandlerPlan:
    plan = _PLANS.get(handler)
    if plan is not None:
        return plan
    parameters = handler.parsed_fn_signature.parameters
    dependencies = handler.resolve_dependencies()
    paths = [getattr(layer, "path", "") for layer in handler.ownership_layers] + list(handler.paths)
    path_names = {name for path in paths for name in _PATH_PARAM.findall(path)}
    queries = list(
        _query_fields({**handler.resolve_layered_parameters(), **parameters}, dependencies, path_names, set())
    )
    int_queries = frozenset(key for key, definition in queries if _is_int_annotation(definition.annotation))
    time_queries = frozenset(
        key for key, definition in queries if _is_annotation_of(definition.annotation, datetime)
    )
    json_body = body_required = False
    int_form_fields: frozenset[str] = frozenset()
    if (data := parameters.get("data")) is not None:
        kwarg = data.kwarg_definition
        media_type = kwarg.media_type if isinstance(kwarg, BodyKwarg) else RequestEncodingType.JSON
        json_body = media_type == RequestEncodingType.JSON and handler.resolve_data_dto() is None
        body_required = not (data.is_optional or data.has_default)
        if media_type in (RequestEncodingType.MULTI_PART, RequestEncodingType.URL_ENCODED):
            form_type = data.annotation
            hints = typing.get_type_hints(form_type) if isinstance(form_type, type) else {}
            int_form_fields = frozenset(name for name, hint in hints.items() if _is_int_annotation(hint))
    plan = _PLANS[handler] = _HandlerPlan(
        json_body, body_required, int_queries, int_form_fields, time_queries
    )
    return plan


def _check_path(request: Request[Any, Any, Any]) -> None:
    for name, value in request.path_params.items():
        if isinstance(value, int) and not 1 <= value <= MAX_ID:
            raise NotFoundException(f"{name} {value} does not exist: ids run from 1 to {MAX_ID}")


def _check_numbers(values: Iterator[tuple[str, Any]], source: str) -> None:
    """Integers (sent as text) of query parameters or form fields must fit in 64 bits."""
    for key, raw in values:
        if not isinstance(raw, str):
            continue  # an uploaded file
        try:
            value = int(raw.strip())
        except ValueError:
            continue  # not a number at all: Litestar's own validation names it
        check_int64(key, value, source=source)


def _check_query(request: Request[Any, Any, Any], keys: frozenset[str]) -> None:
    _check_numbers(((key, raw) for key in keys for raw in request.query_params.getall(key, [])), "query")
    for key in keys:
        if not is_id_name(key):
            continue
        for raw in request.query_params.getall(key, []):
            try:
                value = int(raw.strip())
            except ValueError:
                continue  # not a number at all: Litestar's own validation names it
            if value < MIN_ID:
                raise InvalidInput(
                    key, f"{value} is not an id: ids run from {MIN_ID} to {MAX_ID}", source="query"
                )


def _check_times(request: Request[Any, Any, Any], keys: frozenset[str]) -> None:
    for key in keys:
        for raw in request.query_params.getall(key, []):
            try:
                value = datetime.fromisoformat(raw.strip())
            except ValueError:
                continue  # not a time at all: Litestar's own validation names it
            check_utc(key, value, source="query")


async def _check_form(request: Request[Any, Any, Any], fields: frozenset[str]) -> None:
    # Parsed once: Litestar's form extractor reads the same cached form.
    form = await request.form()
    _check_numbers(((key, raw) for key in fields for raw in form.getall(key, [])), "body")


def _json_media_type(request: Request[Any, Any, Any]) -> str | None:
    """The body's media type if it is JSON, else None."""
    media_type = request.content_type[0].strip().lower()
    if media_type == _JSON_TYPE or (media_type.startswith("application/") and media_type.endswith("+json")):
        return media_type
    return None


def _undecodable(body: bytes, error: Exception) -> InvalidInput:
    """A 400 that says what is wrong with a body msgspec could not decode, and where."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as bad:
        return InvalidInput(
            "body",
            f"is not valid UTF-8: byte 0x{body[bad.start]:02x} at offset {bad.start} ({bad.reason}); "
            "send JSON encoded as UTF-8",
        )
    return InvalidInput("body", f"is not valid JSON: {error}")


def _walk(value: Any, path: str, depth: int) -> None:
    """Refuse JSON deeper than :data:`MAX_JSON_DEPTH` and integers beyond 64 bits, naming where they are."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        check_int64(path or "body", value, source="body")
    elif isinstance(value, dict | list):
        if depth >= MAX_JSON_DEPTH:
            raise InvalidInput(
                path or "body", f"JSON is nested deeper than {MAX_JSON_DEPTH} levels of arrays and objects"
            )
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            child = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)
            _walk(item, child, depth + 1)


async def _check_json_body(request: Request[Any, Any, Any], required: bool) -> None:
    body = await request.body()
    if not body.strip():
        if required:
            raise InvalidInput(
                "body", "is empty: this request needs a JSON object (Content-Type: application/json)"
            )
        return
    if _json_media_type(request) is None:
        sent = request.headers.get("content-type") or "no Content-Type"
        raise UnsupportedMediaType(
            f"Content-Type: send the body as {_JSON_TYPE} (got {sent})",
            [FieldProblem("Content-Type", f"must be {_JSON_TYPE}, got {sent}", "header")],
        )
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        raise InvalidInput(
            "body", f"JSON is nested deeper than {MAX_JSON_DEPTH} levels of arrays and objects"
        ) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise _undecodable(body, error) from None
    _walk(value, "", 0)
    # Litestar's Request.json() reads this cache first: the body is decoded once, with these checks.
    ScopeState.from_scope(request.scope).json = value


async def guard_request(request: Request[Any, Any, Any]) -> None:
    """The application's ``before_request`` hook: apply the edge rules of this module to one request."""
    handler = request.route_handler
    if not isinstance(handler, HTTPRouteHandler):
        return
    _check_path(request)
    plan = _plan(handler)
    if plan.int_queries:
        _check_query(request, plan.int_queries)
    if plan.time_queries:
        _check_times(request, plan.time_queries)
    if plan.json_body:
        await _check_json_body(request, plan.body_required)
    elif plan.int_form_fields:
        await _check_form(request, plan.int_form_fields)


def chain_hooks(*hooks: Callable[[Request[Any, Any, Any]], Awaitable[Any]]) -> BeforeRequestHook:
    """One ``before_request`` hook that runs ``hooks`` in order and stops at the first that answers.

    Litestar keeps a single ``before_request`` per layer (the innermost wins), so the app's edge rules from
    several modules are chained here and installed once on the application.
    """

    async def run(request: Request[Any, Any, Any]) -> Any:
        for hook in hooks:
            answer = await hook(request)
            if answer is not None:
                return answer
        return None

    return run
