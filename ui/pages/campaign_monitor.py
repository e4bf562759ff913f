"""``/campaigns/{id}``: the live monitor of one campaign.

Everything on it moves with the campaign's live feed (:mod:`ui.campaign_feed`): the ui process holds the
api's WebSocket for this tab and redraws the numbers, the chart, the funnel and the counts on the flow's
own graph when an event arrives. The audience (members, eligible) is not in the feed; it is asked for
again when the campaign's totals move (runs entering, finishing, opting out), at most every few seconds,
and every half minute besides (members added to the group move nothing in the feed). The header (next
trigger, triggers fired) is read again just after the trigger it announces. All of it stops when the tab
goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from flows.graph import FlowGraph
from ui.backend import ApiError, AudienceInfo, BackendUnreachable, CampaignInfo, CampaignStats, api
from ui.campaign_feed import CampaignFeed, FeedState, start_feed
from ui.components.campaign_actions import action_buttons
from ui.components.campaign_rules import (
    KPIS,
    STATUS_STYLE,
    edge_counts,
    failure_words,
    funnel,
    messages_per_minute,
    minute_series,
    node_chips,
    progress,
    short_time,
    status_label,
)
from ui.components.flow_document import FlowDocument
from ui.components.flow_editor import FlowEditor
from ui.components.flow_shapes import edge_id
from ui.layout import shell_page
from ui.pages.flow_workspace import NotShown, parse
from ui.session import Session, forget, login_url

LIVE_WORDS: dict[str, str] = {
    "live": "● Live",
    "reconnecting": "Reconnecting…",
    "deleted": "This campaign was deleted",
    "signed_out": "Signed out: reload to sign in",
}
AUDIENCE_EVERY_S = 5.0
"""The audience counts are queries over the whole group: asked for at most this often."""
AUDIENCE_QUIET_S = 30.0
"""How often the audience is asked for when nothing in the feed moves."""
HEADER_AFTER_S = 5.0
"""The header is read again this long after the trigger it announces was due (the scheduler's tick)."""
HEADER_OVERDUE_S = 20.0
"""… and this often while that trigger is overdue (a worker that is down, a long trigger)."""
GRAPH_HEIGHT = "600px"


def register() -> None:
    shell_page("/campaigns/{campaign_id}", "Campaign", wide=True)(campaign_monitor_body)


async def campaign_monitor_body(session: Session, campaign_id: str = "") -> None:
    if not campaign_id.isdigit():
        _gone("This address does not name a campaign.")
        return
    here = f"/campaigns/{campaign_id}"
    try:
        campaign, stats, audience = await asyncio.gather(
            api.get_campaign(session.token, int(campaign_id)),
            api.campaign_stats(session.token, int(campaign_id)),
            api.campaign_audience(session.token, int(campaign_id)),
        )
    except (ApiError, BackendUnreachable) as exc:
        if isinstance(exc, ApiError) and exc.status == 401:
            forget()
            ui.navigate.to(login_url(here))
            return
        if isinstance(exc, ApiError) and exc.status == 404:
            _gone("There is no such campaign in this workspace: it may have been deleted.")
            return
        detail = exc.detail if isinstance(exc, ApiError) else f"the API at {exc.url} is not answering"
        _gone(f"The campaign could not be loaded: {detail}.")
        return
    monitor = Monitor(session, campaign, audience)
    monitor.audience_seen = _audience_moves(stats)
    await monitor.build()
    await monitor.show_stats(stats)
    monitor.start()


def _gone(text: str) -> None:
    with ui.column().classes("gap-3").mark("campaign-missing"):
        ui.label("Campaign not available").classes("text-2xl font-semibold text-slate-900")
        ui.label(text).classes("text-slate-600")
        ui.button("All campaigns", icon="arrow_back", on_click=lambda: ui.navigate.to("/campaigns")).props(
            "flat no-caps"
        )


class Monitor:
    def __init__(self, session: Session, campaign: CampaignInfo, audience: AudienceInfo) -> None:
        self.session = session
        self.campaign = campaign
        self.audience = audience
        self.stats: CampaignStats | None = None
        self.kpis: dict[str, ui.label] = {}
        self.editor: FlowEditor | None = None
        self.edge_ids: dict[tuple[str, str, str], str] = {}
        self.audience_asked = time.monotonic()
        """The page was drawn with a fresh audience."""
        self.audience_seen: tuple[int, ...] | None = None
        self.audience_later: asyncio.Task[None] | None = None
        self.header_later: asyncio.Task[None] | None = None
        self.following = False
        """The page follows the campaign (from :meth:`start`): only then are later reads planned, so a tab
        closed while the page was still being built leaves no task behind."""
        self.feed_task: asyncio.Task[None] | None = None
        self.client = ui.context.client
        self.live_state: FeedState | None = None
        self.drawn_version: int | None = None
        """The flow version the graph shows."""
        self.failure_reasons: tuple[tuple[str, int], ...] | None = None

    # --- layout ------------------------------------------------------------------------------------------

    async def build(self) -> None:
        self.header = ui.column().classes("w-full gap-2")
        self._draw_header()
        with (
            ui.element("div")
            .classes("w-full grid grid-cols-3 sm:grid-cols-5 lg:grid-cols-9 gap-2")
            .mark("kpis")
        ):
            for key, label, icon in KPIS:
                with ui.card().classes("p-3 gap-0 shadow-sm rounded-lg items-start").mark(f"kpi-{key}"):
                    with ui.row().classes("items-center gap-1 no-wrap text-slate-500"):
                        ui.icon(icon, size="1rem")
                        ui.label(label).classes("text-xs whitespace-nowrap")
                    self.kpis[key] = (
                        ui.label("0")
                        .classes("text-xl font-semibold tabular-nums text-slate-900")
                        .mark(f"kpi-value-{key}")
                    )
        with ui.card().classes("w-full p-4 gap-2 shadow-sm rounded-xl").mark("progress-card"):
            with ui.row().classes("w-full items-baseline no-wrap gap-2"):
                self.progress_text = (
                    ui.label("").classes("text-sm font-medium text-slate-800").mark("progress-text")
                )
                ui.space()
                self.eta_text = ui.label("").classes("text-sm text-slate-500").mark("eta")
            self.progress_bar = ui.linear_progress(value=0, show_value=False, size="10px").props(
                "rounded color=primary"
            )
        with ui.row().classes("w-full gap-3 no-wrap max-lg:flex-wrap"):
            with ui.card().classes("flex-1 min-w-0 p-4 gap-1 shadow-sm rounded-xl"):
                ui.label("Messages per minute").classes("text-sm font-medium text-slate-700")
                self.rate_chart = ui.echart(_rate_chart_options()).classes("w-full h-56").mark("rate-chart")
            with ui.card().classes("flex-1 min-w-0 p-4 gap-1 shadow-sm rounded-xl"):
                ui.label("Funnel").classes("text-sm font-medium text-slate-700")
                self.funnel_chart = ui.echart(_funnel_options()).classes("w-full h-56").mark("funnel-chart")
        await self._draw_graph()
        with ui.card().classes("w-full p-4 gap-2 shadow-sm rounded-xl").mark("failures"):
            ui.label("Failures by reason").classes("text-sm font-medium text-slate-700")
            self.failures_box = ui.column().classes("w-full gap-1")

    def _draw_header(self) -> None:
        campaign = self.campaign
        self.header.clear()
        with self.header:
            with ui.row().classes("w-full items-center gap-3"):
                ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to("/campaigns")).props(
                    "flat round dense color=grey-8"
                ).tooltip("All campaigns")
                ui.label(campaign["name"]).classes("text-2xl font-semibold text-slate-900").mark("page-title")
                ui.label(status_label(campaign["status"])).classes(
                    "text-xs font-medium px-2 py-0.5 rounded-full " + STATUS_STYLE.get(campaign["status"], "")
                ).mark("campaign-status")
                self.live_label = ui.label("").mark("live-state")
                self._show_live_state()
                ui.space()
                action_buttons(self.session, campaign, self.changed)
                ui.button("Report (CSV)", icon="download", on_click=self.download_report).props(
                    "flat no-caps"
                ).mark("download-report")
            if campaign["description"]:
                ui.label(campaign["description"]).classes("text-slate-600")
            ui.label(f"Plan: {campaign['plan']}.").classes("text-sm text-slate-600").mark("campaign-plan")
            when = _next_line(campaign)
            if when:
                ui.label(when).classes("text-xs text-slate-500").mark("next-trigger")
        if self.following:
            self._plan_header_refresh()

    def _plan_header_refresh(self) -> None:
        """Read the campaign again just after the trigger (or start) its header announces, so "next
        trigger" and "fired so far" move on with the campaign while the tab stays open."""
        if self.header_later is not None and not self.header_later.done():
            self.header_later.cancel()
        due = _announced(self.campaign)
        if due is None:
            return
        late = (datetime.now(UTC) - due).total_seconds()
        wait = HEADER_AFTER_S - late if late < HEADER_AFTER_S else HEADER_OVERDUE_S
        self.header_later = asyncio.create_task(self._reload_campaign_later(wait))

    async def _reload_campaign_later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self.header_later = None
        if not self.gone:
            await self._reload_campaign()

    async def _draw_graph(self) -> None:
        campaign = self.campaign
        with ui.card().classes("w-full p-0 gap-0 shadow-sm rounded-xl overflow-hidden").mark("graph-card"):
            with ui.row().classes("w-full items-center px-4 py-2 border-b border-slate-200"):
                ui.label("The flow, live").classes("text-sm font-medium text-slate-700")
                self.graph_note = ui.label("").classes("text-xs text-slate-500")
                ui.space()
                ui.link("Open the flow", f"/flows/{campaign['flow_id']}").classes("text-sm")
            graph = await self._graph()
            if graph is None:
                ui.label("The flow's published version could not be loaded.").classes("p-4 text-slate-600")
                return
            self.edge_ids = {
                (edge.source, edge.source_port, edge.target): edge_id(edge) for edge in graph.edges
            }
            self.editor = (
                FlowEditor(FlowDocument(graph), readonly=True)
                .classes("w-full")
                .style(f"height: {GRAPH_HEIGHT}")
                .mark("flow-editor")
            )

    async def _graph(self) -> FlowGraph | None:
        campaign = self.campaign
        try:
            number = campaign["flow_version"]
            if number is None:
                flow = await api.get_flow(self.session.token, campaign["flow_id"])
                number = flow["latest_version"]
            if number is None:
                return None
            self.drawn_version = number
            self._show_graph_note()
            version = await api.get_version(self.session.token, campaign["flow_id"], number)
            return parse(version["graph"])
        except (ApiError, BackendUnreachable, NotShown):
            return None

    # --- live ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Follow the feed while the tab is connected: a tab that went away (closed, or offline for a
        while) holds no socket at the api; one that comes back resumes with a fresh snapshot."""
        self._follow()
        ui.timer(AUDIENCE_QUIET_S, self.refresh_quietly)
        client = ui.context.client
        client.on_disconnect(self.stop)
        client.on_connect(self._follow)
        client.on_delete(self.stop)

    def _follow(self) -> None:
        self.following = True
        self._plan_header_refresh()  # also after a reconnect: stop() cancelled the one planned
        if self.feed_task is None or self.feed_task.done():
            feed = CampaignFeed(self.session.token, self.campaign["id"], self.show_stats, self.feed_state)
            self.feed_task = start_feed(feed)

    def stop(self) -> None:
        self.following = False
        for task in (self.feed_task, self.audience_later, self.header_later):
            if task is not None and not task.done():
                task.cancel()

    async def feed_state(self, state: FeedState) -> None:
        if self.gone:
            return
        self.live_state = state
        self._show_live_state()

    def _show_live_state(self) -> None:
        """Also after the header is redrawn (the campaign started, was suspended or resumed)."""
        state = self.live_state
        self.live_label.set_text(LIVE_WORDS[state] if state else "")
        self.live_label.classes(
            replace="text-xs " + ("text-emerald-600" if state == "live" else "text-amber-700")
        )

    async def show_stats(self, stats: CampaignStats) -> None:
        if self.gone:
            return
        self.stats = stats
        if stats["status"] != self.campaign["status"]:
            await self._reload_campaign()
        await self._maybe_refresh_audience(_audience_moves(stats))
        if not self.gone:
            self._draw(stats)

    @property
    def gone(self) -> bool:
        """The tab went away while an event or an answer was on its way: nothing is left to draw on."""
        return self.client.is_deleted or self.progress_bar.is_deleted

    def _draw(self, stats: CampaignStats) -> None:
        totals = stats["totals"]
        values = {**totals, "members": self.audience["members"], "eligible": self.audience["eligible"]}
        for key, label in self.kpis.items():
            label.set_text(f"{int(values.get(key, 0)):,}")
        rate = messages_per_minute(stats["per_minute"], datetime.now(UTC))
        state = progress(totals, self.audience, rate, stats["status"], reentry=self.campaign["allow_reentry"])
        self.progress_text.set_text(state.headline)
        self.eta_text.set_text(state.left_text)
        self.progress_bar.set_value(state.fraction)
        self._update_charts(stats)
        if self.editor is not None:
            self.editor.set_counts(node_chips(stats["nodes"]), edge_counts(stats["edges"], self.edge_ids))
        self._update_failures(stats["failures"])

    def _update_charts(self, stats: CampaignStats) -> None:
        series = minute_series(stats["per_minute"], datetime.now(UTC))
        self.rate_chart.options["xAxis"]["data"] = [label for label, _ in series]
        self.rate_chart.options["series"][0]["data"] = [value for _, value in series]
        self.rate_chart.options["title"] = {**EMPTY_CHART, "show": not series}
        self.rate_chart.update()
        totals = stats["totals"]
        rows = funnel(self.campaign["allow_reentry"])
        self.funnel_chart.options["yAxis"]["data"] = [label for _, label in reversed(rows)]
        self.funnel_chart.options["series"][0]["data"] = [
            int(totals.get(key, 0)) for key, _ in reversed(rows)
        ]
        self.funnel_chart.update()

    def _update_failures(self, failures: dict[str, int]) -> None:
        reasons = tuple(sorted(failures.items(), key=lambda item: -item[1]))
        if reasons == self.failure_reasons:
            return
        self.failure_reasons = reasons
        self.failures_box.clear()
        with self.failures_box:
            if not reasons:
                ui.label("No message has failed.").classes("text-sm text-slate-500").mark("no-failures")
                return
            for reason, count in reasons:
                with (
                    ui.expansion(f"{failure_words(reason)} · {count:,}", icon="error_outline")
                    .classes("w-full border border-slate-200 rounded-lg")
                    .mark("failure-reason", f"failure-{reason}") as expansion
                ):
                    box = ui.column().classes("w-full gap-0.5 text-sm")
                expansion.on_value_change(
                    lambda event, reason=reason, box=box: (
                        self._load_failed(reason, box) if event.value else None
                    )
                )

    async def _load_failed(self, reason: str, box: ui.column) -> None:
        box.clear()
        try:
            messages = await api.campaign_messages(
                self.session.token, self.campaign["id"], status="failed", failure_reason=reason, limit=50
            )
        except (ApiError, BackendUnreachable):
            with box:
                ui.label("The contacts could not be loaded.").classes("text-slate-500")
            return
        with box:
            for message in messages:
                code = f" · code {message['error_code']}" if message.get("error_code") else ""
                detail = f" · {message['error_message']}" if message.get("error_message") else ""
                ui.label(f"{message['to']}{code}{detail}").classes("text-slate-700 truncate").mark(
                    "failed-contact"
                )
            if len(messages) == 50:
                ui.label("The newest 50; the report (CSV) lists them all.").classes("text-xs text-slate-500")

    async def _maybe_refresh_audience(self, moves: tuple[int, ...]) -> None:
        """Ask for the audience again when the totals that move it changed: now, or once the pause since
        the last ask is over (a burst of events makes one request, and the last change is never missed)."""
        if moves == self.audience_seen:
            return
        self.audience_seen = moves
        wait = AUDIENCE_EVERY_S - (time.monotonic() - self.audience_asked)
        if wait <= 0:
            await self._refresh_audience()
        elif self.audience_later is None:
            self.audience_later = asyncio.create_task(self._refresh_audience_later(wait))

    async def _refresh_audience_later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self.audience_later = None
        await self._refresh_audience()
        if self.stats is not None and not self.gone:
            self._draw(self.stats)

    async def refresh_quietly(self) -> None:
        """The half-minute ask: skipped when the feed's own asks are more recent."""
        if self.gone or time.monotonic() - self.audience_asked < AUDIENCE_QUIET_S:
            return
        await self._refresh_audience()
        if self.stats is not None and not self.gone:
            self._draw(self.stats)

    async def _refresh_audience(self) -> None:
        self.audience_asked = time.monotonic()
        with contextlib.suppress(ApiError, BackendUnreachable):
            self.audience = await api.campaign_audience(self.session.token, self.campaign["id"])

    def _show_graph_note(self) -> None:
        pinned, drawn = self.campaign["flow_version"], self.drawn_version
        if pinned is None:
            text = f"· version {drawn}, the latest: the campaign pins it when it starts"
        elif pinned == drawn:
            text = f"· version {drawn}, pinned"
        else:
            text = f"· version {drawn}; the campaign pinned version {pinned}: reload to see it"
        self.graph_note.set_text(text)

    async def _reload_campaign(self) -> None:
        with contextlib.suppress(ApiError, BackendUnreachable):
            self.campaign = await api.get_campaign(self.session.token, self.campaign["id"])
            if self.gone:
                return
            self._draw_header()
            if self.drawn_version is not None:
                self._show_graph_note()

    async def changed(self, campaign: CampaignInfo | None) -> None:
        if campaign is None:  # deleted
            self.stop()
            ui.navigate.to("/campaigns")
            return
        self.campaign = campaign
        self._draw_header()
        if self.drawn_version is not None:
            self._show_graph_note()

    async def download_report(self) -> None:
        try:
            data = await api.download(self.session.token, f"/api/v1/campaigns/{self.campaign['id']}/report")
        except (ApiError, BackendUnreachable) as exc:
            detail = exc.detail if isinstance(exc, ApiError) else "the API is not answering"
            ui.notify(f"The report could not be downloaded: {detail}", type="negative")
            return
        ui.download(data, f"campaign-{self.campaign['id']}-report.csv", "text/csv")


