"""The ``optouts`` import kind: a CSV of opt-outs written by the same ledger as every other opt-out
(PRODUCT.md 4.9, seed 004's sender mapping).

Columns (header names are matched loosely: ``Valid Days`` is ``valid_days``): ``channel`` and ``address``
are required; ``category`` (a name or an id), ``sender`` (an address or a name; empty: workspace-wide),
``valid_days`` or ``valid_until`` (neither: permanent), ``remarks``. The upload's ``sender_mapping``
option maps ``sender`` cells to sender ids or ``"workspace"`` before any name lookup.

Imported entries have source ``import``: an admin's record, not the person's own act, so the campaign
toggle may override them. Durations add up with active entries exactly as for a manual entry. Webhook
deliveries for imported events are committed with each batch and sent by the webhook sweeper (the runner
owns the transaction, so there is no moment after its commit to hand them to the queue ourselves).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.audience.addresses import CHANNELS, normalise_address, normalise_phone
from backend.consent import validation
from backend.consent.ledger import Ledger
from backend.consent.tables import MarketingCategory
from backend.core.edge import check_int64
from backend.core.errors import FieldProblem, InvalidInput
from backend.imports.kinds import Applied, HeaderProblem, ImportJob, ImportKind, Row, RowError, register_kind
from backend.senders.tables import Sender
from backend.workspaces.tables import Workspace

KIND = "optouts"
WORKSPACE = "workspace"
"""The ``sender_mapping`` value (and ``sender`` cell) meaning "every sender"."""


@dataclass(frozen=True, slots=True)
class _Record:
    row: int
    channel: str
    address: str
    category_id: int | None
    sender_id: int | None
    valid_days: int | None
    valid_until: datetime | None
    remarks: str


def parse_sender_mapping(raw: str | dict | None, field: str = "sender_mapping") -> dict[str, int | None]:
    """``{"csv value": sender id or "workspace"}`` from the upload form; None values mean workspace-wide."""
    if raw in (None, ""):
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise InvalidInput(field, f"is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput(field, 'must be a JSON object like {"Shop SMS": 12, "All": "workspace"}')
    mapping: dict[str, int | None] = {}
    for key, target in value.items():
        if target == WORKSPACE:
            mapping[str(key).strip()] = None
        elif isinstance(target, int) and not isinstance(target, bool):
            # A sender id the database cannot hold is refused here, not by the database (a 500).
            mapping[str(key).strip()] = check_int64(f"{field}.{key}", target, source="body")
        else:
            raise InvalidInput(field, f"{key!r} must map to a sender id or {WORKSPACE!r}, not {target!r}")
    return mapping


async def check_sender_mapping(workspace_id: int, mapping: dict[str, int | None]) -> None:
    """Every mapped sender must be this workspace's (400 at upload, before the file is stored)."""
    wanted = {target for target in mapping.values() if target is not None}
    if not wanted:
        return
    found = {
        row["id"]
        for row in await Sender.select(Sender.id).where(
            (Sender.workspace == workspace_id) & Sender.id.is_in(list(wanted))
        )
    }
    missing = sorted(wanted - found)
    if missing:
        raise InvalidInput("sender_mapping", f"no sender {missing[0]} in this workspace")


