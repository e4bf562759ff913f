"""One JSON error shape for every 4xx and 5xx, and the exceptions services raise to produce it.

Body: ``{"status_code", "error", "detail", "errors": [{"field", "message", "source"}]}``. ``error`` is a
stable code for programs, ``detail`` a sentence for people that names the offending field when there
is one, ``errors`` lists every field problem. Services raise :class:`InvalidInput`, :class:`NotFound`
or :class:`Conflict`; Litestar's own validation, auth and routing errors are mapped to the same shape.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger(__name__)

# text: core/text.py; time: core/schemas.py
_NAMED_FIELD = re.compile(r"(?:unknown|missing required|text|time) field `([^`]+)`")
_MISSING_PARAMETER = re.compile(r"Missing required (query|header|cookie|path) parameter '([^']+)'")
_LEADING_FIELD = re.compile(r"([a-z_][a-z0-9_]*(?:[.\[][a-z0-9_\]]+)*): (.+)", re.DOTALL)
"""A service's sentence that starts with the field it is about ("name: another group is already …")."""


class FieldProblem(msgspec.Struct, omit_defaults=True):
    field: str
    message: str
    source: str | None = None
    node_id: str | None = None
    """For problems inside a flow graph: the node at fault."""
    code: str | None = None
    """A stable code when the problem has one (flow validation codes)."""


class ErrorBody(msgspec.Struct):
    status_code: int
    error: str
    detail: str
    errors: list[FieldProblem] = []


class FlowgateError(Exception):
    """Base for errors a service raises on purpose; the API turns them into an :class:`ErrorBody`."""

    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str, problems: list[FieldProblem] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems or []


class InvalidInput(FlowgateError):
    """One or more fields hold values the request may not have."""

    status_code = 400
    code = "validation_error"

    def __init__(self, field: str, message: str, *, source: str = "body") -> None:
        super().__init__(f"{field}: {message}", [FieldProblem(field, message, source)])

    @classmethod
    def many(cls, problems: list[FieldProblem]) -> InvalidInput:
        error = cls(problems[0].field, problems[0].message, source=problems[0].source or "body")
        error.problems = problems
        error.detail = "; ".join(f"{p.field}: {p.message}" for p in problems)
        return error


class NotFound(FlowgateError):
    """Missing, or owned by another workspace: the two are indistinguishable on purpose."""

    status_code = 404
    code = "not_found"

    def __init__(self, what: str, identifier: object | None = None) -> None:
        suffix = f" {identifier}" if identifier is not None else ""
        super().__init__(f"{what}{suffix} not found in this workspace")


class Conflict(FlowgateError):
    """The object's current state forbids the action (e.g. a stale draft, a running campaign)."""

    status_code = 409
    code = "conflict"


class Unprocessable(FlowgateError):
    status_code = 422
    code = "unprocessable"


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    503: "unavailable",
}


def _respond(body: ErrorBody, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        content=msgspec.to_builtins(body),
        status_code=body.status_code,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _validation_problems(extra: Any) -> list[FieldProblem]:
    items = extra if isinstance(extra, list) else [extra] if isinstance(extra, dict) else []
    problems = []
    for item in items:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        field = str(item.get("key") or "body")
        if field == "data":
            field = "body"
        # msgspec names an unknown or missing key in its message, not in the path.
        if (named := _NAMED_FIELD.search(message)) is not None:
            field = f"{field}.{named[1]}" if field != "body" else named[1]
        problems.append(FieldProblem(field, message, item.get("source")))
    return problems


def handle_validation_exception(_: Request, exc: ValidationException) -> Response[Any]:
    problems = _validation_problems(exc.extra)
    if not problems and (missing := _MISSING_PARAMETER.search(exc.detail or "")) is not None:
        problems = [FieldProblem(missing[2], "is required", missing[1])]
    detail = "; ".join(f"{p.field}: {p.message}" for p in problems) if problems else exc.detail
    return _respond(ErrorBody(400, "validation_error", detail, problems))


def handle_http_exception(_: Request, exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= 500:
        log.error("server error: %s", exc.detail)
        return _respond(ErrorBody(status, "internal_error", "Internal server error"))
    headers = dict(exc.headers or {})
    if status == 429 and "Retry-After" not in headers:
        # Litestar's rate limiter sends the IETF RateLimit-* headers; clients and people know Retry-After.
        reset = next((value for key, value in headers.items() if key.lower() == "ratelimit-reset"), None)
        if reset is not None:
            headers["Retry-After"] = str(reset)
    return _respond(ErrorBody(status, _CODES.get(status, "error"), exc.detail), headers or None)


def handle_flowgate_error(_: Request, exc: FlowgateError) -> Response[Any]:
    problems = exc.problems
    if not problems and (named := _LEADING_FIELD.fullmatch(exc.detail)) is not None:
        problems = [FieldProblem(named[1], named[2], "body")]  # a 409 about one field names it too
    return _respond(ErrorBody(exc.status_code, exc.code, exc.detail, problems))


def handle_unexpected(request: Request, exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(
        ErrorBody(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Internal server error; see the api log")
    )


EXCEPTION_HANDLERS = {
    ValidationException: handle_validation_exception,
    HTTPException: handle_http_exception,
    FlowgateError: handle_flowgate_error,
    Exception: handle_unexpected,
}
