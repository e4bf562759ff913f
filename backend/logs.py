"""One log format for every Flowgate process, so `flowgate dev`'s interleaved output stays readable, and
one redaction of secrets for every log line those processes write.

Secrets that reach log lines without anyone logging them on purpose: uvicorn's access log prints the
path with its query string, and its WebSocket log (INFO, on even when the access log is off) prints the
handshake URL, so a live ticket (``?ticket=fgt_…``), an unsubscribe link (``/u/<token>``) or a key
someone pasted into a search box would be written in clear; an exception message or a job's arguments
(arq logs them at INFO in debug) can carry the same. :func:`redact` removes them by their shape.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

REDACTED = "[redacted]"

# Each pattern keeps what helps debugging (the kind of secret, an API key's public lookup id, the parameter
# name) and replaces the secret part. Token shapes: backend.core.security (fgk_/fgs_ <lookup> <secret>),
# backend.workspaces.tickets (fgt_), backend.consent.tokens (/u/<token>), Standard Webhooks (whsec_).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # API keys and session tokens: the 12-hex lookup id is shown in listings anyway, the secret never.
    (re.compile(r"\b(fg[ks]_[0-9a-f]{12}_)[A-Za-z0-9_-]+"), rf"\g<1>{REDACTED}"),
    # Tickets, and any other fg*_ token (a malformed key is often a real key cut short).
    (
        re.compile(r"\b(fg[kst]_)(?![0-9a-f]{12}_\[redacted\]|\[redacted\])[A-Za-z0-9_-]+"),
        rf"\g<1>{REDACTED}",
    ),
    (re.compile(r"\b(whsec_)[A-Za-z0-9+/=_-]+"), rf"\g<1>{REDACTED}"),
    # Secret-carrying query parameters, whatever their value looks like.
    (
        re.compile(
            r"([?&](?:ticket|token|api_key|key|access_token|session|secret|password)=)[^&#\s\"']+", re.I
        ),
        rf"\g<1>{REDACTED}",
    ),
    # The per-contact unsubscribe link: the path segment is the token.
    (re.compile(r"(/u/)[A-Za-z0-9_-]+"), rf"\g<1>{REDACTED}"),
    # An Authorization header value, in whatever a library prints.
    (re.compile(r"\b(bearer\s+)(?!\[redacted\])[^\s'\",;]+", re.I), rf"\g<1>{REDACTED}"),
)


def redact(text: str) -> str:
    """``text`` with every secret of a known shape replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_arg(value: Any) -> Any:
    """A %-format argument with its secrets removed. Numbers stay numbers (``%d`` needs them); other
    objects (URLs, requests, exceptions) become their redacted text only when they held a secret."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float):
        return value
    for render in (str, repr):
        try:
            text = render(value)
        except Exception:
            continue
        cleaned = redact(text)
        if cleaned != text:
            return cleaned
    return value


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Remove secrets from a record's message, arguments, traceback and stack, in place.

    The arguments are cleaned one by one instead of pre-formatting the message, because formatters read
    them: uvicorn's access formatter unpacks ``(client, method, path, version, status)`` from them.
    """
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    else:
        record.msg = _redact_arg(record.msg)
    if isinstance(record.args, Mapping):
        record.args = {key: _redact_arg(value) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(value) for value in record.args)
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # Formatters use a cached exc_text when present, so the traceback is rendered once, cleaned.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install_redaction() -> None:
    """Clean every log record of this process as it is made (idempotent).

    A record factory instead of a handler filter: uvicorn (which NiceGUI configures with its own
    ``dictConfig``) and others attach handlers of their own after we configure logging, and a filter on
    a logger does not see records propagated from its children. The factory sees every record once,
    before any filter, handler or formatter.
    """
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    if getattr(previous, "flowgate_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    factory.flowgate_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str, process: str) -> None:
    install_redaction()
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s {process:<6} %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    # arq logs every job at INFO; keep that for debugging only.
    if level != "debug":
        logging.getLogger("arq.worker").setLevel(logging.WARNING)
    # httpx logs every request at INFO: the dev tree's health polls and the ui's API calls would drown the rest.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Piccolo announces the engine version on every connection pool start.
    logging.getLogger("piccolo").setLevel(logging.WARNING)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
