"""The contact behind an inbound address: found by address, or created on first contact.

Two workers can see the first message of a new person at once (two events of one webhook, or a reply
and a status). The unique ``(workspace, phone)`` / ``(workspace, email)`` indexes decide: the insert is
``ON CONFLICT DO NOTHING`` and the loser reads the winner's row, so there is never a duplicate contact and
never a failed transaction (PostgreSQL aborts a transaction on a unique violation; this never raises one).
"""

from __future__ import annotations

from typing import Any

from backend.audience.tables import Contact

NAME_LENGTH = 200


def _column(channel: str):
    return Contact.email if channel == "email" else Contact.phone


async def _find(workspace_id: int, channel: str, address: str) -> dict[str, Any] | None:
    return (
        await Contact.select(Contact.id, Contact.name)
        .where((Contact.workspace == workspace_id) & (_column(channel) == address))
        .first()
    )


async def find_or_create(
    workspace_id: int, channel: str, address: str, name: str | None = None
) -> tuple[int, bool]:
    """The contact id for a normalised address, and whether it was created now.

    A new contact takes the provider's profile name; an existing contact's name is never overwritten (a
    person's WhatsApp display name is not what the marketer typed).
    """
    found = await _find(workspace_id, channel, address)
    if found is not None:
        return found["id"], False
    values = {"email": address} if channel == "email" else {"phone": address}
    inserted = await (
        Contact.insert(Contact(workspace=workspace_id, name=(name or "").strip()[:NAME_LENGTH], **values))
        .on_conflict(action="DO NOTHING")
        .returning(Contact.id)
    )
    if inserted:
        return inserted[0]["id"], True
    found = await _find(workspace_id, channel, address)
    if found is None:  # pragma: no cover - the conflicting row was deleted in between
        raise RuntimeError(f"contact for {channel} {address} vanished while being created")
    return found["id"], False
