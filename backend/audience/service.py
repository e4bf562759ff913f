"""Contacts: creating, finding, changing and deleting them. Every query is scoped to the caller's
workspace, so another workspace's contact is simply not found.

A contact is unique per workspace per address (the database's unique indexes say so too): a second
contact with the same phone or email answers 409 with the existing contact's id. Consent history is
kept by address, never by contact, so deleting a contact leaves it whole.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from msgspec import UNSET
from piccolo.query.mixins import WhereRaw

from backend.audience import fields
from backend.audience.schemas import ContactCreate, ContactPatch
from backend.audience.tables import Contact, Group, GroupMember
from backend.audit import service as audit
from backend.core.database import contains_text, current_engine, is_unique_violation, transaction
from backend.core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from backend.workspaces.auth import Principal
from backend.workspaces.tables import Workspace

CONTACT_COLUMNS = (
    Contact.id,
    Contact.phone,
    Contact.email,
    Contact.name,
    Contact.attributes,
    Contact.tags,
    Contact.timezone,
    Contact.created_at,
    Contact.updated_at,
)
ADDRESS_FIELDS = ("phone", "email")


async def phone_region(workspace_id: int) -> str:
    """The workspace's default region for phone numbers written without ``+country``."""
    row = await Workspace.select(Workspace.default_phone_region).where(Workspace.id == workspace_id).first()
    return row["default_phone_region"] if row else ""


def contacts_query(workspace_id: int, *columns: Any):
    return (
        Contact.select(*(columns or CONTACT_COLUMNS))
        .where(Contact.workspace == workspace_id)
        .output(load_json=True)
    )


async def get_contact(workspace_id: int, contact_id: int) -> dict[str, Any]:
    row = await contacts_query(workspace_id).where(Contact.id == contact_id).first()
    if row is None:
        raise NotFound("contact", contact_id)
    return row


# --- writing ----------------------------------------------------------------------------------------


async def _holders(
    workspace_id: int, values: dict[str, str | None], except_id: int | None
) -> list[FieldProblem]:
    """Which of ``phone``/``email`` already belong to another contact of the workspace."""
    problems = []
    for field in ADDRESS_FIELDS:
        value = values.get(field)
        if value is None:
            continue
        column = getattr(Contact, field)
        query = Contact.select(Contact.id).where((Contact.workspace == workspace_id) & (column == value))
        if except_id is not None:
            query = query.where(Contact.id != except_id)
        holder = await query.first()
        if holder is not None:
            problems.append(FieldProblem(field, f"{value} already belongs to contact {holder['id']}", "body"))
    return problems


def _conflict(problems: list[FieldProblem]) -> Conflict:
    return Conflict("; ".join(f"{p.field}: {p.message}" for p in problems), problems)


async def _write_guarded(workspace_id: int, addresses: dict[str, str | None], except_id: int | None, write):
    """Run ``write`` unless an address is taken; a writer that raced us to the unique index is a 409 too."""
    try:
        async with transaction():
            if problems := await _holders(workspace_id, addresses, except_id):
                raise _conflict(problems)
            return await write()
    except Conflict:
        raise
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        problems = await _holders(workspace_id, addresses, except_id)
        raise _conflict(
            problems or [FieldProblem("phone", "another contact took this address", "body")]
        ) from None


async def create_contact(principal: Principal, data: ContactCreate) -> dict[str, Any]:
    region = await phone_region(principal.workspace_id)
    values = {
        "phone": fields.phone(data.phone, region),
        "email": fields.email(data.email),
        "name": fields.name(data.name),
        "attributes": fields.attributes(data.attributes),
        "tags": fields.tags(data.tags),
        "timezone": fields.timezone(data.timezone),
    }
    if values["phone"] is None and values["email"] is None:
        raise InvalidInput("phone", "a contact needs a phone or an email (or both)")
    now = datetime.now(UTC)

    async def write():
        return await Contact.insert(
            Contact(workspace=principal.workspace_id, created_at=now, updated_at=now, **values)
        ).returning(Contact.id)

    rows = await _write_guarded(principal.workspace_id, values, None, write)
    return await get_contact(principal.workspace_id, rows[0]["id"])


