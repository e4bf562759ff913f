"""The arq worker on a real Redis: jobs enqueued by the api run, cron jobs are registered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


async def _run_burst(redis_url: str) -> None:
    from backend.worker import build_worker

    worker = build_worker(redis_url, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_api_key_use_is_recorded_by_the_worker(client, tenant, redis_url):
    from backend.workspaces.tables import Credential

    response = await client.get("/api/v1/settings", headers=tenant.headers("viewer"))
    assert response.status_code == 200
    key_id = (await client.get("/api/v1/api-keys", headers=tenant.headers())).json()["items"]
    viewer = next(item for item in key_id if item["role"] == "viewer")
    assert viewer["last_used_at"] is None  # recorded off the request path, by the worker

    await _run_burst(redis_url)

    row = await Credential.select(Credential.last_used_at).where(Credential.id == viewer["id"]).first()
    assert row["last_used_at"] is not None
    assert datetime.now(UTC) - row["last_used_at"] < timedelta(minutes=1)


async def test_repeated_requests_enqueue_one_job_per_key_per_minute(client, tenant, redis):
    for _ in range(5):
        await client.get("/api/v1/settings", headers=tenant.headers("marketer"))
    queued = await redis.zrange("arq:queue", 0, -1)
    jobs = [job.decode() for job in queued if job.startswith(b"credential-use:")]
    # One for the admin key (used to make the others in setup), one for the marketer key's five calls.
    assert len(jobs) == 2
    assert len({job.split(":")[1] for job in jobs}) == 2


async def test_purge_job_removes_only_long_expired_sessions(client, tenant, redis_url):
    from backend.core.queue import connect_queue
    from backend.workspaces.tables import Credential

    login = {"email": tenant.admin_email, "password": tenant.admin_password}
    old = (await client.post("/api/v1/auth/login", json=login)).json()
    fresh = (await client.post("/api/v1/auth/login", json=login)).json()
    old_lookup = old["token"].split("_")[1]
    await Credential.update({Credential.expires_at: datetime.now(UTC) - timedelta(days=2)}).where(
        Credential.lookup == old_lookup
    )

    queue = await connect_queue(redis_url)
    await queue.enqueue_job("purge_expired_sessions")
    await queue.aclose()
    await _run_burst(redis_url)

    assert not await Credential.exists().where(Credential.lookup == old_lookup)
    assert (
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh['token']}"})
    ).status_code == 200
    assert await Credential.count().where(Credential.kind == "api_key") == 3


def test_cron_jobs_are_registered():
    from backend.worker import CRON_JOBS, job_names

    names = {job.name for job in CRON_JOBS}
    assert "cron:purge_expired_sessions" in names
    assert {"record_credential_use", "purge_expired_sessions"} <= job_names()


async def test_health_reports_a_running_worker_and_its_absence(client, redis_url):
    import asyncio
    import contextlib

    from backend.worker import build_worker

    assert (await client.get("/health")).json()["worker"]["alive"] is False
    worker = build_worker(redis_url, handle_signals=False)
    running = asyncio.create_task(worker.main())
    try:
        for _ in range(100):
            if (await client.get("/health")).json()["worker"]["alive"]:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the worker's heartbeat never reached /health")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await worker.close()
    assert (await client.get("/health")).json()["worker"]["alive"] is False


async def test_health_counts_worker_processes_and_one_stopping_leaves_the_others_alive(client, redis_url):
    """Each process beats under its own key: arq deletes a stopping worker's key, which must not make
    /health say "no worker" while another still runs (they shared one key before)."""
    import asyncio
    import contextlib
    import os

    from backend.worker import build_worker

    workers = [build_worker(redis_url, handle_signals=False) for _ in range(2)]
    assert workers[0].health_check_key.endswith(f":{os.getpid()}")
    for number, worker in enumerate(workers):  # two processes' keys (one pid here)
        worker.health_check_key += f":{number}"
    running = [asyncio.create_task(worker.main()) for worker in workers]

    async def processes() -> int:
        return (await client.get("/health")).json()["worker"]["processes"]

    try:
        for _ in range(100):
            if await processes() == 2:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the workers' heartbeats never reached /health")
        running[0].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running[0]
        await workers[0].close()  # a clean stop deletes this worker's heartbeat
        body = (await client.get("/health")).json()["worker"]
        assert body["alive"] is True and body["processes"] == 1, body
    finally:
        running[1].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running[1]
        await workers[1].close()
    assert (await client.get("/health")).json()["worker"]["alive"] is False


async def test_sigterm_lets_the_sends_in_flight_finish_instead_of_leaving_them_unknown(
    client, tenant, redis_url, fake_providers
):
    """A deploy stops the worker with SIGTERM: requests already at the provider get their answer and
    their messages end ``sent``; cancelled mid-request they would stay ``sending`` and end ``unknown``."""
    import asyncio
    import signal

    from backend.core.queue import connect_queue
    from backend.messages import service
    from backend.messages.tables import Message
    from tests.backend.messages.helpers import make_sender
    from tests.conftest import _TMP, flowgate_command, subprocess_env
    from tests.fakes.providers import reply
    from tests.fakes.webhooks import wamid

    sender = await make_sender(
        client, tenant, "whatsapp_cloud", config=fake_providers.config("whatsapp_cloud")
    )
    slow = [
        reply(200, {"messaging_product": "whatsapp", "messages": [{"id": wamid()}]}, delay=2.0)
        for _ in range(3)
    ]
    fake_providers.script("whatsapp", *slow)
    ids = [
        (
            await service.create_outbound(
                tenant.id, sender, to=f"+35191200000{i}", kind="transactional", text="hi"
            )
        )["id"]
        for i in range(3)
    ]
    queue = await connect_queue(redis_url)
    await service.enqueue_sends(queue, ids)
    await queue.aclose()

    process = await asyncio.create_subprocess_exec(
        *flowgate_command("worker", "--processes", "1"),
        env=subprocess_env(FLOWGATE_REDIS_URL=redis_url),
        cwd=_TMP,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if len(fake_providers.sent("whatsapp")) == 3:
                break
            await asyncio.sleep(0.05)
        assert len(fake_providers.sent("whatsapp")) == 3, "the worker never sent"
        process.send_signal(signal.SIGTERM)  # all three requests are waiting for the provider's answer
        assert await asyncio.wait_for(process.wait(), 40) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    statuses = await Message.select(Message.status).where(Message.id.is_in(ids))
    assert [row["status"] for row in statuses] == ["sent"] * 3
