"""The opt-out section's pages: the unsubscription list, one address's consent history, and the
marketing categories with the workspace's unsubscription duration."""

from __future__ import annotations

from ui.pages import optout_categories, optout_history, optouts_list


def register() -> None:
    optouts_list.register()
    optout_history.register()
    optout_categories.register()
