"""``/audience``: every contact of the workspace with its tags and an opt-out badge per channel; search,
tag and group filters, paging, a new contact, and the CSV export of what the filters select.

The badges come with the page itself (``GET /contacts?include=opt_outs``): one request per page of 50,
not one opt-out check per row and channel. The list keeps the API's order (oldest first) and pages with
its cursor. :func:`register` also registers the other audience pages (contact, groups, imports).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import audience as client
from ui.components.audience_parts import (
    CARD,
    HEADER_ROW,
    audience_tabs,
    empty_card,
    failed,
    field_errors_into,
    opt_out_chips,
    problem_card,
)
from ui.components.dialogs import transient_dialog
from ui.components.times import plural, relative_now
from ui.layout import page_heading, shell_page
from ui.pages import audience_contact, audience_groups, audience_import
from ui.session import Session

PATH = "/audience"
PAGE_SIZE = 50
SEARCH_DELAY_S = 0.3
DESCRIPTION = (
    "The people Flowgate messages: their addresses, attributes and groups, and where they opted out of "
    "marketing."
)


def register() -> None:
    shell_page(PATH, "Audience")(contacts_body)
    audience_groups.register()
    audience_import.register()
    audience_contact.register()


def query_value(name: str) -> str | None:
    """A query parameter of the page's address (``/audience?tag=vip`` from a tag on a contact page)."""
    try:
        value = ui.context.client.request.query_params.get(name)
    except (AttributeError, RuntimeError):
        return None
    return value.strip() if value and value.strip() else None


async def contacts_body(session: Session) -> None:
    page_heading("Audience", DESCRIPTION)
    audience_tabs(PATH)
    page = ContactsPage(session, tag=query_value("tag"))
    try:
        page.groups = {group["id"]: group["name"] for group in await client.all_groups(session.token)}
    except (ApiError, BackendUnreachable) as exc:
        problem_card(exc, "the groups", ui.navigate.reload, here=PATH)
        return
    page.build()
    await page.reload()


