"""``/audience/groups`` and ``/audience/groups/{id}``: the workspace's groups with their member counts
and opt-out bypass flag; one group's members (add by search, remove), and how many of them a marketing
message would reach on each channel ("990 of 1,000 — 10 opted out"), as the API's audience count says.

The reach is ``GET /groups/{id}/audience`` per channel: the consent gate's own rule, optionally as a
given sender and category would see it. A group flagged "bypass the opt-out filter" (transactional use,
seed 003) lists everyone; the gate still stops marketing to opted-out members when it is sent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, api
from ui.clients import audience as client
from ui.components.audience_parts import (
    audience_tabs,
    field_errors_into,
    opt_out_chips,
    section,
)
from ui.components.audience_rules import CHANNEL_LABEL, CHANNELS, reach_sentence
from ui.components.dialogs import transient_dialog
from ui.components.in_use import refused_in_use
from ui.components.page_states import action_failed, empty_card, problem_card
from ui.components.paged_list import (
    PAGE_SIZE,
    ROW,
    ROW_LINK,
    PagedList,
    count_and_more,
    rows_card,
    search_box,
)
from ui.components.times import plural
from ui.layout import page_heading, shell_page
from ui.session import Session

PATH = "/audience/groups"
COLUMNS = (
    ("Group", "flex-1 min-w-0"),
    ("Members", "w-24 text-right"),
    ("Opt-out filter", "w-44 max-sm:hidden"),
    ("", "w-8"),
)
MEMBER_PAGE = 50
SEARCH_DELAY_S = 0.3
FOUND_MOST = 8
BYPASS_TEXT = (
    "For transactional groups (order updates, service notices): member lists include contacts who opted "
    "out of marketing. Marketing messages to them are still blocked when they are sent."
)


def register() -> None:
    shell_page(PATH, "Groups")(groups_body)
    shell_page(PATH + "/{group_id}", "Group", wide=True)(group_body)


# --- the list -------------------------------------------------------------------------------------------


async def groups_body(session: Session) -> None:
    page_heading(
        "Audience",
        "Groups are who campaigns send to: add contacts by hand, or put a whole import into one.",
    )
    audience_tabs(PATH)
    page = GroupsPage(session)
    page.build()
    await page.reload()


@dataclass
class GroupsPage:
    session: Session
    listing: PagedList = field(init=False)
    body: ui.column = field(init=False)

    def __post_init__(self) -> None:
        self.listing = PagedList(self._fetch, drawn=self.render, failed=self._failed)

    def build(self) -> None:
        with ui.row().classes("w-full items-center gap-3"):
            search_box(
                "Search by name",
                lambda value: self.listing.search("name", value),
                marker="group-search",
                width="w-72",
            )
            ui.space()
            if self.session.allows("marketer"):
                ui.button("New group", icon="add", on_click=self.new_group).props("unelevated no-caps").mark(
                    "new-group"
                )
        self.body = ui.column().classes("w-full gap-3")

    async def reload(self) -> None:
        await self.listing.reload()

    async def _fetch(self, filters: dict[str, Any], cursor: str | None) -> Any:
        return await client.list_groups(self.session.token, cursor=cursor, limit=PAGE_SIZE, **filters)

    def _failed(self, exc: ApiError | BackendUnreachable, more: bool) -> None:
        if more:
            action_failed(exc, "More groups could not be loaded", here=PATH)
            return
        self.body.clear()
        with self.body:
            problem_card(exc, "the groups", self.reload, here=PATH)

    def render(self) -> None:
        self.body.clear()
        groups: list[dict[str, Any]] = self.listing.items
        with self.body:
            if not groups:
                query = self.listing.filters.get("name")
                if query:
                    empty_card("search_off", "No groups match", f"No group name contains “{query}”.")
                else:
                    empty_card(
                        "group_work",
                        "No groups yet",
                        "A group is a list of contacts a campaign sends to. Create one, then add contacts.",
                    )
                return
            with rows_card("group-list", COLUMNS):
                for group in groups:
                    self._row(group)
            count_and_more(plural(len(groups), "group"), self.listing, marker="group-count")

    def _row(self, group: dict[str, Any]) -> None:
        with ui.row().classes(ROW).mark("group-row", f"group-{group['id']}"):
            with ui.column().classes("flex-1 min-w-0 gap-0.5"):
                ui.link(group["name"], f"{PATH}/{group['id']}").classes(ROW_LINK).mark("group-link")
                if group["description"]:
                    ui.label(group["description"]).classes("text-xs text-slate-500 truncate")
            ui.label(f"{group['member_count']:,}").classes(
                "w-24 text-right tabular-nums text-slate-700"
            ).mark("group-members")
            with ui.element("div").classes("w-44 max-sm:hidden"):
                _bypass_chip(group)
            if self.session.allows("marketer"):
                with (
                    ui.button(icon="more_vert").props("flat round dense color=grey-7").mark("group-menu"),
                    ui.menu(),
                    ui.column().classes("p-2 gap-1"),
                ):
                    ui.button("Edit", icon="edit", on_click=lambda g=group: self.edit(g)).props(
                        "flat dense no-caps"
                    ).mark("edit-group")
                    ui.button("Delete", icon="delete", on_click=lambda g=group: self.delete(g)).props(
                        "flat dense no-caps color=negative"
                    ).mark("delete-group")
            else:
                ui.element("div").classes("w-8")

    async def new_group(self) -> None:
        created = await GroupDialog(self.session, None).ask()
        if created is not None:
            ui.navigate.to(f"{PATH}/{created['id']}")

    async def edit(self, group: dict[str, Any]) -> None:
        if await GroupDialog(self.session, group).ask() is not None:
            await self.reload()

    async def delete(self, group: dict[str, Any]) -> None:
        if await delete_group(self.session, group):
            await self.reload()


def _bypass_chip(group: dict[str, Any], *, long: bool = False) -> None:
    """The opt-out filter flag; ``long`` where no column header says what "Applied" is about."""
    if group["bypass_opt_out_filter"]:
        text = "Bypasses the opt-out filter (transactional)" if long else "Bypassed (transactional)"
        ui.label(text).classes(
            "inline-block text-xs font-medium px-2 py-0.5 rounded-full bg-amber-50 text-amber-800"
        ).mark("bypass-chip").tooltip(BYPASS_TEXT)
    else:
        ui.label("Opt-out filter applied" if long else "Applied").classes(
            "inline-block text-xs font-medium px-2 py-0.5 rounded-full bg-emerald-50 text-emerald-700"
        ).mark("filter-chip")


class GroupDialog:
    """Create a group (``group`` None) or change its name, description and bypass flag."""

    def __init__(self, session: Session, group: dict[str, Any] | None) -> None:
        self.session = session
        self.group = group
        with (
            transient_dialog() as self.dialog,
            ui.card().classes("w-[32rem] max-w-full p-6 gap-3 rounded-xl").mark("group-dialog"),
        ):
            ui.label("New group" if group is None else f"Edit “{group['name']}”").classes(
                "text-lg font-semibold text-slate-900"
            )
            self.inputs = {
                "name": ui.input("Name", value=group["name"] if group else "")
                .props("outlined dense counter maxlength=200 autofocus")
                .classes("w-full")
                .mark("group-name"),
                "description": ui.input("Description (optional)", value=group["description"] if group else "")
                .props("outlined dense counter maxlength=500")
                .classes("w-full")
                .mark("group-description"),
                "bypass_opt_out_filter": ui.switch(
                    "Bypass the opt-out filter", value=bool(group and group["bypass_opt_out_filter"])
                ).mark("group-bypass"),
            }
            ui.label(BYPASS_TEXT).classes("text-xs text-slate-500 -mt-2")
            self.error = ui.label("").classes("text-sm text-red-700").mark("group-error")
            self.error.visible = False
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=lambda: self.dialog.submit(None)).props(
                    "flat no-caps color=grey-8"
                )
                ui.button("Create" if group is None else "Save", icon="check", on_click=self.save).props(
                    "unelevated no-caps"
                ).mark("save-group")
            self.inputs["name"].on("keydown.enter", self.save)

    async def ask(self) -> dict[str, Any] | None:
        self.dialog.open()
        return await self.dialog

    async def save(self) -> None:
        self.inputs["name"].error = None
        self.error.visible = False
        name = (self.inputs["name"].value or "").strip()
        if not name:
            self.inputs["name"].error = "Give the group a name."
            return
        body = {
            "name": name,
            "description": (self.inputs["description"].value or "").strip(),
            "bypass_opt_out_filter": bool(self.inputs["bypass_opt_out_filter"].value),
        }
        try:
            if self.group is None:
                saved = await client.create_group(self.session.token, body)
            else:
                changed = {key: value for key, value in body.items() if value != self.group.get(key)}
                saved = (
                    await client.update_group(self.session.token, self.group["id"], changed)
                    if changed
                    else self.group
                )
        except ApiError as exc:
            if exc.status == 401:
                action_failed(exc, "Not saved", here=PATH)
            elif exc.status == 409 and "name" in exc.detail:
                self.inputs["name"].error = exc.detail.removeprefix("name: ").capitalize()
            elif not field_errors_into(self.inputs, exc):
                self.error.text = f"Not saved: {exc.detail}"
                self.error.visible = True
            return
        except BackendUnreachable as exc:
            self.error.text = f"Not saved: Flowgate's API at {exc.url} is not answering."
            self.error.visible = True
            return
        ui.notify(f"Saved “{saved['name']}”.", type="positive")
        self.dialog.submit(saved)


async def delete_group(session: Session, group: dict[str, Any]) -> bool:
    """Ask, then delete; True when the group is gone. A group a campaign uses is refused (409)."""
    with (
        transient_dialog() as dialog,
        ui.card().classes("w-[30rem] max-w-full p-6 gap-3 rounded-xl").mark("delete-group-dialog"),
    ):
        ui.label(f"Delete “{group['name']}”?").classes("text-lg font-semibold text-slate-900")
        ui.label(
            f"Its {plural(group['member_count'], 'member')} stay in the audience; only the group goes. "
            "A group a campaign sends to cannot be deleted."
        ).classes("text-sm text-slate-600")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat no-caps color=grey-8")
            ui.button("Delete group", icon="delete", on_click=lambda: dialog.submit(True)).props(
                "unelevated no-caps color=negative"
            ).mark("confirm-delete-group")
    if not await dialog:
        return False
    try:
        await client.delete_group(session.token, group["id"])
    except ApiError as exc:
        if exc.status == 409 and await refused_in_use(
            session.token, "this group", "group", group_id=group["id"]
        ):
            return False
        if exc.status != 404:
            action_failed(exc, "Not deleted", here=PATH)
            return False
    except BackendUnreachable as exc:
        action_failed(exc, "Not deleted", here=PATH)
        return False
    ui.notify(f"Deleted “{group['name']}”.", type="positive")
    return True


# --- one group ------------------------------------------------------------------------------------------


async def group_body(session: Session, group_id: str = "") -> None:
    here = f"{PATH}/{group_id}"
    if not group_id.isdigit():
        page_heading("Group not found", "This address does not name a group.")
        ui.link("Back to the groups", PATH)
        return
    try:
        group, senders, categories = await asyncio.gather(
            client.get_group(session.token, int(group_id)),
            api.list_senders(session.token),
            api.list_categories(session.token),
        )
    except (ApiError, BackendUnreachable) as exc:
        if isinstance(exc, ApiError) and exc.status == 404:
            page_heading("Group not found", "It was deleted, or it belongs to another workspace.")
            ui.link("Back to the groups", PATH).mark("back-link")
            return
        page_heading("Group", "")
        problem_card(exc, "the group", ui.navigate.reload, here=here)
        return
    page = GroupPage(
        session, dict(group), {s["id"]: dict(s) for s in senders}, {c["id"]: c["name"] for c in categories}
    )
    await page.build()


class GroupPage:
    def __init__(
        self,
        session: Session,
        group: dict[str, Any],
        senders: dict[int, dict[str, Any]],
        categories: dict[int, str],
    ) -> None:
        self.session = session
        self.group = group
        self.senders = senders
        self.categories = categories
        self.here = f"{PATH}/{group['id']}"
        self.members: list[dict[str, Any]] = []
        self.member_ids: set[int] = set()
        self.next_cursor: str | None = None
        self.find_generation = 0
        self.found_for: tuple[str, list[dict[str, Any]]] = ("", [])
        """The search's words and the contacts it found: drawn again after each Add, so several contacts
        are added from one search."""

    def _summary(self) -> str:
        count = plural(self.group["member_count"], "member")
        return f"{self.group['description']} · {count}" if self.group["description"] else count

    def _count_changed(self, count: int) -> None:
        self.group["member_count"] = count
        self.summary.set_text(self._summary())

    @property
    def can_write(self) -> bool:
        return self.session.allows("marketer")

    async def build(self) -> None:
        group = self.group
        with ui.row().classes("w-full items-start gap-3"):
            with ui.column().classes("gap-1 flex-1 min-w-0"):
                ui.link("← Groups", PATH).classes("text-sm text-slate-500 no-underline hover:text-primary")
                with ui.row().classes("items-center gap-3"):
                    ui.label(group["name"]).classes("text-2xl font-semibold text-slate-900").mark(
                        "page-title"
                    )
                    _bypass_chip(group, long=True)
                self.summary = ui.label(self._summary()).classes("text-slate-600").mark("group-summary")
            if self.can_write:
                ui.button("Edit", icon="edit", on_click=self.edit).props("outline no-caps").mark("edit-group")
                ui.button("Delete", icon="delete", on_click=self.delete).props(
                    "flat no-caps color=negative"
                ).mark("delete-group")
        with ui.element("div").classes("w-full grid grid-cols-1 xl:grid-cols-2 gap-6 items-start"):
            self.reach_card = section(
                "Who a marketing message would reach",
                marker="group-reach",
                subtitle="Per channel: members with an address there, less those whose opt-out applies.",
            )
            with self.reach_card:
                with ui.row().classes("w-full gap-3"):
                    self.reach_sender = (
                        ui.select(
                            {
                                key: f"{s['name']} ({CHANNEL_LABEL.get(s['channel'], s['channel'])})"
                                for key, s in self.senders.items()
                            },
                            label="As this sender would send",
                            clearable=True,
                            on_change=self.load_reach,
                        )
                        .props("outlined dense options-dense")
                        .classes("w-64")
                        .mark("reach-sender")
                    )
                    self.reach_category = (
                        ui.select(
                            self.categories,
                            label="Marketing category",
                            clearable=True,
                            on_change=self.load_reach,
                        )
                        .props("outlined dense options-dense")
                        .classes("w-56")
                        .mark("reach-category")
                    )
                self.reach_body = ui.column().classes("w-full gap-2")
            members_card = section("Members", marker="group-members-card")
            with members_card:
                if self.can_write:
                    self._add_box()
                self.members_body = ui.column().classes("w-full gap-2")
        await asyncio.gather(self.load_reach(), self.load_members())

    # --- reach --------------------------------------------------------------------------------------

    async def load_reach(self) -> None:
        sender_id, category_id = self.reach_sender.value, self.reach_category.value
        channels = [self.senders[sender_id]["channel"]] if sender_id in self.senders else list(CHANNELS)
        try:
            answers = await asyncio.gather(
                *(
                    client.group_audience(
                        self.session.token,
                        self.group["id"],
                        channel,
                        sender_id=sender_id,
                        category_id=category_id,
                    )
                    for channel in channels
                )
            )
        except (ApiError, BackendUnreachable) as exc:
            self.reach_body.clear()
            with self.reach_body:
                problem_card(exc, "the reach", self.load_reach, here=self.here)
            return
        self.reach_body.clear()
        with self.reach_body:
            if self.group["member_count"] == 0 and not any(answer["members"] for answer in answers):
                ui.label("No members yet: add contacts to see who a campaign would reach.").classes(
                    "text-sm text-slate-500"
                )
                return
            _reach_chart(answers)
            for answer in answers:
                with (
                    ui.row()
                    .classes("w-full items-center gap-3 no-wrap text-sm")
                    .mark("reach-line", f"reach-{answer['channel']}")
                ):
                    ui.label(CHANNEL_LABEL[answer["channel"]]).classes("w-20 font-medium text-slate-700")
                    ui.label(reach_sentence(answer)).classes("text-slate-700").mark("reach-text")
            if self.group["bypass_opt_out_filter"]:
                ui.label(BYPASS_TEXT).classes("text-xs text-amber-800")

    # --- members ------------------------------------------------------------------------------------

    def _add_box(self) -> None:
        with ui.column().classes("w-full gap-1"):
            found_search = (
                ui.input(
                    placeholder="Add contacts: search name, phone or email",
                    on_change=lambda e: self.find(e.value),
                )
                .props("outlined dense clearable")
                .classes("w-full")
                .mark("member-search")
            )
            with found_search.add_slot("prepend"):
                ui.icon("person_add", size="1.25rem").classes("text-slate-400")
            self.found = ui.column().classes("w-full gap-0 divide-y divide-slate-100").mark("member-found")

    async def find(self, value: str | None) -> None:
        text = (value or "").strip()
        self.find_generation += 1
        generation = self.find_generation
        await asyncio.sleep(SEARCH_DELAY_S)
        if generation != self.find_generation:
            return
        if not text:
            self.found_for = ("", [])
            self.found.clear()
            return
        try:
            page = await client.list_contacts(self.session.token, q=text, limit=FOUND_MOST)
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "The search did not work", here=self.here)
            return
        if generation != self.find_generation:
            return
        self.found_for = (text, list(page["items"]))
        self._render_found()

    def _render_found(self) -> None:
        text, found = self.found_for
        self.found.clear()
        if not text:
            return
        with self.found:
            if not found:
                ui.label(f"No contact matches “{text}”.").classes("text-sm text-slate-500 py-2")
            for contact in found:
                with (
                    ui.row()
                    .classes("w-full items-center no-wrap gap-3 py-1.5")
                    .mark("found-contact", f"found-{contact['id']}")
                ):
                    _contact_cell(contact)
                    if contact["id"] in self.member_ids:
                        ui.label("Member").classes("text-xs text-slate-500")
                    else:
                        ui.button("Add", icon="add", on_click=lambda c=contact: self.add(c)).props(
                            "flat dense no-caps"
                        ).mark("add-member")

    async def add(self, contact: dict[str, Any]) -> None:
        try:
            result = await client.add_members(self.session.token, self.group["id"], [contact["id"]])
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "Not added", here=self.here)
            return
        self._count_changed(result["member_count"])
        ui.notify(f"Added {contact['name'] or contact['phone'] or contact['email']}.", type="positive")
        await asyncio.gather(self.load_members(), self.load_reach())
        self.member_ids.add(contact["id"])  # also when the first page of members does not show them
        self._render_found()  # the same results, this one now a member

    async def remove(self, contact: dict[str, Any]) -> None:
        try:
            result = await client.remove_members(self.session.token, self.group["id"], [contact["id"]])
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "Not removed", here=self.here)
            return
        self._count_changed(result["member_count"])
        ui.notify(f"Removed {contact['name'] or contact['phone'] or contact['email']} from the group.")
        await asyncio.gather(self.load_members(), self.load_reach())

    async def load_members(self, *, more: bool = False) -> None:
        try:
            page = await client.group_members(
                self.session.token,
                self.group["id"],
                include=["opt_outs"],
                cursor=self.next_cursor if more else None,
                limit=MEMBER_PAGE,
            )
        except (ApiError, BackendUnreachable) as exc:
            self.members_body.clear()
            with self.members_body:
                problem_card(exc, "the members", self.load_members, here=self.here)
            return
        self.members = (self.members if more else []) + list(page["items"])
        self.member_ids = {member["id"] for member in self.members}
        self.next_cursor = page["next_cursor"]
        self._render_members()

    def _render_members(self) -> None:
        self.members_body.clear()
        with self.members_body:
            if not self.members:
                ui.label(
                    "No members yet." + (" Search above to add contacts." if self.can_write else "")
                ).classes("text-sm text-slate-500").mark("members-empty")
                return
            with ui.column().classes("w-full gap-0 divide-y divide-slate-100").mark("member-list"):
                for member in self.members:
                    with (
                        ui.row()
                        .classes("w-full items-center no-wrap gap-3 py-2")
                        .mark("member-row", f"member-{member['id']}")
                    ):
                        _contact_cell(member)
                        with ui.row().classes("gap-1"):
                            opt_out_chips(member.get("opt_outs") or [])
                        if self.can_write:
                            ui.button(icon="person_remove", on_click=lambda m=member: self.remove(m)).props(
                                "flat round dense color=grey-7"
                            ).mark("remove-member").tooltip("Remove from the group")
            with ui.row().classes("w-full items-center"):
                shown = f"{len(self.members):,} of {plural(self.group['member_count'], 'member')} shown"
                ui.label(shown).classes("text-sm text-slate-500").mark("member-count")
                ui.space()
                if self.next_cursor:
                    ui.button(
                        "Load more", icon="expand_more", on_click=lambda: self.load_members(more=True)
                    ).props("flat no-caps").mark("more-members")

    # --- group actions ------------------------------------------------------------------------------

    async def edit(self) -> None:
        if await GroupDialog(self.session, self.group).ask() is not None:
            ui.navigate.reload()

    async def delete(self) -> None:
        if await delete_group(self.session, self.group):
            ui.navigate.to(PATH)


def _contact_cell(contact: dict[str, Any]) -> None:
    addresses = " · ".join(part for part in (contact["phone"], contact["email"]) if part)
    with ui.column().classes("flex-1 min-w-0 gap-0"):
        ui.link(contact["name"] or addresses, f"/audience/contacts/{contact['id']}").classes(
            "text-sm font-medium text-slate-900 no-underline hover:text-primary truncate"
        )
        if contact["name"]:
            ui.label(addresses).classes("text-xs text-slate-500 truncate")


def _reach_chart(answers: list[dict[str, Any]]) -> None:
    """Reachable, opted out and without an address, stacked per channel."""
    labels = [CHANNEL_LABEL[answer["channel"]] for answer in answers]

    def series(name: str, colour: str, values: list[int]) -> dict[str, Any]:
        return {
            "name": name,
            "type": "bar",
            "stack": "members",
            "itemStyle": {"color": colour},
            "data": values,
            "barMaxWidth": 22,
        }

    ui.echart(
        {
            "animation": False,
            "grid": {"left": 70, "right": 16, "top": 30, "bottom": 20},
            "legend": {"top": 0, "left": 0, "itemWidth": 12, "itemHeight": 10},
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "xAxis": {"type": "value", "minInterval": 1},
            "yAxis": {"type": "category", "data": labels, "inverse": True},
            "series": [
                series("Would receive", "#4f46e5", [answer["eligible"] for answer in answers]),
                series("Opted out", "#dc2626", [answer["excluded"]["opted_out"] for answer in answers]),
                series("No address", "#cbd5e1", [answer["excluded"]["no_address"] for answer in answers]),
            ],
        }
    ).classes("w-full").style(f"height: {60 + 34 * len(answers)}px").mark("reach-chart")
