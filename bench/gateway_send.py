"""How many messages per second the worker processes send through the whole outbound pipeline.

Run: ``.venv/bin/python bench/gateway_send.py`` (SQLite file in a temporary folder), or
``.venv/bin/python bench/gateway_send.py --database-url postgresql://postgres@127.0.0.1:5432/postgres``
(a fresh database is created on that server and dropped afterwards). ``--messages N`` to change the
50,000 default; ``--workers N`` for ``flowgate worker --processes N`` (default 1).

Setup: one workspace, one WhatsApp Cloud sender pointed at a fake WhatsApp sink (bench/whatsapp_sink.py in its
own process: raw ASGI under uvicorn + httptools + uvloop, answering the Cloud API's success body), rate limit off (``rate_limit_per_second`` 0), an
embedded Redis, ``N`` queued marketing messages inserted in bulk. Then ``flowgate worker --processes
W`` is started and timed until every worker takes jobs (start-up: imports, pools, Redis; reported on its
own line, in wall seconds and CPU seconds, and left out of the send figures). Then batch jobs of 500 ids
are enqueued and the clock runs until every message is ``sent``: claim, batch consent re-check, provider
call over the shared client, bulk write-back: the real path. The worker CPU per message is the CPU the
worker processes used from "ready" to the last message.

Printed beside it: the sink's own capacity, measured in the same run with the same client
(``make_http_client``) at the same concurrency, and the ratio of the two: our pipeline against the same
client straight to the same sink, in one run, so the load of a shared machine mostly cancels out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import scratch_pg  # noqa: E402  (needs the repository root on sys.path)

PHONE_NUMBER_ID = "109876543210"
JOB_SIZE = 500
SINK_CONCURRENCY = 200


# --- the sink: a fake WhatsApp Cloud API, as cheap as a server can answer ------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _wait_http(url: str) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                await client.post(url, json={"to": "+1"}, headers={"Authorization": "Bearer bench-token"})
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} never answered")


async def sink_capacity(url: str, requests: int) -> float:
    """Requests/s the sink answers through the workers' own client at the pipeline's concurrency."""
    from backend.providers.registry import make_http_client

    client = make_http_client()
    body = {"messaging_product": "whatsapp", "to": "+351911111111", "type": "text", "text": {"body": "hi"}}
    headers = {"Authorization": "Bearer bench-token"}
    slots = asyncio.Semaphore(SINK_CONCURRENCY)

    async def one() -> None:
        async with slots:
            response = await client.post(url, json=body, headers=headers)
            response.json()

    try:
        await asyncio.gather(*(one() for _ in range(500)))  # warm the pool
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        return requests / (time.perf_counter() - started)
    finally:
        await client.aclose()


# --- the database -------------------------------------------------------------------------------------


async def populate(sink_base: str, count: int) -> list[int]:
    """A workspace, an unlimited WhatsApp sender on the sink, ``count`` queued messages (bulk insert)."""
    from backend.messages.tables import Message
    from backend.senders.tables import Sender
    from backend.workspaces import service as workspaces

    workspace, _ = await workspaces.create_workspace(
        "Bench", f"bench-{uuid.uuid4().hex[:6]}@x.example", "pw" * 8
    )
    sender = (
        await Sender.insert(
            Sender(
                workspace=workspace["id"],
                name="Bench WhatsApp",
                channel="whatsapp",
                provider="whatsapp_cloud",
                address="+351912345678",
                config={
                    "phone_number_id": PHONE_NUMBER_ID,
                    "access_token": "bench-token",
                    "app_secret": "bench-secret",
                    "verify_token": "bench-verify",
                    "api_base_url": sink_base,
                },
                rate_limit_per_second=0,
            )
        ).returning(Sender.id)
    )[0]["id"]
    now = datetime.now(UTC)
    ids: list[int] = []
    for start in range(0, count, 500):  # rows x 33 columns under PostgreSQL's 32,767 parameters
        rows = [
            Message(
                workspace=workspace["id"],
                sender=sender,
                direction="outbound",
                channel="whatsapp",
                address=f"+3519{(start + i) % 100_000_000:08d}",
                kind="marketing",
                origin="campaign",
                text=f"Weekend sale, message {start + i}",
                status="queued",
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            for i in range(min(500, count - start))
        ]
        ids += [row["id"] for row in await Message.insert(*rows).returning(Message.id)]
    # What autovacuum (PostgreSQL) does within a minute of a bulk insert: without statistics the planner
    # takes the claim's ``status = 'queued'`` for rare and walks the whole queue through ``messages_due``.
    await Message.raw("ANALYZE messages")
    return ids


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process has used so far, from ``/proc`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy and idle so far, from ``/proc/stat`` (Linux)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK"), idle / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """The pids of a process's children (a ``flowgate worker --processes N`` parent's workers)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of a process and each of its children, by pid."""
    return {each: _process_cpu(each) for each in [pid, *_children(pid)]}


class WorkerTree:
    """``flowgate worker --processes N`` started for a benchmark, and what its start-up cost.

    The worker says when every process takes jobs on a pipe (``--ready-fd``); start-up (interpreter,
    imports, database pool, Redis, every domain's start-up) is timed to that moment, in wall seconds and
    CPU seconds of the whole tree, so the send figures can leave it out: importing the worker alone costs
    about 0.7 s of CPU per process, which would otherwise be spread over the messages.
    """

    def __init__(self, process: asyncio.subprocess.Process, spawned: float) -> None:
        self.process = process
        self.spawned = spawned
        self.startup_s = 0.0
        self.cpu_at_ready: dict[int, float] = {}

    @classmethod
    async def start(cls, processes: int, env: dict[str, str]) -> WorkerTree:
        read_end, write_end = os.pipe()
        spawned = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "backend.cli",
            "worker",
            "--processes",
            str(processes),
            "--ready-fd",
            str(write_end),
            env=env,
            cwd=ROOT,
            pass_fds=(write_end,),
        )
        os.close(write_end)
        tree = cls(process, spawned)
        try:
            said = await asyncio.wait_for(asyncio.to_thread(os.read, read_end, 64), 180)
        finally:
            os.close(read_end)
        if said != b"ready\n":
            raise RuntimeError(f"the worker exited during start-up (code {await process.wait()})")
        tree.startup_s = time.perf_counter() - spawned
        tree.cpu_at_ready = tree_cpu(process.pid)
        return tree

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def startup_cpu(self) -> float:
        return sum(self.cpu_at_ready.values())

    def cpu_since_ready(self) -> tuple[float, list[float]]:
        """CPU seconds the tree used since it was ready: in all, and per worker process."""
        now = tree_cpu(self.pid)
        if set(now) != set(self.cpu_at_ready):
            print(
                f"  (a worker process was replaced during the run: {sorted(self.cpu_at_ready)} -> {sorted(now)})"
            )
        used = {pid: cpu - self.cpu_at_ready.get(pid, 0.0) for pid, cpu in now.items()}
        return sum(used.values()), [cpu for pid, cpu in used.items() if pid != self.pid or len(used) == 1]

    def startup_line(self) -> str:
        count = max(1, len(self.cpu_at_ready) - 1)
        return (
            f"worker start-up ({count} process{'es' if count > 1 else ''}, until every one takes jobs): "
            f"{self.startup_s:.2f} s wall, {self.startup_cpu:.2f} s CPU in all (not in the figures below)"
        )

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


async def main(
    count: int,
    redis_url: str,
    sink_port: int,
    sink_pid: int,
    worker_env: dict[str, str],
    profile: str | None,
    processes: int,
) -> None:
    from backend.core.database import database_connection, migrate
    from backend.core.queue import connect_queue
    from backend.messages.service import enqueue_sends
    from backend.messages.tables import Message

    sink_base = f"http://127.0.0.1:{sink_port}/v21.0"
    sink_url = f"{sink_base}/{PHONE_NUMBER_ID}/messages"
    await _wait_http(sink_url)
    await migrate()
    async with database_connection():
        requests = min(count, 30_000)
        sink_cpu = _process_cpu(sink_pid)
        capacity = await sink_capacity(sink_url, requests)
        sink_cpu = _process_cpu(sink_pid) - sink_cpu
        print(
            f"sink capacity (make_http_client, concurrency {SINK_CONCURRENCY}): {capacity:,.0f} requests/s "
            f"(sink CPU {sink_cpu / (requests + 500) * 1e6:,.0f} µs per request)"
        )
        ids = await populate(sink_base, count)
        print(f"inserted {len(ids):,} queued messages")
        sink_before = _process_cpu(sink_pid)
        workers = await WorkerTree.start(processes, worker_env)
        machine_before = machine_cpu()
        print(workers.startup_line())
        spy = None
        if profile:  # py-spy (pip install py-spy) samples the worker(s): collapsed stacks for flame graphs
            spy = await asyncio.create_subprocess_exec(
                "py-spy",
                "record",
                "--nonblocking",
                *(["--subprocesses"] if processes > 1 else []),
                "--format",
                "raw",
                "-o",
                profile,
                "--pid",
                str(workers.pid),
            )
        queue = await connect_queue(redis_url)
        try:
            started = time.perf_counter()
            await enqueue_sends(queue, ids)
            unsettled = count
            while unsettled:
                await asyncio.sleep(0.25)
                # One cheap count (the messages_due index, shrinking as the queue drains): this script's
                # polling shares the machine with what it measures.
                unsettled = await Message.count().where(
                    (Message.status == "queued") | (Message.status == "sending")
                )
                if workers.process.returncode is not None:
                    raise RuntimeError(f"the worker exited with {workers.process.returncode}")
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"{unsettled:,} of {count:,} still unsent after 10 minutes")
            elapsed = time.perf_counter() - started
            worker_cpu, per_process = workers.cpu_since_ready()
            machine_after = machine_cpu()
        finally:
            await queue.aclose()
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its samples on Ctrl-C
                await spy.wait()
            await workers.stop()
        sink_cpu = _process_cpu(sink_pid) - sink_before
        others = await Message.select(Message.status, Message.failure_reason, Message.error_message).where(
            Message.status != "sent"
        )
        others = len(others) and sorted(
            {(o["status"], o["failure_reason"], o["error_message"]) for o in others}
        )
        rate = count / elapsed
        print(
            f"pipeline: {count:,} messages sent in {elapsed:.1f} s = {rate:,.0f} messages/s ({others} not sent)"
        )
        print(f"ratio, pipeline / same client straight to the sink: {rate / capacity:.2f}")
        print(
            f"worker CPU after start-up: {worker_cpu:.1f} s = {worker_cpu / count * 1e6:,.0f} µs per message "
            f"(≈ {count / worker_cpu:,.0f} messages per CPU-second, independent of the machine's load)"
            + (f"; per process {', '.join(f'{cpu:.1f} s' for cpu in per_process)}" if processes > 1 else "")
        )
        print(f"sink CPU during the run: {sink_cpu / count * 1e6:,.0f} µs per message")
        busy = machine_after[0] - machine_before[0]
        idle = machine_after[1] - machine_before[1]
        print(
            f"the rest of the machine (database server, Redis, this script's polling): "
            f"{(busy - worker_cpu - sink_cpu) / count * 1e6:,.0f} µs per message; "
            f"the machine was idle {idle / (busy + idle):.0%} of the run"
        )


def _loop_factory() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="sqlite", help="sqlite (default) or a PostgreSQL URL")
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=1, help="flowgate worker --processes N (default 1)")
    parser.add_argument("--profile", help="write the worker's py-spy samples (raw format) to this file")
    args = parser.parse_args()
    from backend.core.redis import EmbeddedRedis

    folder = tempfile.mkdtemp(prefix="flowgate-bench-")
    created: str | None = None
    admin_url = args.database_url
    if admin_url.startswith("postgres"):
        created, url = asyncio.run(scratch_pg.create_scratch_database(admin_url))
        kind = "PostgreSQL"
    else:
        url = f"sqlite:///{folder}/bench.db"
        kind = "SQLite"
    redis = EmbeddedRedis(Path(folder) / "redis", persist=False)
    redis_url = redis.start()
    env = {
        **os.environ,
        "FLOWGATE_DATABASE_URL": url,
        "FLOWGATE_REDIS_URL": redis_url,
        "FLOWGATE_DATA_DIR": folder,
        "FLOWGATE_LOG_LEVEL": "warning",
        "FLOWGATE_SECRET_KEY": os.environ.get("FLOWGATE_SECRET_KEY", "bench-secret-key-" + "x" * 32),
    }
    os.environ.update(env)
    sink_port = _free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "whatsapp_sink.py"), str(sink_port)])
    print(
        f"gateway send on {kind}: {args.messages:,} messages, {args.workers} worker process(es) "
        f"on {os.cpu_count()} cores, rate limits off"
    )
    try:
        # The same event loop as the worker (``flowgate worker`` runs on uvloop), so the sink's capacity is
        # measured with the client as the worker runs it.
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(main(args.messages, redis_url, sink_port, sink.pid, env, args.profile, args.workers))
    finally:
        sink.terminate()
        sink.wait(10)
        redis.stop()
        if created:
            asyncio.run(scratch_pg.drop_scratch_database(admin_url, created))
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    run()