@dataclass
class ContactsPage:
    session: Session
    tag: str | None = None
    query: str = ""
    group_id: int | None = None
    groups: dict[int, str] = field(default_factory=dict)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None
    generation: int = 0
    loading_more: bool = False
    body: ui.column = field(init=False)
    tag_row: ui.row = field(init=False)

    @property
    def filtered(self) -> bool:
        return bool(self.query or self.tag or self.group_id)

    def build(self) -> None:
        with ui.row().classes("w-full items-center gap-3"):
            search = (
                ui.input(placeholder="Search name, phone or email", on_change=lambda e: self.search(e.value))
                .props("outlined dense clearable")
                .classes("w-64 max-sm:w-full bg-white")
                .mark("contact-search")
            )
            with search.add_slot("prepend"):
                ui.icon("search", size="1.25rem").classes("text-slate-400")
            ui.select(
                self.groups, label="Group", clearable=True, on_change=lambda e: self.pick_group(e.value)
            ).props("outlined dense options-dense").classes("w-40 bg-white").mark("filter-group")
            self.tag_row = ui.row().classes("items-center gap-2")
            ui.space()
            ui.button("Export CSV", icon="download", on_click=self.export).props(
                "flat no-caps color=grey-8"
            ).mark("export-contacts")
            if self.session.allows("marketer"):
                ui.button(
                    "Import CSV", icon="upload_file", on_click=lambda: ui.navigate.to("/audience/import")
                ).props("flat no-caps color=grey-8").mark("import-contacts")
                ui.button("New contact", icon="person_add", on_click=self.open_new_contact).props(
                    "unelevated no-caps"
                ).mark("new-contact")
        self.body = ui.column().classes("w-full gap-3")
        self.draw_tag_filter()

    def draw_tag_filter(self) -> None:
        self.tag_row.clear()
        if not self.tag:
            return
        with self.tag_row:
            ui.chip(
                f"Tag: {self.tag}", icon="sell", removable=True, on_value_change=lambda: self.pick_tag(None)
            ).props("color=indigo-1 text-color=indigo-9 dense").mark("tag-filter")

    # --- loading ------------------------------------------------------------------------------------

    async def search(self, value: str | None) -> None:
        self.query = (value or "").strip()
        self.generation += 1
        generation = self.generation
        await asyncio.sleep(SEARCH_DELAY_S)
        if generation == self.generation:
            await self.reload()

    async def pick_group(self, group_id: int | None) -> None:
        self.group_id = group_id
        await self.reload()

    async def pick_tag(self, tag: str | None) -> None:
        self.tag = tag
        self.draw_tag_filter()
        await self.reload()

    def _filters(self) -> dict[str, Any]:
        return {"q": self.query or None, "tag": self.tag, "group_id": self.group_id}

    async def reload(self) -> None:
        self.generation += 1
        generation = self.generation
        try:
            page = await client.list_contacts(
                self.session.token, include=["opt_outs"], limit=PAGE_SIZE, **self._filters()
            )
        except (ApiError, BackendUnreachable) as exc:
            if generation == self.generation:
                self.body.clear()
                with self.body:
                    problem_card(exc, "the contacts", self.reload, here=PATH)
            return
        if generation != self.generation:
            return
        self.contacts = list(page["items"])
        self.next_cursor = page["next_cursor"]
        self.render()

    async def load_more(self) -> None:
        if self.loading_more:
            return
        generation = self.generation
        self.loading_more = True
        try:
            page = await client.list_contacts(
                self.session.token,
                include=["opt_outs"],
                cursor=self.next_cursor,
                limit=PAGE_SIZE,
                **self._filters(),
            )
        except (ApiError, BackendUnreachable) as exc:
            failed(exc, "More contacts could not be loaded", here=PATH)
            return
        finally:
            self.loading_more = False
        if generation != self.generation:
            return
        self.contacts.extend(page["items"])
        self.next_cursor = page["next_cursor"]
        self.render()

    async def export(self) -> None:
        try:
            data = await client.export_contacts(self.session.token, **self._filters())
        except (ApiError, BackendUnreachable) as exc:
            failed(exc, "Not exported", here=PATH)
            return
        ui.download.content(data, "contacts.csv", "text/csv")

    # --- drawing ------------------------------------------------------------------------------------

    def render(self) -> None:
        self.body.clear()
        with self.body:
            if not self.contacts:
                self._empty()
                return
            with ui.card().classes(CARD).mark("contact-list"):
                with ui.row().classes(HEADER_ROW):
                    ui.label("Contact").classes("flex-1 min-w-0")
                    ui.label("Tags").classes("w-48 max-md:hidden")
                    ui.label("Opted out on").classes("w-56")
                    ui.label("Changed").classes("w-24 max-sm:hidden")
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for contact in self.contacts:
                        self._row(contact)
            with ui.row().classes("w-full items-center px-1"):
                ui.label(self._count_text()).classes("text-sm text-slate-500").mark("contact-count")
                ui.space()
                if self.next_cursor:
                    ui.button("Load more", icon="expand_more", on_click=self.load_more).props(
                        "flat no-caps"
                    ).mark("load-more")

    def _count_text(self) -> str:
        shown = plural(len(self.contacts), "contact")
        text = f"{shown} matching" if self.filtered else f"{shown}, in the order they were added"
        return text + ("; more to load" if self.next_cursor else "")

    def _empty(self) -> None:
        if self.filtered:
            empty_card("search_off", "No contacts match", "Change the search or clear a filter to see more.")
            return
        text = (
            "Import a CSV file of your customers, or add a contact by hand."
            if self.session.allows("marketer")
            else "Marketers and admins add contacts; they will be listed here."
        )
        empty_card("groups", "No contacts yet", text)

    def _row(self, contact: dict[str, Any]) -> None:
        url = f"/audience/contacts/{contact['id']}"
        addresses = " · ".join(part for part in (contact["phone"], contact["email"]) if part)
        with (
            ui.row()
            .classes("w-full items-center no-wrap gap-4 px-5 py-3 hover:bg-slate-50")
            .mark("contact-row", f"contact-{contact['id']}")
        ):
            with ui.column().classes("flex-1 min-w-0 gap-0.5"):
                ui.link(contact["name"] or addresses, url).classes(
                    "block truncate font-medium text-slate-900 no-underline hover:text-primary"
                ).mark("contact-link")
                ui.label(addresses if contact["name"] else "No name").classes(
                    "text-xs text-slate-500 truncate"
                )
            with ui.row().classes("w-48 gap-1 max-md:hidden"):
                for tag in contact["tags"][:4]:
                    ui.button(tag, on_click=lambda tag=tag: self.pick_tag(tag)).props(
                        "flat dense no-caps color=indigo-9"
                    ).classes("bg-indigo-50 rounded-full px-2 min-h-0 text-xs font-normal").mark(
                        "contact-tag"
                    ).tooltip(f"Only contacts tagged “{tag}”")
                if len(contact["tags"]) > 4:
                    ui.label(f"+{len(contact['tags']) - 4}").classes("text-xs text-slate-500")
            with ui.row().classes("w-56 gap-1"):
                opt_out_chips(contact.get("opt_outs") or [])
            changed, exact = relative_now(contact["updated_at"])
            ui.label(changed).classes("w-24 text-sm text-slate-500 max-sm:hidden").tooltip(exact)

    # --- new contact --------------------------------------------------------------------------------

    def open_new_contact(self) -> None:
        NewContactDialog(self.session).open()


