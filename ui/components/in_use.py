"""Why a flow or group cannot be deleted, in the campaigns' own names.

The API refuses (409) to delete a flow or group a campaign uses, and says so by id, as an API should; a
person wants to know which campaign, so the screens ask the campaigns list (filtered by flow or group)
and name them.
"""

from __future__ import annotations

from nicegui import ui

from ui.backend import ApiError, BackendUnreachable, api

NAMED_MOST = 3


def in_use_sentence(names: list[str], more: bool, thing: str, other: str) -> str:
    """``Not deleted: the campaign “Spring sale” uses this flow. Delete it or give it another flow first.``"""
    quoted = [f"“{name}”" for name in names]
    if len(quoted) == 1 and not more:
        return (
            f"Not deleted: the campaign {quoted[0]} uses {thing}. Delete it or give it another {other} first."
        )
    listed = ", ".join(quoted) + " and more" if more else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"
    return f"Not deleted: the campaigns {listed} use {thing}. Delete them or give them another {other} first."


async def refused_in_use(
    token: str, thing: str, other: str, *, flow_id: int | None = None, group_id: int | None = None
) -> bool:
    """Name the campaigns that keep ``thing`` ("this flow") from being deleted; False when none is found
    or the list cannot be read (the caller then shows the API's own sentence)."""
    try:
        page = await api.list_campaigns(token, flow_id=flow_id, group_id=group_id, limit=NAMED_MOST)
    except (ApiError, BackendUnreachable):
        return False
    names = [campaign["name"] for campaign in page["items"]]
    if not names:
        return False
    ui.notify(
        in_use_sentence(names, bool(page["next_cursor"]), thing, other), type="negative", multi_line=True
    )
    return True
