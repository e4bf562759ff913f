"""``/audience``: every contact of the workspace with its tags and an opt-out badge per channel; search,
tag and group filters, paging, a new contact, and the CSV export of what the filters select.

The badges come with the page itself (``GET /contacts?include=opt_outs``): one request per page of 50,
not one opt-out check per row and channel. The list keeps the API's order (oldest first) and pages with
its cursor. :func:`register` also registers the other audience pages (contact, groups, imports).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import audience as client
from ui.components.audience_parts import audience_tabs, field_errors_into, opt_out_chips
from ui.components.dialogs import transient_dialog
from ui.components.page_states import action_failed, empty_card, problem_card
from ui.components.paged_list import (
    PAGE_SIZE,
    ROW,
    PagedList,
    count_and_more,
    filter_select,
    rows_card,
    search_box,
)
from ui.components.times import plural, relative_now
from ui.layout import page_heading, shell_page
from ui.pages import audience_contact, audience_groups, audience_import
from ui.session import Session

PATH = "/audience"
COLUMNS = (
    ("Contact", "flex-1 min-w-0"),
    ("Tags", "w-48 max-md:hidden"),
    ("Opted out on", "w-56 max-sm:w-28"),
    ("Changed", "w-24 max-sm:hidden"),
)
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
    groups: dict[int, str] = field(default_factory=dict)
    listing: PagedList = field(init=False)
    body: ui.column = field(init=False)
    tag_row: ui.row = field(init=False)

    def __post_init__(self) -> None:
        self.listing = PagedList(
            self._fetch, drawn=self.render, failed=self._failed, filters={"tag": self.tag}
        )

    def build(self) -> None:
        listing = self.listing
        with ui.row().classes("w-full items-center gap-3"):
            search_box(
                "Search name, phone or email",
                lambda value: listing.search("q", value),
                marker="contact-search",
                width="w-64",
            )
            filter_select(
                self.groups, "Group", lambda v: listing.set_filter("group_id", v), marker="filter-group"
            )
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
        tag = self.listing.filters.get("tag")
        if not tag:
            return
        with self.tag_row:
            ui.chip(
                f"Tag: {tag}", icon="sell", removable=True, on_value_change=lambda: self.pick_tag(None)
            ).props("color=indigo-1 text-color=indigo-9 dense").mark("tag-filter")

    # --- loading ------------------------------------------------------------------------------------

    async def reload(self) -> None:
        await self.listing.reload()

    async def pick_tag(self, tag: str | None) -> None:
        self.listing.filters["tag"] = tag
        self.draw_tag_filter()
        await self.listing.reload()

    async def _fetch(self, filters: dict[str, Any], cursor: str | None) -> Any:
        return await client.list_contacts(
            self.session.token, include=["opt_outs"], cursor=cursor, limit=PAGE_SIZE, **filters
        )

    def _failed(self, exc: ApiError | BackendUnreachable, more: bool) -> None:
        if more:
            action_failed(exc, "More contacts could not be loaded", here=PATH)
            return
        self.body.clear()
        with self.body:
            problem_card(exc, "the contacts", self.reload, here=PATH)

    async def export(self) -> None:
        try:
            data = await client.export_contacts(self.session.token, **self.listing.active_filters)
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "Not exported", here=PATH)
            return
        ui.download.content(data, "contacts.csv", "text/csv")

    # --- drawing ------------------------------------------------------------------------------------

    def render(self) -> None:
        self.body.clear()
        contacts: list[dict[str, Any]] = self.listing.items
        with self.body:
            if not contacts:
                self._empty()
                return
            with rows_card("contact-list", COLUMNS):
                for contact in contacts:
                    self._row(contact)
            shown = plural(len(contacts), "contact")
            text = f"{shown} matching" if self.listing.filtered else f"{shown}, in the order they were added"
            count_and_more(text, self.listing, marker="contact-count")

    def _empty(self) -> None:
        if self.listing.filtered:
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
        with ui.row().classes(ROW).mark("contact-row", f"contact-{contact['id']}"):
            with ui.column().classes("flex-1 min-w-0 gap-0.5 overflow-hidden"):
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
            with ui.row().classes("w-56 max-sm:w-28 gap-1 overflow-hidden"):
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
                action_failed(exc, "Not created", here=PATH)
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
