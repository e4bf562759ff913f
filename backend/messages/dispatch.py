"""The send job's work: claim queued messages, re-check consent, respect rate limits, call the provider,
write the outcomes back. At most once (invariant 3) and nothing lost (invariant 4):

- A chunk is *claimed* with one conditional UPDATE (``queued`` and due → ``sending`` with a lease), so a
  job that runs twice (arq is at-least-once), or two workers with the same ids, send each message once:
  only one UPDATE moves a row out of ``queued``.
- The consent gate runs again right before the provider call, one query per chunk
  (:func:`backend.consent.gate.blocked_addresses`), and again after each wait for a rate-limited sender's
  tokens: an opt-out recorded after the API accepted the message, or while its chunk waited, still stops
  it. A chunk sends to a rate-limited sender for at most :data:`RATE_WAIT_BUDGET_S`, then hands the rest
  back to the queue. A paused campaign's messages (its id in ``message_holds``) are turned ``held`` at
  the same checks, for its resume.
- Outcomes are written back with one UPDATE per chunk: ``accepted`` → ``sent``; ``rejected`` → ``failed``
  (an opt-out at the provider is also recorded in the consent list); ``retry`` → ``queued`` again with a
  backoff and a deferred job; ``unknown`` → ``unknown`` (never re-sent; a status webhook settles it).
- Cancelled (SIGTERM), a chunk gives back the messages it claimed but had not started sending; the ones in
  flight stay ``sending`` and the reconciler marks them ``unknown`` once their lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from backend.consent import gate, rules
from backend.consent.service import record_opt_out
from backend.consent.tokens import unsubscribe_url
from backend.core.bulk import unnest_source
from backend.core.database import is_sqlite, transaction
from backend.messages import observers
from backend.messages.optout_tag import tag_text
from backend.messages.ratelimit import RateLimiter
from backend.messages.service import SEND_FUNCTION, SEND_JOB_PREFIX, held_campaigns
from backend.messages.tables import Message
from backend.providers.base import Button, Outgoing, SendResult, Template
from backend.providers.registry import webhook_url
from backend.senders.tables import Sender

log = logging.getLogger(__name__)

CHUNK_SIZE = 50
"""Messages claimed, gated, sent concurrently and written back together."""
CHUNKS_IN_FLIGHT = 8
"""Chunks in progress at once in one worker process, across all its send jobs: one chunk's database
work overlaps the others' HTTP calls, and no more requests are open than the HTTP pool can carry."""
LEASE = timedelta(seconds=90)
"""How long a claim holds; longer than a chunk can take (HTTP timeouts ≤ 15 s, rate-limited sending ≤ 5 s)."""
CLOCK_MARGIN = timedelta(milliseconds=50)
"""A deferred send job runs this much after its messages come due, so the claim's clock sees them due."""
MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 60.0
BACKOFF_CAP_S = 960.0
"""Full-jitter backoff: attempt n waits up to min(cap, base·2ⁿ⁻¹): six attempts spread over ~30 min."""
RATE_WAIT_BUDGET_S = 5.0
"""How long a chunk of a rate-limited sender may go on sending: a wait for tokens that would end later
than this after its first send hands the rest back to the queue, deferred to when the rate should let
them go. Every chunk of every worker process shares a sender's bucket, so a chunk of a slow sender (10/s
shared by 16 chunks) would otherwise hold its claim for a minute: past its job's timeout and its lease
(its messages ended ``unknown``), with its campaign's state a minute old."""

_CLAIMED = (
    "id, workspace, sender, contact, channel, address, kind, category, opted_in_only, text, template, buttons, "
    "subject, html, media_url, attempts, campaign_id, run_id, "
    "(SELECT senders.updated_at FROM senders WHERE senders.id = messages.sender) AS sender_version"
)
"""What a claim returns. ``sender_version`` (the sender's ``updated_at``, read in the claim's own statement
by primary key) tells the process's :class:`SenderCache` whether its copy of the sender is still current
without another query; NULL when the sender is gone. ``campaign_id``/``run_id`` (never changed once a
message exists) say whether a status observer cares about the chunk (:func:`settle`)."""
_SETTLED = (
    "messages.id, messages.workspace, messages.status, messages.failure_reason, messages.campaign_id, "
    "messages.run_id, messages.message_ref"
)


