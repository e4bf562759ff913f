"""The frame of an admin's settings list (users, API keys, webhooks): what the list is for and its one
action on a line, then the rows, paged, with the same states as every list (loading, failed, more).

A subclass says what differs: its address, its words, how to fetch a page, how to draw the rows and what
its button opens. Keeping the frame in one place keeps the three pages alike for the admin who moves
between them (same button place, same failure card, same "more" link).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable
from ui.components.page_states import action_failed, problem_card
from ui.components.paged_list import PagedList
from ui.components.settings_parts import admins_only, detail_in_words, settings_heading
from ui.session import Session


@dataclass(frozen=True, slots=True)
class Action:
    """The list's button: its words, its icon and the marker tests find it by."""

    label: str
    icon: str
    marker: str


@dataclass
class AdminListPage:
    session: Session
    listing: PagedList = field(init=False, repr=False)
    body: ui.column = field(init=False, repr=False)

    path: ClassVar[str]
    """The page's address (failure cards link back to it)."""
    intro: ClassVar[str]
    """One or two sentences above the list: what it is for."""
    subject: ClassVar[str]
    """What the list holds, as the failure card names it ("the API keys")."""
    admins_manage: ClassVar[str]
    """What a marketer or viewer who typed the address is told only admins manage ("API keys")."""
    plural: ClassVar[str]
    """The rows in a sentence ("keys"): "More keys could not be loaded"."""
    action: ClassVar[Action]

    @classmethod
    async def show(cls, session: Session) -> None:
        """The page's body: its heading and tabs, then the list, or the admins-only card for anyone else."""
        settings_heading(session, cls.path)
        if not session.is_admin:
            admins_only(cls.admins_manage)
            return
        page = cls(session)
        page.build()
        await page.load()

    def __post_init__(self) -> None:
        self.listing = PagedList(self._fetch, drawn=self.render, failed=self._failed)

    def build(self) -> None:
        with ui.row().classes("w-full items-center gap-3 no-wrap max-sm:flex-wrap"):
            ui.label(self.intro).classes("text-sm text-slate-600 flex-1")
            ui.button(self.action.label, icon=self.action.icon, on_click=self.act).props(
                "unelevated no-caps no-wrap"
            ).mark(self.action.marker)
        self.body = ui.column().classes("w-full gap-3")

    async def load(self) -> None:
        await self.listing.reload()

    @property
    def items(self) -> list[Any]:
        return self.listing.items

    # --- what a page says for itself -------------------------------------------------------------------

    async def fetch(self, cursor: str | None, limit: int) -> Any:
        """One page of the list from the API."""
        raise NotImplementedError

    def render(self) -> None:
        """Draw :attr:`items` into :attr:`body` (called after every load)."""
        raise NotImplementedError

    def act(self) -> None:
        """What the button does (opens its dialog)."""
        raise NotImplementedError

    # --- the frame ---------------------------------------------------------------------------------------

    page_size: ClassVar[int] = 100

    async def _fetch(self, filters: dict[str, Any], cursor: str | None) -> Any:
        return await self.fetch(cursor, self.page_size)

    def _failed(self, exc: ApiError | BackendUnreachable, more: bool) -> None:
        if more:
            action_failed(
                exc, f"More {self.plural} could not be loaded", here=self.path, wording=detail_in_words
            )
            return
        self.body.clear()
        with self.body:
            problem_card(exc, self.subject, self.load, here=self.path)