async def update_contact(principal: Principal, contact_id: int, patch: ContactPatch) -> dict[str, Any]:
    current = await get_contact(principal.workspace_id, contact_id)
    values: dict[str, Any] = {}
    if patch.phone is not UNSET:
        values["phone"] = fields.phone(patch.phone, await phone_region(principal.workspace_id))
    if patch.email is not UNSET:
        values["email"] = fields.email(patch.email)
    if patch.name is not UNSET:
        values["name"] = fields.name(patch.name)
    if patch.attributes is not UNSET:
        values["attributes"] = fields.attributes(patch.attributes)
    if patch.tags is not UNSET:
        values["tags"] = fields.tags(patch.tags)
    if patch.timezone is not UNSET:
        values["timezone"] = fields.timezone(patch.timezone)
    if not values:
        return current
    merged = {**current, **values}
    if merged["phone"] is None and merged["email"] is None:
        field = "phone" if "phone" in values else "email"
        raise InvalidInput(field, "a contact needs a phone or an email; this would leave it with neither")
    changed_addresses = {field: values[field] for field in ADDRESS_FIELDS if field in values}

    async def write():
        updated = (
            await Contact.update(
                {getattr(Contact, key): value for key, value in values.items()}
                | {Contact.updated_at: datetime.now(UTC)}
            )
            .where((Contact.id == contact_id) & (Contact.workspace == principal.workspace_id))
            .returning(Contact.id)
        )
        if not updated:
            raise NotFound("contact", contact_id)

    await _write_guarded(principal.workspace_id, changed_addresses, contact_id, write)
    return await get_contact(principal.workspace_id, contact_id)


async def delete_contact(principal: Principal, contact_id: int) -> None:
    """The contact and its group memberships go; opt-out entries and consent events (by address) stay."""
    async with transaction():
        row = await get_contact(principal.workspace_id, contact_id)
        await GroupMember.delete().where(
            (GroupMember.contact == contact_id) & (GroupMember.workspace == principal.workspace_id)
        )
        await Contact.delete().where(
            (Contact.id == contact_id) & (Contact.workspace == principal.workspace_id)
        )
        await audit.record(
            principal,
            "contact.deleted",
            target_type="contact",
            target_id=contact_id,
            data={"phone": row["phone"], "email": row["email"]},
        )


# --- listing ----------------------------------------------------------------------------------------


def has_tag(tag: str) -> WhereRaw:
    """Contacts whose ``tags`` JSON list holds ``tag`` exactly."""
    if current_engine().engine_type == "sqlite":
        return WhereRaw('EXISTS (SELECT 1 FROM json_each("contacts"."tags") t WHERE t.value = {})', tag)
    return WhereRaw('"contacts"."tags"::jsonb ? {}', tag)


def in_group(group_id: int) -> WhereRaw:
    """Contacts that are members of the group (a semi-join the planners drive from the membership index)."""
    return WhereRaw(
        '"contacts"."id" IN (SELECT gm."contact" FROM "group_members" gm WHERE gm."group" = {})', group_id
    )


async def filtered_contacts(
    principal: Principal,
    *,
    q: str | None = None,
    group_id: int | None = None,
    tag: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    updated_since: datetime | None = None,
    columns: tuple[Any, ...] = (),
):
    """The list query with the API's filters (selecting ``columns``, all when none); filter values are
    validated like the fields they match."""
    query = contacts_query(principal.workspace_id, *columns)
    if q:
        query = query.where(
            contains_text(Contact.name, q) | contains_text(Contact.phone, q) | contains_text(Contact.email, q)
        )
    if group_id is not None:
        group = await Group.exists().where(
            (Group.id == group_id) & (Group.workspace == principal.workspace_id)
        )
        if not group:
            raise InvalidInput("group_id", f"no group {group_id} in this workspace", source="query")
        query = query.where(in_group(group_id))
    if tag:
        query = query.where(has_tag(tag.strip()))
    if phone is not None:
        region = await phone_region(principal.workspace_id)
        query = query.where(Contact.phone == _query_value(fields.phone, phone, region, field="phone"))
    if email is not None:
        query = query.where(Contact.email == _query_value(fields.email, email, field="email"))
    if updated_since is not None:
        if updated_since.tzinfo is None:
            raise InvalidInput(
                "updated_since", "must include a time zone, e.g. 2026-01-01T00:00:00Z", source="query"
            )
        query = query.where(Contact.updated_at >= updated_since)
    return query


def _query_value(clean, raw: str, *args: Any, field: str) -> str | None:
    try:
        value = clean(raw, *args, field=field)
    except InvalidInput as error:
        raise InvalidInput(field, error.problems[0].message, source="query") from None
    if value is None:
        raise InvalidInput(field, "is empty", source="query")
    return value
