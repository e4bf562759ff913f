"""Marketing categories (seed 000): a name and how many days an opt-out from a reply to a campaign of
that category lasts. Schemas, service and the ``CategoryController`` of ``/api/v1/marketing-categories``.

Deleting a category never loosens consent: ``opt_out_entries.category`` cascades, so an active
opt-out from "Promotions" would vanish with the category. Such entries first become "all marketing"
opt-outs (category NULL) in the same transaction, which block at least everything they blocked before.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import UNSET, Meta, UnsetType
from piccolo.query.mixins import WhereRaw

from backend.audit import service as audit
from backend.consent.tables import MarketingCategory, OptOutEntry
from backend.core.database import contains_text, is_unique_violation, locked, transaction
from backend.core.errors import Conflict, FieldProblem, InvalidInput, NotFound
from backend.core.pagination import CursorParam, LimitParam, Page, fetch_page
from backend.core.schemas import Input, Output
from backend.workspaces.auth import Caller, Principal, allow
from backend.workspaces.roles import Role
from backend.workspaces.tables import Workspace

# --- schemas ----------------------------------------------------------------------------------------

CategoryName = Annotated[str, Meta(min_length=1, max_length=100)]
Description = Annotated[str, Meta(max_length=500)]
UnsubscribeDays = Annotated[
    int,
    Meta(ge=1, le=3650, description="How long an opt-out from a reply to a campaign of this category lasts."),
]


class CategoryCreate(Input):
    name: CategoryName
    description: Description = ""
    unsubscribe_days: UnsubscribeDays | None = None
    """Left out: the workspace's ``marketing_unsubscription_days`` at creation time."""


class CategoryPatch(Input):
    """Fields left out keep their value. A new ``unsubscribe_days`` applies to opt-outs made after it."""

    name: CategoryName | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    unsubscribe_days: UnsubscribeDays | UnsetType = UNSET


class CategoryOut(Output):
    id: int
    name: str
    description: str
    unsubscribe_days: int
    created_at: datetime


# --- service ----------------------------------------------------------------------------------------


def categories_query(workspace_id: int):
    return MarketingCategory.select().where(MarketingCategory.workspace == workspace_id)


async def load_category(workspace_id: int, category_id: int) -> dict[str, Any] | None:
    """The category row, or None when it is not this workspace's (for the consent services)."""
    return await categories_query(workspace_id).where(MarketingCategory.id == category_id).first()


async def get_category(principal: Principal, category_id: int) -> dict[str, Any]:
    row = await load_category(principal.workspace_id, category_id)
    if row is None:
        raise NotFound("marketing category", category_id)
    return row


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("name", "must not be blank")
    return name


def _name_taken(name: str) -> Conflict:
    message = f"a marketing category named {name!r} already exists in this workspace"
    return Conflict(f"name: {message}", [FieldProblem("name", message, "body")])


async def _ensure_name_free(workspace_id: int, name: str, except_id: int | None = None) -> None:
    """Names are unique ignoring case: "Promotions" and "promotions" would confuse every picker."""
    query = MarketingCategory.exists().where(
        (MarketingCategory.workspace == workspace_id) & WhereRaw("lower(name) = lower({})", name)
    )
    if except_id is not None:
        query = query.where(MarketingCategory.id != except_id)
    if await query:
        raise _name_taken(name)


async def _default_days(workspace_id: int) -> int:
    row = (
        await Workspace.select(Workspace.marketing_unsubscription_days)
        .where(Workspace.id == workspace_id)
        .first()
    )
    return row["marketing_unsubscription_days"]


async def create_category(principal: Principal, data: CategoryCreate) -> dict[str, Any]:
    name = _clean_name(data.name)
    async with transaction():
        days = data.unsubscribe_days or await _default_days(principal.workspace_id)
        await _ensure_name_free(principal.workspace_id, name)
        try:
            row = (
                await MarketingCategory.insert(
                    MarketingCategory(
                        workspace=principal.workspace_id,
                        name=name,
                        description=data.description.strip(),
                        unsubscribe_days=days,
                    )
                ).returning(MarketingCategory.id)
            )[0]
        except Exception as exc:
            if is_unique_violation(exc):
                raise _name_taken(name) from None
            raise
        await audit.record(
            principal,
            "marketing_category.created",
            target_type="marketing_category",
            target_id=row["id"],
            data={"name": name, "unsubscribe_days": days},
        )
    return await get_category(principal, row["id"])