@dataclass
class Outcome:
    """What became of one claimed message, as the write-back needs it."""

    id: int
    status: str
    failure_reason: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    provider_message_id: str | None = None
    next_attempt_at: datetime | None = None
    attempted: bool = False
    """The provider was called (counts as an attempt)."""


class SenderCache:
    """Full ``senders`` rows by id, for every send job of one worker process.

    Loading a sender (JSON settings decoded) per job cost a query and, on SQLite, a new connection
    (~1.4 ms) each time. Kept here with the ``updated_at`` a claim read alongside its messages, a row is
    reloaded exactly when a claim sees another ``updated_at``: an edited sender (``update_sender`` always
    moves it) is used from the next chunk claimed after the edit commits, and a deleted one is never
    served from memory, so its messages fail ``sender_unavailable`` as they always did.
    """

    def __init__(self) -> None:
        self._rows: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._loading = asyncio.Lock()
        """The chunks that start together all find the cache cold: one of them loads, the others wait."""
        self.loads = 0
        """Queries made so far (observability: a warm cache makes none)."""

    def _stale(self, versions: dict[int, Any]) -> list[int]:
        """Ids whose cached row is missing or older than the claim's reading; forgets deleted senders."""
        stale: list[int] = []
        for sender_id, version in versions.items():
            cached = self._rows.get(sender_id)
            if version is None:
                self._rows.pop(sender_id, None)
            elif cached is None or cached[0] != version:
                stale.append(sender_id)
        return stale

    async def current(self, versions: dict[int, Any]) -> dict[int, dict[str, Any] | None]:
        """The row of each sender id in ``versions`` (id -> ``updated_at`` as a claim just read it;
        None: the sender no longer exists), or None for a sender that is gone."""
        if self._stale(versions):
            async with self._loading:
                await self._load(versions)
        result: dict[int, dict[str, Any] | None] = {}
        for sender_id, version in versions.items():
            cached = self._rows.get(sender_id)
            result[sender_id] = cached[1] if cached is not None and version is not None else None
        return result

    async def _load(self, versions: dict[int, Any]) -> None:
        stale = self._stale(versions)  # again: another chunk may have loaded them while this one waited
        if not stale:
            return
        self.loads += 1
        rows = await Sender.select().where(Sender.id.is_in(stale)).output(load_json=True)
        found = {row["id"]: row for row in rows}
        for sender_id in stale:
            row = found.get(sender_id)
            if row is None:  # deleted between the claim and this read
                self._rows.pop(sender_id, None)
            else:
                # Keyed by the claim's reading, not the row's: should an edit land in between, the next
                # claim reads the newer value and reloads once more.
                self._rows[sender_id] = (versions[sender_id], row)


