"""HTTP endpoints of contacts and groups (registered in backend/app.py through CONTROLLERS).

Viewers read (third parties fetch opt-out-filtered member lists with read-only keys, PRODUCT.md 4.10);
marketers write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from backend.audience import contact_import, eligibility, export, groups, includes, service
from backend.audience.schemas import (
    AudienceOut,
    Channel,
    ContactCreate,
    ContactOut,
    ContactPatch,
    GroupCreate,
    GroupOut,
    GroupPatch,
    MemberPage,
    MembersAdded,
    MembersIn,
    MembersRemoved,
)
from backend.audience.tables import Contact, Group
from backend.core.database import contains_text
from backend.core.errors import InvalidInput
from backend.core.pagination import CursorParam, LimitParam, Page, fetch_page
from backend.imports import service as imports_service
from backend.imports.schemas import ImportOut
from backend.imports.uploads import UPLOAD_ROUTE_OPTIONS, store_upload
from backend.workspaces.auth import Caller, allow
from backend.workspaces.roles import Role

SenderParam = Annotated[
    int | None, QueryParameter(description="Apply opt-outs as this sender would (its own and workspace-wide)")
]
CategoryParam = Annotated[int | None, QueryParameter(description="Marketing category of the message")]
IncludeParam = Annotated[
    list[includes.Include] | None, QueryParameter(description=includes.INCLUDE_DESCRIPTION)
]
OptedInOnlyParam = Annotated[
    bool,
    QueryParameter(
        description="The campaign toggle: false lets through opt-outs set by an admin or an import, "
        "never one the person made themselves"
    ),
]


QParam = Annotated[str | None, QueryParameter(description="Text contained in the name, phone or email")]
GroupFilterParam = Annotated[int | None, QueryParameter(description="Members of this group")]
TagParam = Annotated[str | None, QueryParameter(description="Contacts with this tag")]
PhoneParam = Annotated[str | None, QueryParameter(description="Exact phone, in any format")]
EmailParam = Annotated[str | None, QueryParameter(description="Exact email, any case")]
UpdatedSinceParam = Annotated[datetime | None, QueryParameter(description="Changed at or after")]


def _contact(row: dict[str, Any]) -> ContactOut:
    return msgspec.convert(row, ContactOut)


@dataclass
class ContactImportForm:
    """``multipart/form-data`` of a contacts import."""

    file: UploadFile
    group_id: int | None = None
    """Add every imported contact to this group."""
    on_error: Literal["skip", "reject"] = "skip"
    """``skip``: bad rows are reported and skipped; ``reject``: any bad row rejects the whole file."""
    columns: str = ""
    """JSON object: header cell → ``phone``, ``email``, ``name``, ``timezone``, ``tags``, an attribute
    key, or null to leave the column out; columns not named keep their automatic meaning."""


class ContactController(Controller):
    path = "/contacts"
    tags = ["contacts"]
    guards = [allow(read=Role.viewer, write=Role.marketer)]

    @get("/", summary="List contacts, oldest first, with filters")
    async def list_contacts(
        self,
        principal: Caller,
        q: QParam = None,
        group_id: GroupFilterParam = None,
        tag: TagParam = None,
        phone: PhoneParam = None,
        email: EmailParam = None,
        updated_since: UpdatedSinceParam = None,
        include: IncludeParam = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[ContactOut]:
        query = await service.filtered_contacts(
            principal, q=q, group_id=group_id, tag=tag, phone=phone, email=email, updated_since=updated_since
        )
        rows, next_cursor = await fetch_page(query, Contact.id, cursor, limit)
        await includes.attach(principal.workspace_id, rows, include)
        return Page(items=[_contact(row) for row in rows], next_cursor=next_cursor)

    @get(
        "/export",
        summary="The contacts as CSV, with the list's filters; the file imports back as it is",
        description="Columns `id, phone, email, name, timezone, tags` (`;`-separated), `created_at`, "
        "`updated_at`, then one column per attribute key. Streamed in id order.",
        media_type="text/csv",
    )
    async def export_contacts(
        self,
        principal: Caller,
        q: QParam = None,
        group_id: GroupFilterParam = None,
        tag: TagParam = None,
        phone: PhoneParam = None,
        email: EmailParam = None,
        updated_since: UpdatedSinceParam = None,
    ) -> Stream:
        filters = {
            "q": q,
            "group_id": group_id,
            "tag": tag,
            "phone": phone,
            "email": email,
            "updated_since": updated_since,
        }
        await service.filtered_contacts(principal, **filters)  # a bad filter is a 400 before streaming

        async def make_query(*columns: Any):
            return await service.filtered_contacts(principal, columns=columns, **filters)

        return Stream(
            export.stream_csv(make_query),
            media_type="text/csv",  # Litestar adds "; charset=utf-8"
            headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
        )

    @post("/", status_code=HTTP_201_CREATED, summary="Create a contact; 409 when its phone or email is taken")
    async def create_contact(self, principal: Caller, data: JSONBody[ContactCreate]) -> ContactOut:
        return _contact(await service.create_contact(principal, data))

    @get("/{contact_id:int}", summary="One contact")
    async def get_contact(
        self, principal: Caller, contact_id: FromPath[int], include: IncludeParam = None
    ) -> ContactOut:
        row = await service.get_contact(principal.workspace_id, contact_id)
        await includes.attach(principal.workspace_id, [row], include)
        return _contact(row)

    @patch("/{contact_id:int}", summary="Change a contact; fields left out keep their value")
    async def update_contact(
        self, principal: Caller, contact_id: FromPath[int], data: JSONBody[ContactPatch]
    ) -> ContactOut:
        return _contact(await service.update_contact(principal, contact_id, data))

    @delete(
        "/{contact_id:int}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a contact and its memberships; its consent history stays",
    )
    async def delete_contact(self, principal: Caller, contact_id: FromPath[int]) -> None:
        await service.delete_contact(principal, contact_id)

    @post(
        "/import",
        status_code=HTTP_202_ACCEPTED,
        summary="Upload a CSV of contacts; the import runs in the background (GET /imports/{id})",
        description=(
            "Columns `phone`, `email`, `name`, `timezone`, `tags` (`;`-separated); every other column "
            "becomes an attribute under its snake_case name. UTF-8 (a BOM is fine); comma, semicolon or "
            "tab separated. Rows matching a contact by phone or email update it. The form field "
            "`columns` (JSON) maps header cells to those meanings or to attribute keys, null leaving a "
            'column out: `{"Mobile": "phone", "Club": "club", "Notes": null}`.'
        ),
        **UPLOAD_ROUTE_OPTIONS,
    )
    async def import_contacts(
        self,
        principal: Caller,
        state: State,
        data: Annotated[ContactImportForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> ImportOut:
        options: dict[str, Any] = {}
        if data.columns.strip():
            options["columns"] = contact_import.parse_column_mapping(data.columns)
        if data.group_id is not None:
            await _own_group(principal.workspace_id, data.group_id, field="group_id")
            options["group_id"] = data.group_id
        row = await store_upload(
            principal,
            contact_import.CONTACTS.name,
            data.file,
            options=options,
            on_error=data.on_error,
            queue=getattr(state, "queue", None),
        )
        return msgspec.convert(imports_service.import_out(row, None), ImportOut)


async def _own_group(workspace_id: int, group_id: int, *, field: str) -> None:
    if not await Group.exists().where((Group.id == group_id) & (Group.workspace == workspace_id)):
        raise InvalidInput(field, f"no group {group_id} in this workspace")


class GroupController(Controller):
    path = "/groups"
    tags = ["groups"]
    guards = [allow(read=Role.viewer, write=Role.marketer)]

    @get("/", summary="List groups with their member counts")
    async def list_groups(
        self,
        principal: Caller,
        name: Annotated[
            str | None, QueryParameter(description="Groups whose name contains this text")
        ] = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[GroupOut]:
        query = groups.groups_query(principal.workspace_id)
        if name:
            query = query.where(contains_text(Group.name, name))
        rows, next_cursor = await fetch_page(query, Group.id, cursor, limit)
        return Page(
            items=[msgspec.convert(row, GroupOut) for row in await groups.with_counts(rows)],
            next_cursor=next_cursor,
        )

    @post("/", status_code=HTTP_201_CREATED, summary="Create a group; 409 when the name is taken")
    async def create_group(self, principal: Caller, data: JSONBody[GroupCreate]) -> GroupOut:
        return msgspec.convert(await groups.create_group(principal, data), GroupOut)

    @get("/{group_id:int}", summary="One group")
    async def get_group(self, principal: Caller, group_id: FromPath[int]) -> GroupOut:
        (row,) = await groups.with_counts([await groups.get_group(principal.workspace_id, group_id)])
        return msgspec.convert(row, GroupOut)

    @patch("/{group_id:int}", summary="Rename a group, or change its description or opt-out bypass")
    async def update_group(
        self, principal: Caller, group_id: FromPath[int], data: JSONBody[GroupPatch]
    ) -> GroupOut:
        return msgspec.convert(await groups.update_group(principal, group_id, data), GroupOut)

    @delete("/{group_id:int}", status_code=HTTP_204_NO_CONTENT, summary="Delete a group (its contacts stay)")
    async def delete_group(self, principal: Caller, group_id: FromPath[int]) -> None:
        await groups.delete_group(principal, group_id)

    @post(
        "/{group_id:int}/members",
        status_code=HTTP_200_OK,
        summary="Add contacts (up to 10,000 ids); any unknown id refuses the request, members stay members",
    )
    async def add_members(
        self, principal: Caller, group_id: FromPath[int], data: JSONBody[MembersIn]
    ) -> MembersAdded:
        return MembersAdded(**await groups.add_members(principal, group_id, data.contact_ids))

    @delete(
        "/{group_id:int}/members",
        status_code=HTTP_200_OK,
        summary="Remove contacts (up to 10,000 ids); ids that are not members are ignored",
    )
    async def remove_members(
        self, principal: Caller, group_id: FromPath[int], data: JSONBody[MembersIn]
    ) -> MembersRemoved:
        return MembersRemoved(**await groups.remove_members(principal, group_id, data.contact_ids))

    @get(
        "/{group_id:int}/members",
        summary="Members in contact-id order; optionally only those reachable on a channel and not opted out",
    )
    async def list_members(
        self,
        principal: Caller,
        group_id: FromPath[int],
        channel: Annotated[
            Channel | None, QueryParameter(description="Only members with an address on it")
        ] = None,
        exclude_opted_out: Annotated[
            bool, QueryParameter(description="Leave out members whose opt-out applies (needs `channel`)")
        ] = False,
        sender_id: SenderParam = None,
        category_id: CategoryParam = None,
        opted_in_only: OptedInOnlyParam = True,
        include: IncludeParam = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> MemberPage:
        group = await groups.get_group(principal.workspace_id, group_id)
        wanted = eligibility.MemberFilter(channel, exclude_opted_out, sender_id, category_id, opted_in_only)
        await eligibility.check_filter(principal.workspace_id, wanted)
        rows, next_cursor, applied = await eligibility.list_members(
            principal.workspace_id, group, wanted, cursor, limit
        )
        await includes.attach(principal.workspace_id, rows, include)
        return MemberPage(
            items=[_contact(row) for row in rows], next_cursor=next_cursor, opt_out_filter_applied=applied
        )

    @get(
        "/{group_id:int}/audience",
        summary="How many members a marketing message on a channel would reach, and why the others not",
    )
    async def audience(
        self,
        principal: Caller,
        group_id: FromPath[int],
        channel: Annotated[Channel, QueryParameter(description="The channel of the message")],
        sender_id: SenderParam = None,
        category_id: CategoryParam = None,
        opted_in_only: OptedInOnlyParam = True,
    ) -> AudienceOut:
        group = await groups.get_group(principal.workspace_id, group_id)
        wanted = eligibility.MemberFilter(channel, True, sender_id, category_id, opted_in_only)
        await eligibility.check_filter(principal.workspace_id, wanted)
        return msgspec.convert(await eligibility.audience(principal.workspace_id, group, wanted), AudienceOut)


CONTROLLERS: list = [ContactController, GroupController]
