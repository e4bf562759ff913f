"""HTTP endpoints of campaigns: the form, the state actions, audience, stats, report, live tickets, and the
live feed's WebSocket. Registered through CONTROLLERS and ROUTES."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Literal

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from backend.campaigns import audience, live, report, service
from backend.campaigns.audience import Audience
from backend.campaigns.schemas import (
    AudienceOut,
    CampaignCreate,
    CampaignOut,
    CampaignPatch,
    CampaignPreviewIn,
    CampaignPreviewOut,
    Excluded,
    Kind,
    ReportRow,
    ResumeIn,
    StatsOut,
    Status,
    TicketOut,
)
from backend.campaigns.tables import Campaign
from backend.core.pagination import CursorParam, LimitParam, Page, fetch_page
from backend.workspaces import tickets
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role

IdQuery = Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)]
FormIdQuery = Annotated[
    int | None, QueryParameter(ge=1, le=2**63 - 1, description="Required; absent, the 400 names it")
]
"""Optional to Litestar, whose own "missing parameter" error names no field in ``errors``: the service
refuses its absence with the field named, like every other problem."""


def _csv(lines: AsyncIterator[str], filename: str) -> Stream:
    return Stream(
        lines,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _excluded_lines(target: Audience, now: datetime) -> AsyncIterator[str]:
    """The excluded members as CSV text, a thousand rows per chunk: one writer for a saved campaign's list
    and the form preview's, so the two files read the same."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["contact_id", "name", "phone", "email", "reason"])
    count = 0
    async for member in audience.excluded(target, now):
        writer.writerow(
            [
                member["contact_id"],
                member["name"] or "",
                member["phone"] or "",
                member["email"] or "",
                member["reason"],
            ]
        )
        count += 1
        if count % 1000 == 0:
            yield report._take(buffer)
    yield report._take(buffer)


