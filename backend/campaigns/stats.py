"""Live campaign counters: written in the transactions that change runs and messages, read as one snapshot.

Writers add deltas (:class:`backend.runs.hooks.Counts`) with one upsert per batch, rows in key order so two
writers never deadlock; nothing ever counts a whole table to update a number. The counters come from:

- the runs engine (nodes entered, edges taken, waits begun and ended, replies, opt-out steps, run
  statuses, messages the consent gate refused when they were made) through :class:`CampaignBridge`;
- the gateway's status changes (sent, delivered, read, failed per reason; sends per minute) through
  :class:`MessageCounter`, a :mod:`backend.messages.observers` observer;
- the trigger (runs enrolled).

:func:`truth` recounts everything from the runs and messages tables; once a campaign has settled the
two agree, and the tests hold them to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine

from backend.campaigns.tables import Campaign, CampaignStat
from backend.core.database import current_engine
from backend.messages import observers
from backend.runs import hooks

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "flowgate:campaign:"
"""Redis pub/sub channel of a campaign's live hints (``flowgate:campaign:<id>``)."""
PUBLISH_EVERY_S = 0.25
RUN_STATUSES = ("active", "waiting", "completed", "failed", "expired", "interrupted")
MESSAGE_METRICS = ("sent", "delivered", "read", "failed")


def node_of(message_ref: str | None) -> str:
    """``"promo#2"`` → ``"promo"``: the node whose visit sent the message."""
    return (message_ref or "").rsplit("#", 1)[0]


async def add(counts: hooks.Counts, raw: observers.Raw | None = None) -> None:
    """Add the deltas, one multi-row upsert (in the caller's transaction, on ``raw``'s connection)."""
    items = counts.items()
    if not items:
        return
    run = raw or CampaignStat.raw
    for start in range(0, len(items), 1000):
        part = items[start : start + 1000]
        values = ", ".join("({}, {}, {}, {})" for _ in part)
        args = [
            value
            for (campaign_id, node, metric), amount in part
            for value in (campaign_id, node, metric, amount)
        ]
        await run(
            f'INSERT INTO "campaign_stats" (campaign, node, metric, value) VALUES {values} '
            'ON CONFLICT (campaign, node, metric) DO UPDATE SET value = "campaign_stats".value + excluded.value',
            *args,
        )


class CampaignBridge:
    """What runs need of campaigns (:class:`backend.runs.hooks.Bridge`), and the live hints' publisher."""

    def __init__(self, redis: Any = None) -> None:
        self.redis = redis
        self._dirty: set[int] = set()
        self._flusher: asyncio.Task | None = None

    async def policies(self, campaign_ids: Iterable[int]) -> dict[int, hooks.RunPolicy]:
        ids = sorted(set(campaign_ids))
        if not ids:
            return {}
        query = Campaign.select(
            Campaign.id,
            Campaign.status,
            Campaign.kind,
            Campaign.category,
            Campaign.opted_in_only,
            Campaign.name,
        ).where(Campaign.id.is_in(ids))
        if not isinstance(current_engine(), SQLiteEngine):
            query = query.lock_rows("SHARE")
        rows = await query
        return {
            row["id"]: hooks.RunPolicy(
                campaign_id=row["id"],
                moving=row["status"] == "running",
                kind=row["kind"],
                category_id=row["category"],
                opted_in_only=row["opted_in_only"],
                subject=row["name"],
            )
            for row in rows
        }

    async def record(self, counts: hooks.Counts) -> None:
        await add(counts)

    def changed(self, campaign_ids: Iterable[int]) -> None:
        """Publish a hint per campaign, at most every :data:`PUBLISH_EVERY_S` (the monitors re-read the
        counters; a lost hint is covered by their periodic refresh)."""
        self._dirty.update(campaign_ids)
        if self.redis is None or not self._dirty:
            return
        if self._flusher is None or self._flusher.done():
            try:
                self._flusher = asyncio.get_running_loop().create_task(self._flush())
            except RuntimeError:  # pragma: no cover - no loop (a synchronous script)
                return

    async def _flush(self) -> None:
        await asyncio.sleep(PUBLISH_EVERY_S)
        dirty, self._dirty = self._dirty, set()
        for campaign_id in sorted(dirty):
            try:
                await self.redis.publish(f"{CHANNEL_PREFIX}{campaign_id}", b"changed")
            except Exception:  # best effort: the monitors refresh on their own too
                log.debug("could not publish the live hint of campaign %s", campaign_id, exc_info=True)


class MessageCounter:
    """Counts a campaign's message status changes in the transaction that made them."""

    def __init__(self, bridge: CampaignBridge | None = None) -> None:
        self.bridge = bridge

    async def statuses_changed(self, changes: list[observers.StatusChange], raw: observers.Raw) -> None:
        counts = hooks.Counts()
        for change in changes:
            campaign_id = change.campaign_id
            if campaign_id is None:
                continue
            node = node_of(change.message_ref)
            for stage in change.reached:
                counts.both(campaign_id, node, stage)
                if stage == "failed":
                    counts.both(campaign_id, node, f"failed:{change.failure_reason or 'unknown'}")
                if stage == "sent":
                    counts.add(campaign_id, f"minute:{change.at.astimezone(UTC):%Y-%m-%dT%H:%M}", "sent")
        await add(counts, raw)
        if self.bridge is not None:
            self.bridge.changed(counts.campaigns())


