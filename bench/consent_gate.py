"""How many consent-gate checks per second one process answers, with a large unsubscription list.

Run: ``.venv/bin/python bench/consent_gate.py`` (SQLite file in a temporary folder), or
``.venv/bin/python bench/consent_gate.py --database-url postgresql://postgres@127.0.0.1:5432/postgres``
(a fresh database is created on that server and dropped afterwards). ``--quick`` for a shorter run.

Setup: one workspace with 100,000 opt-out entries (mixed channels, categories, sender scopes, validities,
a few revoked) plus 10,000 entries in a second workspace. Each check is :func:`may_send` for a marketing
message as a send path calls it: address normalisation (phonenumbers) and one indexed query. A tenth of
the checked addresses are opted out. Measured:

a) sequential checks (one sender worker's loop), with latency percentiles;
b) concurrent checks, 20 at a time (several send jobs in one worker; on PostgreSQL over a pool);
c) the query alone (``blocking_entries`` with an already normalised address), to show what
   normalising costs;

and the query plan, to show the ``(workspace, channel, address)`` index is what answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scratch_pg

CHANNELS = ("sms", "whatsapp", "viber", "email")
CONCURRENCY = 20


def _phone(index: int, prefix: str = "91") -> str:
    """Valid Portuguese mobile numbers: 91… for listed people, 96… for people never listed."""
    return f"+351{prefix}{index:07d}"


def _address(channel: str, index: int, listed: bool = True) -> str:
    if channel == "email":
        return f"person{index}@example.com" if listed else f"stranger{index}@example.com"
    return _phone(index, "91" if listed else "96")


async def _populate(entries: int, rng: random.Random) -> dict:
    """Workspaces, senders, categories and the entries; returns what the checks need."""
    from backend.consent.tables import MarketingCategory, OptOutEntry
    from backend.senders.tables import Sender
    from backend.workspaces.tables import Workspace

    workspace = (await Workspace.insert(Workspace(name="Bench")).returning(Workspace.id))[0]["id"]
    other = (await Workspace.insert(Workspace(name="Other")).returning(Workspace.id))[0]["id"]
    categories = [
        (
            await MarketingCategory.insert(MarketingCategory(workspace=workspace, name=f"C{i}")).returning(
                MarketingCategory.id
            )
        )[0]["id"]
        for i in range(5)
    ]
    senders = {
        channel: [
            (
                await Sender.insert(
                    Sender(
                        workspace=workspace,
                        name=f"{channel}{i}",
                        channel=channel,
                        provider="sandbox",
                        address=f"{channel}-{i}",
                    )
                ).returning(Sender.id)
            )[0]["id"]
            for i in range(3)
        ]
        for channel in CHANNELS
    }
    now = datetime.now(UTC)
    started = time.perf_counter()
    batch: list = []

    async def flush() -> None:
        if batch:
            await OptOutEntry.insert(*batch)
            batch.clear()

    for index in range(entries):
        channel = CHANNELS[index % len(CHANNELS)]
        roll = rng.random()
        batch.append(
            OptOutEntry(
                workspace=workspace,
                channel=channel,
                address=_address(channel, index),
                category=rng.choice(categories) if roll < 0.4 else None,
                sender=rng.choice(senders[channel]) if rng.random() < 0.5 else None,
                valid_until=None if rng.random() < 0.6 else now + timedelta(days=rng.randint(-30, 60)),
                source=rng.choice(("keyword", "manual", "web_form", "import", "api")),
                self_service=rng.random() < 0.5,
                revoked_at=now if rng.random() < 0.05 else None,
            )
        )
        if len(batch) >= 1000:
            await flush()
    for index in range(entries // 10):
        batch.append(OptOutEntry(workspace=other, channel="sms", address=_phone(index), source="manual"))
        if len(batch) >= 1000:
            await flush()
    await flush()
    elapsed = time.perf_counter() - started
    print(f"inserted {entries:,} + {entries // 10:,} entries in {elapsed:.1f}s")
    return {"workspace": workspace, "categories": categories, "senders": senders, "entries": entries}


def _targets(setup: dict, count: int, rng: random.Random) -> list[dict]:
    """Checks a send path would make: a tenth for listed addresses, the rest for addresses never listed."""
    targets = []
    for _ in range(count):
        channel = rng.choice(CHANNELS)
        listed = rng.random() < 0.1
        index = rng.randrange(setup["entries"]) if listed else rng.randrange(10_000_000)
        if listed:
            channel = CHANNELS[index % len(CHANNELS)]
        targets.append(
            {
                "channel": channel,
                "address": _address(channel, index, listed),
                "sender_id": rng.choice(setup["senders"][channel]),
                "category_id": rng.choice([None, *setup["categories"]]),
            }
        )
    return targets


async def _sequential(setup: dict, targets: list[dict]) -> tuple[float, list[float], int]:
    from backend.consent.gate import may_send

    latencies = []
    blocked = 0
    started = time.perf_counter()
    for target in targets:
        begin = time.perf_counter()
        decision = await may_send(setup["workspace"], kind="marketing", **target)
        latencies.append(time.perf_counter() - begin)
        blocked += not decision.allowed
    return time.perf_counter() - started, latencies, blocked


async def _concurrent(setup: dict, targets: list[dict]) -> float:
    from backend.consent.gate import may_send

    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(target: dict) -> None:
        async with semaphore:
            await may_send(setup["workspace"], kind="marketing", **target)

    started = time.perf_counter()
    await asyncio.gather(*(one(target) for target in targets))
    return time.perf_counter() - started


async def _query_only(setup: dict, targets: list[dict]) -> float:
    from backend.consent import rules
    from backend.consent.gate import blocking_entries

    now = datetime.now(UTC)
    prepared = [
        (
            rules.Target(setup["workspace"], t["channel"], t["sender_id"], t["category_id"]),
            t["address"],
        )
        for t in targets
    ]
    started = time.perf_counter()
    for target, address in prepared:
        await blocking_entries(target, address, now)
    return time.perf_counter() - started


async def _plan(setup: dict) -> str:
    from piccolo.engine.sqlite import SQLiteEngine

    from backend.consent import rules
    from backend.consent.gate import blocking_query
    from backend.consent.tables import OptOutEntry
    from backend.core.database import current_engine

    target = rules.Target(setup["workspace"], "sms", setup["senders"]["sms"][0], setup["categories"][0])
    sql, args = blocking_query(target, _phone(4), datetime.now(UTC))
    prefix = "EXPLAIN QUERY PLAN " if isinstance(current_engine(), SQLiteEngine) else "EXPLAIN "
    rows = await OptOutEntry.raw(prefix + sql, *args)
    return "\n".join("    " + str(row.get("detail") or row.get("QUERY PLAN") or row) for row in rows)


def _report(name: str, count: int, seconds: float) -> None:
    print(f"{name:<44} {count / seconds:>9,.0f} checks/s  ({count:,} in {seconds:.2f}s)")


async def main(database_url: str, entries: int, checks: int) -> None:
    from backend.core.database import database_connection, migrate

    await migrate()
    rng = random.Random(6)
    async with database_connection(pool_size=CONCURRENCY):
        setup = await _populate(entries, rng)
        print("plan of one check:\n" + await _plan(setup))
        targets = _targets(setup, checks, rng)
        await _sequential(setup, targets[: min(500, checks)])  # warm up
        seconds, latencies, blocked = await _sequential(setup, targets)
        _report("a) may_send, sequential", checks, seconds)
        cuts = statistics.quantiles(latencies, n=100)
        print(
            f"   latency p50 {cuts[49] * 1e3:.3f} ms, p99 {cuts[98] * 1e3:.3f} ms; "
            f"{blocked:,} of {checks:,} blocked"
        )
        _report(f"b) may_send, {CONCURRENCY} concurrent", checks, await _concurrent(setup, targets))
        _report("c) the query alone (normalised address)", checks, await _query_only(setup, targets))


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="postgresql://… admin URL; default: a SQLite file")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="20,000 entries, 2,000 checks")
    args = parser.parse_args()
    if args.quick:
        args.entries, args.checks = 20_000, 2_000

    created: str | None = None
    admin_url = args.database_url
    folder = tempfile.mkdtemp(prefix="flowgate-bench-")
    if admin_url.startswith("postgres"):
        created, url = asyncio.run(scratch_pg.create_scratch_database(admin_url))
        kind = "PostgreSQL"
    else:
        url = f"sqlite:///{folder}/bench.db"
        kind = "SQLite"
    os.environ["FLOWGATE_DATABASE_URL"] = url
    os.environ.setdefault("FLOWGATE_DATA_DIR", folder)
    os.environ.setdefault("FLOWGATE_LOG_LEVEL", "warning")
    print(f"consent gate on {kind}: {args.entries:,} entries, {args.checks:,} checks")
    try:
        asyncio.run(main(url, args.entries, args.checks))
    finally:
        if created:
            asyncio.run(scratch_pg.drop_scratch_database(admin_url, created))


if __name__ == "__main__":
    run()