@dataclass
class Dispatcher:
    """One send job's view of the world: the process's providers, the queue, the rate limiter."""

    providers: Any
    queue: Any
    limiter: RateLimiter | None
    backoff_base_s: float = BACKOFF_BASE_S
    slots: asyncio.Semaphore | None = None
    """The process's chunk slots (:data:`CHUNKS_IN_FLIGHT`), shared by its concurrent jobs."""
    write_lock: asyncio.Lock | None = None
    """SQLite only: the process's writes queue here instead of in SQLite's busy-wait, which under many
    concurrent writers starves some of them past the busy timeout ("database is locked")."""
    session: Any = None
    """Where the claim, gate and write-back statements run: the process's
    :class:`~backend.messages.sqlite_session.SqliteSession` (taken under ``write_lock``) or
    :class:`~backend.messages.pg_session.PostgresSession`; None: through Piccolo."""
    senders: SenderCache = field(default_factory=SenderCache)
    """The process's sender rows (:class:`SenderCache`); a Dispatcher made on its own keeps its own."""
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    chunk_done: Callable[[], None] | None = None
    """Called as each chunk of :meth:`run` ends, however it ends (the process's count of chunks in hand)."""

    async def run(self, message_ids: list[int]) -> dict[str, int]:
        ids = sorted({int(i) for i in message_ids})
        chunks = [ids[start : start + CHUNK_SIZE] for start in range(0, len(ids), CHUNK_SIZE)]
        slots = self.slots or asyncio.Semaphore(CHUNKS_IN_FLIGHT)

        async def one(chunk: list[int]) -> None:
            try:
                async with slots:
                    await self.send_chunk(chunk)
            finally:
                if self.chunk_done is not None:
                    self.chunk_done()

        await asyncio.gather(*(one(chunk) for chunk in chunks))
        return dict(self.counts)

    async def send_chunk(self, ids: list[int]) -> None:
        rows = await self._write(claim, ids, datetime.now(UTC))
        if not rows:
            return
        started: set[int] = set()
        senders: dict[int, dict[str, Any] | None] = {}
        try:
            outcomes = await self._process(rows, started, senders)
        except BaseException:
            # Cancelled (SIGTERM, job timeout) or failed before any answer was written: what never
            # reached a provider goes back to the queue; what did stays ``sending`` -> ``unknown``.
            unstarted = [row["id"] for row in rows if row["id"] not in started]
            await asyncio.shield(self._write(release, unstarted))
            raise
        # The answers are in: write them even if the job is being cancelled, or sent messages would
        # end ``unknown``; a locked database is retried rather than losing what the providers said.
        observed = any(row["campaign_id"] is not None or row["run_id"] is not None for row in rows)
        try:
            await asyncio.shield(self._write(settle, outcomes, observed))
        except Exception:
            # The answers could not be written: what never reached a provider goes back to the queue
            # (left ``sending`` it would end ``unknown``, never sent); what did ends ``unknown``.
            unstarted = [row["id"] for row in rows if row["id"] not in started]
            with contextlib.suppress(Exception):
                await asyncio.shield(self._write(release, unstarted))
            raise
        for outcome in outcomes:
            self.counts[outcome.status] += 1
        await self._after(rows, outcomes, senders)

    async def _write(self, statement: Any, *args: Any) -> Any:
        for attempt in range(5):
            try:
                if self.write_lock is None:
                    return await statement(*args, session=self.session)
                async with self.write_lock:
                    return await statement(*args, session=self.session)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 4:
                    raise
                log.warning("database locked on %s; retrying", statement.__name__)
                await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _process(
        self, rows: list[dict[str, Any]], started: set[int], senders: dict[int, dict[str, Any] | None]
    ) -> list[Outcome]:
        """The chunk's outcomes; fills ``senders`` (id -> row, None when gone) for :meth:`_after`."""
        outcomes: list[Outcome] = []
        senders.update(
            await self.senders.current(
                {row["sender"]: row["sender_version"] for row in rows if row["sender"] is not None}
            )
        )
        sendable: list[dict[str, Any]] = []
        for row in rows:
            if senders.get(row["sender"]) is None:
                outcomes.append(Outcome(row["id"], "failed", "sender_unavailable"))
            else:
                sendable.append(row)
        by_sender: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in await self._recheck(sendable, outcomes):
            by_sender[row["sender"]].append(row)
        results = await asyncio.gather(
            *(
                self._send_for_sender(sender_id, senders[sender_id], group, started)
                for sender_id, group in by_sender.items()
            )
        )
        for group in results:
            outcomes.extend(group)
        return outcomes

    async def _send_for_sender(
        self, sender_id: int, sender: dict[str, Any] | None, rows: list[dict[str, Any]], started: set[int]
    ) -> list[Outcome]:
        assert sender is not None
        try:
            provider = self.providers.for_sender(sender)
        except Exception as exc:
            # A sender whose settings make no provider fails its messages now: released back to the
            # queue instead, they would be claimed and released again by every reconciler pass.
            log.warning("sender %s: no provider could be built; failing %d messages", sender_id, len(rows))
            error = f"no provider for this sender: {type(exc).__name__}: {exc}"[:2000]
            return [Outcome(row["id"], "failed", "sender_unavailable", error_message=error) for row in rows]
        rate = sender.get("rate_limit_per_second")
        outcomes: list[Outcome] = []
        remaining = rows
        deadline = asyncio.get_running_loop().time() + RATE_WAIT_BUDGET_S
        waited = False
        while remaining:
            granted, wait = (
                await self.limiter.take(sender_id, rate, len(remaining))
                if self.limiter is not None
                else (len(remaining), 0.0)
            )
            now_rows, remaining = remaining[:granted], remaining[granted:]
            if now_rows and waited:
                # Time passed since the chunk's checks: an opt-out or a pause meanwhile stops these.
                now_rows = await self._recheck(now_rows, outcomes)
            if now_rows:
                started.update(row["id"] for row in now_rows)
                prepared = [(row, self._prepare(sender, row)) for row in now_rows]
                outcomes.extend(made for _, made in prepared if isinstance(made, Outcome))
                ready = [(row, made) for row, made in prepared if isinstance(made, Outgoing)]
                results = await asyncio.gather(*(_send_one(provider, made) for _, made in ready))
                outcomes.extend(
                    classify(row, result, datetime.now(UTC), self.backoff_base_s)
                    for (row, _), result in zip(ready, results, strict=True)
                )
            if not remaining:
                break
            if asyncio.get_running_loop().time() + wait > deadline:
                outcomes.extend(_handed_back(remaining, wait, rate))
                break
            await asyncio.sleep(wait)
            waited = True
        return outcomes

    async def _recheck(self, rows: list[dict[str, Any]], outcomes: list[Outcome]) -> list[dict[str, Any]]:
        """The rows that may leave now: the consent gate and the campaign holds, checked again; the others'
        outcomes go to ``outcomes`` (opted out: failed; a paused campaign's: held, for its resume)."""
        blocked = await self._write(gated, rows, datetime.now(UTC))
        held = await self._write(holds, rows)
        kept: list[dict[str, Any]] = []
        for row in rows:
            if row["id"] in blocked:
                outcomes.append(Outcome(row["id"], "failed", gate.OPTED_OUT))
            elif row["campaign_id"] in held:
                ended = held[row["campaign_id"]]  # its campaign ended or was deleted: it never leaves
                outcomes.append(Outcome(row["id"], "failed", ended) if ended else Outcome(row["id"], "held"))
            else:
                kept.append(row)
        return kept

    def _prepare(self, sender: dict[str, Any], row: dict[str, Any]) -> Outgoing | Outcome:
        """The message as its provider takes it, or its failure when the stored row cannot make one (a
        template or buttons that do not decode): no retry can fix that, so it ends ``rejected`` now
        rather than failing its whole chunk on every attempt."""
        try:
            return self.outgoing(sender, row)
        except Exception as exc:
            log.warning("message %s cannot be built for its provider", row["id"], exc_info=True)
            error = f"the stored message cannot be sent: {type(exc).__name__}: {exc}"[:2000]
            return Outcome(row["id"], "failed", "rejected", error_code="invalid_message", error_message=error)

    def outgoing(self, sender: dict[str, Any], row: dict[str, Any]) -> Outgoing:
        channel = row["channel"]
        marketing = row["kind"] == "marketing"
        text = row["text"]
        if channel == "sms" and marketing and text is not None:
            text = tag_text(text, sender, row["workspace"], row["address"])
        template = _json(row["template"])
        buttons = _json(row["buttons"]) or []
        callback = webhook_url(self.providers.public_url, sender["id"]) if channel == "sms" else None
        return Outgoing(
            message_id=row["id"],
            channel=channel,
            to=row["address"],
            sender_address=sender["address"],
            kind=row["kind"],
            text=text,
            template=msgspec.convert(template, Template) if template else None,
            buttons=[Button(id=str(b["id"]), title=str(b["title"])) for b in buttons],
            subject=row["subject"],
            html=row["html"],
            media_url=row["media_url"],
            unsubscribe_url=(
                unsubscribe_url(row["workspace"], channel, row["address"])
                if channel == "email" and marketing
                else None
            ),
            status_callback_url=callback,
        )

    async def _after(
        self,
        rows: list[dict[str, Any]],
        outcomes: list[Outcome],
        senders: dict[int, dict[str, Any] | None],
    ) -> None:
        """Record provider opt-outs and schedule retries, once the outcomes are committed."""
        by_id = {row["id"]: row for row in rows}
        waiting: dict[int, list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            row = by_id[outcome.id]
            if outcome.status == "failed" and outcome.failure_reason == gate.OPTED_OUT and outcome.attempted:
                await self._record_provider_opt_out(row, outcome, senders.get(row["sender"]) or {})
            elif outcome.status == "queued" and outcome.next_attempt_at is not None and not outcome.attempted:
                waiting[int(outcome.next_attempt_at.timestamp())].append(outcome)
            elif outcome.status == "queued" and outcome.next_attempt_at is not None:
                attempts = row["attempts"] + 1
                await self._send_later([outcome.id], outcome.next_attempt_at, f"{outcome.id}:retry{attempts}")
        # Handed back for the rate: one job per second they come due, not one per message, run once the
        # last of them is due (a claim takes only what is due: a job any earlier would find nothing).
        for group in waiting.values():
            ids = [outcome.id for outcome in group]
            due = max(outcome.next_attempt_at for outcome in group if outcome.next_attempt_at)
            await self._send_later(ids, due, f"{ids[0]}-{ids[-1]}:rate{len(ids)}")

    async def _send_later(self, ids: list[int], due: datetime, name: str) -> None:
        delay = max(0.0, (due + CLOCK_MARGIN - datetime.now(UTC)).total_seconds())
        await self.queue.enqueue_job(
            SEND_FUNCTION,
            ids,
            _job_id=f"{SEND_JOB_PREFIX}{name}:{int(due.timestamp())}",
            _defer_by=timedelta(seconds=delay),
        )

    async def _record_provider_opt_out(
        self, row: dict[str, Any], outcome: Outcome, sender: dict[str, Any]
    ) -> None:
        workspace_wide = sender.get("opt_out_scope") == "workspace"
        try:
            await record_opt_out(
                row["workspace"],
                channel=row["channel"],
                address=row["address"],
                source="provider",
                sender_id=None if workspace_wide else row["sender"],
                actor=f"provider {sender.get('provider', '')}".strip(),
                remarks=f"refused by the provider ({outcome.error_code or 'opted out'})",
                evidence={"message_id": row["id"], "error_code": outcome.error_code},
                queue=self.queue,
            )
        except Exception:  # the message is settled either way; the status webhook will carry it again
            log.exception("could not record the provider opt-out of message %s", row["id"])


def _handed_back(rows: list[dict[str, Any]], wait: float, rate: float) -> list[Outcome]:
    """The rows a rate-limited chunk did not get to, back in the queue (no attempt counted), each due when
    the sender's rate would let it go if this chunk sent alone: spread, so they do not all come back in
    the same instant."""
    now = datetime.now(UTC)
    return [
        Outcome(row["id"], "queued", next_attempt_at=now + timedelta(seconds=wait + position / rate))
        for position, row in enumerate(rows)
    ]


async def _send_one(provider: Any, message: Outgoing) -> SendResult:
    """The provider never raises by contract; should one, the request may have left: ``unknown``."""
    try:
        return await provider.send(message)
    except Exception as exc:
        log.exception("provider %s raised on message %s", getattr(provider, "name", "?"), message.message_id)
        return SendResult(outcome="unknown", error_message=f"{type(exc).__name__}: {exc}"[:500])


def classify(
    row: dict[str, Any], result: SendResult, now: datetime, backoff_base_s: float = BACKOFF_BASE_S
) -> Outcome:
    """The message's next state from the provider's answer."""
    base = {
        "error_code": result.error_code,
        "error_message": (result.error_message or None) and result.error_message[:2000],
        "attempted": True,
    }
    if result.outcome == "accepted":
        return Outcome(row["id"], "sent", provider_message_id=result.provider_message_id, attempted=True)
    if result.outcome == "rejected":
        reason = gate.OPTED_OUT if result.opted_out else "rejected"
        return Outcome(row["id"], "failed", reason, **base)
    if result.outcome == "retry":
        attempt = row["attempts"] + 1
        if attempt >= MAX_ATTEMPTS:
            return Outcome(row["id"], "failed", "retries_exhausted", **base)
        delay = max(result.retry_after or 0.0, backoff(attempt, backoff_base_s))
        return Outcome(row["id"], "queued", next_attempt_at=now + timedelta(seconds=delay), **base)
    return Outcome(row["id"], "unknown", **base)


def backoff(attempt: int, base_s: float = BACKOFF_BASE_S) -> float:
    """Full jitter (AWS): uniform in [0, min(cap, base·2^(attempt-1))], so retries never synchronise."""
    return random.uniform(0, min(BACKOFF_CAP_S, base_s * 2 ** (attempt - 1)))


async def gated(rows: list[dict[str, Any]], now: datetime, session: Any = None) -> set[int]:
    """Ids of the marketing messages among ``rows`` the consent gate now blocks; one query per
    (workspace, channel, sender, category) group, usually one per chunk."""
    groups: dict[tuple[int, str, int, int | None, bool], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["kind"] == "marketing":
            key = (
                row["workspace"],
                row["channel"],
                row["sender"],
                row["category"],
                bool(row["opted_in_only"]),
            )
            groups[key].append(row)
    blocked: set[int] = set()
    for (workspace_id, channel, sender_id, category_id, opted_in_only), group in groups.items():
        target = rules.Target(
            workspace_id=workspace_id,
            channel=channel,
            sender_id=sender_id,
            category_id=category_id,
            opted_in_only=opted_in_only,
        )
        found = await gate.blocked_addresses(
            target, [row["address"] for row in group], now, raw=_raw(session) if session else None
        )
        blocked.update(row["id"] for row in group if row["address"] in found)
    return blocked


# --- the statements ----------------------------------------------------------------------------------


async def holds(rows: list[dict[str, Any]], session: Any = None) -> dict[int, str | None]:
    """The held campaigns among the rows' (:func:`held_campaigns`); no statement for a chunk of no
    campaign's messages."""
    campaigns = {row["campaign_id"] for row in rows if row["campaign_id"] is not None}
    return await held_campaigns(campaigns, _raw(session)) if campaigns else {}


def _id_among(ids: list[int], sqlite: bool) -> tuple[str, list[Any]]:
    """``id`` is one of ``ids``: SQLite binds one value per id; PostgreSQL one ``bigint[]``, so the
    statement's text is the same for every chunk (asyncpg prepares it once per connection) and nothing
    compiles a placeholder per message. ``= ANY(array)`` is a primary-key lookup, like ``IN (…)``."""
    if sqlite:
        return f"id IN ({', '.join('{}' for _ in ids)})", list(ids)
    return "id = ANY({}::bigint[])", [list(ids)]


def _raw(session: Any) -> Any:
    """Where a statement runs: the worker's SQLite session, or Piccolo (PostgreSQL's pool, tests)."""
    return session.raw if session is not None else Message.raw


def _by_id() -> str:
    """The table as the claim and release statements name it. SQLite's planner, without statistics,
    prefers the ``messages_due (status, …)`` index to the primary key for ``id IN (…) AND status = …``
    and walks every queued row per chunk (O(queue) per claim: most of a large send's database time);
    ``NOT INDEXED`` leaves it the rowid lookup (SQLite docs: the rowid is still used)."""
    return "messages NOT INDEXED" if is_sqlite() else "messages"


def _status_is(status: str, prefix: str = "") -> str:
    """The status condition of the claim and write-back statements, which find their rows by primary key.

    PostgreSQL: a table whose rows were just inserted (a campaign's fresh messages) has no statistics
    until autovacuum analyses it, and the planner then takes ``status = 'queued'`` for rare and walks the
    whole queue through the ``messages_due (status, …)`` index on every claim. Written as ``(…) IS TRUE``
    the condition is no index's, so the plan is the primary key's whatever the statistics say.
    """
    if is_sqlite():
        return f"{prefix}status = '{status}'"
    return f"({prefix}status = '{status}') IS TRUE"


async def claim(ids: list[int], now: datetime, session: Any = None) -> list[dict[str, Any]]:
    """Move the still-queued, due messages among ``ids`` to ``sending``; one statement, returns them."""
    if not ids:
        return []
    among, id_args = _id_among(ids, is_sqlite())
    return await _raw(session)(
        f"UPDATE {_by_id()} SET status = 'sending', lease_until = {{}}, updated_at = {{}} "
        f"WHERE {among} AND {_status_is('queued')} AND direction = 'outbound' "
        f"AND (next_attempt_at IS NULL OR next_attempt_at <= {{}}) RETURNING {_CLAIMED}",
        now + LEASE,
        now,
        *id_args,
        now,
    )


async def release(ids: list[int], session: Any = None) -> None:
    """Give claimed messages that were never handed to a provider back to the queue."""
    if ids:
        among, id_args = _id_among(ids, is_sqlite())
        await _raw(session)(
            f"UPDATE {_by_id()} SET status = 'queued', lease_until = NULL "
            f"WHERE {among} AND {_status_is('sending')}",
            *id_args,
        )


async def settle(outcomes: list[Outcome], observed: bool = True, session: Any = None) -> None:
    """Write a chunk's outcomes and tell the status observers (runs, campaign counters) in one
    transaction: counters kept from them never disagree with the messages table.

    ``observed`` False (no message of the chunk belongs to a campaign or a run, so observers would be
    told nothing): the write-back alone, a single statement, needs no transaction around it; that
    saves two round trips per chunk (``BEGIN``, ``COMMIT``) on either engine."""
    if not outcomes:
        return
    now = datetime.now(UTC)
    if not (observed and observers.active()):
        await write_back(outcomes, session=session, now=now, returning=False)
        return
    async with _transaction(session):
        rows = await write_back(outcomes, session=session, now=now)
        if observers.active():
            await observers.notify([_change(row, now) for row in rows], _raw(session))


def _transaction(session: Any) -> Any:
    return session.transaction() if session is not None else transaction()


def _change(row: dict[str, Any], now: datetime) -> observers.StatusChange:
    status = row["status"]
    return observers.StatusChange(
        message_id=row["id"],
        workspace_id=row["workspace"],
        campaign_id=row["campaign_id"],
        run_id=row["run_id"],
        message_ref=row["message_ref"],
        before="sending",
        after=status,
        failure_reason=row["failure_reason"],
        at=now,
        reached=frozenset({status}) if status in ("sent", "failed") else frozenset(),
    )


async def write_back(
    outcomes: list[Outcome], session: Any = None, now: datetime | None = None, *, returning: bool = True
) -> list[dict[str, Any]]:
    """Every outcome of a chunk in one UPDATE … FROM a row source; only rows still ``sending`` change (a
    status webhook that beat us to it has already settled its message). Returns the rows it changed, or
    nothing with ``returning`` False (no observer wants them: the gateway's own sends).

    SQLite reads the outcomes from ``VALUES`` (8 values bound per message); PostgreSQL from ``unnest``
    over one array per column (8 arrays whatever the chunk's size): the same rows change the same way."""
    if not outcomes:
        return []
    now = now or datetime.now(UTC)
    columns = (
        [o.id for o in outcomes],
        [o.status for o in outcomes],
        [o.failure_reason for o in outcomes],
        [o.error_code for o in outcomes],
        [o.error_message for o in outcomes],
        [o.provider_message_id for o in outcomes],
        [o.next_attempt_at for o in outcomes],
        [1 if o.attempted else 0 for o in outcomes],
    )
    args: list[Any]
    if is_sqlite():
        row_sql = "({}, {}, {}, {}, {}, {}, {}, {})"
        source = f"(VALUES {', '.join(row_sql for _ in outcomes)}) AS v"  # columns: column1, …
        args = [value for row in zip(*columns, strict=True) for value in row]
    else:
        source = unnest_source(["bigint", "text", "text", "text", "text", "text", "timestamptz", "int"])
        args = list(columns)
    return await _raw(session)(
        "UPDATE messages SET status = v.column2, failure_reason = v.column3, error_code = v.column4, "
        "error_message = v.column5, "
        "provider_message_id = COALESCE(v.column6, messages.provider_message_id), "
        "next_attempt_at = v.column7, attempts = messages.attempts + v.column8, lease_until = NULL, "
        "updated_at = {}, "
        "sent_at = CASE WHEN v.column2 = 'sent' THEN {} ELSE messages.sent_at END, "
        "failed_at = CASE WHEN v.column2 = 'failed' THEN {} ELSE messages.failed_at END "
        f"FROM {source} WHERE messages.id = v.column1 AND {_status_is('sending', 'messages.')}"
        + (f" RETURNING {_SETTLED}" if returning else ""),
        now,
        now,
        now,
        *args,
    )


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value