async def update_category(principal: Principal, category_id: int, data: CategoryPatch) -> dict[str, Any]:
    async with transaction():
        row = await locked(
            categories_query(principal.workspace_id).where(MarketingCategory.id == category_id)
        ).first()
        if row is None:
            raise NotFound("marketing category", category_id)
        wanted: dict[str, Any] = {}
        if data.name is not UNSET:
            wanted["name"] = _clean_name(data.name)
        if data.description is not UNSET:
            wanted["description"] = data.description.strip()
        if data.unsubscribe_days is not UNSET:
            wanted["unsubscribe_days"] = data.unsubscribe_days
        changes = {key: value for key, value in wanted.items() if value != row[key]}
        if not changes:
            return row
        if "name" in changes:
            await _ensure_name_free(principal.workspace_id, changes["name"], except_id=category_id)
        try:
            await MarketingCategory.update(
                {MarketingCategory._meta.get_column_by_name(key): value for key, value in changes.items()}
            ).where(MarketingCategory.id == category_id)
        except Exception as exc:
            if is_unique_violation(exc):
                raise _name_taken(changes["name"]) from None
            raise
        await audit.record(
            principal,
            "marketing_category.updated",
            target_type="marketing_category",
            target_id=category_id,
            data={"changes": {key: {"from": row[key], "to": value} for key, value in changes.items()}},
        )
    return await get_category(principal, category_id)


async def broaden_opt_outs(workspace_id: int, category_id: int, now: datetime) -> int:
    """Turn the category's active opt-outs into all-marketing ones (inside the caller's transaction).

    Inactive entries (revoked or expired) block nothing and go with the category; their history stays
    in the consent events. ``updated_at`` moves so ``updated_since`` syncs see the change.
    """
    active = (
        (OptOutEntry.workspace == workspace_id)
        & (OptOutEntry.category == category_id)
        & OptOutEntry.revoked_at.is_null()
        & (OptOutEntry.valid_until.is_null() | (OptOutEntry.valid_until > now))
    )
    broadened = (
        await OptOutEntry.update({OptOutEntry.category: None, OptOutEntry.updated_at: now})
        .where(active)
        .returning(OptOutEntry.id)
    )
    return len(broadened)


async def delete_category(principal: Principal, category_id: int) -> int:
    """Delete a category after broadening its active opt-outs; returns how many were broadened."""
    async with transaction():
        row = await locked(
            categories_query(principal.workspace_id).where(MarketingCategory.id == category_id)
        ).first()
        if row is None:
            raise NotFound("marketing category", category_id)
        broadened = await broaden_opt_outs(principal.workspace_id, category_id, datetime.now(UTC))
        await MarketingCategory.delete().where(MarketingCategory.id == category_id)
        await audit.record(
            principal,
            "marketing_category.deleted",
            target_type="marketing_category",
            target_id=category_id,
            data={"name": row["name"], "opt_outs_made_all_marketing": broadened},
        )
    return broadened


# --- HTTP -------------------------------------------------------------------------------------------


def _category(row: dict[str, Any]) -> CategoryOut:
    return msgspec.convert(row, CategoryOut, strict=False)


class CategoryController(Controller):
    path = "/marketing-categories"
    tags = ["marketing categories"]
    guards = [allow(read=Role.viewer, write=Role.admin)]

    @get("/", summary="List marketing categories, oldest first")
    async def list_categories(
        self,
        principal: Caller,
        name: Annotated[
            str | None, QueryParameter(description="Categories whose name contains this text")
        ] = None,
        cursor: CursorParam = None,
        limit: LimitParam = 50,
    ) -> Page[CategoryOut]:
        query = categories_query(principal.workspace_id)
        if name:
            query = query.where(contains_text(MarketingCategory.name, name))
        rows, next_cursor = await fetch_page(query, MarketingCategory.id, cursor, limit)
        return Page(items=[_category(row) for row in rows], next_cursor=next_cursor)

    @post("/", status_code=HTTP_201_CREATED, summary="Add a marketing category")
    async def post_category(self, principal: Caller, data: JSONBody[CategoryCreate]) -> CategoryOut:
        return _category(await create_category(principal, data))

    @get("/{category_id:int}", summary="One marketing category")
    async def read_category(self, principal: Caller, category_id: FromPath[int]) -> CategoryOut:
        return _category(await get_category(principal, category_id))

    @patch("/{category_id:int}", summary="Change a category; fields left out keep their value")
    async def patch_category(
        self, principal: Caller, category_id: FromPath[int], data: JSONBody[CategoryPatch]
    ) -> CategoryOut:
        return _category(await update_category(principal, category_id, data))

    @delete(
        "/{category_id:int}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a category; its active opt-outs become all-marketing opt-outs, never lost",
    )
    async def remove_category(self, principal: Caller, category_id: FromPath[int]) -> None:
        await delete_category(principal, category_id)
