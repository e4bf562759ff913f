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
from ui.components.times import plural
from ui.layout import page_heading, shell_page
from ui.session import Session, forget, login_url

PATH = "/campaigns"
PAGE_SIZE = 50
SEARCH_DELAY_S = 0.3


def register() -> None:
    shell_page(PATH, "Campaigns")(campaigns_list_body)


async def campaigns_list_body(session: Session) -> None:
    page_heading(
        "Campaigns",
        "Send a published flow to a group on a schedule, then suspend, resume and watch it live.",
    )
    page = CampaignsPage(session)
    try:
        await page.load_pickers()
    except (ApiError, BackendUnreachable) as exc:
        page.show_failure(exc)
        return
    page.build()
    await page.reload()


@dataclass
class CampaignsPage:
    session: Session
    flows: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)
    senders: dict[int, SenderRef] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)
    campaigns: list[CampaignInfo] = field(default_factory=list)
    next_cursor: str | None = None
    generation: int = 0
    body: ui.column = field(init=False)
    sent_labels: dict[int, ui.label] = field(default_factory=dict)

    async def load_pickers(self) -> None:
        token = self.session.token
        flows, groups, senders = await asyncio.gather(
            _all_flows(token), api.list_groups(token), api.list_senders(token)
        )
        self.flows = {flow["id"]: flow["name"] for flow in flows}
        self.groups = {group["id"]: group["name"] for group in groups}
        self.senders = {sender["id"]: sender for sender in senders}

    def build(self) -> None:
        with ui.row().classes("w-full items-center gap-3"):
            search = (
                ui.input(placeholder="Search by name", on_change=lambda e: self.search(e.value))
                .props("outlined dense clearable")
                .classes("w-56 max-sm:w-full bg-white")
                .mark("campaign-search")
            )
            with search.add_slot("prepend"):
                ui.icon("search", size="1.25rem").classes("text-slate-400")
            self._filter("flow_id", "Flow", self.flows, "filter-flow")
            self._filter("group_id", "Group", self.groups, "filter-group")
            self._filter("status", "Status", STATUS_LABEL, "filter-status")
            ui.space()
            if self.session.allows("marketer"):
                ui.button(
                    "New campaign", icon="add", on_click=lambda: ui.navigate.to("/campaigns/new")
                ).props("unelevated no-caps").mark("new-campaign")
        self.body = ui.column().classes("w-full gap-3")

    def _filter(self, key: str, label: str, options: dict[Any, str], marker: str) -> None:
        async def changed(event: Any) -> None:
            self.filters[key] = event.value
            await self.reload()

        ui.select(options, label=label, clearable=True, on_change=changed).props(
            "outlined dense options-dense"
        ).classes("w-40 bg-white").mark(marker)

    async def search(self, value: str | None) -> None:
        self.filters["name"] = (value or "").strip() or None
        self.generation += 1
        generation = self.generation
        await asyncio.sleep(SEARCH_DELAY_S)
        if generation == self.generation:
            await self.reload()

    async def reload(self) -> None:
        self.generation += 1
        generation = self.generation
        try:
            page = await api.list_campaigns(self.session.token, limit=PAGE_SIZE, **self.filters)
        except (ApiError, BackendUnreachable) as exc:
            if generation == self.generation:
                self.show_failure(exc)
            return
        if generation != self.generation:
            return
        self.campaigns = list(page["items"])
        self.next_cursor = page["next_cursor"]
        self.render()
        await self.fill_sent(self.campaigns)

    async def load_more(self) -> None:
        generation = self.generation
        try:
            page = await api.list_campaigns(
                self.session.token, limit=PAGE_SIZE, cursor=self.next_cursor, **self.filters
            )
        except (ApiError, BackendUnreachable) as exc:
            self.show_failure(exc)
            return
        if generation != self.generation:
            return
        self.campaigns.extend(page["items"])
        self.next_cursor = page["next_cursor"]
        self.render()
        await self.fill_sent(self.campaigns)

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

    def show_failure(self, exc: ApiError | BackendUnreachable) -> None:
        if isinstance(exc, ApiError) and exc.status == 401:
            forget()
            ui.navigate.to(login_url(PATH))
            return
        text = (
            f"Flowgate's API at {exc.url} is not answering; the campaigns could not be loaded."
            if isinstance(exc, BackendUnreachable)
            else f"The campaigns could not be loaded: {exc.detail}"
        )
        with (
            ui.card().classes("w-full p-6 shadow-sm rounded-xl"),
            ui.row().classes("items-center gap-3 no-wrap"),
        ):
            ui.icon("cloud_off").classes("text-amber-600 text-2xl")
            ui.label(text).classes("text-slate-700").mark("inline-problem")

    # --- drawing ----------------------------------------------------------------------------------

    def render(self) -> None:
        self.body.clear()
        self.sent_labels = {}
        with self.body:
            if not self.campaigns:
                self._empty()
                return
            with (
                ui.card()
                .classes("w-full p-0 gap-0 shadow-sm rounded-xl overflow-hidden")
                .mark("campaign-list")
            ):
                self._header()
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for campaign in self.campaigns:
                        self._row(campaign)
            with ui.row().classes("w-full items-center px-1"):
                shown = plural(len(self.campaigns), "campaign")
                ui.label(shown + ("; more to load" if self.next_cursor else "")).classes(
                    "text-sm text-slate-500"
                ).mark("campaign-count")
                ui.space()
                if self.next_cursor:
                    ui.button("Load more", icon="expand_more", on_click=self.load_more).props("flat no-caps")

    def _empty(self) -> None:
        filtered = any(value for value in self.filters.values())
        with (
            ui.card()
            .classes(
                "w-full p-10 items-center gap-2 shadow-none border border-dashed border-slate-300 rounded-xl bg-white"
            )
            .mark("empty-state")
        ):
            ui.icon("search_off" if filtered else "campaign", size="2.5rem").classes("text-slate-400")
            ui.label("No campaigns match" if filtered else "No campaigns yet").classes(
                "text-lg font-medium text-slate-800"
            )
            ui.label(
                "Clear a filter to see more."
                if filtered
                else "A campaign sends a published flow to a group of contacts, once or on a schedule."
            ).classes("text-sm text-slate-500 text-center max-w-md")

    @staticmethod
    def _header() -> None:
        with ui.row().classes(
            "w-full items-center no-wrap gap-4 px-5 py-2 bg-slate-50 border-b border-slate-200 "
            "text-xs font-medium uppercase tracking-wide text-slate-500"
        ):
            ui.label("Campaign").classes("flex-1 min-w-0")
            ui.label("Status").classes("w-24")
            ui.label("Period and plan").classes("w-56 max-lg:hidden")
            ui.label("Sent").classes("w-16 text-right")
            ui.element("div").classes("w-8")

    def _row(self, campaign: CampaignInfo) -> None:
        sender = self.senders.get(campaign["sender_id"])
        flow = self.flows.get(campaign["flow_id"], f"flow {campaign['flow_id']}")
        version = f" v{campaign['flow_version']}" if campaign["flow_version"] else ""
        parts = [
            f"{flow}{version}",
            self.groups.get(campaign["group_id"], f"group {campaign['group_id']}"),
            f"{sender['name']} ({campaign['channel']})" if sender else campaign["channel"],
        ]
        with (
            ui.row()
            .classes("w-full items-center no-wrap gap-4 px-5 py-3 hover:bg-slate-50")
            .mark("campaign-row", f"campaign-{campaign['id']}")
        ):
            with ui.column().classes("flex-1 min-w-0 gap-0.5"):
                ui.link(campaign["name"], f"/campaigns/{campaign['id']}").classes(
                    "block truncate font-medium text-slate-900 no-underline hover:text-primary"
                ).mark("campaign-link")
                ui.label(" · ".join(parts)).classes("text-xs text-slate-500 truncate")
            ui.label(status_label(campaign["status"])).classes(
                "w-24 text-center text-xs font-medium px-2 py-0.5 rounded-full "
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
                .classes("w-16 text-right tabular-nums text-slate-700")
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
                action_buttons(self.session, campaign, lambda _: self.reload(), dense=True)


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
