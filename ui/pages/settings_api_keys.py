"""``/settings/api-keys``: the keys programs use to call Flowgate's API; admins create and revoke them.

A new key is in the API's answer to its creation and nowhere else (Flowgate keeps only a hash), so the
page shows it once, in a dialog that stays open until the admin says they copied it, with a copy button
and a note that it will not be shown again. The list shows each key's prefix, enough to recognise it in
a configuration file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import workspace
from ui.clients.workspace import ApiKey, NewApiKey
from ui.components.admin_list import Action, AdminListPage
from ui.components.copy_field import copy_field
from ui.components.page_states import action_failed, empty_card, to_login
from ui.components.paged_list import CARD, HEADER_ROW, count_and_more
from ui.components.settings_parts import (
    BADGE_AMBER,
    BADGE_GREEN,
    BADGE_GREY,
    BADGE_RED,
    ROLE_HELP,
    ROLES,
    badge,
    detail_in_words,
    field_errors,
    in_words,
    page_dialog,
    shown_once,
)
from ui.components.times import absolute_time, parse_timestamp, plural, relative_time
from ui.layout import shell_page

PATH = "/settings/api-keys"
EXPIRY_CHOICES = {0: "Never", 30: "In 30 days", 90: "In 90 days", 365: "In a year"}
"""Days until a new key expires (0: it lives until revoked)."""


def register() -> None:
    shell_page(PATH, "API keys · Settings")(ApiKeysPage.show)


# --- pure helpers (tested directly) ---------------------------------------------------------------------


def key_state(key: ApiKey, now: datetime) -> tuple[str, str]:
    """The key's state in words and its badge style: active, expiring, expired or revoked."""
    if key["revoked_at"]:
        return f"Revoked {relative_time(parse_timestamp(key['revoked_at']), now)}", BADGE_RED
    if key["expires_at"]:
        expires = parse_timestamp(key["expires_at"])
        if expires <= now:
            return "Expired", BADGE_GREY
        days = (expires - now).days
        if days < 1:
            return "Expires today", BADGE_AMBER
        return f"Expires in {plural(days, 'day')}", BADGE_AMBER if days <= 7 else BADGE_GREEN
    return "Active", BADGE_GREEN


def is_usable(key: ApiKey, now: datetime) -> bool:
    """Whether the API still accepts the key (so revoking it means something)."""
    if key["revoked_at"]:
        return False
    return not key["expires_at"] or parse_timestamp(key["expires_at"]) > now


def last_used_text(key: ApiKey, now: datetime) -> str:
    return relative_time(parse_timestamp(key["last_used_at"]), now) if key["last_used_at"] else "Never"


def expires_at(days: int, now: datetime) -> str | None:
    """The ``expires_at`` of a key made now to live ``days`` days (None: no expiry), as the API reads it."""
    if not days:
        return None
    return (now + timedelta(days=days)).astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- the page -------------------------------------------------------------------------------------------


class ApiKeysPage(AdminListPage):
    path = PATH
    intro = (
        "Programs call Flowgate's API with a key (Authorization: Bearer …). A key acts with its "
        "role: a viewer key only reads, which is what a CRM checking opt-outs needs."
    )
    subject = "the API keys"
    admins_manage = "API keys"
    plural = "keys"
    action = Action("Create API key", "add", "create-api-key")

    @property
    def keys(self) -> list[ApiKey]:
        return self.items

    async def fetch(self, cursor: str | None, limit: int) -> Any:
        return await workspace.list_api_keys(self.session.token, cursor=cursor, limit=limit)

    def act(self) -> None:
        CreateKeyDialog(self).open()

    # --- drawing ---------------------------------------------------------------------------------------

    def render(self) -> None:
        self.body.clear()
        now = datetime.now(UTC)
        with self.body:
            if not self.keys:
                empty_card(
                    "key",
                    "No API keys",
                    "Create one for each program that calls Flowgate, so each can be revoked on its own.",
                )
                return
            with ui.card().classes(CARD).mark("key-list"):
                with ui.row().classes(HEADER_ROW):
                    ui.label("Name and prefix").classes("flex-1 min-w-0")
                    ui.label("Role").classes("w-24")
                    ui.label("Created").classes("w-28 max-md:hidden")
                    ui.label("Last used").classes("w-28 max-sm:hidden")
                    ui.label("State").classes("w-40 max-sm:hidden")
                    ui.element("div").classes("w-24")
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for key in self.keys:
                        self._row(key, now)
            active = sum(is_usable(key, now) for key in self.keys)
            text = f"{plural(len(self.keys), 'key')}, {active} usable"
            count_and_more(text, self.listing, marker="key-count")

    def _row(self, key: ApiKey, now: datetime) -> None:
        usable = is_usable(key, now)
        with (
            ui.row()
            .classes("w-full items-center no-wrap gap-4 px-5 py-3 " + ("" if usable else "bg-slate-50/60"))
            .mark("key-row", f"key-{key['id']}")
        ):
            with ui.column().classes("flex-1 min-w-0 gap-0"):
                ui.label(key["name"]).classes(
                    "font-medium truncate " + ("text-slate-900" if usable else "text-slate-500 line-through")
                ).mark("key-name")
                ui.label(f"{key['prefix']}_…").classes("text-xs font-mono text-slate-500 truncate").mark(
                    "key-prefix"
                )
            ui.label(ROLES.get(key["role"], key["role"])).classes("w-24 text-sm text-slate-700").mark(
                "key-role"
            )
            created = parse_timestamp(key["created_at"])
            ui.label(relative_time(created, now)).classes(
                "w-28 text-sm text-slate-600 whitespace-nowrap max-md:hidden"
            ).tooltip(f"Created {absolute_time(created)}")
            used = ui.label(last_used_text(key, now)).classes(
                "w-28 text-sm text-slate-600 whitespace-nowrap max-sm:hidden"
            )
            used.mark("key-last-used")
            if key["last_used_at"]:
                used.tooltip(f"Last used {absolute_time(parse_timestamp(key['last_used_at']))}")
            with ui.element("div").classes("w-40 max-sm:hidden"):
                text, style = key_state(key, now)
                badge(text, style, "key-state")
            with ui.element("div").classes("w-24 flex justify-end"):
                if usable:
                    ui.button("Revoke", on_click=lambda key=key: self.confirm_revoke(key)).props(
                        "flat dense no-caps color=negative"
                    ).mark("revoke-key")

    # --- revoking --------------------------------------------------------------------------------------

    def confirm_revoke(self, key: ApiKey) -> None:
        with page_dialog() as dialog, ui.card().classes("w-[30rem] gap-3").mark("revoke-dialog"):
            ui.label(f"Revoke “{key['name']}”?").classes("text-lg font-semibold")
            ui.label(
                f"Programs using the key that starts with {key['prefix']} get 401 Unauthorized from their "
                "next request. The key stays listed as revoked; this cannot be undone."
            ).classes("text-sm text-slate-600")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")

                async def revoke() -> None:
                    await self.revoke(key)
                    dialog.close()  # last: closing deletes the dialog, and this button with it

                ui.button("Revoke key", icon="block", on_click=revoke).props(
                    "unelevated no-caps color=negative"
                ).mark("confirm-revoke")
        dialog.open()

    async def revoke(self, key: ApiKey) -> None:
        try:
            await workspace.revoke_api_key(self.session.token, key["id"])
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "Not revoked", here=PATH, wording=detail_in_words)
            return
        ui.notify(f"Revoked “{key['name']}”: it no longer works.", type="positive")
        await self.load()


