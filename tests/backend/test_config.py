"""Settings from the environment: defaults, coercion and errors that name the variable."""

from __future__ import annotations

import os
import stat

import pytest

from backend.config import ConfigError, load_settings


def test_defaults_are_the_embedded_setup():
    settings = load_settings({})
    assert settings.database_url == "sqlite:///flowgate.db"
    assert settings.redis_url is None
    assert settings.api_url == "http://127.0.0.1:8000"
    assert settings.is_sqlite


def test_values_are_read_and_coerced():
    settings = load_settings(
        {
            "FLOWGATE_DATABASE_URL": "postgresql://flowgate@db:5432/flowgate",
            "FLOWGATE_REDIS_URL": "redis://cache:6379/2",
            "FLOWGATE_DB_POOL_SIZE": "25",
            "FLOWGATE_LOG_LEVEL": "debug",
            "FLOWGATE_PUBLIC_URL": "https://flowgate.example.com/",
            "UNRELATED": "x",
        }
    )
    assert settings.db_pool_size == 25
    assert not settings.is_sqlite
    assert settings.base_public_url == "https://flowgate.example.com"


def test_the_provider_http_client_is_pyreqwest_unless_switched_back():
    assert load_settings({}).provider_http_client == "pyreqwest"
    assert load_settings({"FLOWGATE_PROVIDER_HTTP_CLIENT": "aiohttp"}).provider_http_client == "aiohttp"


def test_empty_variables_count_as_unset():
    assert load_settings({"FLOWGATE_REDIS_URL": "  "}).redis_url is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FLOWGATE_DATABASE_URL": "mysql://x/y"}, "FLOWGATE_DATABASE_URL: unsupported scheme 'mysql'"),
        ({"FLOWGATE_DATABASE_URL": "sqlite://relative.db"}, "FLOWGATE_DATABASE_URL"),
        ({"FLOWGATE_REDIS_URL": "http://cache"}, "FLOWGATE_REDIS_URL"),
        ({"FLOWGATE_API_URL": "ftp://x"}, "FLOWGATE_API_URL"),
        ({"FLOWGATE_DB_POOL_SIZE": "0"}, "FLOWGATE_DB_POOL_SIZE: Expected `int` >= 1"),
        ({"FLOWGATE_DB_POOL_SIZE": "many"}, "FLOWGATE_DB_POOL_SIZE: Expected `int`"),
        ({"FLOWGATE_LOG_LEVEL": "loud"}, "FLOWGATE_LOG_LEVEL"),
        ({"FLOWGATE_SECRET_KEY": "short"}, "FLOWGATE_SECRET_KEY"),
        ({"FLOWGATE_PROVIDER_HTTP_CLIENT": "curl"}, "FLOWGATE_PROVIDER_HTTP_CLIENT"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(ConfigError) as error:
        load_settings(env)
    assert message in str(error.value)


def test_unknown_flowgate_variables_are_reported(caplog):
    load_settings({"FLOWGATE_DATABSE_URL": "sqlite:///typo.db"})
    assert "FLOWGATE_DATABSE_URL" in caplog.text


def test_generated_secret_is_kept_private_and_stable(tmp_path):
    settings = load_settings({"FLOWGATE_DATA_DIR": str(tmp_path)})
    first = settings.resolved_secret_key()
    assert len(first) >= 32
    assert settings.resolved_secret_key() == first
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600
