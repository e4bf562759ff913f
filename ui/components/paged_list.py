"""What every list page (campaigns, senders, contacts, groups, opt-outs) does the same way: ask the API
for one page at a time with the filters of the toolbar, keep only the newest answer, and draw the list
as a card of rows with a count and "Load more" under it.

Why one loader: typing in the search box and changing a filter race each other, and an older answer that
arrives last must not replace a newer one. :class:`PagedList` numbers its requests and drops any answer
that is no longer the latest; a search waits for a pause in typing (one request per word, not per
keystroke). The API's own cursor pages the list, so the page shows exactly what the API answers, in its
order.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable

SEARCH_DELAY_S = 0.3
"""Typing pauses this long before the list is asked for."""
PAGE_SIZE = 50

CARD = "w-full p-0 gap-0 shadow-sm rounded-xl overflow-hidden"
HEADER_ROW = (
    "w-full items-center no-wrap gap-4 px-5 py-2 bg-slate-50 border-b border-slate-200 "
    "text-xs font-medium uppercase tracking-wide text-slate-500"
)
ROW = "w-full items-center no-wrap gap-4 px-5 py-3 hover:bg-slate-50"
ROW_LINK = "block truncate font-medium text-slate-900 no-underline hover:text-primary"

Page = Mapping[str, Any]
Fetch = Callable[[dict[str, Any], str | None], Awaitable[Page]]
"""Ask the API for one page: the current filters (``None`` values dropped) and the cursor, or None."""
Failed = Callable[[ApiError | BackendUnreachable, bool], None]
"""Show why a page did not come: the error, and whether it was a further page ("Load more")."""


class PagedList:
    """The rows shown so far, the cursor for more, and the filters they were asked for with."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        drawn: Callable[[], Awaitable[None] | None],
        failed: Failed,
        filters: dict[str, Any] | None = None,
        search_delay_s: float = SEARCH_DELAY_S,
    ) -> None:
        self.fetch = fetch
        self.drawn = drawn
        self.failed = failed
        self.filters: dict[str, Any] = dict(filters or {})
        self.items: list[Any] = []
        self.next_cursor: str | None = None
        self.search_delay_s = search_delay_s
        self._latest = 0
        self._loading_more = False

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the list (an empty list then says "no match", not "none yet")."""
        return any(value not in (None, "", []) for value in self.filters.values())

    @property
    def active_filters(self) -> dict[str, Any]:
        return {key: value for key, value in self.filters.items() if value not in (None, "")}

    async def reload(self) -> None:
        """The first page for the current filters, replacing what is shown."""
        self._latest += 1
        request = self._latest
        try:
            page = await self.fetch(self.active_filters, None)
        except (ApiError, BackendUnreachable) as exc:
            if request == self._latest:
                self.failed(exc, False)
            return
        if request != self._latest:
            return
        self.items = list(page["items"])
        self.next_cursor = page["next_cursor"]
        await self._drawn()

    async def load_more(self) -> None:
        """The next page, added under the rows shown (a second click while it loads does nothing)."""
        if self._loading_more or not self.next_cursor:
            return
        request = self._latest
        self._loading_more = True
        try:
            page = await self.fetch(self.active_filters, self.next_cursor)
        except (ApiError, BackendUnreachable) as exc:
            self.failed(exc, True)
            return
        finally:
            self._loading_more = False
        if request != self._latest:
            return
        self.items.extend(page["items"])
        self.next_cursor = page["next_cursor"]
        await self._drawn()

    async def set_filter(self, key: str, value: Any) -> None:
        self.filters[key] = value
        await self.reload()

    async def search(self, key: str, value: str | None) -> None:
        """What was typed, once typing pauses; an older pause's request is dropped by :meth:`reload`."""
        self.filters[key] = (value or "").strip() or None
        self._latest += 1
        request = self._latest
        await asyncio.sleep(self.search_delay_s)
        if request == self._latest:
            await self.reload()

    async def _drawn(self) -> None:
        result = self.drawn()
        if inspect.isawaitable(result):
            await result


# --- the toolbar and the list's frame ---------------------------------------------------------------------


def search_box(
    placeholder: str, on_search: Callable[[str | None], Any], *, marker: str, width: str = "w-56"
) -> ui.input:
    """A search field with a magnifier; ``on_search`` gets each change (debounce it with
    :meth:`PagedList.search`)."""
    box = (
        ui.input(placeholder=placeholder, on_change=lambda event: on_search(event.value))
        .props("outlined dense clearable")
        .classes(f"{width} max-sm:w-full bg-white")
        .mark(marker)
    )
    with box.add_slot("prepend"):
        ui.icon("search", size="1.25rem").classes("text-slate-400")
    return box


def filter_select(
    options: Mapping[Any, str],
    label: str,
    on_pick: Callable[[Any], Awaitable[None] | None],
    *,
    marker: str,
    width: str = "w-40",
) -> ui.select:
    """A clearable picker of one filter value (cleared means "any")."""
    return (
        ui.select(dict(options), label=label, clearable=True, on_change=lambda event: on_pick(event.value))
        .props("outlined dense options-dense")
        .classes(f"{width} max-sm:w-full bg-white")
        .mark(marker)
    )


def list_header(columns: Sequence[tuple[str, str]]) -> None:
    """The grey row of column titles: (title, the column's width classes) each."""
    with ui.row().classes(HEADER_ROW):
        for title, classes in columns:
            ui.label(title).classes(classes)


def rows_card(marker: str, columns: Sequence[tuple[str, str]]) -> ui.column:
    """A card with the column titles; enter the returned column to add one row each."""
    with ui.card().classes(CARD).mark(marker):
        list_header(columns)
        return ui.column().classes("w-full gap-0 divide-y divide-slate-100")


def count_and_more(text: str, listing: PagedList, *, marker: str) -> None:
    """How many rows are shown (and whether more can be loaded), with the "Load more" button."""
    with ui.row().classes("w-full items-center px-1"):
        more = "; more to load" if listing.next_cursor else ""
        ui.label(text + more).classes("text-sm text-slate-500").mark(marker)
        ui.space()
        if listing.next_cursor:
            ui.button("Load more", icon="expand_more", on_click=listing.load_more).props("flat no-caps").mark(
                "load-more"
            )
