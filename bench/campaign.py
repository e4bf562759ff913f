"""A whole campaign, trigger to provider: how fast, how much memory, and whether anyone got it twice.

Run: ``.venv/bin/python bench/campaign.py`` (SQLite file in a temporary folder, 100,000 contacts), or
``--database postgresql`` (a scratch database on ``--database-url``, default the local server),
``--contacts 1000000``, ``--workers 2`` (``flowgate worker --processes 2``: one parent, two worker processes).

Setup (not timed): one workspace, a WhatsApp Cloud sender on a local fake sink (rate limit off), a group
of N contacts of whom 1% opted out (by keyword: the person's own opt-out), a published one-message
marketing flow and a campaign on them starting a few seconds later. ``flowgate worker --processes N``
(its processes with their schedulers) does everything else, as in production: the scheduler starts the campaign, a trigger
enrolls the audience (``INSERT … SELECT`` of runs in keyset pages), drive jobs step the runs and store the
messages, send jobs send them.

Printed from one run (absolute figures swing by 2x on a shared 2-core machine; the ratio is measured in
the same run and is the figure to compare):

- the workers' start-up (until every process takes jobs), wall and CPU seconds, apart from the rest: it
  happens once per process, not per message;
- audience build: how long the trigger took to select and enroll the eligible members;
- end-to-end messages/s from the trigger's start to the last message the sink answered;
- the sink's own capacity with the workers' HTTP client at the same concurrency, and the ratio;
- the workers' CPU per message from "ready" to the end (start-up left out);
- peak RSS of each process (workers, sink);
- duplicates and sends to opted-out contacts, as the sink saw them (both must be 0);
- the delay from an inbound STOP (a signed WhatsApp webhook to a ``flowgate api`` process) to the moment
  the consent gate blocks that contact's next marketing message: once while the campaign sends (a
  third of it sent, the queue full of send work) and once after it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import scratch_pg  # noqa: E402  (needs the repository root on sys.path)
from bench.gateway_send import (  # noqa: E402
    PHONE_NUMBER_ID,
    SINK_CONCURRENCY,
    WorkerTree,
    _children,
    _free_port,
    _loop_factory,
    sink_capacity,
)

APP_SECRET = "bench-app-secret"
GRAPH = {
    "format_version": 1,
    "nodes": [
        {"kind": "start", "id": "start", "trigger": "manual"},
        {
            "kind": "send_message",
            "id": "hello",
            "text": "Hi {{contact.name}}, our sale starts today.",
            "message_kind": "marketing",
        },
        {"kind": "end", "id": "done"},
    ],
    "edges": [{"source": "start", "target": "hello"}, {"source": "hello", "target": "done"}],
}


# --- the sink: a fake WhatsApp Cloud API that counts who it was asked to message -------------------------


async def _sink_stats(base: str, numbers: bool = False) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=60) as client:
        return (await client.get(f"{base}/stats", params={"numbers": "1"} if numbers else None)).json()


async def _reset_sink(base: str) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        await client.post(f"{base}/reset")


async def _wait_for(url: str, method: str = "GET") -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                await client.request(method, url)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


def _peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the data -------------------------------------------------------------------------------------------


def phone(i: int) -> str:
    """Valid Portuguese mobile numbers (the STOP webhook's number is normalised like a real one's)."""
    return f"+35191{i:07d}"


async def populate(sink_base: str, contacts: int, opted_out_share: float, start_in: float) -> dict[str, Any]:
    """Everything the campaign stands on, written in bulk; the campaign starts ``start_in`` seconds later."""
    from piccolo.engine.sqlite import SQLiteEngine

    from backend.campaigns.tables import Campaign
    from backend.core.database import current_engine, transaction
    from backend.flows.tables import Flow, FlowVersion
    from backend.senders.tables import Sender
    from backend.workspaces import service as workspaces

    workspace, api_key = await workspaces.create_workspace(
        "Bench", f"bench-{uuid.uuid4().hex[:6]}@example.com", "pw" * 8
    )
    workspace_id = workspace["id"]
    sender_id = (
        await Sender.insert(
            Sender(
                workspace=workspace_id,
                name="Bench WhatsApp",
                channel="whatsapp",
                provider="whatsapp_cloud",
                address="+15550000000",
                config={
                    "phone_number_id": PHONE_NUMBER_ID,
                    "access_token": "bench-token",
                    "app_secret": APP_SECRET,
                    "verify_token": "bench-verify",
                    "api_base_url": sink_base,
                },
                rate_limit_per_second=0,
            )
        ).returning(Sender.id)
    )[0]["id"]
    now = datetime.now(UTC)
    raw = Flow.raw
    started = time.perf_counter()
    async with transaction():
        group_id = (
            await raw(
                'INSERT INTO "contact_groups" (workspace, name, description, bypass_opt_out_filter, created_at) '
                "VALUES ({}, 'Everyone', '', {}, {}) RETURNING id",
                workspace_id,
                False,
                now,
            )
        )[0]["id"]
        for begin in range(0, contacts, 2000):
            part = range(begin, min(begin + 2000, contacts))
            values = ", ".join("({}, {}, {}, {}, {}, {}, {})" for _ in part)
            args = [v for i in part for v in (workspace_id, phone(i), f"Contact {i}", "{}", "[]", now, now)]
            await raw(
                f'INSERT INTO "contacts" (workspace, phone, name, attributes, tags, created_at, updated_at) VALUES {values}',
                *args,
            )
        await raw(
            'INSERT INTO "group_members" (workspace, "group", contact, added_at) '
            'SELECT {}, {}, id, {} FROM "contacts" WHERE workspace = {} ORDER BY id',
            workspace_id,
            group_id,
            now,
            workspace_id,
        )
        opted = (
            [phone(i) for i in range(0, contacts, max(1, round(1 / opted_out_share)))]
            if opted_out_share
            else []
        )
        for begin in range(0, len(opted), 2000):
            part = opted[begin : begin + 2000]
            values = ", ".join(
                "({}, 'whatsapp', {}, NULL, NULL, NULL, '', 'keyword', {}, 'bench', {}, {}, NULL, '', '')"
                for _ in part
            )
            args = [v for address in part for v in (workspace_id, address, True, now, now)]
            await raw(
                'INSERT INTO "opt_out_entries" (workspace, channel, address, category, sender, valid_until, remarks, '
                "source, self_service, created_by, created_at, updated_at, revoked_at, revoked_by, revoke_reason) "
                f"VALUES {values}",
                *args,
            )
        flow_id = (
            await Flow.insert(
                Flow(
                    workspace=workspace_id,
                    name="Sale",
                    draft=GRAPH,
                    revision=1,
                    latest_version=1,
                    published_revision=1,
                )
            ).returning(Flow.id)
        )[0]["id"]
        await FlowVersion.insert(
            FlowVersion(workspace=workspace_id, flow=flow_id, number=1, graph=GRAPH, trigger="manual")
        )
        start_at = datetime.now(UTC) + timedelta(seconds=start_in)
        campaign_id = (
            await Campaign.insert(
                Campaign(
                    workspace=workspace_id,
                    name="Bench sale",
                    flow=flow_id,
                    group=group_id,
                    sender=sender_id,
                    kind="marketing",
                    start_at=start_at,
                    end_at=start_at + timedelta(days=1),
                    anchor_at=start_at,
                    every_unit="day",
                    every_count=1,
                    opted_in_only=True,
                    status="scheduled",
                )
            ).returning(Campaign.id)
        )[0]["id"]
    if not isinstance(current_engine(), SQLiteEngine):
        for table in ("contacts", "group_members", "opt_out_entries"):
            await raw(f'ANALYZE "{table}"')  # the tables existed long before a campaign, as in production
    print(f"setup: {contacts:,} contacts, {len(opted):,} opted out, in {time.perf_counter() - started:.1f} s")
    return {
        "workspace_id": workspace_id,
        "api_key": api_key,
        "sender_id": sender_id,
        "campaign_id": campaign_id,
        "start_at": start_at,
        "opted_out": set(opted),
    }


# --- the run ----------------------------------------------------------------------------------------------


async def main(
    args: argparse.Namespace, redis_url: str, sink_port: int, sink_pid: int, env: dict[str, str]
) -> None:
    from backend.campaigns.tables import CampaignTrigger
    from backend.core.database import database_connection, migrate
    from backend.messages.tables import Message

    sink_base = f"http://127.0.0.1:{sink_port}"
    sink_url = f"{sink_base}/v21.0/{PHONE_NUMBER_ID}/messages"
    await _wait_for(f"{sink_base}/stats")
    await migrate()
    async with database_connection():
        capacity = await sink_capacity(sink_url, min(args.contacts, 30_000))
        data = await populate(
            f"{sink_base}/v21.0", args.contacts, args.opted_out / 100, start_in=args.workers * 2 + 3
        )
        eligible = args.contacts - len(data["opted_out"])
        await _reset_sink(sink_base)  # forget the capacity run's requests
        api = await ApiProcess.start(env)
        workers = await WorkerTree.start(args.workers, env)
        spy = None
        if args.profile:  # py-spy (pip install py-spy) samples the worker processes: collapsed stacks
            spy = await asyncio.create_subprocess_exec(
                "py-spy",
                "record",
                "--nonblocking",
                *(["--subprocesses"] if args.workers > 1 else []),
                "--format",
                "raw",
                *(["--gil"] if os.environ.get("PYSPY_GIL") else []),
                "-o",
                args.profile,
                "--pid",
                str(workers.pid),
            )
        stop_during: asyncio.Task[float] | None = None
        try:
            while True:
                await asyncio.sleep(0.5)
                sent = await Message.count().where(Message.status.is_in(["sent", "failed", "unknown"]))
                if stop_during is None and sent >= eligible / 3:
                    stop_during = asyncio.create_task(api.stop_to_block(data, contact=1))
                if sent >= eligible:
                    break
                if workers.process.returncode is not None:
                    raise RuntimeError(f"the worker exited with {workers.process.returncode}")
                if datetime.now(UTC) - data["start_at"] > timedelta(minutes=30):
                    raise RuntimeError(f"only {sent:,} of {eligible:,} sent after 30 minutes")
            trigger = (
                await CampaignTrigger.select().where(CampaignTrigger.campaign == data["campaign_id"]).first()
            )
            rss = [_peak_rss_mb(pid) for pid in _children(workers.pid) or [workers.pid]]
            worker_cpu, per_process = workers.cpu_since_ready()
            stop_while_sending = await stop_during if stop_during is not None else float("nan")
            stop_after = await api.stop_to_block(data, contact=2)
        finally:
            if spy is not None:
                spy.send_signal(2)  # py-spy writes its samples on Ctrl-C
                await spy.wait()
            await workers.stop()
            await api.stop()
        stats = await _sink_stats(sink_base, numbers=True)
        reached = set(stats["to"] or [])
        last_sent = stats["last"]
        elapsed = last_sent - trigger["started_at"].timestamp()
        rate = eligible / elapsed
        statuses = await Message.raw(
            "SELECT status, failure_reason, COUNT(*) AS n FROM messages GROUP BY status, failure_reason"
        )
        print(
            f"\ncampaign on {args.kind}: {args.contacts:,} contacts ({len(data['opted_out']):,} opted out), "
            f"{args.workers} worker process(es), rate limits off"
        )
        print(f"  {workers.startup_line()}")
        print(
            f"  audience build (select + enroll {trigger['enrolled']:,} runs): {trigger['enroll_ms'] / 1000:.2f} s"
        )
        print(
            f"  end to end, trigger to sink: {eligible:,} messages in {elapsed:.1f} s = {rate:,.0f} messages/s"
        )
        print(f"  sink capacity, same client, concurrency {SINK_CONCURRENCY}: {capacity:,.0f} requests/s")
        print(f"  ratio: {rate / capacity:.2f}")
        print(
            f"  worker CPU after start-up: {worker_cpu:.1f} s = {worker_cpu / eligible * 1e6:,.0f} µs per message "
            f"(≈ {eligible / worker_cpu:,.0f} messages per worker CPU-second)"
            + (
                f"; per process {', '.join(f'{cpu:.1f} s' for cpu in per_process)}"
                if args.workers > 1
                else ""
            )
        )
        print(
            f"  peak RSS: worker(s) {', '.join(f'{mb:.0f} MB' for mb in rss)}; sink {_peak_rss_mb(sink_pid):.0f} MB"
        )
        print(f"  sends answered by the sink: {stats['total']:,} to {len(reached):,} numbers")
        print(
            f"  duplicates: {len(stats['repeated'])}; sends to opted-out contacts: {len(reached & data['opted_out'])}"
        )
        print(
            f"  STOP -> block: {stop_while_sending * 1000:,.0f} ms while the campaign sends, "
            f"{stop_after * 1000:,.0f} ms after it"
        )
        print(
            "  message statuses: "
            + ", ".join(
                f"{r['status']}{'/' + r['failure_reason'] if r['failure_reason'] else ''} {r['n']:,}"
                for r in statuses
            )
        )


class ApiProcess:
    """A ``flowgate api`` process beside the workers, to receive the STOP webhooks."""

    def __init__(self, process: asyncio.subprocess.Process, base: str) -> None:
        self.process = process
        self.base = base

    @classmethod
    async def start(cls, env: dict[str, str]) -> ApiProcess:
        port = _free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "backend.cli", "api", "--port", str(port), env=env, cwd=ROOT
        )
        api = cls(process, f"http://127.0.0.1:{port}")
        await _wait_for(f"{api.base}/health")
        return api

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    async def stop_to_block(self, data: dict[str, Any], contact: int) -> float:
        """Post a signed STOP from contact number ``contact`` (not one of the opted-out: every 100th from
        0) and time how long until the gate blocks that contact's next marketing message
        (``GET /api/v1/optouts/check``)."""
        import httpx

        address = phone(contact)
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": "0",
                        "changes": [
                            {
                                "field": "messages",
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {
                                        "display_phone_number": "15550000000",
                                        "phone_number_id": PHONE_NUMBER_ID,
                                    },
                                    "contacts": [{"profile": {"name": "Ana"}, "wa_id": address.lstrip("+")}],
                                    "messages": [
                                        {
                                            "from": address.lstrip("+"),
                                            "id": f"wamid.stop{uuid.uuid4().hex}",
                                            "timestamp": str(int(time.time())),
                                            "type": "text",
                                            "text": {"body": "STOP"},
                                        }
                                    ],
                                },
                            }
                        ],
                    }
                ],
            }
        ).encode()
        signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Authorization": f"Bearer {data['api_key']}"}
        check = {"channel": "whatsapp", "address": address, "sender_id": data["sender_id"]}
        async with httpx.AsyncClient(base_url=self.base, timeout=10) as client:
            assert not (await client.get("/api/v1/optouts/check", params=check, headers=headers)).json()[
                "opted_out"
            ]
            started = time.perf_counter()
            response = await client.post(
                f"/webhooks/{data['sender_id']}",
                content=body,
                headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
            )
            response.raise_for_status()
            while not (await client.get("/api/v1/optouts/check", params=check, headers=headers)).json()[
                "opted_out"
            ]:
                if time.perf_counter() - started > 120:
                    raise RuntimeError("the STOP was not applied within 2 minutes")
                await asyncio.sleep(0.005)
            return time.perf_counter() - started


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="the PostgreSQL server for --database postgresql (a scratch database is made on it)",
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument(
        "--opted-out", type=float, default=1.0, help="percent of the group opted out (default 1)"
    )
    parser.add_argument("--workers", type=int, default=1, help="flowgate worker --processes N (default 1)")
    parser.add_argument(
        "--profile", help="write the first worker's py-spy samples (raw, collapsed) to this file"
    )
    args = parser.parse_args()
    from backend.core.redis import EmbeddedRedis

    folder = tempfile.mkdtemp(prefix="flowgate-bench-")
    created: str | None = None
    if args.database == "postgresql":
        created, url = asyncio.run(scratch_pg.create_scratch_database(args.database_url))
        args.kind = "PostgreSQL"
    else:
        url = f"sqlite:///{folder}/bench.db"
        args.kind = "SQLite"
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
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(main(args, redis_url, sink_port, sink.pid, env))
    finally:
        sink.terminate()
        sink.wait(10)
        redis.stop()
        if created:
            asyncio.run(scratch_pg.drop_scratch_database(args.database_url, created))
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    run()
