"""No API key, session token, live ticket or unsubscribe token in any log line (issue 14, item 10).

A real `flowgate api` process at log level debug (access log on) gets requests that carry each kind of
secret where integrators and browsers put them: the Authorization header, a WebSocket ticket in the URL,
an unsubscribe link's path, a key pasted into a search box or a URL by mistake. Its whole output is then
searched for the secrets. The worker and ui processes share the redaction through ``configure_logging``;
the ui's uvicorn configures its own handlers (as NiceGUI does), which the last test reproduces.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from backend.logs import configure_logging, redact
from tests.backend.campaigns.helpers import create_campaign, group_of, published_flow, sandbox_sender
from tests.conftest import flowgate_command, free_port, subprocess_env, wait_for_http


@pytest.fixture
def logged_api(redis_url: str, migrated, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A `flowgate api` at debug level whose stdout and stderr go to one file; yields (url, log file)."""
    log_file = tmp_path / "api.log"
    port = free_port()
    with log_file.open("wb") as sink:
        process = subprocess.Popen(
            flowgate_command("api", "--port", str(port)),
            env=subprocess_env(FLOWGATE_REDIS_URL=redis_url, FLOWGATE_LOG_LEVEL="debug"),
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(f"{url}/health", process=process)
            yield url, log_file
        finally:
            process.terminate()
            process.wait(10)


async def _refused_socket(url: str) -> None:
    with pytest.raises((websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosedError)):
        async with websockets.connect(url) as socket:
            await socket.recv()


@pytest.mark.slow
async def test_no_secret_of_any_kind_reaches_the_api_log(client, tenant, logged_api):
    from backend.consent.tokens import make_unsubscribe_token

    url, log_file = logged_api
    ws_base = url.replace("http://", "ws://")
    flow = await published_flow(client, tenant)
    sender = await sandbox_sender(client, tenant)
    group = await group_of(tenant.id, 2)
    campaign = await create_campaign(client, tenant, flow["id"], group["id"], sender["id"])
    api_key = tenant.keys["viewer"]
    unsubscribe_token = make_unsubscribe_token(tenant.id, "sms", "+351910000001")

    async with httpx.AsyncClient(base_url=url) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": tenant.admin_email, "password": tenant.admin_password}
        )
        assert login.status_code in (200, 201), login.text
        session_token = login.json()["token"]
        for token in (api_key, session_token):
            listed = await http.get("/api/v1/campaigns", headers={"Authorization": f"Bearer {token}"})
            assert listed.status_code == 200, listed.text
        # A key pasted where it does not belong still reaches the access log through the query string.
        pasted = await http.get(
            "/api/v1/contacts", params={"search": api_key}, headers={"Authorization": f"Bearer {api_key}"}
        )
        assert pasted.status_code == 200, pasted.text
        wrong = await http.get("/api/v1/campaigns", headers={"Authorization": f"Bearer {api_key}x"})
        assert wrong.status_code == 401
        issued = await http.post(
            f"/api/v1/campaigns/{campaign['id']}/live-tickets",
            headers={"Authorization": f"Bearer {session_token}"},
        )
        assert issued.status_code == 201, issued.text
        ticket = issued.json()["ticket"]
        link = await http.get(f"/u/{unsubscribe_token}")
        assert link.status_code == 200, link.text

    # uvicorn logs every WebSocket handshake's URL at INFO, query string included.
    async with websockets.connect(ws_base + issued.json()["url"]) as socket:
        assert await socket.recv()
    await _refused_socket(ws_base + f"/api/v1/ws/campaigns/{campaign['id']}?ticket={ticket}")  # used up
    await _refused_socket(ws_base + f"/api/v1/ws/campaigns/{campaign['id']}?token={session_token}")

    await asyncio.sleep(0.5)  # let the process flush its last lines
    log = log_file.read_text()
    assert "/u/[redacted]" in log  # the requests were logged: the test searched real access lines
    assert "ticket=[redacted]" in log
    for secret in (api_key, session_token, ticket, unsubscribe_token):
        lines = [line for line in log.splitlines() if secret in line]
        assert not lines, f"secret in the log: {lines[:3]}"


def test_processes_that_configure_uvicorn_themselves_are_redacted_too(capsys):
    """The ui (NiceGUI) and a worker: uvicorn's own dictConfig attaches handlers after ours, and arq logs
    job arguments; the record factory cleans their records all the same."""
    import uvicorn.config

    key = "fgk_0123456789ab_" + "S" * 43
    session = "fgs_ba9876543210_" + "T" * 43
    try:
        configure_logging("debug", "ui")
        logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
        access = logging.getLogger("uvicorn.access")
        access.setLevel(logging.INFO)
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/u/abcDEF123?k={key}", "1.1", 200)
        logging.getLogger("uvicorn.error").info('%s - "WebSocket %s" [accepted]', "x", "/ws/1?ticket=fgt_abc")
        logging.getLogger("arq.worker").info("  0.01s → job(%r)", {"authorization": f"Bearer {session}"})
        try:
            raise RuntimeError(f"failed for {key}")
        except RuntimeError:
            logging.getLogger("backend").exception("boom")
        output = capsys.readouterr()
        text = output.out + output.err
    finally:
        configure_logging("warning", "pytest")
    assert "GET /u/[redacted]?k=fgk_0123456789ab_[redacted]" in text
    assert "ticket=[redacted]" in text and "fgt_abc" not in text
    assert "S" * 43 not in text and "T" * 43 not in text
    assert "failed for fgk_0123456789ab_[redacted]" in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "GET /api/v1/contacts?search=fgk_0123456789ab_abc-_d",
            "GET /api/v1/contacts?search=fgk_0123456789ab_[redacted]",
        ),
        ("Authorization: Bearer whatever.jwt", "Authorization: Bearer [redacted]"),
        ("/optout?workspace=12.sig&token=abc#x", "/optout?workspace=12.sig&token=[redacted]#x"),
        ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "secret whsec_[redacted]"),
        ("campaign 12 sent 3 messages", "campaign 12 sent 3 messages"),
    ],
)
def test_redact_keeps_the_shape_and_drops_the_secret(line: str, expected: str):
    assert redact(line) == expected