class CampaignController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]
    guards = [allow(read=Role.viewer, write=Role.marketer)]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Create a campaign: a published, manually triggered flow sent to a group on a schedule",
        description="`start_at` must be later than now and earlier than `end_at`; the plan fires a trigger "
        "every `every.count` `every.unit`s in between. `opted_in_only` (default true) sends only to "
        "contacts opted in for marketing; false needs `confirm_include_opted_out: true` and is recorded "
        "in the audit log. The flow version is pinned when the campaign first starts.",
    )
    async def create_campaign(self, principal: Caller, data: JSONBody[CampaignCreate]) -> CampaignOut:
        return await service.create_campaign(principal, data)

    @post(
        "/preview",
        status_code=HTTP_200_OK,
        opt={"read_only": True},
        summary="Preview an unsaved campaign form: its plan in words and who would receive it",
        description="Every field is optional; the answer covers what is filled in. `plan` and "
        "`planned_triggers` (as on a campaign) come once `start_at`, `end_at` and `every` are given; "
        "`audience` (as `GET /campaigns/{id}/audience`) once `group_id` and `sender_id` are. A reference "
        "this workspace does not hold, or an `end_at` not after `start_at`, is an entry of `errors` naming "
        "the field, and only its part is null. With `campaign_id` (the campaign being modified) its runs "
        "count as already entered. Nothing is stored; viewers may call it.",
    )
    async def preview(self, principal: Caller, data: JSONBody[CampaignPreviewIn]) -> CampaignPreviewOut:
        return await service.preview_campaign(principal.workspace_id, data)

    @get(
        "/preview/excluded",
        summary="The excluded members of an unsaved campaign form as CSV: contact_id, name, phone, email, "
        "reason",
        description="The query holds the form's audience fields, as the preview's body does. A missing "
        "`group_id` or `sender_id` is 400, a group, sender, category or campaign this workspace does not "
        "hold is 404, each naming the field.",
        media_type="text/csv",
    )
    async def preview_excluded(
        self,
        principal: Caller,
        group_id: FormIdQuery = None,
        sender_id: FormIdQuery = None,
        category_id: IdQuery = None,
        campaign_id: Annotated[
            int | None,
            QueryParameter(ge=1, le=2**63 - 1, description="The campaign being modified: its runs count"),
        ] = None,
        kind: Annotated[Kind, QueryParameter(description="marketing or transactional")] = "marketing",
        opted_in_only: Annotated[bool, QueryParameter(description="As the form's toggle")] = True,
        allow_reentry: Annotated[bool, QueryParameter(description="As the form's toggle")] = False,
    ) -> Stream:
        form = CampaignPreviewIn(
            campaign_id=campaign_id,
            group_id=group_id,
            sender_id=sender_id,
            category_id=category_id,
            kind=kind,
            opted_in_only=opted_in_only,
            allow_reentry=allow_reentry,
        )
        target = await service.require_preview_audience(principal.workspace_id, form)
        return _csv(_excluded_lines(target, datetime.now(UTC)), "campaign-preview-excluded.csv")

    @get("/", summary="List campaigns, oldest first; filter by name (contains), flow, group and status")
    async def list_campaigns(
        self,
        principal: Caller,
        name: Annotated[
            str | None, QueryParameter(description="Campaigns whose name contains this", max_length=60)
        ] = None,
        flow_id: IdQuery = None,
        group_id: IdQuery = None,
        status: Annotated[
            Status | None, QueryParameter(description="scheduled, running, paused or ended")
        ] = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[CampaignOut]:
        query = service.list_query(
            principal.workspace_id, name=name, flow_id=flow_id, group_id=group_id, status=status
        )
        rows, next_cursor = await fetch_page(query, Campaign.id, cursor, limit)
        return Page(items=[service.campaign_out(row) for row in rows], next_cursor=next_cursor)

    @get("/{campaign_id:int}", summary="One campaign")
    async def get_campaign(self, principal: Caller, campaign_id: FromPath[int]) -> CampaignOut:
        return await service.get_campaign(principal, campaign_id)

    @patch("/{campaign_id:int}", summary="Modify a scheduled or paused campaign (409 otherwise)")
    async def update_campaign(
        self, principal: Caller, campaign_id: FromPath[int], data: JSONBody[CampaignPatch]
    ) -> CampaignOut:
        return await service.update_campaign(principal, campaign_id, data)

    @delete(
        "/{campaign_id:int}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a campaign that is not running: unsent messages are cancelled, runs interrupted",
    )
    async def delete_campaign(self, principal: Caller, campaign_id: FromPath[int]) -> None:
        await service.delete_campaign(principal, campaign_id)

    @post(
        "/{campaign_id:int}/suspend",
        status_code=HTTP_200_OK,
        summary="Suspend a running campaign: later messages of its flows stop until it is resumed",
    )
    async def suspend(self, principal: Caller, campaign_id: FromPath[int]) -> CampaignOut:
        return await service.suspend_campaign(principal, campaign_id)

    @post(
        "/{campaign_id:int}/end",
        status_code=HTTP_200_OK,
        summary="End a campaign now, before its end time; its statistics and report stay",
        description="As at its end time: nothing more is sent (unsent messages are cancelled as "
        "`campaign_ended`, unfinished runs expire) and no trigger fires again. Deleting it would also "
        "delete its statistics and report. Any campaign that has not ended can be ended.",
    )
    async def end(self, principal: Caller, campaign_id: FromPath[int]) -> CampaignOut:
        return await service.end_campaign(principal, campaign_id)

    @post(
        "/{campaign_id:int}/resume",
        status_code=HTTP_200_OK,
        summary="Resume a paused campaign at a new start time (it is scheduled until then)",
        description="Runs continue where they stopped; nothing is sent twice and no one is lost. The "
        "next trigger fires at `start_at` and enrolls members not yet reached (and new ones).",
    )
    async def resume(
        self, principal: Caller, campaign_id: FromPath[int], data: JSONBody[ResumeIn]
    ) -> CampaignOut:
        return await service.resume_campaign(principal, campaign_id, data.start_at)

    @get(
        "/{campaign_id:int}/audience",
        summary="Who the next trigger reaches: members, eligible, and the excluded by reason",
        description="`members = eligible + opted_out + no_address + already_entered`, each member counted "
        "under the first reason that applies, by the same rule the trigger enrolls with.",
    )
    async def get_audience(self, principal: Caller, campaign_id: FromPath[int]) -> AudienceOut:
        row = await service.get_row(principal.workspace_id, campaign_id)
        target = await service.audience_of(principal.workspace_id, row)
        counted = await audience.counts(target, datetime.now(UTC))
        return AudienceOut(
            campaign_id=campaign_id,
            group_id=row["group"],
            channel=target.channel,
            members=counted["members"],
            eligible=counted["eligible"],
            excluded=Excluded(**counted["excluded"]),
            opt_out_filter_applied=counted["opt_out_filter_applied"],
        )

    @get(
        "/{campaign_id:int}/audience/excluded",
        summary="The excluded members as CSV: contact_id, name, phone, email, reason",
        media_type="text/csv",
    )
    async def excluded(self, principal: Caller, campaign_id: FromPath[int]) -> Stream:
        row = await service.get_row(principal.workspace_id, campaign_id)
        target = await service.audience_of(principal.workspace_id, row)
        return _csv(_excluded_lines(target, datetime.now(UTC)), f"campaign-{campaign_id}-excluded.csv")

    @get("/{campaign_id:int}/stats", summary="Live counters: totals, per node, per edge, per failure reason")
    async def get_stats(self, principal: Caller, campaign_id: FromPath[int]) -> StatsOut:
        return StatsOut(**await live.current_stats(principal.workspace_id, campaign_id))

    @get(
        "/{campaign_id:int}/report",
        summary="Per-contact outcomes: run status, last node, every message with its status and failure",
        description="JSON pages (`?cursor=`), or the whole report as CSV with `Accept: text/csv` or "
        "`?format=csv` (one row per contact entry).",
    )
    async def get_report(
        self,
        principal: Caller,
        request: Request,
        campaign_id: FromPath[int],
        format: Annotated[
            Literal["json", "csv"] | None, QueryParameter(description="csv for a CSV file")
        ] = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Response[Page[ReportRow]]:  # or the CSV Stream: the document adds text/csv (backend/openapi.py)
        row = await service.get_row(principal.workspace_id, campaign_id)
        channel = row.get("channel") or ""
        wants_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
        if wants_csv:
            return _csv(
                report.csv_lines(principal.workspace_id, campaign_id, channel),
                f"campaign-{campaign_id}-report.csv",
            )
        items, next_cursor = await report.page(principal.workspace_id, campaign_id, channel, cursor, limit)
        return Response(Page[ReportRow](items=items, next_cursor=next_cursor), media_type="application/json")

    @post(
        "/{campaign_id:int}/live-tickets",
        status_code=HTTP_201_CREATED,
        summary="A single-use ticket for the campaign's live WebSocket (browsers cannot send headers)",
        opt={"read_only": True},
    )
    async def live_ticket(self, principal: Caller, campaign_id: FromPath[int], state: State) -> TicketOut:
        await service.get_row(principal.workspace_id, campaign_id)
        ticket = await tickets.issue(state.queue, principal, live.ticket_resource(campaign_id))
        return TicketOut(
            ticket=ticket,
            expires_in=tickets.TTL_S,
            url=f"/api/v1/ws/campaigns/{campaign_id}?ticket={ticket}",
        )


CONTROLLERS = [CampaignController, live.campaign_feed]
