"""The `flowgate` command as an operator runs it: real processes, real database, real Redis."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from tests.conftest import flowgate_command, free_port, new_database_url, subprocess_env

pytestmark = pytest.mark.slow


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        flowgate_command(*args), env=subprocess_env(**env), capture_output=True, text=True, timeout=120
    )


def test_migrate_twice_on_a_fresh_database_is_idempotent():
    url = new_database_url()
    first = _run("migrate", FLOWGATE_DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert "applied" in first.stdout and "workspaces:" in first.stdout

    second = _run("migrate", FLOWGATE_DATABASE_URL=url)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout


def test_workspace_create_refuses_an_unmigrated_database():
    result = _run(
        "workspace", "create", "Acme", "--admin-email", "a@example.com", "--admin-password", "password1",
        FLOWGATE_DATABASE_URL=new_database_url(),
    )  # fmt: skip
    assert result.returncode != 0
    assert "flowgate migrate" in result.stderr


def test_workspace_create_prints_a_key_that_opens_settings(live_api, migrated):
    result = _run(
        "workspace", "create", "Initech", "--admin-email", "Bill@Initech.example", "--admin-password", "tps-reports",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"workspace_id", "api_key"}

    ok = httpx.get(f"{live_api}/api/v1/settings", headers={"Authorization": f"Bearer {created['api_key']}"})
    assert ok.status_code == 200
    assert ok.json()["marketing_unsubscription_days"] == 30

    wrong = httpx.get(
        f"{live_api}/api/v1/settings", headers={"Authorization": f"Bearer {created['api_key']}x"}
    )
    assert wrong.status_code == 401

    login = httpx.post(
        f"{live_api}/api/v1/auth/login", json={"email": "bill@initech.example", "password": "tps-reports"}
    )
    assert login.status_code == 200
    assert login.json()["user"]["role"] == "admin"


def test_workspace_create_errors_name_the_option(migrated):
    result = _run("workspace", "create", "Acme", "--admin-email", "nope", "--admin-password", "password1")
    assert result.returncode == 1
    assert "admin_email" in result.stderr

    result = _run(
        "workspace", "create", "Acme", "--admin-email", "a@example.com", "--admin-password", "short"
    )
    assert result.returncode == 1
    assert "admin_password" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("FLOWGATE_DATABASE_URL", "mysql://localhost/flowgate", "FLOWGATE_DATABASE_URL"),
        ("FLOWGATE_REDIS_URL", "memcached://localhost", "FLOWGATE_REDIS_URL"),
        ("FLOWGATE_DB_POOL_SIZE", "lots", "FLOWGATE_DB_POOL_SIZE"),
        ("FLOWGATE_SECRET_KEY", "too-short", "FLOWGATE_SECRET_KEY"),
    ],
)
def test_bad_configuration_names_the_variable_and_exits_2(variable, value, fragment):
    result = _run("migrate", **{variable: value})
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_that_cannot_be_opened_is_one_line_naming_the_variable_and_exits_2():
    """No server listening where FLOWGATE_DATABASE_URL points: a configuration problem, not a crash."""
    result = _run("migrate", FLOWGATE_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/flowgate")
    assert result.returncode == 2, result.stderr
    assert "Error: FLOWGATE_DATABASE_URL: the database cannot be opened" in result.stderr
    assert "Traceback" not in result.stderr