def _audience_moves(stats: CampaignStats) -> tuple[int, ...]:
    """The totals whose change can change the audience's counts: entering takes contacts out of the
    eligible, finishing can bring them back (re-entry), opting out moves them to the excluded."""
    totals = stats["totals"]
    return tuple(
        int(totals.get(key, 0))
        for key in ("entered", "completed", "expired", "interrupted", "failed_runs", "opted_out")
    )


def _announced(campaign: CampaignInfo) -> datetime | None:
    """When the header's next event is due: the next trigger of a running campaign, the start of a
    scheduled one."""
    if campaign["status"] == "running" and campaign["next_trigger_at"]:
        return datetime.fromisoformat(campaign["next_trigger_at"])
    if campaign["status"] == "scheduled" and campaign["start_at"]:
        return datetime.fromisoformat(campaign["start_at"])
    return None


def _next_line(campaign: CampaignInfo) -> str:
    """The header's line for :func:`_announced`'s moment, with the triggers fired so far."""
    due = _announced(campaign)
    if due is None:
        return ""
    fired = f"{campaign['triggers_fired']} fired so far"
    if campaign["status"] == "running":
        return f"Next trigger {short_time(due.isoformat())} UTC · {fired}"
    starts = f"Starts {short_time(due.isoformat())} UTC"
    return f"{starts} · {fired}" if campaign["triggers_fired"] else starts


EMPTY_CHART = {
    "text": "Nothing sent yet",
    "left": "center",
    "top": "middle",
    "textStyle": {"color": "#94a3b8", "fontSize": 13, "fontWeight": "normal"},
}
"""Said over an empty chart, so a new campaign's chart does not look broken."""


def _rate_chart_options() -> dict[str, Any]:
    return {
        "title": {**EMPTY_CHART, "show": True},
        "grid": {"left": 40, "right": 12, "top": 12, "bottom": 28},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": []},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [{"type": "bar", "name": "Sent", "data": [], "itemStyle": {"color": "#6366f1"}}],
        "animation": False,
    }


def _funnel_options() -> dict[str, Any]:
    return {
        "grid": {"left": 80, "right": 40, "top": 8, "bottom": 8},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": {"type": "value", "show": False},
        "yAxis": {"type": "category", "data": []},
        "series": [
            {
                "type": "bar",
                "data": [],
                "label": {"show": True, "position": "right"},
                "itemStyle": {"color": "#10b981", "borderRadius": [0, 4, 4, 0]},
            }
        ],
        "animation": False,
    }
