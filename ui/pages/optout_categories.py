"""``/opt-outs/categories``: marketing categories with their unsubscribe days, and the workspace's
unsubscription duration (seed 000: "if a task is not bound to any marketing category, the tenant
parameter Marketing Unsubscription Duration is used; the default is 30").

Every role reads both; admins change them (the API's roles). The duration is the same setting the
Settings page shows, so it is saved with the same ``PATCH /settings``. Deleting a category never loosens
consent: the API turns its active opt-outs into all-marketing ones first, and the confirmation says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, api
from ui.clients import consent
from ui.clients.consent import CategoryInfo
from ui.components.dialogs import transient_dialog
from ui.components.optout_parts import field_message, section_tabs
from ui.components.optout_rules import MAX_CATEGORY_DAYS, days_problem
from ui.components.page_states import action_failed, empty_card, problem_card
from ui.components.times import plural, relative_now
from ui.layout import page_heading, shell_page
from ui.pages.optouts_list import DESCRIPTION
from ui.session import Session

PATH = "/opt-outs/categories"
DAYS_FIELD = "marketing_unsubscription_days"
NAME_MAX = 100
DESCRIPTION_MAX = 500


def register() -> None:
    shell_page(PATH, "Marketing categories", wide=True)(categories_body)  # wide like the list: same tabs


async def categories_body(session: Session) -> None:
    page_heading("Opt-outs", DESCRIPTION)
    section_tabs(PATH)
    page = CategoriesPage(session, ui.column().classes("w-full gap-6"))
    await page.start()


class CategoriesPage:
    def __init__(self, session: Session, root: ui.column) -> None:
        self.session = session
        self.root = root
        self.settings: dict[str, Any] = {}
        self.categories: list[CategoryInfo] = []

    async def start(self) -> None:
        self.root.clear()
        try:
            settings, self.categories = await asyncio.gather(
                api.get_settings(self.session.token), consent.list_categories(self.session.token)
            )
        except (ApiError, BackendUnreachable) as exc:
            with self.root:
                problem_card(exc, "the categories", self.start, here=PATH)
            return
        self.settings = dict(settings)
        with self.root:
            self._duration_card()
            with (
                ui.card()
                .classes("w-full p-0 gap-0 shadow-sm rounded-xl overflow-hidden")
                .mark("categories-card")
            ):
                with ui.row().classes("w-full items-center gap-3 px-5 py-4 border-b border-slate-200"):
                    with ui.column().classes("gap-0 flex-1"):
                        ui.label("Marketing categories").classes("text-lg font-semibold text-slate-900")
                        ui.label(
                            "A campaign bound to a category makes opt-outs from its replies last that "
                            "category's days; an opt-out of one category leaves the others' marketing through."
                        ).classes("text-sm text-slate-600")
                    if self.session.is_admin:
                        ui.button("Add category", icon="add", on_click=lambda: self.edit(None)).props(
                            "unelevated no-caps"
                        ).mark("add-category")
                self.list = ui.column().classes("w-full gap-0")
        self.render()

    # --- the workspace's duration -------------------------------------------------------------------------

    def _duration_card(self) -> None:
        days = int(self.settings.get(DAYS_FIELD) or 30)
        with ui.card().classes("w-full p-5 gap-3 shadow-sm rounded-xl").mark("duration-card"):
            ui.label("Opt-out duration without a category").classes("text-lg font-semibold text-slate-900")
            ui.label(
                "How long an opt-out received as a reply to a campaign with no marketing category lasts "
                "(default 30 days), and the days a new category starts with. Also on the Settings page."
            ).classes("text-sm text-slate-600 -mt-2")
            if not self.session.is_admin:
                ui.label(plural(days, "day")).classes("text-2xl font-semibold text-slate-900").mark(
                    "duration-text"
                )
                ui.label("Only workspace admins can change this.").classes("text-sm text-slate-500")
                return
            with ui.row().classes("items-start gap-3"):
                self.duration = (
                    ui.number(
                        "Days",
                        value=days,
                        precision=0,
                        step=1,
                        on_change=lambda e: setattr(
                            self.duration, "error", days_problem(e.value, MAX_CATEGORY_DAYS)
                        ),
                    )
                    .props("outlined dense stack-label")
                    .classes("w-40")
                    .mark("duration-days")
                    .without_auto_validation()  # its on_change sets the error, in words
                )
                self.duration.on("keydown.enter", self.save_duration)
                ui.button("Save", icon="save", on_click=self.save_duration).props("unelevated no-caps").mark(
                    "save-duration"
                )

    async def save_duration(self) -> None:
        problem = days_problem(self.duration.value, MAX_CATEGORY_DAYS)
        if problem:
            self.duration.error = problem
            return
        try:
            updated = await api.update_settings(self.session.token, {DAYS_FIELD: int(self.duration.value)})
        except ApiError as exc:
            if exc.status == 400 and DAYS_FIELD in exc.field_errors:
                self.duration.error = field_message(exc, DAYS_FIELD)
                return
            action_failed(exc, "Not saved", here=PATH)
            return
        except BackendUnreachable as exc:
            action_failed(exc, "Not saved", here=PATH)
            return
        self.duration.error = None
        self.settings = dict(updated)
        ui.notify(
            f"Saved: opt-outs from replies to campaigns without a category now last "
            f"{plural(updated[DAYS_FIELD], 'day')}.",
            type="positive",
        )

    # --- categories ---------------------------------------------------------------------------------------

    def render(self) -> None:
        self.list.clear()
        with self.list:
            if not self.categories:
                with ui.column().classes("w-full p-4"):
                    empty_card(
                        "label",
                        "No marketing categories yet",
                        "Without categories an opt-out covers all marketing. Add categories such as "
                        "“Promotions” or “Newsletter” to let people opt out of one kind only.",
                    )
                return
            with ui.row().classes(
                "w-full items-center no-wrap gap-4 px-5 py-2 bg-slate-50 border-b border-slate-200 "
                "text-xs font-medium uppercase tracking-wide text-slate-500"
            ):
                ui.label("Category").classes("flex-1")
                ui.label("Unsubscribe days").classes("w-36")
                ui.label("Created").classes("w-28 max-sm:hidden")
                ui.element("div").classes("w-20")
            with ui.column().classes("w-full gap-0 divide-y divide-slate-100"):
                for category in self.categories:
                    self._row(category)

    def _row(self, category: CategoryInfo) -> None:
        with (
            ui.row()
            .classes("w-full items-center no-wrap gap-4 px-5 py-3")
            .mark("category-row", f"category-{category['id']}")
        ):
            with ui.column().classes("flex-1 min-w-0 gap-0"):
                ui.label(category["name"]).classes("font-medium text-slate-900 truncate").mark(
                    "category-name"
                )
                if category["description"]:
                    ui.label(category["description"]).classes("text-xs text-slate-500 truncate")
            ui.label(plural(category["unsubscribe_days"], "day")).classes("w-36 text-slate-800").mark(
                "category-days"
            )
            relative, exact = relative_now(category["created_at"])
            ui.label(relative).classes("w-28 text-sm text-slate-600 max-sm:hidden").tooltip(exact)
            with ui.row().classes("w-20 justify-end gap-0 no-wrap"):
                if self.session.is_admin:
                    ui.button(icon="edit", on_click=lambda c=category: self.edit(c)).props(
                        "flat round dense color=grey-7"
                    ).tooltip("Edit").mark("edit-category")
                    ui.button(icon="delete", on_click=lambda c=category: self.confirm_delete(c)).props(
                        "flat round dense color=negative"
                    ).tooltip("Delete").mark("delete-category")

    async def reload(self) -> None:
        try:
            self.categories = await consent.list_categories(self.session.token)
        except (ApiError, BackendUnreachable) as exc:
            action_failed(exc, "The categories could not be reloaded", here=PATH)
            return
        self.render()

    def edit(self, category: CategoryInfo | None) -> None:
        CategoryDialog(
            self.session, category, int(self.settings.get(DAYS_FIELD) or 30), after=self.reload
        ).open()

    def confirm_delete(self, category: CategoryInfo) -> None:
        with (
            transient_dialog() as dialog,
            ui.card().classes("w-[30rem] max-w-full p-6 gap-3 rounded-xl").mark("delete-category-dialog"),
        ):
            ui.label(f"Delete “{category['name']}”?").classes("text-lg font-semibold text-slate-900")
            ui.label(
                "Its active opt-outs become all-marketing opt-outs, so nobody who opted out is messaged "
                "because of this. Campaigns bound to it keep running without a category."
            ).classes("text-sm text-slate-600")

            async def delete() -> None:
                try:
                    await consent.delete_category(self.session.token, category["id"])
                except (ApiError, BackendUnreachable) as exc:
                    action_failed(exc, "Not deleted", here=PATH)
                    return
                ui.notify(f"Deleted “{category['name']}”.", type="positive")
                dialog.close()  # after the toast: closing deletes the dialog and the slot it needs
                await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps color=grey-8")
                ui.button("Delete", icon="delete", on_click=delete).props(
                    "unelevated no-caps color=negative"
                ).mark("confirm-delete-category")
        dialog.open()


class CategoryDialog:
    """Add (``category`` None) or change a category; the API's sentence lands under the field it names."""

    def __init__(
        self,
        session: Session,
        category: CategoryInfo | None,
        workspace_days: int,
        *,
        after: Callable[[], Awaitable[None]],
    ) -> None:
        self.session = session
        self.category = category
        self.after = after
        with (
            transient_dialog() as self.dialog,
            ui.card().classes("w-[32rem] max-w-full p-6 gap-4 rounded-xl").mark("category-dialog"),
        ):
            ui.label("New marketing category" if category is None else f"Edit “{category['name']}”").classes(
                "text-lg font-semibold text-slate-900"
            )
            self.name = (
                ui.input("Name", value=category["name"] if category else "")
                .props(f"outlined dense stack-label counter maxlength={NAME_MAX} autofocus")
                .classes("w-full")
                .mark("category-name-input")
            )
            self.description = (
                ui.input("Description (optional)", value=category["description"] if category else "")
                .props(f"outlined dense stack-label counter maxlength={DESCRIPTION_MAX}")
                .classes("w-full")
                .mark("category-description-input")
            )
            self.days = (
                ui.number(
                    "Unsubscribe days",
                    value=category["unsubscribe_days"] if category else workspace_days,
                    precision=0,
                    step=1,
                    on_change=lambda e: setattr(self.days, "error", days_problem(e.value, MAX_CATEGORY_DAYS)),
                )
                .props("outlined dense stack-label")
                .classes("w-48")
                .mark("category-days-input")
                .without_auto_validation()
            )
            ui.label(
                "How long an opt-out from a reply to a campaign of this category lasts. A change applies to "
                "opt-outs made after it."
            ).classes("text-xs text-slate-500 -mt-3")
            self.error = ui.label("").classes("text-sm text-red-700").mark("category-error")
            self.error.visible = False
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps color=grey-8").mark(
                    "cancel-category"
                )
                ui.button("Save", icon="check", on_click=self.save).props(
                    "unelevated no-caps color=primary"
                ).mark("save-category")

    def open(self) -> None:
        self.dialog.open()

    async def save(self) -> None:
        name = " ".join((self.name.value or "").split())
        self.name.error = None if name else "Give the category a name, e.g. Promotions."
        self.days.error = days_problem(self.days.value, MAX_CATEGORY_DAYS)
        if self.name.error or self.days.error:
            return
        body = {
            "name": name,
            "description": (self.description.value or "").strip(),
            "unsubscribe_days": int(self.days.value),
        }
        try:
            if self.category is None:
                saved = await consent.create_category(self.session.token, body)
            else:
                saved = await consent.update_category(self.session.token, self.category["id"], body)
        except ApiError as exc:
            fields = {"name": self.name, "description": self.description, "unsubscribe_days": self.days}
            placed = [key for key in exc.field_errors if key in fields]
            for key in placed:
                fields[key].error = field_message(exc, key)
            if not placed:
                self.error.set_text(f"Not saved: {exc.detail}")
                self.error.visible = True
            return
        except BackendUnreachable as exc:
            self.error.set_text(f"Not saved: Flowgate's API at {exc.url} is not answering.")
            self.error.visible = True
            return
        ui.notify(f"Saved “{saved['name']}”: {plural(saved['unsubscribe_days'], 'day')}.", type="positive")
        self.dialog.close()  # after the toast: closing deletes the dialog and the slot it needs
        await self.after()
