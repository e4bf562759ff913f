"""``/settings/users``: who signs in to this workspace and with which role; admins add people, change
roles, set new passwords and remove people.

The API guards the one rule that could lock a workspace out (its last admin cannot be demoted or
removed): the page sends the change and shows the API's sentence when it refuses, rather than guessing
who is the last admin from a list that may be one page of many.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.clients import workspace
from ui.clients.workspace import Member
from ui.components.admin_list import Action, AdminListPage
from ui.components.page_states import action_failed, to_login
from ui.components.paged_list import CARD, HEADER_ROW, count_and_more
from ui.components.settings_parts import (
    BADGE_INDIGO,
    ROLE_HELP,
    ROLES,
    badge,
    detail_in_words,
    field_errors,
    in_words,
    menu_item,
    page_dialog,
    row_menu,
)
from ui.components.times import plural, relative_now
from ui.layout import shell_page
from ui.session import Session

PATH = "/settings/users"
PASSWORD_MIN = 8
"""The API's minimum; the form says so before sending (the API still judges)."""
GENERATED_LENGTH = 16


def register() -> None:
    shell_page(PATH, "Users · Settings")(UsersPage.show)


# --- pure helpers (tested directly) ---------------------------------------------------------------------


def generated_password(length: int = GENERATED_LENGTH) -> str:
    """A password to hand over: letters and digits only, so it survives being read out or retyped."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def is_me(member: Member, session: Session) -> bool:
    return member["email"].casefold() == session.email.casefold()


def display_name(member: Member) -> str:
    return member["name"] or member["email"].split("@", 1)[0]


def initials(member: Member) -> str:
    words = display_name(member).replace(".", " ").replace("_", " ").split()
    return "".join(word[0] for word in words[:2]).upper() or "?"


# --- the page -------------------------------------------------------------------------------------------


class UsersPage(AdminListPage):
    path = PATH
    intro = (
        "People who sign in to this workspace. Admins manage everything here; marketers build "
        "flows and campaigns; viewers only look."
    )
    subject = "the users"
    admins_manage = "the workspace's users and their roles"
    plural = "users"
    action = Action("Add user", "person_add", "add-user")

    @property
    def members(self) -> list[Member]:
        return self.items

    async def fetch(self, cursor: str | None, limit: int) -> Any:
        return await workspace.list_users(self.session.token, cursor=cursor, limit=limit)

    def act(self) -> None:
        AddUserDialog(self).open()

    # --- drawing ---------------------------------------------------------------------------------------

    def render(self) -> None:
        self.body.clear()
        with self.body:
            with ui.card().classes(CARD).mark("user-list"):
                with ui.row().classes(HEADER_ROW):
                    ui.label("Person").classes("flex-1 min-w-0")
                    ui.label("Role").classes("w-40")
                    ui.label("Added").classes("w-28 max-sm:hidden")
                    ui.element("div").classes("w-8")
                with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                    for member in self.members:
                        self._row(member)
            count_and_more(plural(len(self.members), "user"), self.listing, marker="user-count")

    def _row(self, member: Member) -> None:
        mine = is_me(member, self.session)
        with (
            ui.row()
            .classes("w-full items-center no-wrap gap-4 px-5 py-3 hover:bg-slate-50")
            .mark("user-row", f"user-{member['id']}")
        ):
            with ui.row().classes("flex-1 min-w-0 items-center no-wrap gap-3"):
                ui.label(initials(member)).classes(
                    "w-9 h-9 shrink-0 rounded-full bg-indigo-50 text-indigo-700 text-sm font-semibold "
                    "flex items-center justify-center max-sm:hidden"
                )
                with ui.column().classes("min-w-0 gap-0"):
                    with ui.row().classes("items-center gap-2 no-wrap"):
                        ui.label(display_name(member)).classes("font-medium text-slate-900 truncate").mark(
                            "user-name"
                        )
                        if mine:
                            badge("You", BADGE_INDIGO, "user-you")
                    ui.label(member["email"]).classes("text-sm text-slate-500 truncate").mark("member-email")
            role = (
                ui.select(ROLES, value=member["role"])
                .props("outlined dense options-dense")
                .classes("w-40")
                .mark("user-role-select")
            )
            role.on_value_change(
                lambda event, member=member, role=role: self.role_picked(member, role, event.value)
            )
            relative, exact = relative_now(member["created_at"])
            ui.label(relative).classes("w-28 text-sm text-slate-600 whitespace-nowrap max-sm:hidden").tooltip(
                f"Added {exact}"
            )
            with row_menu("user-actions"):
                menu_item(
                    "Set a new password",
                    "password",
                    lambda member=member: PasswordDialog(self, member).open(),
                ).mark("set-password")
                ui.separator()
                menu_item(
                    "Remove yourself" if mine else "Remove from workspace",
                    "person_remove",
                    lambda member=member: self.confirm_remove(member),
                    danger=True,
                ).mark("remove-user")

    # --- changing a role -------------------------------------------------------------------------------

    async def role_picked(self, member: Member, select: ui.select, role: str | None) -> None:
        if not role or role == member["role"]:
            return  # the select went back to the saved role (a refusal or a cancelled dialog)
        select.error = None
        if is_me(member, self.session) and member["role"] == "admin":
            self._confirm_own_demotion(member, select, role)
            return
        await self.change_role(member, select, role)

    def _confirm_own_demotion(self, member: Member, select: ui.select, role: str) -> None:
        decided = False

        with page_dialog() as dialog, ui.card().classes("w-[30rem] gap-3").mark("demote-self-dialog"):
            ui.label(f"Make yourself a {ROLES[role].lower()}?").classes("text-lg font-semibold")
            ui.label(
                "You will lose access to users, API keys, webhooks, senders and the audit log at once; "
                "only another admin can make you an admin again."
            ).classes("text-sm text-slate-600")
            with ui.row().classes("w-full justify-end gap-2"):

                async def go() -> None:
                    nonlocal decided
                    decided = True
                    await self.change_role(member, select, role)
                    dialog.close()  # last: closing deletes the dialog, and this button with it

                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button(f"Become {ROLES[role].lower()}", on_click=go).props(
                    "unelevated no-caps color=negative"
                ).mark("confirm-demote-self")

        def closed(event: Any) -> None:
            if not event.value and not decided:  # Cancel, Escape or a click outside: keep the role
                select.set_value(member["role"])

        dialog.on_value_change(closed)
        dialog.open()

    async def change_role(self, member: Member, select: ui.select, role: str) -> None:
        try:
            updated = await workspace.update_user(self.session.token, member["id"], {"role": role})
        except (ApiError, BackendUnreachable) as exc:
            select.set_value(member["role"])
            if isinstance(exc, ApiError) and exc.status in (400, 409):
                select.error = detail_in_words(exc.detail)  # e.g. the last admin cannot be demoted
                ui.notify(
                    f"Role not changed: {detail_in_words(exc.detail)}", type="negative", multi_line=True
                )
            else:
                action_failed(exc, "Role not changed", here=PATH, wording=detail_in_words)
            return
        member["role"] = updated["role"]
        ui.notify(f"{display_name(member)} is now {ROLES[updated['role']].lower()}.", type="positive")
        if is_me(member, self.session):
            ui.navigate.to("/settings")  # this page is for admins; the session now has the new role

    # --- removing --------------------------------------------------------------------------------------

    def confirm_remove(self, member: Member) -> None:
        mine = is_me(member, self.session)
        with page_dialog() as dialog, ui.card().classes("w-[30rem] gap-3").mark("remove-user-dialog"):
            title = "Remove yourself from the workspace?" if mine else f"Remove {display_name(member)}?"
            ui.label(title).classes("text-lg font-semibold")
            consequence = (
                "You will be signed out at once and cannot sign in to this workspace again unless an admin "
                "adds you back."
                if mine
                else f"{member['email']} is signed out at once and can no longer sign in. What they did "
                "stays in the audit log."
            )
            ui.label(consequence).classes("text-sm text-slate-600")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")

                async def remove() -> None:
                    await self.remove(member)
                    dialog.close()  # last: closing deletes the dialog, and this button with it

                ui.button("Remove", icon="person_remove", on_click=remove).props(
                    "unelevated no-caps color=negative"
                ).mark("confirm-remove-user")
        dialog.open()

    async def remove(self, member: Member) -> None:
        try:
            await workspace.delete_user(self.session.token, member["id"])
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "Not removed", here=PATH, wording=detail_in_words)
            return
        if is_me(member, self.session):
            to_login("/")
            return
        ui.notify(f"Removed {member['email']} from the workspace.", type="positive")
        await self.load()


class AddUserDialog:
    """Email, name, role and a first password, as ``POST /api/v1/users`` takes them."""

    def __init__(self, page: UsersPage) -> None:
        self.page = page
        with page_dialog() as self.dialog, ui.card().classes("w-[32rem] gap-3").mark("add-user-dialog"):
            ui.label("Add a user").classes("text-lg font-semibold text-slate-900")
            ui.label(
                "They sign in with this email and password. Give them the password through a channel you "
                "trust; you can set a new one here later."
            ).classes("text-sm text-slate-600")
            self.inputs: dict[str, Any] = {}
            self.inputs["email"] = (
                ui.input("Email", placeholder="jane@example.com")
                .props("outlined dense stack-label type=email autocomplete=off")
                .classes("w-full")
                .mark("new-user-email")
            )
            self.inputs["name"] = (
                ui.input("Name (optional)")
                .props("outlined dense stack-label counter maxlength=100")
                .classes("w-full")
                .mark("new-user-name")
            )
            self.inputs["role"] = (
                ui.select(ROLE_HELP, value="marketer", label="Role")
                .props("outlined dense stack-label")
                .classes("w-full")
                .mark("new-user-role")
            )
            self.inputs["password"] = (
                ui.input(
                    "Password",
                    password=True,
                    password_toggle_button=True,
                )
                .props(
                    f'outlined dense stack-label autocomplete=new-password hint="At least {PASSWORD_MIN} characters"'
                )
                .classes("w-full")
                .mark("new-user-password")
            )
            with self.inputs["password"].add_slot("after"):
                ui.button(icon="casino", on_click=self.generate).props(
                    'flat round dense color=primary aria-label="Generate a password"'
                ).tooltip("Generate a password and copy it").mark("generate-password")
            self.error = ui.label("").classes("text-sm text-red-700").mark("add-user-error")
            self.error.visible = False
            with ui.row().classes("w-full justify-end gap-2 pt-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps")
                self.submit = (
                    ui.button("Add user", icon="person_add", on_click=self.create)
                    .props("unelevated no-caps")
                    .mark("create-user")
                )

    def open(self) -> None:
        self.dialog.open()

    def generate(self) -> None:
        password = generated_password()
        self.inputs["password"].value = password
        self.inputs["password"].props("type=text")  # the admin has to read it to pass it on
        ui.clipboard.write(password)
        ui.notify("A new password is in the field and on the clipboard.", type="info")

    def _reset_errors(self) -> None:
        for element in self.inputs.values():
            element.error = None
        self.error.visible = False

    async def create(self) -> None:
        self._reset_errors()
        email = (self.inputs["email"].value or "").strip()
        password = self.inputs["password"].value or ""
        if not email:
            self.inputs["email"].error = "Enter the email address they will sign in with."
            return
        if len(password) < PASSWORD_MIN:
            self.inputs["password"].error = f"Too short: at least {PASSWORD_MIN} characters."
            return
        self.submit.disable()
        try:
            created = await workspace.create_user(
                self.page.session.token,
                email=email,
                name=(self.inputs["name"].value or "").strip(),
                role=self.inputs["role"].value,
                password=password,
            )
        except BackendUnreachable as exc:
            self._show_error(f"Not added: Flowgate's API at {exc.url} is not answering.")
            return
        except ApiError as exc:
            self._refused(exc)
            return
        finally:
            self.submit.enable()
        ui.notify(
            f"Added {created['email']} as {ROLES[created['role']].lower()}; they can sign in now.",
            type="positive",
        )
        await self.page.load()
        self.dialog.close()  # last: closing deletes the dialog, and the button this runs in

    def _refused(self, exc: ApiError) -> None:
        if exc.status == 401:
            to_login(PATH)
            return
        named = field_errors(exc)
        unplaced = False
        for key, message in named.items():
            if key in self.inputs:
                self.inputs[key].error = in_words(message)
            else:
                unplaced = True
        if not named or unplaced:
            self._show_error(f"Not added: {detail_in_words(exc.detail)}")

    def _show_error(self, text: str) -> None:
        self.error.text = text
        self.error.visible = True


class PasswordDialog:
    """A new password for one user; the API ends their other sessions."""

    def __init__(self, page: UsersPage, member: Member) -> None:
        self.page = page
        self.member = member
        with page_dialog() as self.dialog, ui.card().classes("w-[30rem] gap-3").mark("password-dialog"):
            ui.label(f"New password for {display_name(member)}").classes("text-lg font-semibold")
            ui.label(
                "Their open sessions end, so they sign in again with the new password."
                if not is_me(member, page.session)
                else "Your other sessions end; this one stays signed in."
            ).classes("text-sm text-slate-600")
            self.password = (
                ui.input("New password", password=True, password_toggle_button=True)
                .props(
                    f'outlined dense stack-label autocomplete=new-password hint="At least {PASSWORD_MIN} characters"'
                )
                .classes("w-full")
                .mark("new-password")
            )
            with self.password.add_slot("after"):
                ui.button(icon="casino", on_click=self.generate).props(
                    'flat round dense color=primary aria-label="Generate a password"'
                ).tooltip("Generate a password and copy it")
            with ui.row().classes("w-full justify-end gap-2 pt-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps")
                ui.button("Set password", icon="password", on_click=self.save).props(
                    "unelevated no-caps"
                ).mark("save-password")

    def open(self) -> None:
        self.dialog.open()

    def generate(self) -> None:
        password = generated_password()
        self.password.value = password
        self.password.props("type=text")
        ui.clipboard.write(password)
        ui.notify("A new password is in the field and on the clipboard.", type="info")

    async def save(self) -> None:
        self.password.error = None
        password = self.password.value or ""
        if len(password) < PASSWORD_MIN:
            self.password.error = f"Too short: at least {PASSWORD_MIN} characters."
            return
        try:
            await workspace.update_user(self.page.session.token, self.member["id"], {"password": password})
        except ApiError as exc:
            if exc.status == 400 and "password" in exc.field_errors:
                self.password.error = in_words(exc.field_errors["password"])
                return
            action_failed(exc, "Password not changed", here=PATH, wording=detail_in_words)
            return
        except BackendUnreachable as exc:
            action_failed(exc, "Password not changed", here=PATH, wording=detail_in_words)
            return
        ui.notify(f"New password set for {self.member['email']}.", type="positive")
        self.dialog.close()  # last: closing deletes the dialog, and the button this runs in