class CreateKeyDialog:
    """Name, role and expiry; then the new key, once, until the admin closes the dialog."""

    def __init__(self, page: ApiKeysPage) -> None:
        self.page = page
        with page_dialog() as self.dialog, ui.card().classes("w-[34rem] max-w-full gap-3") as self.card:
            self.card.mark("create-key-dialog")
            self._form()

    def open(self) -> None:
        self.dialog.open()

    def _form(self) -> None:
        ui.label("Create an API key").classes("text-lg font-semibold text-slate-900")
        ui.label(
            "Name it after the program that will use it, so you know what breaks if you revoke it."
        ).classes("text-sm text-slate-600")
        self.name = (
            ui.input("Name", placeholder="CRM opt-out sync")
            .props("outlined dense stack-label counter maxlength=100")
            .classes("w-full")
            .mark("new-key-name")
        )
        self.role = (
            ui.select(ROLE_HELP, value="viewer", label="Role")
            .props("outlined dense stack-label")
            .classes("w-full")
            .mark("new-key-role")
        )
        self.expiry = (
            ui.select(EXPIRY_CHOICES, value=0, label="Expires")
            .props("outlined dense stack-label")
            .classes("w-full")
            .mark("new-key-expiry")
        )
        self.error = ui.label("").classes("text-sm text-red-700").mark("create-key-error")
        self.error.visible = False
        with ui.row().classes("w-full justify-end gap-2 pt-2"):
            ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps")
            self.submit = (
                ui.button("Create key", icon="key", on_click=self.create)
                .props("unelevated no-caps")
                .mark("confirm-create-key")
            )
        self.name.on("keydown.enter", self.create)

    async def create(self) -> None:
        self.name.error = None
        self.error.visible = False
        name = (self.name.value or "").strip()
        if not name:
            self.name.error = "Enter a name, e.g. the program that will use the key."
            return
        self.submit.disable()
        try:
            created = await workspace.create_api_key(
                self.page.session.token,
                name=name,
                role=self.role.value,
                expires_at=expires_at(self.expiry.value or 0, datetime.now(UTC)),
            )
        except BackendUnreachable as exc:
            self._show_error(f"Not created: Flowgate's API at {exc.url} is not answering.")
            return
        except ApiError as exc:
            if exc.status == 401:
                to_login(PATH)
                return
            named = field_errors(exc)
            if "name" in named:
                self.name.error = in_words(named["name"])
            else:
                self._show_error(f"Not created: {detail_in_words(exc.detail)}")
            return
        finally:
            self.submit.enable()
        self._show_key(created)
        await self.page.load()

    def _show_error(self, text: str) -> None:
        self.error.text = text
        self.error.visible = True

    def _show_key(self, created: NewApiKey) -> None:
        """Swap the form for the key; the dialog no longer closes on a stray click or Escape."""
        self.dialog.props("persistent")
        self.card.clear()
        self.card.classes(remove="w-[34rem]", add="w-[44rem]")  # room for the whole key on one line
        with self.card:
            with ui.row().classes("items-center gap-2"):
                ui.icon("check_circle", size="1.5rem").classes("text-emerald-600")
                ui.label(f"“{created['name']}” is ready").classes("text-lg font-semibold text-slate-900")
            ui.label(
                f"{ROLES.get(created['role'], created['role'])} key. Paste it into the program's settings; "
                "it sends it as Authorization: Bearer <key>."
            ).classes("text-sm text-slate-600")
            copy_field("API key", created["key"], "new-api-key", dense=False)
            shown_once("key")
            with ui.row().classes("w-full justify-end pt-2"):
                ui.button("I have copied it", icon="done", on_click=self.dialog.close).props(
                    "unelevated no-caps"
                ).mark("close-new-key")
