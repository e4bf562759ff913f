"""The list pages' loader: the newest request wins, typing is asked for once per pause, pages add up."""

from __future__ import annotations

import asyncio
from typing import Any

from ui.backend import BackendUnreachable
from ui.components.paged_list import PagedList


class FakeApi:
    """An API list endpoint whose answers the test releases in any order (no network: the loader is
    pure bookkeeping; the pages using it are driven end to end in tests/ui/test_*.py)."""

    def __init__(self) -> None:
        self.asked: list[tuple[dict[str, Any], str | None]] = []
        self.answers: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def fetch(self, filters: dict[str, Any], cursor: str | None) -> dict[str, Any]:
        number = len(self.asked)
        self.asked.append((dict(filters), cursor))
        self.answers[number] = asyncio.get_running_loop().create_future()
        return await self.answers[number]

    def answer(self, number: int, items: list[str], next_cursor: str | None = None) -> None:
        self.answers[number].set_result({"items": items, "next_cursor": next_cursor})


def make(api: FakeApi) -> tuple[PagedList, list[list[str]], list[tuple[Exception, bool]]]:
    drawn: list[list[str]] = []
    failures: list[tuple[Exception, bool]] = []
    listing = PagedList(
        api.fetch,
        drawn=lambda: drawn.append(list(listing.items)),
        failed=lambda exc, more: failures.append((exc, more)),
        search_delay_s=0.01,
    )
    return listing, drawn, failures


async def test_an_older_answer_that_arrives_last_does_not_replace_the_newer_one() -> None:
    api = FakeApi()
    listing, drawn, _ = make(api)
    first = asyncio.create_task(listing.set_filter("status", "running"))
    await asyncio.sleep(0)
    second = asyncio.create_task(listing.set_filter("status", "finished"))
    await asyncio.sleep(0)
    api.answer(1, ["finished campaign"])
    await second
    api.answer(0, ["running campaign"])
    await first
    assert drawn == [["finished campaign"]]
    assert listing.items == ["finished campaign"]


async def test_typing_asks_once_per_pause_with_the_words_trimmed() -> None:
    api = FakeApi()
    listing, drawn, _ = make(api)
    typing = [asyncio.create_task(listing.search("name", text)) for text in ("s", "sp", " spring ")]
    await asyncio.sleep(0.05)
    assert api.asked == [({"name": "spring"}, None)]
    api.answer(0, ["Spring sale"])
    await asyncio.gather(*typing)
    assert drawn == [["Spring sale"]]
    assert listing.filtered


async def test_load_more_adds_the_next_page_with_the_same_filters() -> None:
    api = FakeApi()
    listing, drawn, _ = make(api)
    listing.filters["group_id"] = 7
    loading = asyncio.create_task(listing.reload())
    await asyncio.sleep(0)
    api.answer(0, ["a", "b"], next_cursor="c2")
    await loading
    more = asyncio.create_task(listing.load_more())
    again = asyncio.create_task(listing.load_more())  # a double click asks once
    await asyncio.sleep(0)
    api.answer(1, ["c"])
    await asyncio.gather(more, again)
    assert api.asked == [({"group_id": 7}, None), ({"group_id": 7}, "c2")]
    assert drawn[-1] == ["a", "b", "c"]
    assert listing.next_cursor is None


async def test_a_failed_page_says_whether_it_was_the_first_or_a_further_one() -> None:
    async def unreachable(filters: dict[str, Any], cursor: str | None) -> dict[str, Any]:
        raise BackendUnreachable("http://127.0.0.1:9", "connection refused")

    listing, drawn, failures = make(FakeApi())
    listing.fetch = unreachable
    await listing.reload()
    listing.next_cursor = "c2"
    await listing.load_more()
    assert [more for _, more in failures] == [False, True]
    assert drawn == []


async def test_cleared_filters_do_not_count_as_filtering() -> None:
    listing, _, _ = make(FakeApi())
    listing.filters.update({"name": None, "status": ""})
    assert not listing.filtered
    assert listing.active_filters == {}
