"""Stepping runs in batches: events in, the interpreter's actions performed, all in one transaction.

:func:`drive` takes run ids (a trigger's new runs, runs whose timer fired or whose inbox got a reply) and,
in one transaction per batch:

1. locks the campaigns of the runs (share) and then the runs, in that order everywhere, so a suspend or
   an end either waits for the batch or is seen by it; runs of a campaign that is not running are left
   alone (their events wait in the inbox);
2. feeds each run its events in order (``Start`` for a run not started yet, then its inbox) through
   :func:`flows.interpreter.step`, one event per run per pass;
3. performs the actions: messages are stored through the gateway's batch path (the consent gate runs
   for the whole pass in a few queries; a blocked message moves a run that waited on its buttons on, in
   the next pass: seed 002), timers are stored, contact changes and consent changes are written, an
   HTTP request is left for its own job;
4. writes the runs back, marks the events applied or ignored, and counts what happened for the live
   stats (through :mod:`backend.runs.hooks`).

After the commit the queued messages are enqueued for sending and HTTP calls for their job. A message of a
run's node is stored at most once (the gateway's unique ``(run_id, message_ref)``), and the run's state
is committed with it, so a batch that runs twice — arq is at least once — sends nothing twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from backend.audience.addresses import PHONE_CHANNELS
from backend.audience.tables import Contact, GroupMember
from backend.consent import service as consent
from backend.core.bulk import execute, insert_rows, update_rows
from backend.core.database import locked, transaction
from backend.core.errors import FlowgateError
from backend.messages import service as messages
from backend.runs import hooks, poison
from backend.runs.flows import decode_event, decode_state, encode_state, versions
from backend.runs.tables import Run, RunEvent, RunTimer
from backend.senders.tables import Sender
from flows.graph import CompiledFlow
from flows.interpreter import step
from flows.run import (
    AddTag,
    ButtonTap,
    CallHttp,
    ChangeGroup,
    ContactSnapshot,
    Event,
    OptIn,
    OptOut,
    Reply,
    RunState,
    ScheduleTimer,
    SendMessage,
    SendResult,
    SetAttribute,
    Start,
)

log = logging.getLogger(__name__)

RUN_BATCH = 500
"""Runs per job and per transaction (FIELD-NOTES: batch jobs of 100-500, never one job per message)."""
DRIVE_JOB = "drive_runs"
HTTP_JOB = "call_http"
MOVING = ("active", "waiting")
FINISHED = ("completed", "failed", "expired", "interrupted")


@dataclass
class AfterCommit:
    """What a batch leaves for after its commit."""

    sends: list[int] = field(default_factory=list)
    http: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    deliveries: list[int] = field(default_factory=list)
    campaigns: set[int] = field(default_factory=set)
    summary: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def merge(self, other: AfterCommit) -> None:
        self.sends += other.sends
        self.http += other.http
        self.deliveries += other.deliveries
        self.campaigns |= other.campaigns
        for key, value in other.summary.items():
            self.summary[key] += value

    async def dispatch(self, queue: Any) -> None:
        """Enqueue sends and HTTP calls, hand consent webhooks over, wake the live monitors."""
        from backend.webhooks import service as webhooks

        if self.sends:
            try:
                await messages.enqueue_sends(queue, self.sends)
            except Exception:  # the reconciler re-enqueues queued messages after a minute
                log.warning("could not enqueue %d flow messages; the reconciler will", len(self.sends))
        for run_id, request in self.http:
            if queue is not None:
                await queue.enqueue_job(
                    HTTP_JOB, run_id, request, _job_id=f"http:{run_id}:{request['request_id']}"
                )
        await webhooks.dispatch(queue, self.deliveries)
        hooks.bridge().changed(self.campaigns)


async def drive(
    run_ids: list[int],
    *,
    queue: Any,
    now: datetime | None = None,
    snapshots: dict[int, ContactSnapshot] | None = None,
) -> dict[str, int]:
    """Step the given runs as far as they go now; a count of what became of them.

    Safe to call twice with the same ids (finished runs and applied events are skipped). ``snapshots``
    replaces the contact a new run starts with (an API start's extra attributes). A run whose step
    raises does not hold its batch back: the others are stepped without it and its failure is counted
    (:mod:`backend.runs.poison`); only a transient database or network error is raised to the caller.
    """
    ids = sorted({int(run_id) for run_id in run_ids})
    after = AfterCommit()
    errors: dict[int, str] = {}
    try:
        for start in range(0, len(ids), RUN_BATCH):
            part = ids[start : start + RUN_BATCH]
            await _drive_isolating(part, now or datetime.now(UTC), snapshots, after, errors)
    except Exception:
        # A transient error stops the job (it is retried); what the batches before it committed still
        # goes out now rather than waiting for the reconciler and the sweeper.
        with contextlib.suppress(Exception):
            await after.dispatch(queue)
        raise
    await after.dispatch(queue)
    if errors:
        for key, value in (await poison.record(errors, now=now or datetime.now(UTC))).items():
            after.summary[key] += value
    return dict(after.summary)


async def _drive_isolating(
    run_ids: list[int],
    now: datetime,
    snapshots: dict[int, ContactSnapshot] | None,
    after: AfterCommit,
    errors: dict[int, str],
) -> None:
    """Step ``run_ids`` in one transaction; the runs that make it fail are found by
    :func:`poison.isolate` and their errors collected in ``errors`` for :func:`poison.record`, while the
    others commit."""

    async def attempt(part: list[int]) -> None:
        async with transaction():
            batch_after = await step_in_transaction(part, now=now, snapshots=snapshots)
        after.merge(batch_after)

    def failed(run_id: int, error: str) -> None:
        errors[run_id] = error
        log.debug("run %s: step failed: %s", run_id, error)

    await poison.isolate(run_ids, attempt, failed)


async def step_in_transaction(
    run_ids: list[int], *, now: datetime, snapshots: dict[int, ContactSnapshot] | None = None
) -> AfterCommit:
    """:func:`drive`'s work for one batch, inside the caller's transaction (the API start uses it to
    create and start a run in one commit). The caller dispatches the result after committing."""
    batch = _Batch(now, snapshots or {})
    if await batch.load(run_ids):
        await batch.run()
        await batch.write()
    return batch.after


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to create and start: who, on which version, for which campaign (or trigger)."""

    workspace_id: int
    flow_id: int
    version_id: int
    contact: dict[str, Any]
    """The contact's row as :func:`load_contacts` gives it."""
    sender_id: int | None
    campaign_id: int | None = None
    trigger: str = "campaign"
    entry: int = 1


async def start_new(runs: list[NewRun], *, now: datetime) -> AfterCommit:
    """Create runs and take their first steps, in the caller's transaction: each run row is written once,
    with the state its first step left it in (before its messages, which name it). A run whose
    ``(campaign, contact, entry)`` exists already is not created (a batch that runs twice). The caller
    dispatches the result after committing."""
    batch = _Batch(now, {})
    if await batch.add_new(runs):
        await batch.run()
        await batch.write()
    return batch.after


def seed_of(new: NewRun) -> int:
    """Random splits are reproducible per contact and entry of a campaign (or flow), whatever the run's id."""
    return _seed(new.campaign_id, new.flow_id, new.contact["id"], new.entry)


def _seed(campaign_id: int | None, flow_id: int, contact_id: int, entry: int) -> int:
    digest = hashlib.blake2b(f"{campaign_id}:{flow_id}:{contact_id}:{entry}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _start_seed(row: dict[str, Any]) -> int:
    """The seed of a stored run not started yet: a campaign's run (one whose first start failed in its
    batch, :mod:`backend.runs.enroll`) gets the seed it would have had in its batch; others their id."""
    if row["campaign_id"] is None:
        return row["id"]
    return _seed(row["campaign_id"], row["flow"], row["contact"], row["entry"])


# --- one batch ---------------------------------------------------------------------------------------


@dataclass
class _Work:
    """One run while its batch steps it."""

    row: dict[str, Any]
    flow: CompiledFlow
    before: RunState | None
    state: RunState | None
    policy: hooks.RunPolicy | None
    contact: dict[str, Any]
    sender: dict[str, Any] | None
    queue: deque[tuple[int | None, Event]] = field(default_factory=deque)
    applied: list[int] = field(default_factory=list)
    ignored: list[int] = field(default_factory=list)
    timer: tuple[str, datetime] | None = None
    http: CallHttp | None = None
    changed: bool = False
    counts: hooks.Counts = field(default_factory=hooks.Counts)
    written: RunState | None = None
    """For a new run: the state its row was inserted with (written again only if it moved on since)."""
    dropped: bool = False
    """A new run that already existed (its insert conflicted): nothing of it is written."""

    @property
    def campaign_id(self) -> int | None:
        return self.row["campaign_id"]

    def waits_on(self, message_ref: str) -> bool:
        waiting = self.state.waiting if self.state is not None else None
        return waiting is not None and waiting.kind == "buttons" and waiting.message_ref == message_ref


class _Batch:
    def __init__(self, now: datetime, snapshots: dict[int, ContactSnapshot]) -> None:
        self.now = now
        self.snapshots = snapshots
        self.works: list[_Work] = []
        self.counts = hooks.Counts()
        self.after = AfterCommit()
        self.contact_changes: dict[int, dict[str, Any]] = {}
        self.group_changes: list[tuple[_Work, ChangeGroup]] = []
        self.consent_changes: list[tuple[_Work, OptOut | OptIn, bool]] = []
        """Each consent step with whether the contact's own words led to it (:func:`_said_by_contact`)."""

    # --- loading ------------------------------------------------------------------------------------

    async def load(self, run_ids: list[int]) -> bool:
        heads = await Run.select(Run.id, Run.campaign_id).where(
            Run.id.is_in(run_ids) & Run.status.is_in(list(MOVING))
        )
        if not heads:
            return False
        campaign_ids = {row["campaign_id"] for row in heads if row["campaign_id"] is not None}
        # Campaigns first (share-locked by the bridge), runs second: the order every writer keeps.
        policies = await hooks.bridge().policies(campaign_ids) if campaign_ids else {}
        movable = [
            row["id"]
            for row in heads
            if row["campaign_id"] is None
            or (row["campaign_id"] in policies and policies[row["campaign_id"]].moving)
        ]
        held = len(heads) - len(movable)
        if held:
            self.after.summary["held"] += held
        if not movable:
            return False
        rows = await locked(
            Run.select().where(Run.id.is_in(movable) & Run.status.is_in(list(MOVING))).order_by(Run.id)
        )
        if not rows:
            return False
        events = (
            await RunEvent.select(RunEvent.id, RunEvent.run, RunEvent.event)
            .where(RunEvent.run.is_in([row["id"] for row in rows]) & (RunEvent.status == "pending"))
            .order_by(RunEvent.id)
        )
        by_run: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for event in events:
            by_run[event["run"]].append(event)
        contacts = await load_contacts({row["contact"] for row in rows})
        senders = await _senders({row["sender"] for row in rows if row["sender"] is not None})
        flows = await versions.get_many({row["flow_version"] for row in rows})
        orphans = []
        for row in rows:
            version = flows.get(row["flow_version"])
            contact = contacts.get(row["contact"])
            if (
                version is None
                or contact is None
                or (version.flow_id, version.workspace_id) != (row["flow"], row["workspace"])
            ):
                orphans.append(row)  # its flow was deleted (contacts cascade-delete their runs)
                continue
            flow = version.compiled
            state = decode_state(row["state"])
            work = _Work(
                row=row,
                flow=flow,
                before=state,
                state=state,
                policy=policies.get(row["campaign_id"]) if row["campaign_id"] is not None else None,
                contact=contact,
                sender=senders.get(row["sender"]) if row["sender"] is not None else None,
            )
            if state is None:
                snapshot = self.snapshots.get(row["id"]) or snapshot_of(contact)
                work.queue.append((None, Start(contact=snapshot, seed=_start_seed(row))))
            for event in by_run.get(row["id"], []):
                work.queue.append((event["id"], decode_event(event["event"])))
            self.works.append(work)
        await self._interrupt(orphans)
        return bool(self.works)

    async def _interrupt(self, rows: list[dict[str, Any]]) -> None:
        """Runs whose flow version is gone cannot go on: they end ``interrupted``."""
        counts = hooks.Counts()
        for row in rows:
            await Run.update(
                {
                    Run.status: "interrupted",
                    Run.ended_reason: "flow_deleted",
                    Run.ended_at: self.now,
                    Run.updated_at: self.now,
                    Run.waiting_kind: None,
                }
            ).where(Run.id == row["id"])
            counts.add(row["campaign_id"], "", f"runs:{row['status']}", -1)
            counts.add(row["campaign_id"], "", "runs:interrupted")
            self.after.summary["interrupted"] += 1
        await hooks.bridge().record(counts)
        self.after.campaigns |= counts.campaigns()

    async def add_new(self, runs: list[NewRun]) -> bool:
        """Runs to create: started in memory now, inserted before their first messages are stored."""
        if not runs:
            return False
        campaign_ids = {new.campaign_id for new in runs if new.campaign_id is not None}
        policies = await hooks.bridge().policies(campaign_ids) if campaign_ids else {}
        senders = await _senders({new.sender_id for new in runs if new.sender_id is not None})
        flows = await versions.get_many({new.version_id for new in runs})
        for new in runs:
            version = flows.get(new.version_id)
            policy = policies.get(new.campaign_id) if new.campaign_id is not None else None
            if version is None or (new.campaign_id is not None and (policy is None or not policy.moving)):
                continue
            work = _Work(
                row={
                    "id": None,
                    "workspace": new.workspace_id,
                    "flow": new.flow_id,
                    "flow_version": new.version_id,
                    "campaign_id": new.campaign_id,
                    "contact": new.contact["id"],
                    "sender": new.sender_id,
                    "trigger": new.trigger,
                    "entry": new.entry,
                    "pending_http": None,
                },
                flow=version.compiled,
                before=None,
                state=None,
                policy=policy,
                contact=new.contact,
                sender=senders.get(new.sender_id) if new.sender_id is not None else None,
            )
            work.queue.append((None, Start(contact=snapshot_of(new.contact), seed=seed_of(new))))
            work.counts.both(new.campaign_id, None, "entered")
            work.counts.add(new.campaign_id, "", "runs:active")
            self.works.append(work)
        return bool(self.works)

    async def _insert_new(self) -> None:
        """Insert the new runs not inserted yet, with their current state; a conflict (the same campaign,
        contact and entry already has a run) drops the work."""
        pending = [work for work in self.works if work.row["id"] is None and not work.dropped]
        for start in range(0, len(pending), INSERT_ROWS):
            part = pending[start : start + INSERT_ROWS]
            inserted = await insert_rows(
                execute,
                "runs",
                _RUN_COLUMNS,
                [_new_row(work, self.now) for work in part],
                tail="ON CONFLICT DO NOTHING RETURNING id, contact, entry, campaign_id",
            )
            ids = {(row["campaign_id"], row["contact"], row["entry"]): row["id"] for row in inserted}
            self.after.summary["started"] += len(inserted)
            for work in part:
                run_id = ids.get((work.campaign_id, work.row["contact"], work.row["entry"]))
                if run_id is None:
                    work.dropped = True
                    work.queue.clear()
                    continue
                work.row["id"] = run_id
                work.written = work.state

    # --- stepping -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Pass after pass, one event per run, until no run has anything left to take."""
        while True:
            drafts: dict[tuple[int, int], list[tuple[_Work, SendMessage, messages.Draft]]] = defaultdict(list)
            progressed = False
            for work in self.works:
                if not work.queue:
                    continue
                progressed = True
                event_id, event = work.queue.popleft()
                self._apply(work, event_id, event, drafts)
            if not progressed:
                return
            await self._store_messages(drafts)

    def _apply(
        self,
        work: _Work,
        event_id: int | None,
        event: Event,
        drafts: dict[tuple[int, int], list[tuple[_Work, SendMessage, messages.Draft]]],
    ) -> None:
        before = work.state
        result = step(work.flow, before, event, self.now)
        if result.state is before and not result.actions:
            if event_id is not None:
                work.ignored.append(event_id)
            return
        if event_id is not None:
            work.applied.append(event_id)
        work.state = result.state
        work.changed = True
        _tally(work.counts, work.campaign_id, before, result.state, event)
        for action in result.actions:
            if isinstance(action, SendMessage):
                self._draft(work, action, drafts)
            elif isinstance(action, ScheduleTimer):
                work.timer = (action.timer_id, action.fire_at)
            elif isinstance(action, CallHttp):
                work.http = action
            elif isinstance(action, SetAttribute | AddTag):
                self._contact_change(work, action)
            elif isinstance(action, ChangeGroup):
                self.group_changes.append((work, action))
            elif isinstance(action, OptOut | OptIn):  # counted by the consent observer
                self.consent_changes.append((work, action, _said_by_contact(work, event)))

    def _draft(
        self,
        work: _Work,
        action: SendMessage,
        drafts: dict[tuple[int, int], list[tuple[_Work, SendMessage, messages.Draft]]],
    ) -> None:
        sender = work.sender
        address = _address(work.contact, sender["channel"]) if sender is not None else None
        if sender is None or address is None:
            reason = "sender_unavailable" if sender is None else "no_address"
            self._failed_at_once(work, action, reason)
            return
        kind = _kind(work, action)
        marketing = kind == "marketing"
        policy = work.policy
        category = (
            action.category_id if action.category_id is not None else (policy.category_id if policy else None)
        )
        template = msgspec.to_builtins(action.template) if action.template is not None else None
        draft = messages.Draft(
            to=address,
            kind=kind,
            text=(action.text or None) if template is None else None,
            template=template,
            buttons=[{"id": b.id, "title": b.title} for b in action.buttons] or None,
            media_url=(action.media_url.strip() or None) if template is None else None,
            subject=_subject(work, action) if sender["channel"] == "email" else None,
            category_id=category if marketing else None,
            contact_id=work.row["contact"],
            origin="campaign" if work.campaign_id is not None else "flow",
            campaign_id=work.campaign_id,
            run_id=None,  # set when it is stored: a new run gets its id then
            message_ref=action.message_ref,
            opted_in_only=policy.opted_in_only if policy is not None else True,
        )
        drafts[(work.row["workspace"], sender["id"])].append((work, action, draft))

    def _failed_at_once(self, work: _Work, action: SendMessage, reason: str) -> None:
        """A message that cannot even be stored (its sender was deleted, the contact lost the address):
        nothing to send, so no message row; the run moves on as if it had failed, and it is counted as
        ``unsent:<reason>`` (not among the messages' failures, which are rows in the messages table)."""
        work.counts.both(work.campaign_id, action.node_id, f"unsent:{reason}")
        self.after.summary[f"unsent:{reason}"] += 1
        if work.waits_on(action.message_ref):
            work.queue.appendleft(
                (None, SendResult(message_ref=action.message_ref, status="failed", reason=reason))
            )

    async def _store_messages(
        self, drafts: dict[tuple[int, int], list[tuple[_Work, SendMessage, messages.Draft]]]
    ) -> None:
        if any(work.row["id"] is None for work in self.works):
            await self._insert_new()  # the messages name their run
        for (workspace_id, _), items in drafts.items():
            items = [item for item in items if not item[0].dropped]
            for work, _action, draft in items:
                draft.run_id = str(work.row["id"])
            if not items:
                continue
            sender = items[0][0].sender
            assert sender is not None
            rows = await messages.create_outbound_batch(
                workspace_id, sender, [draft for _, _, draft in items], now=self.now
            )
            for (work, action, _), row in zip(items, rows, strict=True):
                if row["status"] == messages.QUEUED:
                    self.after.sends.append(row["id"])
                    self.after.summary["queued"] += 1
                elif row["status"] == messages.FAILED and row["failure_reason"] == "opted_out":
                    work.counts.both(work.campaign_id, action.node_id, "failed")
                    work.counts.both(work.campaign_id, action.node_id, "failed:opted_out")
                    self.after.summary["opted_out"] += 1
                    if work.waits_on(action.message_ref):
                        work.queue.appendleft(
                            (
                                None,
                                SendResult(
                                    message_ref=action.message_ref, status="failed", reason="opted_out"
                                ),
                            )
                        )

    def _contact_change(self, work: _Work, action: SetAttribute | AddTag) -> None:
        contact = work.contact
        change = self.contact_changes.setdefault(contact["id"], {"workspace": contact["workspace"]})
        if isinstance(action, AddTag):
            tags = change.setdefault("tags", list(contact["tags"]))
            if action.tag not in tags:
                tags.append(action.tag)
            return
        name, value = action.attribute, action.value
        if name == "name":
            change["name"] = value[:200]
        elif name == "timezone":
            if _is_zone(value):
                change["timezone"] = value
        elif name in ("phone", "email"):
            log.info(
                "run %s: a flow does not change a contact's %s; kept as a variable", work.row["id"], name
            )
        else:
            change.setdefault("attributes", dict(contact["attributes"]))[name] = value

    # --- writing ------------------------------------------------------------------------------------

    async def write(self) -> None:
        if any(work.row["id"] is None for work in self.works):
            await self._insert_new()
        for work in self.works:
            if not work.dropped:
                self.counts.values.update(
                    {key: self.counts.values.get(key, 0) + value for key, value in work.counts.values.items()}
                )
        await self._write_runs()
        await self._write_events()
        await self._write_timers()
        await self._write_contacts()
        await self._write_groups()
        await self._write_consent()
        await hooks.bridge().record(self.counts)
        self.after.campaigns |= self.counts.campaigns()

    async def _write_runs(self) -> None:
        rows = []
        for work in self.works:
            if not work.changed or work.state is None or work.dropped:
                continue
            if work.written is work.state and work.http is None:
                self.after.summary[work.state.status] += 1
                continue  # inserted with this very state
            state = work.state
            waiting = state.waiting
            pending_http = work.row["pending_http"]
            if work.http is not None:
                pending_http = msgspec.json.encode(work.http).decode()
                self.after.http.append((work.row["id"], msgspec.to_builtins(work.http)))
            if waiting is None or waiting.kind != "http":
                pending_http = None
            finished = state.status in FINISHED
            rows.append(
                (
                    work.row["id"],
                    state.status,
                    state.current_node,
                    waiting.kind if waiting is not None else None,
                    waiting.message_ref if waiting is not None and waiting.message_ref else None,
                    encode_state(state),
                    pending_http,
                    self.now,
                    self.now if finished else None,
                    state.ended_reason if finished else "",
                )
            )
            self.after.summary[state.status] += 1
        await update_rows(
            execute,
            "runs",
            "id",
            [
                ("status", "text"),
                ("current_node", "text"),
                ("waiting_kind", "text"),
                ("waiting_ref", "text"),
                ("state", "text"),
                ("pending_http", "text"),
                ("updated_at", "timestamptz"),
                ("ended_at", "timestamptz"),
                ("ended_reason", "text"),
            ],
            rows,
        )

    async def _write_events(self) -> None:
        for status, ids in (
            ("applied", [i for work in self.works for i in work.applied]),
            ("ignored", [i for work in self.works for i in work.ignored]),
        ):
            if ids:
                await RunEvent.update({RunEvent.status: status, RunEvent.applied_at: self.now}).where(
                    RunEvent.id.is_in(ids)
                )

    async def _write_timers(self) -> None:
        """A run whose wait changed loses its old deadline and gets the new one (if any)."""
        reset: list[int] = []
        new: list[RunTimer] = []
        for work in self.works:
            before = _timer_of(work.before)
            after = _timer_of(work.state)
            if before == after or work.dropped:
                continue
            reset.append(work.row["id"])
            if after is not None and work.timer is not None and work.timer[0] == after:
                new.append(
                    RunTimer(
                        run=work.row["id"],
                        campaign_id=work.campaign_id,
                        timer_id=after,
                        fire_at=work.timer[1],
                    )
                )
        if reset:
            await RunTimer.delete().where(RunTimer.run.is_in(reset))
        if new:
            await RunTimer.insert(*new).on_conflict(action="DO NOTHING")

    async def _write_contacts(self) -> None:
        for contact_id, change in self.contact_changes.items():
            values: dict[Any, Any] = {Contact.updated_at: self.now}
            for key in ("name", "timezone", "attributes", "tags"):
                if key in change:
                    values[getattr(Contact, key)] = change[key]
            await Contact.update(values).where(
                (Contact.id == contact_id) & (Contact.workspace == change["workspace"])
            )

    async def _write_groups(self) -> None:
        for work, action in self.group_changes:
            if work.dropped:
                continue
            workspace_id, contact_id = work.row["workspace"], work.row["contact"]
            if action.action == "add":
                from backend.audience.tables import Group

                if await Group.exists().where(
                    (Group.id == action.group_id) & (Group.workspace == workspace_id)
                ):
                    await GroupMember.insert(
                        GroupMember(workspace=workspace_id, group=action.group_id, contact=contact_id)
                    ).on_conflict(action="DO NOTHING")
            else:
                await GroupMember.delete().where(
                    (GroupMember.group == action.group_id)
                    & (GroupMember.contact == contact_id)
                    & (GroupMember.workspace == workspace_id)
                )

    async def _write_consent(self) -> None:
        for work, action, by_contact in self.consent_changes:
            if work.dropped:
                continue
            if isinstance(action, OptIn) and not by_contact:
                # Only the person may take back their own STOP (or an admin, with a reason): a step reached
                # from a campaign, an API start, a timer or an HTTP answer reverses nothing.
                log.info(
                    "run %s: opt-in step %s skipped: not after the contact's own words",
                    work.row["id"],
                    action.node_id,
                )
                continue
            sender = work.sender
            if sender is None:
                continue
            address = _address(work.contact, sender["channel"])
            if address is None:
                continue
            scope = None if sender.get("opt_out_scope") == "workspace" else sender["id"]
            actor = f"flow {work.row['flow']} step {action.node_id}"
            evidence = {"run_id": work.row["id"], "campaign_id": work.campaign_id, "node_id": action.node_id}
            common = {
                "channel": sender["channel"],
                "address": address,
                "source": "flow",
                "category_id": action.category_id,
                "sender_id": scope,
                "actor": actor,
                "evidence": evidence,
            }
            try:
                if isinstance(action, OptOut):
                    result = await consent.apply_opt_out(work.row["workspace"], **common)
                    self.after.deliveries += result.deliveries
                else:
                    _, deliveries = await consent.apply_opt_in(
                        work.row["workspace"],
                        reason="opted in by a flow step",
                        only_keyword_entries=True,
                        **common,
                    )
                    self.after.deliveries += deliveries
            except FlowgateError as exc:  # checked before any write (a deleted category): skip, keep the run
                log.warning("run %s: %s not recorded: %s", work.row["id"], type(action).__name__, exc.detail)


# --- helpers -------------------------------------------------------------------------------------------


def _said_by_contact(work: _Work, event: Event) -> bool:
    """The step follows the contact's own words: their reply or tap, or the keyword that started the run."""
    if isinstance(event, Reply | ButtonTap):
        return True
    return isinstance(event, Start) and work.row["trigger"] == "keyword"


INSERT_ROWS = 500
_RUN_COLUMNS = [
    ("workspace", "bigint"),
    ("flow", "bigint"),
    ("flow_version", "bigint"),
    ("campaign_id", "bigint"),
    ("contact", "bigint"),
    ("sender", "bigint"),
    ("trigger", "varchar"),
    ("entry", "integer"),
    ("status", "varchar"),
    ("current_node", "varchar"),
    ("waiting_kind", "varchar"),
    ("waiting_ref", "varchar"),
    ("state", "text"),
    ("pending_http", "text"),
    ("started_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("ended_at", "timestamptz"),
    ("ended_reason", "varchar"),
]
"""The columns of a new run's INSERT and their PostgreSQL types."""


def _new_row(work: _Work, now: datetime) -> tuple[Any, ...]:
    """A new run's values for :data:`_RUN_COLUMNS`, at the state its first step left it in."""
    row, state = work.row, work.state
    waiting = state.waiting if state is not None else None
    finished = state is not None and state.status in FINISHED
    pending_http = (
        msgspec.json.encode(work.http).decode()
        if work.http is not None and waiting and waiting.kind == "http"
        else None
    )
    return (
        row["workspace"],
        row["flow"],
        row["flow_version"],
        row["campaign_id"],
        row["contact"],
        row["sender"],
        row["trigger"],
        row["entry"],
        state.status if state is not None else "active",
        state.current_node if state is not None else None,
        waiting.kind if waiting is not None else None,
        waiting.message_ref if waiting is not None and waiting.message_ref else None,
        encode_state(state) if state is not None else None,
        pending_http,
        now,
        now,
        now if finished else None,
        state.ended_reason if finished and state is not None else "",
    )


def snapshot_of(contact: dict[str, Any]) -> ContactSnapshot:
    """The contact as a run starts with it. Stored attributes or tags of the wrong shape (a bad write,
    JSON encoded twice) raise a ValueError naming them: the run's failure then says what to repair
    (:mod:`backend.runs.poison`), instead of a flow guessing at them."""
    return ContactSnapshot(
        id=contact["id"],
        name=contact["name"] or "",
        phone=contact["phone"] or "",
        email=contact["email"] or "",
        timezone=contact["timezone"] or contact.get("workspace_timezone") or "UTC",
        attributes=dict(_stored(contact, "attributes", dict, "a JSON object")),
        tags=list(_stored(contact, "tags", list, "a JSON list")),
    )


def _stored(contact: dict[str, Any], column: str, shape: type, what: str) -> Any:
    value = contact[column] or shape()
    if not isinstance(value, shape):
        raise ValueError(
            f"contact {contact['id']}: its stored {column} are not {what} but {type(value).__name__} "
            f"{str(value)[:80]!r}; correct the contact's {column}"
        )
    return value


async def load_contacts(contact_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The runs' contacts as they are now (an address changed since enrollment is the one used), with
    the workspace's time zone for contacts that have none."""
    rows = (
        await Contact.select(
            Contact.id,
            Contact.workspace,
            Contact.phone,
            Contact.email,
            Contact.name,
            Contact.attributes,
            Contact.tags,
            Contact.timezone,
            Contact.workspace.timezone.as_alias("workspace_timezone"),
        )
        .where(Contact.id.is_in(list(contact_ids)))
        .output(load_json=True)
    )
    return {row["id"]: row for row in rows}


async def _senders(sender_ids: set[int]) -> dict[int, dict[str, Any]]:
    if not sender_ids:
        return {}
    rows = await Sender.select().where(Sender.id.is_in(list(sender_ids))).output(load_json=True)
    return {row["id"]: row for row in rows}


def _address(contact: dict[str, Any], channel: str) -> str | None:
    return (contact["phone"] if channel in PHONE_CHANNELS else contact["email"]) or None


def _kind(work: _Work, action: SendMessage) -> str:
    """Marketing wins: a marketing campaign makes every message of its flow marketing; a keyword bot's
    transactional steps answer a conversation the contact started (conversational)."""
    if action.message_kind == "marketing" or (work.policy is not None and work.policy.kind == "marketing"):
        return "marketing"
    if work.row["trigger"] == "keyword":
        return "conversational"
    return "transactional"


def _subject(work: _Work, action: SendMessage) -> str:
    if work.policy is not None and work.policy.subject:
        return work.policy.subject
    first_line = (action.text or "").strip().splitlines()[0] if (action.text or "").strip() else ""
    return first_line[:78] or "Message"


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _timer_of(state: RunState | None) -> str | None:
    waiting = state.waiting if state is not None else None
    return waiting.timer_id or None if waiting is not None else None


def _tally(
    counts: hooks.Counts, campaign_id: int | None, before: RunState | None, after: RunState, event: Event
) -> None:
    """Live counters from one step: nodes entered, edges taken, waits begun and ended, run statuses."""
    if campaign_id is None:
        return
    old_steps = before.steps if before is not None else 0
    new_steps = after.steps - old_steps
    path = after.path
    fresh = path[-new_steps:] if 0 < new_steps <= len(path) else (path if new_steps > 0 else [])
    for entry in fresh:
        counts.add(campaign_id, entry.node_id, "entered")
        if entry.port:
            counts.add(campaign_id, f"edge:{entry.node_id}:{entry.port}", "passed")
    if before is not None and before.waiting is not None:
        waited_at = before.waiting.node_id
        counts.add(campaign_id, waited_at, "waiting", -1)
        resumed_index = len(path) - new_steps - 1
        if 0 <= resumed_index < len(path):
            resumed = path[resumed_index]
            if resumed.node_id == waited_at and resumed.port:
                counts.add(campaign_id, f"edge:{waited_at}:{resumed.port}", "passed")
        if isinstance(event, Reply | ButtonTap):
            counts.both(campaign_id, waited_at, "replied")
    if after.waiting is not None:
        counts.add(campaign_id, after.waiting.node_id, "waiting")
    old_status = before.status if before is not None else "active"
    if old_status != after.status:
        counts.add(campaign_id, "", f"runs:{old_status}", -1)
        counts.add(campaign_id, "", f"runs:{after.status}")