class NewContactDialog:
    """Phone and/or email, name and tags; the new contact's page opens once it is created."""

    def __init__(self, session: Session) -> None:
        self.session = session
        with (
            transient_dialog() as self.dialog,
            ui.card().classes("w-[30rem] max-w-full p-6 gap-3 rounded-xl"),
        ):
            ui.label("New contact").classes("text-lg font-semibold text-slate-900")
            ui.label("A phone number in international form (+44…) or an email address, or both.").classes(
                "text-sm text-slate-600"
            )
            self.inputs = {
                "phone": ui.input("Phone")
                .props("outlined dense")
                .classes("w-full")
                .mark("new-contact-phone"),
                "email": ui.input("Email")
                .props("outlined dense")
                .classes("w-full")
                .mark("new-contact-email"),
                "name": ui.input("Name")
                .props("outlined dense counter maxlength=200")
                .classes("w-full")
                .mark("new-contact-name"),
            }
            for element in self.inputs.values():
                element.on_value_change(self._clear)
            self.error = ui.label("").classes("text-sm text-red-700").mark("new-contact-error")
            self.error.visible = False
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps color=grey-8")
                ui.button("Create", icon="add", on_click=self.create).props("unelevated no-caps").mark(
                    "create-contact"
                )

    def open(self) -> None:
        self.dialog.open()

    def _clear(self) -> None:
        for element in self.inputs.values():
            element.error = None
        self.error.visible = False

    async def create(self) -> None:
        body = {key: (element.value or "").strip() for key, element in self.inputs.items()}
        if not body["phone"] and not body["email"]:
            self.inputs["phone"].error = "Enter a phone number or an email address."
            return
        payload = {key: value for key, value in body.items() if value or key == "name"}
        try:
            created = await client.create_contact(self.session.token, payload)
        except ApiError as exc:
            if exc.status == 401:
                failed(exc, "Not created", here=PATH)
            elif not field_errors_into(self.inputs, exc):
                self.error.text = f"Not created: {exc.detail}"
                self.error.visible = True
            return
        except BackendUnreachable as exc:
            self.error.text = f"Not created: Flowgate's API at {exc.url} is not answering."
            self.error.visible = True
            return
        ui.notify("Contact created.", type="positive")
        ui.navigate.to(f"/audience/contacts/{created['id']}")