class ConsentCounter:
    """Counts the opt-outs a campaign caused (a STOP in reply to its message, its flow's opt-out step),
    in the transaction that records them: only new opt-outs (an extended one was out already)."""

    def __init__(self, bridge: CampaignBridge | None = None) -> None:
        self.bridge = bridge

    async def consent_recorded(self, workspace_id: int, event: dict[str, Any]) -> None:
        evidence = event.get("evidence") or {}
        campaign_id = evidence.get("campaign_id")
        if event.get("kind") != "opt_out" or not isinstance(campaign_id, int):
            return
        node = evidence.get("node_id") or node_of(evidence.get("message_ref"))
        counts = hooks.Counts()
        counts.both(campaign_id, node if isinstance(node, str) else None, "opted_out")
        if await Campaign.exists().where((Campaign.id == campaign_id) & (Campaign.workspace == workspace_id)):
            await add(counts)
            if self.bridge is not None:
                self.bridge.changed({campaign_id})


# --- reading ----------------------------------------------------------------------------------------


async def snapshot(campaign: dict[str, Any], graph_edges: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The counters as the API and the monitor show them (``GET …/stats``, the WebSocket's events)."""
    rows = await CampaignStat.select(CampaignStat.node, CampaignStat.metric, CampaignStat.value).where(
        CampaignStat.campaign == campaign["id"]
    )
    return shape(campaign, rows, graph_edges)


def shape(
    campaign: dict[str, Any], rows: list[dict[str, Any]], graph_edges: list[tuple[str, str, str]]
) -> dict[str, Any]:
    totals_raw: dict[str, int] = defaultdict(int)
    nodes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    passed: dict[tuple[str, str], int] = {}
    minutes: dict[str, int] = {}
    for row in rows:
        node, metric, value = row["node"], row["metric"], int(row["value"])
        if node == "":
            totals_raw[metric] += value
        elif node.startswith("edge:"):
            _, source, port = node.split(":", 2)
            passed[(source, port)] = value
        elif node.startswith("minute:"):
            minutes[node.removeprefix("minute:")] = value
        else:
            nodes[node][metric] += value
    totals = {
        "entered": totals_raw.get("entered", 0),
        "active": totals_raw.get("runs:active", 0),
        "waiting": totals_raw.get("runs:waiting", 0),
        "completed": totals_raw.get("runs:completed", 0),
        "failed_runs": totals_raw.get("runs:failed", 0),
        "expired": totals_raw.get("runs:expired", 0),
        "interrupted": totals_raw.get("runs:interrupted", 0),
        **{metric: totals_raw.get(metric, 0) for metric in MESSAGE_METRICS},
        "replied": totals_raw.get("replied", 0),
        "opted_out": totals_raw.get("opted_out", 0),
        "unsent": sum(value for metric, value in totals_raw.items() if metric.startswith("unsent:")),
    }
    failures = {
        metric.removeprefix("failed:"): value
        for metric, value in sorted(totals_raw.items())
        if metric.startswith("failed:") and value
    }
    totals.update({f"failed:{reason}": value for reason, value in failures.items()})
    edges = [
        {"source": source, "port": port, "target": target, "count": passed.get((source, port), 0)}
        for source, port, target in graph_edges
    ]
    known = {(source, port) for source, port, _ in graph_edges}
    edges += [
        {"source": source, "port": port, "target": None, "count": count}
        for (source, port), count in sorted(passed.items())
        if (source, port) not in known
    ]
    per_minute = [{"minute": minute, "sent": value} for minute, value in sorted(minutes.items())][-60:]
    return {
        "campaign_id": campaign["id"],
        "status": campaign["status"],
        "flow_version": campaign.get("version_number"),
        "totals": totals,
        "nodes": {node: dict(values) for node, values in sorted(nodes.items())},
        "edges": edges,
        "failures": failures,
        "per_minute": per_minute,
        "updated_at": datetime.now(UTC),
    }


async def truth(campaign_id: int) -> dict[str, Any]:
    """The same totals counted from the runs and messages tables (slow on purpose: for checks, not for
    the live path). Keys as in :func:`shape`'s totals."""
    runs = await CampaignStat.raw(
        'SELECT status, COUNT(*) AS n FROM "runs" WHERE campaign_id = {} GROUP BY status', campaign_id
    )
    by_status = {row["status"]: int(row["n"]) for row in runs}
    messages = await CampaignStat.raw(
        "SELECT COUNT(sent_at) AS sent, COUNT(delivered_at) AS delivered, COUNT(read_at) AS read, "
        "SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed "
        "FROM \"messages\" WHERE campaign_id = {} AND direction = 'outbound'",
        campaign_id,
    )
    reasons = await CampaignStat.raw(
        "SELECT failure_reason, COUNT(*) AS n FROM \"messages\" WHERE campaign_id = {} AND status = 'failed' "
        "GROUP BY failure_reason",
        campaign_id,
    )
    replied = await CampaignStat.raw(
        "SELECT COUNT(*) AS n FROM \"run_events\" WHERE campaign_id = {} AND status = 'applied' "
        "AND kind IN ('reply', 'button')",
        campaign_id,
    )
    row = messages[0]
    totals = {
        "entered": sum(by_status.values()),
        "active": by_status.get("active", 0),
        "waiting": by_status.get("waiting", 0),
        "completed": by_status.get("completed", 0),
        "failed_runs": by_status.get("failed", 0),
        "expired": by_status.get("expired", 0),
        "interrupted": by_status.get("interrupted", 0),
        "sent": int(row["sent"] or 0),
        "delivered": int(row["delivered"] or 0),
        "read": int(row["read"] or 0),
        "failed": int(row["failed"] or 0),
        "replied": int(replied[0]["n"]),
    }
    totals.update({f"failed:{r['failure_reason'] or 'unknown'}": int(r["n"]) for r in reasons})
    return totals
