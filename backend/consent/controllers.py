"""HTTP endpoints of the unsubscription list and the consent history (registered through CONTROLLERS).

Third parties read with viewer keys (PRODUCT.md 4.10); marketers and admins write. Every query is scoped
to the caller's workspace, so another workspace's entry answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.params import Body, FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from backend.consent import queries, service, validation
from backend.consent.export import stream_csv
from backend.consent.gate import may_send
from backend.consent.importer import KIND as IMPORT_KIND
from backend.consent.importer import WORKSPACE, check_sender_mapping, parse_sender_mapping
from backend.consent.schemas import (
    Channel,
    CheckOut,
    ConsentEventOut,
    EventKind,
    OptOutCreate,
    OptOutOut,
    Scope,
    Source,
)
from backend.consent.tables import ConsentEvent, OptOutEntry
from backend.core.pagination import CursorParam, LimitParam, Page, fetch_page
from backend.imports import service as imports
from backend.imports.schemas import ImportOut
from backend.imports.uploads import UPLOAD_ROUTE_OPTIONS, store_upload
from backend.workspaces.auth import Caller, Principal, allow
from backend.workspaces.roles import Role

ChannelParam = Annotated[Channel | None, QueryParameter(description="Media type")]
AddressParam = Annotated[
    str | None, QueryParameter(description="Phone or email; normalised as entries are (E.164, lower case)")
]


@dataclass(frozen=True, slots=True)
class EntryFilters:
    """The filters shared by the list and the export (PRODUCT.md 4.10)."""

    channel: str | None
    address: str | None
    category_id: int | None
    sender_id: int | None
    scope: str | None
    source: str | None
    active: bool | None
    updated_since: datetime | None

    def apply(self, query, now: datetime):
        return queries.filter_entries(
            query,
            now=now,
            channel=self.channel,
            address=self.address,
            category_id=self.category_id,
            sender_id=self.sender_id,
            scope=self.scope,
            source=self.source,
            active=self.active,
            updated_since=self.updated_since,
        )


async def provide_entry_filters(
    principal: Caller,
    channel: ChannelParam = None,
    address: AddressParam = None,
    category_id: Annotated[int | None, QueryParameter(description="Entries of this category")] = None,
    sender_id: Annotated[int | None, QueryParameter(description="Entries scoped to this sender")] = None,
    # ``scope`` is a name Litestar reserves for the ASGI scope, hence the alias.
    scope_filter: Annotated[
        Scope | None, QueryParameter(name="scope", description="workspace-wide or sender-scoped")
    ] = None,
    source: Annotated[Source | None, QueryParameter(description="How the entry was made")] = None,
    active: Annotated[
        bool | None, QueryParameter(description="true: in force now; false: revoked or expired")
    ] = None,
    updated_since: Annotated[
        datetime | None, QueryParameter(description="Changed at or after this time (sync for third parties)")
    ] = None,
) -> EntryFilters:
    normalised = (
        await validation.lookup_address(principal.workspace_id, channel, address)
        if address is not None
        else None
    )
    return EntryFilters(
        channel=channel,
        address=normalised,
        category_id=category_id,
        sender_id=sender_id,
        scope=scope_filter,
        source=source,
        active=active,
        updated_since=updated_since,
    )


@dataclass
class OptOutImportForm:
    """``multipart/form-data`` of ``POST /optouts/import``."""

    file: UploadFile
    """CSV with columns channel, address and optionally category, sender, valid_days or valid_until, remarks."""
    on_error: Literal["skip", "reject"] = "skip"
    """skip: import the good rows and report the bad ones; reject: any bad row rejects the whole file."""
    sender_mapping: str = ""
    """JSON object: ``sender`` cell → sender id or "workspace", e.g. ``{"Shop": 12, "all": "workspace"}``."""


def _entry(row: dict, now: datetime) -> OptOutOut:
    return msgspec.convert(queries.entry_out(row, now), OptOutOut)


class OptOutController(Controller):
    path = "/optouts"
    tags = ["opt-outs"]
    guards = [allow(read=Role.viewer, write=Role.marketer)]

    @get(
        "/",
        summary="The unsubscription list, oldest first",
        dependencies={"filters": Provide(provide_entry_filters)},
    )
    async def list_optouts(
        self,
        principal: Caller,
        filters: NamedDependency[EntryFilters],
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[OptOutOut]:
        now = validation.now_utc()
        query = filters.apply(queries.entries_query(principal.workspace_id), now)
        rows, next_cursor = await fetch_page(query, OptOutEntry.id, cursor, limit)
        return Page(items=[_entry(row, now) for row in rows], next_cursor=next_cursor)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Add an address to the unsubscription list (201), or extend its active entry (200)",
        description="Source `manual` from the UI, `api` from an API key. Durations add up (seed 000).",
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=OptOutOut, description="An active entry for the address was extended"
            )
        },
    )
    async def create_optout(
        self, principal: Caller, data: JSONBody[OptOutCreate], state: State
    ) -> Response[OptOutOut]:
        result = await service.create_opt_out(
            principal,
            channel=data.channel,
            address=data.address,
            category_id=data.category_id,
            sender_id=data.sender_id,
            valid_days=data.valid_days,
            valid_until=data.valid_until,
            remarks=data.remarks,
            queue=state.queue,
        )
        row = await queries.get_entry(principal.workspace_id, result.entry["id"])
        return Response(
            _entry(row, validation.now_utc()), status_code=HTTP_201_CREATED if result.created else HTTP_200_OK
        )

    @get(
        "/check",
        summary="Would a marketing message to this address be blocked now?",
        description="Answers with the gate every send path uses, for a marketing message, and the address "
        "as an opt-out would store it (a bad address is a 400 naming `address`: forms check with it as "
        "people type).",
    )
    async def check(
        self,
        principal: Caller,
        channel: Annotated[Channel, QueryParameter(description="Media type")],
        address: Annotated[str, QueryParameter(description="Phone or email")],
        category_id: Annotated[int | None, QueryParameter(description="The message's category")] = None,
        sender_id: Annotated[int | None, QueryParameter(description="The sending sender")] = None,
    ) -> CheckOut:
        await validation.category_of(principal.workspace_id, category_id, source="query")
        await validation.sender_of(principal.workspace_id, sender_id, channel, source="query")
        # Normalised here, so a bad address names the query parameter and the answer can say how it reads.
        normalised = await validation.lookup_address(principal.workspace_id, channel, address)
        now = validation.now_utc()
        decision = await may_send(
            principal.workspace_id,
            channel=channel,
            address=normalised,
            kind="marketing",
            sender_id=sender_id,
            category_id=category_id,
            now=now,
        )
        rows = await queries.entries_by_id(
            principal.workspace_id, [entry["id"] for entry in decision.entries]
        )
        return CheckOut(
            opted_out=not decision.allowed, address=normalised, entries=[_entry(row, now) for row in rows]
        )

    @get(
        "/export",
        summary="The unsubscription list as CSV (same filters as the list)",
        dependencies={"filters": Provide(provide_entry_filters)},
        media_type="text/csv",
    )
    async def export(self, principal: Caller, filters: NamedDependency[EntryFilters]) -> Stream:
        now = validation.now_utc()
        workspace_id = principal.workspace_id
        return Stream(
            stream_csv(lambda: filters.apply(queries.entries_query(workspace_id), now), now),
            media_type="text/csv",  # Litestar adds "; charset=utf-8"
            headers={"Content-Disposition": 'attachment; filename="optouts.csv"'},
        )

    @post(
        "/import",
        status_code=HTTP_202_ACCEPTED,
        summary="Import opt-outs from a CSV file (a background job; follow it at /api/v1/imports/{id})",
        description="Columns: channel, address, category (name or id), sender (address or name; or "
        "`sender_mapping`), valid_days or valid_until, remarks. Imported entries have source `import`.",
        **UPLOAD_ROUTE_OPTIONS,
    )
    async def import_optouts(
        self,
        principal: Caller,
        data: Annotated[OptOutImportForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        state: State,
    ) -> ImportOut:
        mapping = parse_sender_mapping(data.sender_mapping)
        await check_sender_mapping(principal.workspace_id, mapping)
        stored_mapping = {key: WORKSPACE if target is None else target for key, target in mapping.items()}
        row = await store_upload(
            principal,
            IMPORT_KIND,
            data.file,
            options={"sender_mapping": stored_mapping},
            on_error=data.on_error,
            queue=state.queue,
        )
        (out,) = await imports.with_phases([row])
        return msgspec.convert(out, ImportOut)

    @get("/{entry_id:int}", summary="One opt-out entry")
    async def get_optout(self, principal: Caller, entry_id: FromPath[int]) -> OptOutOut:
        return _entry(await queries.get_entry(principal.workspace_id, entry_id), validation.now_utc())

    @delete(
        "/{entry_id:int}",
        status_code=HTTP_200_OK,
        summary="Opt the address back in: revoke this entry, recording who and why",
        description="Reversing a person's own opt-out (keyword, web form, link) needs the admin role and a reason.",
    )
    async def revoke_optout(
        self,
        principal: Caller,
        entry_id: FromPath[int],
        state: State,
        reason: Annotated[str, QueryParameter(description="Why (kept in the history)", max_length=1000)] = "",
    ) -> OptOutOut:
        await service.revoke_entry(principal, entry_id, reason, state.queue)
        return _entry(await queries.get_entry(principal.workspace_id, entry_id), validation.now_utc())


class ConsentEventController(Controller):
    path = "/consent-events"
    tags = ["opt-outs"]
    guards = [allow(read=Role.viewer, write=Role.admin)]

    @get("/", summary="Consent history (opt-outs, extensions, opt-ins), oldest first; kept after contacts go")
    async def list_events(
        self,
        principal: Caller,
        channel: ChannelParam = None,
        address: AddressParam = None,
        since: Annotated[datetime | None, QueryParameter(description="Events at or after this time")] = None,
        kind: Annotated[EventKind | None, QueryParameter(description="opt_out, extended or opt_in")] = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[ConsentEventOut]:
        normalised = await _address(principal, channel, address)
        query = queries.events_query(
            principal.workspace_id, channel=channel, address=normalised, since=since, kind=kind
        )
        rows, next_cursor = await fetch_page(query, ConsentEvent.id, cursor, limit)
        return Page(
            items=[msgspec.convert(row, ConsentEventOut, strict=False) for row in rows],
            next_cursor=next_cursor,
        )


async def _address(principal: Principal, channel: str | None, address: str | None) -> str | None:
    if address is None:
        return None
    return await validation.lookup_address(principal.workspace_id, channel, address)


CONTROLLERS: list = [OptOutController, ConsentEventController]
