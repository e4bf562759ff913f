"""``/campaigns``: every campaign of the workspace, its state and how far it got, with the actions its
state allows.

Filters are the API's own (name contains, flow, group, status), so the list shows exactly what
``GET /api/v1/campaigns`` answers, in its order (by creation) and with its cursor for more. "Sent so far"
comes from each shown campaign's stats, fetched together once the rows are drawn.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, CampaignInfo, SenderRef, api
from ui.components.campaign_actions import action_buttons
from ui.components.campaign_rules import STATUS_LABEL, STATUS_STYLE, short_time, status_label
from ui.components.page_states import action_failed, empty_card, problem_card
from ui.components.paged_list import (
    PAGE_SIZE,
    ROW,
    ROW_LINK,
    PagedList,
    count_and_more,
    filter_select,
    rows_card,
    search_box,
)
from ui.components.times import plural
from ui.layout import page_heading, shell_page
from ui.session import Session

PATH = "/campaigns"
COLUMNS = (
    ("Campaign", "flex-1 min-w-0"),
    ("Status", "w-24"),
    ("Period and plan", "w-56 max-lg:hidden"),
    ("Sent", "w-16 text-right max-sm:hidden"),
    ("", "w-8"),
)


def register() -> None:
    shell_page(PATH, "Campaigns")(campaigns_list_body)


async def campaigns_list_body(session: Session) -> None:
    page_heading(
        "Campaigns",
        "Send a published flow to a group on a schedule, then suspend, resume and watch it live.",
    )
    page = CampaignsPage(session, ui.column().classes("w-full gap-4"))
    await page.start()


@dataclass
class CampaignsPage:
    session: Session
    root: ui.column
    flows: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)
    senders: dict[int, SenderRef] = field(default_factory=dict)
    listing: PagedList = field(init=False)
    body: ui.column = field(init=False)
    sent_labels: dict[int, ui.label] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.listing = PagedList(self._fetch, drawn=self.render, failed=self._failed)

    async def start(self) -> None:
        """What the filters and rows name (flows, groups, senders), then the first page; Retry on failure."""
        self.root.clear()
        try:
            await self.load_pickers()
        except (ApiError, BackendUnreachable) as exc:
            with self.root:
                problem_card(exc, "the campaigns", self.start, here=PATH)
            return
        with self.root:
            self.build()
        await self.listing.reload()

    async def load_pickers(self) -> None:
        token = self.session.token
        flows, groups, senders = await asyncio.gather(
            _all_flows(token), api.list_groups(token), api.list_senders(token)
        )
        self.flows = {flow["id"]: flow["name"] for flow in flows}
        self.groups = {group["id"]: group["name"] for group in groups}
        self.senders = {sender["id"]: sender for sender in senders}

    def build(self) -> None:
        listing = self.listing
        with ui.row().classes("w-full items-center gap-3"):
            search_box(
                "Search by name", lambda value: listing.search("name", value), marker="campaign-search"
            )
            filter_select(
                self.flows, "Flow", lambda v: listing.set_filter("flow_id", v), marker="filter-flow"
            )
            filter_select(
                self.groups, "Group", lambda v: listing.set_filter("group_id", v), marker="filter-group"
            )
            filter_select(
                STATUS_LABEL, "Status", lambda v: listing.set_filter("status", v), marker="filter-status"
            )
            ui.space()
            if self.session.allows("marketer"):
                ui.button(
                    "New campaign", icon="add", on_click=lambda: ui.navigate.to("/campaigns/new")
                ).props("unelevated no-caps").mark("new-campaign")
        self.body = ui.column().classes("w-full gap-3")

    async def _fetch(self, filters: dict[str, Any], cursor: str | None) -> Any:
        return await api.list_campaigns(self.session.token, limit=PAGE_SIZE, cursor=cursor, **filters)

    def _failed(self, exc: ApiError | BackendUnreachable, more: bool) -> None:
        if more:
            action_failed(exc, "More campaigns could not be loaded", here=PATH)
            return
        self.body.clear()
        with self.body:
            problem_card(exc, "the campaigns", self.listing.reload, here=PATH)

    async def fill_sent(self, campaigns: list[CampaignInfo]) -> None:
        """Each row's "sent so far", asked for all shown rows at once (a failed one shows a dash)."""
        started = [campaign for campaign in campaigns if campaign["started_at"]]
        answers = await asyncio.gather(
            *(api.campaign_stats(self.session.token, campaign["id"]) for campaign in started),
            return_exceptions=True,
        )
        for campaign, answer in zip(started, answers, strict=True):
            label = self.sent_labels.get(campaign["id"])
            if label is None or isinstance(answer, BaseException):
                continue
            label.set_text(f"{answer['totals'].get('sent', 0):,}")

    # --- drawing ----------------------------------------------------------------------------------

    async def render(self) -> None:
        self.body.clear()
        self.sent_labels = {}
        campaigns: list[CampaignInfo] = self.listing.items
        with self.body:
            if not campaigns:
                self._empty()
                return
            with rows_card("campaign-list", COLUMNS):
                for campaign in campaigns:
                    self._row(campaign)
            count_and_more(plural(len(campaigns), "campaign"), self.listing, marker="campaign-count")
        await self.fill_sent(campaigns)

    def _empty(self) -> None:
        if self.listing.filtered:
            empty_card("search_off", "No campaigns match", "Clear a filter to see more.")
            return
        empty_card(
            "campaign",
            "No campaigns yet",
            "A campaign sends a published flow to a group of contacts, once or on a schedule.",
        )

    def _row(self, campaign: CampaignInfo) -> None:
        sender = self.senders.get(campaign["sender_id"])
        flow = self.flows.get(campaign["flow_id"], f"flow {campaign['flow_id']}")
        version = f" v{campaign['flow_version']}" if campaign["flow_version"] else ""
        parts = [
            f"{flow}{version}",
            self.groups.get(campaign["group_id"], f"group {campaign['group_id']}"),
            f"{sender['name']} ({campaign['channel']})" if sender else campaign["channel"],
        ]
        with ui.row().classes(ROW).mark("campaign-row", f"campaign-{campaign['id']}"):
            with ui.column().classes("flex-1 min-w-0 gap-0.5 overflow-hidden"):
                ui.link(campaign["name"], f"/campaigns/{campaign['id']}").classes(ROW_LINK).mark(
                    "campaign-link"
                )
                ui.label(" · ".join(parts)).classes("text-xs text-slate-500 truncate")
            ui.label(status_label(campaign["status"])).classes(
                "w-24 shrink-0 text-center text-xs font-medium px-2 py-0.5 rounded-full "
                + STATUS_STYLE.get(campaign["status"], "")
            ).mark("campaign-status")
            with ui.column().classes("w-56 gap-0 max-lg:hidden"):
                ui.label(f"{short_time(campaign['start_at'])} to {short_time(campaign['end_at'])}").classes(
                    "text-sm text-slate-700"
                )
                ui.label(_cadence(campaign)).classes("text-xs text-slate-500 truncate").tooltip(
                    campaign["plan"]
                )
            self.sent_labels[campaign["id"]] = (
                ui.label("—" if not campaign["started_at"] else "…")
                .classes("w-16 text-right tabular-nums text-slate-700 max-sm:hidden")
                .mark("campaign-sent")
            )
            with (
                ui.button(icon="more_vert").props("flat round dense color=grey-7").mark("campaign-menu"),
                ui.menu(),
                ui.column().classes("p-2 gap-1"),
            ):
                ui.button(
                    "Open monitor",
                    icon="monitoring",
                    on_click=lambda c=campaign: ui.navigate.to(f"/campaigns/{c['id']}"),
                ).props("flat dense no-caps")
                action_buttons(self.session, campaign, lambda _: self.listing.reload(), dense=True)


def _cadence(campaign: CampaignInfo) -> str:
    every = campaign["every"]
    unit = every["unit"] if every["count"] == 1 else f"{every['count']} {every['unit']}s"
    return f"every {unit}, {plural(campaign['planned_triggers'], 'trigger')}"


async def _all_flows(token: str) -> list[dict[str, Any]]:
    flows: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(flows) < 2_000:
        page = await api.list_flows(token, cursor=cursor, limit=200)
        flows.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    return flows