class OptOutsImport(ImportKind):
    name = KIND
    required_columns = frozenset({"channel", "address"})
    known_columns = frozenset(
        {"channel", "address", "category", "sender", "valid_days", "valid_until", "remarks"}
    )

    async def prepare(self, job: ImportJob) -> None:
        """Load what every row is checked against: settings, categories, senders and the mapping."""
        workspace = (
            await Workspace.select(Workspace.default_phone_region, Workspace.timezone)
            .where(Workspace.id == job.workspace_id)
            .first()
        )
        if workspace is None:
            raise HeaderProblem("the workspace no longer exists")
        categories = await MarketingCategory.select(MarketingCategory.id, MarketingCategory.name).where(
            MarketingCategory.workspace == job.workspace_id
        )
        senders = await Sender.select(Sender.id, Sender.name, Sender.channel, Sender.address).where(
            Sender.workspace == job.workspace_id
        )
        mapping = parse_sender_mapping(job.options.get("sender_mapping"))
        known = {sender["id"] for sender in senders}
        for key, target in mapping.items():
            if target is not None and target not in known:
                raise HeaderProblem(
                    f"sender_mapping: {key!r} maps to sender {target}, which no longer exists"
                )
        job.state.update(
            region=workspace["default_phone_region"] or "",
            zone=_zone(workspace["timezone"]),
            categories=categories,
            senders={sender["id"]: sender for sender in senders},
            mapping=mapping,
        )

    async def validate(self, job: ImportJob, rows: Sequence[Row]) -> tuple[list[Any], list[RowError]]:
        records: list[_Record] = []
        errors: list[RowError] = []
        for row in rows:
            try:
                records.append(_parse(job, row))
            except InvalidInput as exc:
                errors += [RowError(row.number, problem.field, problem.message) for problem in exc.problems]
        return records, errors

    async def apply(self, job: ImportJob, records: list[Any]) -> Applied:
        """Apply a batch through one :class:`Ledger`: its addresses are locked and read in one go."""
        applied = Applied()
        ledger = Ledger(job.workspace_id)
        await ledger.hold({(record.channel, record.address) for record in records})
        actor = f"import {job.id} by {job.created_by}"
        for record in records:
            try:
                result = await ledger.opt_out(
                    channel=record.channel,
                    address=record.address,
                    source="import",
                    category_id=record.category_id,
                    sender_id=record.sender_id,
                    valid_days=record.valid_days,
                    valid_until=record.valid_until,
                    remarks=record.remarks,
                    actor=actor,
                    evidence={"import_id": job.id, "row": record.row},
                )
            except InvalidInput as exc:  # raised before the ledger writes anything for this row
                applied.errors += [RowError(record.row, p.field, p.message) for p in exc.problems]
                continue
            if result.created:
                applied.created += 1
            elif result.changed:
                applied.updated += 1
            # else: the address was already opted out at least as long; the row changed nothing (skipped)
        return applied


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _parse(job: ImportJob, row: Row) -> _Record:
    """One row as a record, or :class:`InvalidInput` naming every column at fault."""
    values = row.values
    problems: list[FieldProblem] = []

    def cell(parse: Callable[[], Any]) -> Any:
        try:
            return parse()
        except InvalidInput as exc:
            problems.extend(exc.problems)
            return None

    channel = values.get("channel", "").strip().lower()
    if channel not in CHANNELS:
        problems.append(
            FieldProblem("channel", f"{values.get('channel', '')!r} is not one of {', '.join(CHANNELS)}")
        )
        channel = ""
    address = (
        cell(lambda: normalise_address(channel, values.get("address", ""), job.state["region"]))
        if channel
        else None
    )
    valid_days = cell(lambda: _valid_days(values.get("valid_days", "")))
    valid_until = cell(lambda: _valid_until(values.get("valid_until", ""), job.state["zone"]))
    if valid_days is not None and valid_until is not None:
        problems.append(FieldProblem("valid_days", "give valid_days or valid_until, not both"))
    remarks = cell(lambda: validation.check_remarks(values.get("remarks", "").strip()))
    category_id = cell(lambda: _category(job, values.get("category", "")))
    sender_id = cell(lambda: _sender(job, values.get("sender", ""), channel)) if channel else None
    if problems:
        raise InvalidInput.many(problems)
    return _Record(
        row=row.number,
        channel=channel,
        address=address,
        category_id=category_id,
        sender_id=sender_id,
        valid_days=valid_days,
        valid_until=valid_until,
        remarks=remarks,
    )


def _valid_days(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= validation.MAX_VALID_DAYS:
        raise InvalidInput(
            "valid_days", f"{text!r} is not a whole number of days from 1 to {validation.MAX_VALID_DAYS}"
        )
    return int(text)


def _valid_until(text: str, zone: ZoneInfo) -> datetime | None:
    """ISO 8601; a date means "to the end of that day" and a time without an offset is the workspace's."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("valid_until", f"{text!r} is not a date (2030-01-31) or a date and time") from None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    if moment <= validation.now_utc():
        raise InvalidInput("valid_until", f"{text!r} is in the past")
    return moment


def _category(job: ImportJob, text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    categories = job.state["categories"]
    by_id = [category for category in categories if text.isdigit() and category["id"] == int(text)]
    by_name = by_id or [category for category in categories if category["name"].casefold() == text.casefold()]
    if not by_name:
        raise InvalidInput("category", f"no marketing category {text!r} in this workspace")
    return by_name[0]["id"]


def _sender(job: ImportJob, text: str, channel: str) -> int | None:
    """The sender a row is scoped to: the mapping first, then an address, id or name on the row's channel."""
    text = text.strip()
    mapping: dict[str, int | None] = job.state["mapping"]
    if text in mapping:
        sender_id = mapping[text]
    elif not text or text.casefold() == WORKSPACE:
        return None
    else:
        sender_id = _find_sender(job, text)
    if sender_id is None:
        return None
    sender = job.state["senders"][sender_id]
    if sender["channel"] != channel:
        raise InvalidInput("sender", f"sender {sender['name']!r} sends on {sender['channel']}, not {channel}")
    return sender_id


def _find_sender(job: ImportJob, text: str) -> int:
    senders = list(job.state["senders"].values())
    phone = _as_phone(text, job.state["region"])
    matches = [
        sender
        for sender in senders
        if sender["address"] == text
        or (phone is not None and sender["address"] == phone)
        or sender["address"].casefold() == text.casefold()
    ]
    if not matches:
        matches = [sender for sender in senders if sender["name"].casefold() == text.casefold()]
    if not matches and text.isdigit():
        matches = [sender for sender in senders if sender["id"] == int(text)]
    if not matches:
        raise InvalidInput("sender", f"no sender {text!r} in this workspace (map it with sender_mapping)")
    if len(matches) > 1:
        raise InvalidInput("sender", f"{text!r} names {len(matches)} senders; map it with sender_mapping")
    return matches[0]["id"]


def _as_phone(text: str, region: str) -> str | None:
    try:
        return normalise_phone(text, region, field="sender")
    except InvalidInput:
        return None


register_kind(OptOutsImport())
