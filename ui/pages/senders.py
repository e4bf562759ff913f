"""The senders section: the list at ``/senders``, a new sender, and one sender's page."""

from __future__ import annotations

from ui.pages import sender_page, senders_list


def register() -> None:
    senders_list.register()
    sender_page.register()  # /senders/new before /senders/{sender_id}
