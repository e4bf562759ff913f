"""Static groups of contacts and their members. Every query is scoped to the caller's workspace.

Membership writes are set operations: adding an existing member or removing a non-member changes
nothing, so clients may retry them freely. Adding refuses the whole request when any id is not a
contact of this workspace, so a typo never half-applies.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET
from piccolo.query.functions.aggregate import Count

from backend.audience.schemas import GroupCreate, GroupPatch
from backend.audience.tables import Contact, Group, GroupMember
from backend.audit import service as audit
from backend.core.database import is_unique_violation, refused_while_referenced, transaction
from backend.core.errors import Conflict, InvalidInput, NotFound
from backend.workspaces.auth import Principal

GROUP_COLUMNS = (Group.id, Group.name, Group.description, Group.bypass_opt_out_filter, Group.created_at)
ID_CHUNK = 5000
"""Ids per ``IN (...)`` list: far below the bind-parameter limits of both engines."""
INSERT_CHUNK = 2000
"""Membership rows per INSERT: rows x columns stays under PostgreSQL's 32,767 parameters."""


def groups_query(workspace_id: int):
    return Group.select(*GROUP_COLUMNS).where(Group.workspace == workspace_id)


async def get_group(workspace_id: int, group_id: int) -> dict[str, Any]:
    row = await groups_query(workspace_id).where(Group.id == group_id).first()
    if row is None:
        raise NotFound("group", group_id)
    return row


async def member_counts(group_ids: list[int]) -> dict[int, int]:
    if not group_ids:
        return {}
    rows = (
        await GroupMember.select(GroupMember.group, Count(GroupMember.id, alias="members"))
        .where(GroupMember.group.is_in(group_ids))
        .group_by(GroupMember.group)
    )
    return {row["group"]: row["members"] for row in rows}


async def with_counts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts = await member_counts([row["id"] for row in rows])
    return [{**row, "member_count": counts.get(row["id"], 0)} for row in rows]


async def _name_taken(workspace_id: int, name: str, except_id: int | None = None) -> None:
    query = Group.select(Group.id, Group.name).where((Group.workspace == workspace_id) & (Group.name == name))
    if except_id is not None:
        query = query.where(Group.id != except_id)
    holder = await query.first()
    if holder is not None:
        raise Conflict(f"name: another group is already called {holder['name']!r}")


def _clean_name(name: str) -> str:
    text = name.strip()
    if not text:
        raise InvalidInput("name", "must not be blank")
    return text


async def create_group(principal: Principal, data: GroupCreate) -> dict[str, Any]:
    name = _clean_name(data.name)
    try:
        async with transaction():
            await _name_taken(principal.workspace_id, name)
            row = (
                await Group.insert(
                    Group(
                        workspace=principal.workspace_id,
                        name=name,
                        description=data.description.strip(),
                        bypass_opt_out_filter=data.bypass_opt_out_filter,
                    )
                ).returning(Group.id)
            )[0]
            await audit.record(
                principal,
                "group.created",
                target_type="group",
                target_id=row["id"],
                data={"name": name, "bypass_opt_out_filter": data.bypass_opt_out_filter},
            )
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict(f"name: another group is already called {name!r}") from None
        raise
    return {**await get_group(principal.workspace_id, row["id"]), "member_count": 0}


async def update_group(principal: Principal, group_id: int, patch: GroupPatch) -> dict[str, Any]:
    try:
        async with transaction():
            current = await get_group(principal.workspace_id, group_id)
            values: dict[Any, Any] = {}
            if patch.name is not UNSET:
                name = _clean_name(patch.name)
                await _name_taken(principal.workspace_id, name, except_id=group_id)
                values[Group.name] = name
            if patch.description is not UNSET:
                values[Group.description] = patch.description.strip()
            if patch.bypass_opt_out_filter is not UNSET:
                values[Group.bypass_opt_out_filter] = patch.bypass_opt_out_filter
            changed = {
                column._meta.name: {"from": current[column._meta.name], "to": value}
                for column, value in values.items()
                if current[column._meta.name] != value
            }
            if changed:
                await Group.update(values).where(Group.id == group_id)
                # Bypassing the opt-out filter is a compliance decision: keep who made it and when.
                await audit.record(
                    principal, "group.updated", target_type="group", target_id=group_id, data=changed
                )
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict("name: another group already has this name") from None
        raise
    (row,) = await with_counts([await get_group(principal.workspace_id, group_id)])
    return row


async def delete_group(principal: Principal, group_id: int) -> None:
    """The group and its memberships; the contacts stay. Refused (409) while a campaign uses it."""
    async with (
        refused_while_referenced(
            f"group {group_id} is used by a campaign: delete the campaign or give it another group first"
        ),
        transaction(),
    ):
        row = await get_group(principal.workspace_id, group_id)
        await GroupMember.delete().where(GroupMember.group == group_id)
        await Group.delete().where(Group.id == group_id)
        await audit.record(
            principal,
            "group.deleted",
            target_type="group",
            target_id=group_id,
            data={"name": row["name"]},
        )


def _chunks(values: list[int], size: int) -> list[list[int]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


async def _contacts_of_workspace(workspace_id: int, ids: list[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(ids, ID_CHUNK):
        rows = await Contact.select(Contact.id).where(
            (Contact.workspace == workspace_id) & Contact.id.is_in(chunk)
        )
        found.update(row["id"] for row in rows)
    return found


async def _count(group_id: int) -> int:
    return await GroupMember.count().where(GroupMember.group == group_id)


async def add_members(principal: Principal, group_id: int, contact_ids: list[int]) -> dict[str, Any]:
    """Add contacts; all ids must be contacts of this workspace or nothing is added (400 listing them)."""
    ids = sorted(set(contact_ids))
    async with transaction():
        await get_group(principal.workspace_id, group_id)
        unknown = sorted(set(ids) - await _contacts_of_workspace(principal.workspace_id, ids))
        if unknown:
            shown = ", ".join(str(contact_id) for contact_id in unknown[:100])
            more = f" and {len(unknown) - 100} more" if len(unknown) > 100 else ""
            raise InvalidInput(
                "contact_ids",
                f"{len(unknown)} id(s) are not contacts of this workspace: {shown}{more}; nothing was added",
            )
        added = 0
        for chunk in _chunks(ids, INSERT_CHUNK):
            inserted = (
                await GroupMember.insert(
                    *[
                        GroupMember(workspace=principal.workspace_id, group=group_id, contact=contact_id)
                        for contact_id in chunk
                    ]
                )
                .on_conflict(action="DO NOTHING")
                .returning(GroupMember.id)
            )
            added += len(inserted)
        total = await _count(group_id)
    return {
        "group_id": group_id,
        "requested": len(ids),
        "added": added,
        "already_members": len(ids) - added,
        "member_count": total,
    }


async def remove_members(principal: Principal, group_id: int, contact_ids: list[int]) -> dict[str, Any]:
    """Remove contacts; ids that are not members (or not contacts at all) are simply not removed."""
    ids = sorted(set(contact_ids))
    async with transaction():
        await get_group(principal.workspace_id, group_id)
        removed = 0
        for chunk in _chunks(ids, ID_CHUNK):
            deleted = (
                await GroupMember.delete()
                .where((GroupMember.group == group_id) & GroupMember.contact.is_in(chunk))
                .returning(GroupMember.id)
            )
            removed += len(deleted)
        total = await _count(group_id)
    return {
        "group_id": group_id,
        "requested": len(ids),
        "removed": removed,
        "not_members": len(ids) - removed,
        "member_count": total,
    }
