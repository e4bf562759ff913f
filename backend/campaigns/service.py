"""Campaigns through the API: create, read, modify, suspend, resume, delete, and their audience.

Every write takes the campaign row's lock first (the order the runs engine keeps too: campaign, then
runs), checks the state machine (:mod:`backend.campaigns.states`), and records what it did in the audit
log in the same transaction. Field problems are gathered and answered together, each naming its field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import UNSET

from backend.audience.tables import Group
from backend.audit import service as audit
from backend.campaigns import plan, states
from backend.campaigns.audience import Audience
from backend.campaigns.audience import counts as count_audience
from backend.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignPatch,
    CampaignPreviewIn,
    CampaignPreviewOut,
    EveryOut,
    FormProblem,
    PreviewAudienceOut,
)
from backend.campaigns.tables import Campaign, CampaignBatch, CampaignStat, CampaignTrigger
from backend.consent.tables import MarketingCategory
from backend.core.database import contains_text, locked, transaction
from backend.core.errors import FieldProblem, InvalidInput, NotFound
from backend.flows.tables import Flow, FlowVersion
from backend.messages import service as messages
from backend.runs import service as runs
from backend.senders.tables import Sender
from backend.workspaces.auth import Principal
from backend.workspaces.tables import Workspace
from flows import validation
from flows.schema import decode_graph

_OUT_COLUMNS = (
    *Campaign.all_columns(),
    Campaign.flow_version.number.as_alias("version_number"),
    Campaign.sender.channel.as_alias("channel"),
    Campaign.workspace.timezone.as_alias("workspace_timezone"),
)
CONFIRM_FIELD = "confirm_include_opted_out"
QUALITY_WARNING = (
    "turning opted_in_only off sends marketing to contacts an admin or an import marked as not consenting "
    "(contacts who opted out themselves are still never messaged), and may lower the sender's quality "
    f"rating with the provider; send {CONFIRM_FIELD}: true to confirm"
)


def campaigns_query(workspace_id: int):
    return Campaign.select(*_OUT_COLUMNS).where(Campaign.workspace == workspace_id)


async def get_row(workspace_id: int, campaign_id: int) -> dict[str, Any]:
    row = await campaigns_query(workspace_id).where(Campaign.id == campaign_id).first()
    if row is None:
        raise NotFound("campaign", campaign_id)
    return row


async def get_campaign(principal: Principal, campaign_id: int) -> CampaignOut:
    return campaign_out(await get_row(principal.workspace_id, campaign_id))


def list_query(
    workspace_id: int,
    *,
    name: str | None = None,
    flow_id: int | None = None,
    group_id: int | None = None,
    status: str | None = None,
):
    query = campaigns_query(workspace_id)
    if name:
        query = query.where(contains_text(Campaign.name, name))
    if flow_id is not None:
        query = query.where(Campaign.flow == flow_id)
    if group_id is not None:
        query = query.where(Campaign.group == group_id)
    if status is not None:
        query = query.where(Campaign.status == status)
    return query


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def campaign_out(row: dict[str, Any]) -> CampaignOut:
    zone = zone_of(row.get("workspace_timezone"))
    words, planned = describe_plan(
        row["anchor_at"], row["end_at"], row["every_unit"], row["every_count"], zone
    )
    return CampaignOut(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        flow_id=row["flow"],
        flow_version=row.get("version_number"),
        group_id=row["group"],
        sender_id=row["sender"],
        channel=row.get("channel") or "",
        category_id=row["category"],
        kind=row["kind"],
        start_at=row["start_at"],
        end_at=row["end_at"],
        every=EveryOut(unit=row["every_unit"], count=row["every_count"]),
        plan=words,
        planned_triggers=planned,
        opted_in_only=row["opted_in_only"],
        allow_reentry=row["allow_reentry"],
        status=row["status"],
        next_trigger_at=row["next_trigger_at"],
        last_trigger_at=row["last_trigger_at"],
        triggers_fired=row["triggers_fired"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def describe_plan(
    anchor: datetime, end: datetime, unit: plan.Unit, count: int, zone: ZoneInfo
) -> tuple[str, int]:
    """The plan in words and its number of triggers. A saved campaign (:func:`campaign_out`) and the
    form's preview (:func:`preview_campaign`) both call this, so the form never promises another plan
    than the one the campaign then shows."""
    planned = plan.count_slots(anchor, end, unit, count, zone)
    return plan_in_words(anchor, end, unit, count, planned, zone), planned


def plan_in_words(
    anchor: datetime, end: datetime, unit: plan.Unit, count: int, planned: int, zone: ZoneInfo
) -> str:
    """The plan as the marketer reads it ("every 2 hours from 9 Dec 2030 09:00 to 16 Dec 2030 18:00 (UTC),
    89 triggers"), in the workspace's time zone, because that is the clock the marketer plans by."""
    every = f"every {unit}" if count == 1 else f"every {count} {unit}s"
    start_words = anchor.astimezone(zone).strftime("%-d %b %Y %H:%M")
    end_words = end.astimezone(zone).strftime("%-d %b %Y %H:%M")
    triggers = "1 trigger" if planned == 1 else f"{planned:,} triggers"
    return f"{every} from {start_words} to {end_words} ({zone.key}), {triggers}"


async def workspace_zone(workspace_id: int) -> ZoneInfo:
    """The workspace's time zone, for a plan told before a campaign row (which joins it) exists."""
    row = await Workspace.select(Workspace.timezone).where(Workspace.id == workspace_id).first()
    return zone_of(row["timezone"] if row else None)


# --- checking a form --------------------------------------------------------------------------------


@dataclass
class _Form:
    """A campaign's settings as they would be after a create or a modify."""

    name: str
    description: str
    flow_id: int
    group_id: int
    sender_id: int
    category_id: int | None
    kind: str
    start_at: datetime
    end_at: datetime
    every_unit: str
    every_count: int
    opted_in_only: bool
    allow_reentry: bool


async def _check_form(
    workspace_id: int, form: _Form, *, now: datetime, changed: set[str], check_start: bool
) -> list[FieldProblem]:
    """Every field problem of ``form``; references are checked only when ``changed`` names them."""
    problems: list[FieldProblem] = []

    def bad(field: str, message: str) -> None:
        problems.append(FieldProblem(field, message, "body"))

    if "name" in changed and not form.name.strip():
        bad("name", "must not be blank")
    if check_start and form.start_at <= now:
        bad("start_at", "must be later than now")
    problems += period_problems(form.start_at, form.end_at)
    sender = None
    if changed & {"sender_id", "flow_id"}:
        sender = await _own_sender(workspace_id, form.sender_id)
        if sender is None:
            problems.append(_no_such("sender_id", form.sender_id))
    if "group_id" in changed and await _own_group(workspace_id, form.group_id) is None:
        problems.append(_no_such("group_id", form.group_id))
    if (
        "category_id" in changed
        and form.category_id is not None
        and not await _own_category(workspace_id, form.category_id)
    ):
        problems.append(_no_such("category_id", form.category_id))
    if changed & {"flow_id", "sender_id"}:
        problems += await _flow_problems(workspace_id, form.flow_id, sender["channel"] if sender else None)
    return problems


def period_problems(start_at: datetime, end_at: datetime, source: str = "body") -> list[FieldProblem]:
    """What is wrong with the period a plan covers: the saved form and the preview refuse the same ones."""
    if end_at <= start_at:
        return [FieldProblem("end_at", "must be later than start_at", source)]
    if end_at - start_at > plan.MAX_PERIOD:
        return [FieldProblem("end_at", "must be within ten years of start_at", source)]
    return []


_REFERENCED = {
    "group_id": "group",
    "sender_id": "sender",
    "category_id": "marketing category",
    "campaign_id": "campaign",
}


def _no_such(field: str, identifier: int, source: str = "body") -> FieldProblem:
    """A reference this workspace does not hold: missing and another workspace's read the same, so the
    answer tells nothing about other workspaces."""
    return FieldProblem(field, f"no {_REFERENCED[field]} {identifier} in this workspace", source)


async def _own_group(workspace_id: int, group_id: int) -> dict[str, Any] | None:
    """The group (its opt-out bypass flag) when this workspace holds it."""
    return (
        await Group.select(Group.id, Group.bypass_opt_out_filter)
        .where((Group.id == group_id) & (Group.workspace == workspace_id))
        .first()
    )


async def _own_sender(workspace_id: int, sender_id: int) -> dict[str, Any] | None:
    """The sender (its channel) when this workspace holds it."""
    return (
        await Sender.select(Sender.id, Sender.channel)
        .where((Sender.id == sender_id) & (Sender.workspace == workspace_id))
        .first()
    )


async def _own_category(workspace_id: int, category_id: int) -> bool:
    return await MarketingCategory.exists().where(
        (MarketingCategory.id == category_id) & (MarketingCategory.workspace == workspace_id)
    )


async def _own_campaign(workspace_id: int, campaign_id: int) -> bool:
    return await Campaign.exists().where((Campaign.id == campaign_id) & (Campaign.workspace == workspace_id))


async def _flow_problems(workspace_id: int, flow_id: int, channel: str | None) -> list[FieldProblem]:
    """The flow must be published and manually triggered (seed 001), and able to say its messages on the
    sender's channel (no buttons on SMS, no templates outside WhatsApp)."""
    flow = (
        await Flow.select(Flow.id, Flow.latest_version)
        .where((Flow.id == flow_id) & (Flow.workspace == workspace_id))
        .first()
    )
    if flow is None:
        return [FieldProblem("flow_id", f"no flow {flow_id} in this workspace", "body")]
    version = await latest_manual_version(flow_id)
    if version is None:
        if flow["latest_version"] is None:
            why = f"flow {flow_id} is not published: publish it first (campaigns send published versions)"
        else:
            latest = (
                await FlowVersion.select(FlowVersion.trigger)
                .where((FlowVersion.flow == flow_id) & (FlowVersion.number == flow["latest_version"]))
                .first()
            )
            trigger = latest["trigger"] if latest else "?"
            why = f"flow {flow_id} starts on the {trigger!r} trigger: campaigns send manually triggered flows only"
        return [FieldProblem("flow_id", why, "body")]
    if channel is None:
        return []
    graph = decode_graph(_json(version["graph"]))
    return [
        FieldProblem("flow_id", f"version {version['number']}: {problem.message}", "body")
        for problem in validation.validate(graph, channel=channel)
        if problem.code == "unsupported_on_channel"
    ]


async def latest_manual_version(flow_id: int) -> dict[str, Any] | None:
    """The version a campaign pins: the flow's latest, when it is manually triggered."""
    flow = await Flow.select(Flow.latest_version).where(Flow.id == flow_id).first()
    if flow is None or flow["latest_version"] is None:
        return None
    version = (
        await FlowVersion.select(FlowVersion.id, FlowVersion.number, FlowVersion.trigger, FlowVersion.graph)
        .where((FlowVersion.flow == flow_id) & (FlowVersion.number == flow["latest_version"]))
        .first()
    )
    if version is None or version["trigger"] != "manual":
        return None
    return version


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def _require_confirmation(confirmed: bool) -> None:
    if not confirmed:
        raise InvalidInput(CONFIRM_FIELD, QUALITY_WARNING)


# --- writes -----------------------------------------------------------------------------------------


async def create_campaign(
    principal: Principal, data: CampaignCreate, now: datetime | None = None
) -> CampaignOut:
    moment = now or datetime.now(UTC)
    form = _Form(
        name=data.name.strip(),
        description=data.description.strip(),
        flow_id=data.flow_id,
        group_id=data.group_id,
        sender_id=data.sender_id,
        category_id=data.category_id,
        kind=data.kind,
        start_at=data.start_at.astimezone(UTC),
        end_at=data.end_at.astimezone(UTC),
        every_unit=data.every.unit,
        every_count=data.every.count,
        opted_in_only=data.opted_in_only,
        allow_reentry=data.allow_reentry,
    )
    problems = await _check_form(
        principal.workspace_id,
        form,
        now=moment,
        changed={"name", "flow_id", "group_id", "sender_id", "category_id"},
        check_start=True,
    )
    if problems:
        raise InvalidInput.many(problems)
    if not form.opted_in_only:
        _require_confirmation(data.confirm_include_opted_out)
    async with transaction():
        inserted = await Campaign.insert(
            Campaign(
                workspace=principal.workspace_id,
                name=form.name,
                description=form.description,
                flow=form.flow_id,
                group=form.group_id,
                sender=form.sender_id,
                category=form.category_id,
                kind=form.kind,
                start_at=form.start_at,
                end_at=form.end_at,
                anchor_at=form.start_at,
                every_unit=form.every_unit,
                every_count=form.every_count,
                opted_in_only=form.opted_in_only,
                allow_reentry=form.allow_reentry,
                status="scheduled",
                created_at=moment,
                updated_at=moment,
                created_by=principal.user_id,
            )
        ).returning(Campaign.id)
        campaign_id = inserted[0]["id"]
        await audit.record(
            principal,
            "campaign.created",
            target_type="campaign",
            target_id=campaign_id,
            data={"name": form.name, "flow_id": form.flow_id, "group_id": form.group_id, "kind": form.kind},
        )
        if not form.opted_in_only:
            await _audit_toggle_off(principal, campaign_id)
    return await get_campaign(principal, campaign_id)


async def _audit_toggle_off(principal: Principal, campaign_id: int) -> None:
    await audit.record(
        principal,
        "campaign.opted_in_only_off",
        target_type="campaign",
        target_id=campaign_id,
        data={"warning": "marketing to contacts marked as not consenting by an admin or an import"},
    )


_PATCH_FIELDS = {
    "name": "name",
    "description": "description",
    "flow_id": "flow",
    "group_id": "group",
    "sender_id": "sender",
    "category_id": "category",
    "kind": "kind",
    "start_at": "start_at",
    "end_at": "end_at",
    "opted_in_only": "opted_in_only",
    "allow_reentry": "allow_reentry",
}


async def update_campaign(
    principal: Principal, campaign_id: int, patch: CampaignPatch, now: datetime | None = None
) -> CampaignOut:
    moment = now or datetime.now(UTC)
    async with transaction():
        current = await _locked(principal.workspace_id, campaign_id)
        states.check("modify", current["status"], campaign_id)
        given = {field for field in (*_PATCH_FIELDS, "every") if getattr(patch, field) is not UNSET}
        if current["status"] == "paused" and "start_at" in given:
            raise InvalidInput(
                "start_at",
                f"a paused campaign gets its new start time from POST /campaigns/{campaign_id}/resume",
            )
        form = _Form(
            name=current["name"],
            description=current["description"],
            flow_id=current["flow"],
            group_id=current["group"],
            sender_id=current["sender"],
            category_id=current["category"],
            kind=current["kind"],
            start_at=current["start_at"],
            end_at=current["end_at"],
            every_unit=current["every_unit"],
            every_count=current["every_count"],
            opted_in_only=current["opted_in_only"],
            allow_reentry=current["allow_reentry"],
        )
        for field in given:
            value = getattr(patch, field)
            if field == "every":
                form.every_unit, form.every_count = value.unit, value.count
            elif field in ("start_at", "end_at"):
                setattr(form, field, value.astimezone(UTC))
            elif field in ("name", "description"):
                setattr(form, field, value.strip())
            else:
                setattr(form, field, value)
        problems = await _check_form(
            principal.workspace_id, form, now=moment, changed=given, check_start="start_at" in given
        )
        if problems:
            raise InvalidInput.many(problems)
        turning_off = current["opted_in_only"] and not form.opted_in_only
        if turning_off:
            _require_confirmation(patch.confirm_include_opted_out)
        values: dict[Any, Any] = {
            Campaign.name: form.name,
            Campaign.description: form.description,
            Campaign.flow: form.flow_id,
            Campaign.group: form.group_id,
            Campaign.sender: form.sender_id,
            Campaign.category: form.category_id,
            Campaign.kind: form.kind,
            Campaign.start_at: form.start_at,
            Campaign.end_at: form.end_at,
            Campaign.every_unit: form.every_unit,
            Campaign.every_count: form.every_count,
            Campaign.opted_in_only: form.opted_in_only,
            Campaign.allow_reentry: form.allow_reentry,
            Campaign.updated_at: moment,
        }
        if current["status"] == "scheduled":  # not started yet, or resumed and waiting: the plan moves too
            values[Campaign.anchor_at] = form.start_at
        if form.flow_id != current["flow"]:
            values[Campaign.flow_version] = None  # pinned again when it next starts
        changed = {
            field: {"from": _plain(current[column]), "to": _plain(getattr(form, field))}
            for field, column in _PATCH_FIELDS.items()
            if field in given and current[column] != getattr(form, field)
        }
        if "every" in given:
            changed["every"] = {"unit": form.every_unit, "count": form.every_count}
        await Campaign.update(values).where(Campaign.id == campaign_id)
        await audit.record(
            principal, "campaign.updated", target_type="campaign", target_id=campaign_id, data=changed
        )
        if turning_off:
            await _audit_toggle_off(principal, campaign_id)
    return await get_campaign(principal, campaign_id)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def _locked(workspace_id: int, campaign_id: int) -> dict[str, Any]:
    row = await locked(
        Campaign.select().where((Campaign.id == campaign_id) & (Campaign.workspace == workspace_id))
    ).first()
    if row is None:
        raise NotFound("campaign", campaign_id)
    return row


async def suspend_campaign(
    principal: Principal, campaign_id: int, now: datetime | None = None
) -> CampaignOut:
    """Running → paused: later messages of its flows stop (queued ones are held, runs wait)."""
    moment = now or datetime.now(UTC)
    async with transaction():
        current = await _locked(principal.workspace_id, campaign_id)
        states.check("suspend", current["status"], campaign_id)
        await Campaign.update({Campaign.status: "paused", Campaign.updated_at: moment}).where(
            Campaign.id == campaign_id
        )
        held = await messages.hold_campaign_messages(campaign_id, moment)
        await _stop_triggers(campaign_id, moment)
        await audit.record(
            principal,
            "campaign.suspended",
            target_type="campaign",
            target_id=campaign_id,
            data={"held_messages": held},
        )
    return await get_campaign(principal, campaign_id)


async def resume_campaign(
    principal: Principal, campaign_id: int, start_at: datetime, now: datetime | None = None
) -> CampaignOut:
    """Paused → scheduled until ``start_at``, when it runs again from where it stopped."""
    moment = now or datetime.now(UTC)
    start = start_at.astimezone(UTC)
    async with transaction():
        current = await _locked(principal.workspace_id, campaign_id)
        states.check("resume", current["status"], campaign_id)
        if start <= moment:
            raise InvalidInput("start_at", "must be later than now")
        if start >= current["end_at"]:
            raise InvalidInput(
                "start_at",
                f"must be earlier than the campaign's end ({current['end_at'].isoformat()}); modify end_at first",
            )
        await Campaign.update(
            {
                Campaign.status: "scheduled",
                Campaign.start_at: start,
                Campaign.anchor_at: start,
                Campaign.next_trigger_at: None,
                Campaign.updated_at: moment,
            }
        ).where(Campaign.id == campaign_id)
        await audit.record(
            principal,
            "campaign.resumed",
            target_type="campaign",
            target_id=campaign_id,
            data={"start_at": start.isoformat()},
        )
    return await get_campaign(principal, campaign_id)


async def delete_campaign(principal: Principal, campaign_id: int, now: datetime | None = None) -> None:
    """Anything but running: its unsent messages are cancelled, its unfinished runs interrupted."""
    moment = now or datetime.now(UTC)
    async with transaction():
        current = await _locked(principal.workspace_id, campaign_id)
        states.check("delete", current["status"], campaign_id)
        cancelled = await messages.cancel_campaign_messages(campaign_id, "cancelled", moment)
        interrupted = await runs.close_campaign_runs(campaign_id, "interrupted", "campaign_deleted", moment)
        await Campaign.delete().where(Campaign.id == campaign_id)
        await CampaignStat.delete().where(CampaignStat.campaign == campaign_id)
        await audit.record(
            principal,
            "campaign.deleted",
            target_type="campaign",
            target_id=campaign_id,
            data={"name": current["name"], "cancelled_messages": cancelled, "interrupted_runs": interrupted},
        )


async def end_campaign(principal: Principal, campaign_id: int, now: datetime | None = None) -> CampaignOut:
    """End it now, before its end time: it sends nothing more (unsent messages cancelled, unfinished runs
    expired, as at its end time) and keeps its statistics and report, which deleting it would not."""
    moment = now or datetime.now(UTC)
    async with transaction():
        current = await _locked(principal.workspace_id, campaign_id)
        states.check("end", current["status"], campaign_id)
        cancelled, expired = await close_campaign(campaign_id, moment)
        await audit.record(
            principal,
            "campaign.ended",
            target_type="campaign",
            target_id=campaign_id,
            data={"why": "ended by hand", "unsent_messages": cancelled, "expired_runs": expired},
        )
    return await get_campaign(principal, campaign_id)


async def close_campaign(campaign_id: int, now: datetime) -> tuple[int, int]:
    """Move a locked campaign to ``ended`` in the caller's transaction: no trigger or batch goes on, its
    unsent messages are cancelled (``campaign_ended``) and its unfinished runs expire. Returns how many
    of each."""
    await Campaign.update(
        {
            Campaign.status: "ended",
            Campaign.ended_at: now,
            Campaign.next_trigger_at: None,
            Campaign.updated_at: now,
        }
    ).where(Campaign.id == campaign_id)
    await CampaignTrigger.update({CampaignTrigger.status: "stopped", CampaignTrigger.finished_at: now}).where(
        (CampaignTrigger.campaign == campaign_id) & CampaignTrigger.status.is_in(["running", "enrolled"])
    )
    await CampaignBatch.update({CampaignBatch.status: "stopped", CampaignBatch.done_at: now}).where(
        (CampaignBatch.campaign_id == campaign_id) & (CampaignBatch.status == "pending")
    )
    cancelled = await messages.cancel_campaign_messages(campaign_id, "campaign_ended", now)
    expired = await runs.close_campaign_runs(campaign_id, "expired", "campaign_ended", now)
    return cancelled, expired


async def _stop_triggers(campaign_id: int, now: datetime) -> None:
    await CampaignTrigger.update({CampaignTrigger.status: "stopped", CampaignTrigger.finished_at: now}).where(
        (CampaignTrigger.campaign == campaign_id) & (CampaignTrigger.status == "running")
    )


# --- audience ---------------------------------------------------------------------------------------


async def audience_of(workspace_id: int, row: dict[str, Any]) -> Audience:
    group = await Group.select(Group.bypass_opt_out_filter).where(Group.id == row["group"]).first()
    channel = row.get("channel")
    if channel is None:
        sender = await Sender.select(Sender.channel).where(Sender.id == row["sender"]).first()
        channel = sender["channel"]
    return Audience(
        workspace_id=workspace_id,
        campaign_id=row["id"],
        group_id=row["group"],
        channel=channel,
        sender_id=row["sender"],
        category_id=row["category"],
        kind=row["kind"],
        opted_in_only=row["opted_in_only"],
        allow_reentry=row["allow_reentry"],
        bypass_opt_out_filter=bool(group and group["bypass_opt_out_filter"]),
    )


# --- preview of an unsaved form ---------------------------------------------------------------------

NOBODY_ENTERED = 0
"""The campaign id a new campaign's preview counts runs of: campaign ids start at 1 and runs outside a
campaign hold NULL, so no run has it and nobody is already entered."""


async def preview_campaign(
    workspace_id: int, form: CampaignPreviewIn, now: datetime | None = None
) -> CampaignPreviewOut:
    """What the form would show once saved, while it is being filled in: the plan in words and who would
    receive it, by the code the saved campaign uses. Reads only. A part the form does not hold yet is
    null; a part it holds wrongly is null with the reason in ``errors``, so the rest is still answered."""
    described, plan_problems = await preview_plan(workspace_id, form)
    target, audience_problems = await preview_audience(workspace_id, form)
    return CampaignPreviewOut(
        plan=described[0] if described else None,
        planned_triggers=described[1] if described else None,
        audience=await _counted(target, now or datetime.now(UTC)) if target else None,
        errors=[
            FormProblem(field=problem.field, message=problem.message)
            for problem in (*plan_problems, *audience_problems)
        ],
    )


async def preview_plan(
    workspace_id: int, form: CampaignPreviewIn
) -> tuple[tuple[str, int] | None, list[FieldProblem]]:
    """The plan in words and its triggers, once start, end and every are given. A period that ends before
    it starts is named under ``end_at`` as soon as both moments are there, as create names it; a start in
    the past is not, because the form checks that itself and create still refuses it."""
    if form.start_at is None or form.end_at is None:
        return None, []
    start, end = form.start_at.astimezone(UTC), form.end_at.astimezone(UTC)
    problems = period_problems(start, end)
    if problems or form.every is None:
        return None, problems
    zone = await workspace_zone(workspace_id)
    return describe_plan(start, end, form.every.unit, form.every.count, zone), []


async def preview_audience(
    workspace_id: int, form: CampaignPreviewIn, source: str = "body"
) -> tuple[Audience | None, list[FieldProblem]]:
    """The audience the form selects, built as :func:`audience_of` builds a saved campaign's, once group
    and sender are given. Every reference this workspace does not hold is a problem naming its field."""
    group = await _own_group(workspace_id, form.group_id) if form.group_id is not None else None
    sender = await _own_sender(workspace_id, form.sender_id) if form.sender_id is not None else None
    problems = await _preview_reference_problems(workspace_id, form, group, sender, source)
    if problems or group is None or sender is None:
        return None, problems
    return (
        Audience(
            workspace_id=workspace_id,
            campaign_id=form.campaign_id or NOBODY_ENTERED,
            group_id=group["id"],
            channel=sender["channel"],
            sender_id=sender["id"],
            category_id=form.category_id,
            kind=form.kind,
            opted_in_only=form.opted_in_only,
            allow_reentry=form.allow_reentry,
            bypass_opt_out_filter=bool(group["bypass_opt_out_filter"]),
        ),
        [],
    )


async def _preview_reference_problems(
    workspace_id: int,
    form: CampaignPreviewIn,
    group: dict[str, Any] | None,
    sender: dict[str, Any] | None,
    source: str,
) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if form.group_id is not None and group is None:
        problems.append(_no_such("group_id", form.group_id, source))
    if form.sender_id is not None and sender is None:
        problems.append(_no_such("sender_id", form.sender_id, source))
    if form.category_id is not None and not await _own_category(workspace_id, form.category_id):
        problems.append(_no_such("category_id", form.category_id, source))
    if form.campaign_id is not None and not await _own_campaign(workspace_id, form.campaign_id):
        problems.append(_no_such("campaign_id", form.campaign_id, source))
    return problems


async def _counted(target: Audience, now: datetime) -> PreviewAudienceOut:
    """The counts ``GET /campaigns/{id}/audience`` answers, by the same function."""
    counted = await count_audience(target, now)
    return msgspec.convert(
        {"group_id": target.group_id, "channel": target.channel, **counted}, PreviewAudienceOut
    )


async def require_preview_audience(workspace_id: int, form: CampaignPreviewIn) -> Audience:
    """The form's audience for its excluded list, which streams CSV and has no JSON body to carry
    problems in: a missing group or sender is a 400 and a reference this workspace does not hold a 404,
    each naming the query field, raised before the first byte is sent."""
    missing = [
        FieldProblem(field, "required for the excluded list", "query")
        for field, value in (("group_id", form.group_id), ("sender_id", form.sender_id))
        if value is None
    ]
    if missing:
        raise InvalidInput.many(missing)
    target, problems = await preview_audience(workspace_id, form, source="query")
    if target is None:
        raise _not_held(problems)
    return target


def _not_held(problems: list[FieldProblem]) -> NotFound:
    error = NotFound("referenced object")
    error.detail = "; ".join(f"{problem.field}: {problem.message}" for problem in problems)
    error.problems = problems
    return error
