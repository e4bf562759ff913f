"""The ``contacts`` import kind: one contact per CSV row, de-duplicated by phone and email.

Columns: ``phone``, ``email``, ``name``, ``timezone``, ``tags`` (``;``-separated); every other column
is an attribute under its snake_case name. Header names are matched loosely (``E-Mail`` is ``email``,
``Mobile`` is ``phone``, see :data:`ALIASES`). The header needs a ``phone`` or an ``email`` column.
The upload's option ``columns`` (a column mapping, :func:`parse_column_mapping`) says what a header cell
means when its name does not: ``{"Tel. 2": "phone", "Club": "club", "Notes": null}``; row errors then
name the column by its meaning (``phone``).

A row whose phone or email belongs to a contact updates that contact; rows of the file that share an
address merge, the later row winning. Blank cells leave the contact's value alone; tags are added to
the contact's tags. Counts: ``created`` is contacts created, ``updated`` every other row applied (a
row that matched an existing contact, or one created earlier in the file). With the option
``group_id`` every contact of an applied row also becomes a member of that group.

Per batch: two indexed SELECTs for the contacts holding any address of the batch, one multi-row
INSERT for the new ones and one UPDATE … FROM (VALUES …) for those that actually changed
(:mod:`backend.audience.bulk`), one INSERT … ON CONFLICT DO NOTHING for the memberships. Running a batch again writes nothing new (the same rows now match their contacts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backend.audience import bulk, fields
from backend.audience.service import phone_region
from backend.audience.tables import Contact, Group, GroupMember
from backend.core.errors import InvalidInput
from backend.imports.kinds import (
    Applied,
    HeaderProblem,
    ImportJob,
    ImportKind,
    Row,
    RowError,
    register_kind,
    snake_case,
)

IGNORED = "-ignored-"
"""Prefix of the name given to a column the mapping leaves out: no attribute key or header name can
start with ``-``, so it never meets a real column."""
MAX_MAPPED_COLUMNS = 500

STANDARD_COLUMNS = frozenset({"phone", "email", "name", "timezone", "tags"})
ALIASES = {
    "e_mail": "email",
    "email_address": "email",
    "phone_number": "phone",
    "mobile": "phone",
    "mobile_phone": "phone",
    "msisdn": "phone",
    "full_name": "name",
    "time_zone": "timezone",
    "tag": "tags",
}
"""Common spellings of the standard columns in exported spreadsheets (after snake_case)."""
CONSENT_LIKE = frozenset(
    {
        "consent",
        "marketing_consent",
        "gdpr_consent",
        "opt_in",
        "optin",
        "opted_in",
        "marketing_opt_in",
        "accepts_marketing",
        "subscribed",
        "opt_out",
        "optout",
        "opted_out",
        "unsubscribed",
        "do_not_contact",
    }
)
"""Columns that look like a consent flag. A contacts import keeps no consent (the consent gate reads the
opt-out list, fed by the opt-out import): stored silently as an attribute, a "no" would still be
messaged. Such a column stops the import unless the column mapping names it on purpose."""


def parse_column_mapping(text: str) -> dict[str, str | None]:
    """The ``columns`` form field as ``{snake_case header cell: meaning or None}``; 400 naming ``columns``.

    A meaning is a standard column or an attribute key (taken as it is: ``"mobile"`` maps to an
    attribute called ``mobile``, not to the phone); None leaves the column out. Two cells may not
    mean the same thing.
    """
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput("columns", 'is not JSON; expected an object such as {"Mobile": "phone"}') from None
    if not isinstance(value, dict):
        raise InvalidInput("columns", 'must be a JSON object such as {"Mobile": "phone", "Notes": null}')
    if len(value) > MAX_MAPPED_COLUMNS:
        raise InvalidInput("columns", f"names {len(value)} columns; at most {MAX_MAPPED_COLUMNS}")
    mapping: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for raw, target in value.items():
        key = snake_case(raw)
        if not key:
            raise InvalidInput("columns", f"{raw!r} is not a column name")
        if key in mapping:
            raise InvalidInput("columns", f"{sources[key]!r} and {raw!r} are the same column")
        if target is not None:
            if not isinstance(target, str) or not target.strip():
                raise InvalidInput(
                    "columns",
                    f"{raw!r} must map to a column name or an attribute key, or null to leave it out",
                )
            target = target.strip()
            if target not in STANDARD_COLUMNS:
                fields.attribute_key(target, field="columns")
            taken = next((sources[k] for k, v in mapping.items() if v == target), None)
            if taken is not None:
                raise InvalidInput("columns", f"{taken!r} and {raw!r} both map to {target!r}")
        mapping[key] = target
        sources[key] = raw
    return mapping


def ignored(column: str) -> bool:
    return column.startswith(IGNORED)


@dataclass(slots=True)
class ContactRecord:
    """A valid row, normalised: None and empty mean "leave the contact's value alone"."""

    row: int
    phone: str | None
    email: str | None
    name: str
    timezone: str | None
    tags: list[str]
    attributes: dict[str, str]


@dataclass(slots=True)
class _Target:
    """A contact this batch writes: an existing one (``id`` set) or a new one."""

    id: int | None
    phone: str | None
    email: str | None
    name: str
    timezone: str | None
    tags: list[str]
    attributes: dict[str, Any]
    first_row: int
    original: tuple | None = None
    rows: list[int] = field(default_factory=list)

    def snapshot(self) -> tuple:
        return (self.phone, self.email, self.name, self.timezone, list(self.tags), dict(self.attributes))

    def values(self) -> dict[str, Any]:
        return {
            "phone": self.phone,
            "email": self.email,
            "name": self.name,
            "timezone": self.timezone,
            "tags": self.tags,
            "attributes": self.attributes,
        }

    def label(self) -> str:
        return f"contact {self.id}" if self.id is not None else f"the contact of row {self.first_row}"


class ContactsImport(ImportKind):
    name = "contacts"

    def column_name(self, raw: str) -> str:
        name = snake_case(raw)
        return ALIASES.get(name, name)

    def header_names(self, header: Sequence[str], options: Mapping[str, Any]) -> list[str]:
        """Each cell's meaning: the mapping's when it names the cell, else the automatic one."""
        mapping: dict[str, str | None] = options.get("columns") or {}
        keys = [snake_case(cell) for cell in header]
        missing = [key for key in mapping if key not in keys]
        if missing:
            raise HeaderProblem(
                f"the column mapping names {', '.join(repr(key) for key in missing)}, which the file's "
                "header does not have"
            )
        names = []
        for position, (cell, key) in enumerate(zip(header, keys, strict=True), start=1):
            if key in mapping:
                target = mapping[key]
                names.append(f"{IGNORED}{position}" if target is None else target)
            else:
                names.append(self.column_name(cell))
        return names

    def header_problems(self, columns: Sequence[str], options: Any) -> list[str]:
        problems = []
        if "phone" not in columns and "email" not in columns:
            problems.append("the file needs a phone or an email column")
        mapped = set((options.get("columns") or {}).values()) if isinstance(options, Mapping) else set()
        for column in columns:
            if column in CONSENT_LIKE and column not in mapped:
                problems.append(
                    f"column {column!r} looks like marketing consent, which a contacts import does not record "
                    "(it would be an attribute the consent gate never reads, and a 'no' would still be "
                    "messaged): import who does not consent with the opt-out import (Opt-outs, Import), "
                    "or name the column in the column mapping to keep it as an attribute or leave it out"
                )
                continue
            if column in STANDARD_COLUMNS or ignored(column):
                continue
            try:
                fields.attribute_key(column)
            except InvalidInput as error:
                problems.append(f"column {column!r} cannot be an attribute: {error.problems[0].message}")
        return problems

    async def prepare(self, job: ImportJob) -> None:
        job.state["region"] = await phone_region(job.workspace_id)
        await bulk.keep_statistics(job.state, 0, force=True)
        group_id = job.options.get("group_id")
        if group_id is not None:
            exists = await Group.exists().where(
                (Group.id == group_id) & (Group.workspace == job.workspace_id)
            )
            if not exists:
                raise HeaderProblem(f"group_id: group {group_id} no longer exists in this workspace")

    async def validate(self, job: ImportJob, rows: Sequence[Row]) -> tuple[list[Any], list[RowError]]:
        attribute_columns = [
            column for column in job.columns if column not in STANDARD_COLUMNS and not ignored(column)
        ]
        records: list[ContactRecord] = []
        errors: list[RowError] = []
        for row in rows:
            record = _record(row, job.state["region"], attribute_columns, job.columns)
            if isinstance(record, ContactRecord):
                records.append(record)
            else:
                errors.extend(record)
        return records, errors

    async def apply(self, job: ImportJob, records: list[Any]) -> Applied:
        applied = Applied()
        targets = await _existing_targets(job.workspace_id, records)
        by_phone = {target.phone: target for target in targets if target.phone}
        by_email = {target.email: target for target in targets if target.email}
        touched: list[_Target] = []
        for record in records:
            target = _match(record, by_phone, by_email, applied)
            if target is None:
                continue
            if target.id is None and not target.rows:
                applied.created += 1
            else:
                applied.updated += 1
            _merge(target, record, by_phone, by_email)
            if not target.rows:
                touched.append(target)
            target.rows.append(record.row)
        now = datetime.now(UTC)
        changed = [
            target for target in touched if target.id is not None and target.original != target.snapshot()
        ]
        new = [target for target in touched if target.id is None]
        if new:
            inserted = await bulk.insert_contacts(job.workspace_id, [target.values() for target in new], now)
            # Map ids back by address: multi-row INSERT … RETURNING does not promise row order.
            ids = {("phone", row["phone"]): row["id"] for row in inserted if row["phone"]}
            ids.update({("email", row["email"]): row["id"] for row in inserted if row["email"]})
            for target in new:
                target.id = ids[("phone", target.phone)] if target.phone else ids[("email", target.email)]
        if changed:
            await bulk.update_contacts([{"id": target.id, **target.values()} for target in changed], now)
        await bulk.keep_statistics(job.state, len(new))
        group_id = job.options.get("group_id")
        if group_id is not None and touched:
            await _add_to_group(job.workspace_id, group_id, [target.id for target in touched])
        return applied


def _record(
    row: Row, region: str, attribute_columns: list[str], columns: list[str]
) -> ContactRecord | list[RowError]:
    """The row as a contact, or every problem it has (each naming its column)."""
    errors: list[RowError] = []

    def check(column: str, clean, *args: Any):
        try:
            return clean(row.values.get(column, ""), *args, field=column)
        except InvalidInput as error:
            errors.append(RowError(row.number, column, error.problems[0].message))
            return None

    phone = check("phone", fields.phone, region)
    email = check("email", fields.email)
    name = check("name", fields.name) or ""
    timezone = check("timezone", fields.timezone)
    tags = check("tags", lambda raw, field: fields.tags(raw.split(";"), field)) or []
    attributes = {
        column: row.values[column].strip() for column in attribute_columns if row.values[column].strip()
    }
    for column, value in attributes.items():
        if len(value.encode()) > fields.MAX_ATTRIBUTE_BYTES:
            errors.append(RowError(row.number, column, f"is longer than {fields.MAX_ATTRIBUTE_BYTES} bytes"))
    if not errors and phone is None and email is None:
        column = "phone" if "phone" in columns else "email"
        errors.append(RowError(row.number, column, "a contact needs a phone or an email; both are empty"))
    if errors:
        return errors
    return ContactRecord(row.number, phone, email, name, timezone, tags, attributes)


async def _existing_targets(workspace_id: int, records: list[ContactRecord]) -> list[_Target]:
    """The workspace's contacts holding any phone or email of the batch, each once. Two queries, one
    per unique index: ``phone IN (…) OR email IN (…)`` would scan the workspace's contacts."""
    phones = sorted({record.phone for record in records if record.phone})
    emails = sorted({record.email for record in records if record.email})
    found: dict[int, dict[str, Any]] = {}
    for column, values in ((Contact.phone, phones), (Contact.email, emails)):
        if not values:
            continue
        rows = (
            await Contact.select(
                Contact.id,
                Contact.phone,
                Contact.email,
                Contact.name,
                Contact.timezone,
                Contact.tags,
                Contact.attributes,
            )
            .where((Contact.workspace == workspace_id) & column.is_in(values))
            .output(load_json=True)
        )
        found.update((row["id"], row) for row in rows)
    rows = list(found.values())
    targets = []
    for row in rows:
        target = _Target(
            id=row["id"],
            phone=row["phone"],
            email=row["email"],
            name=row["name"],
            timezone=row["timezone"],
            tags=list(row["tags"] or []),
            attributes=dict(row["attributes"] or {}),
            first_row=0,
        )
        target.original = target.snapshot()
        targets.append(target)
    return targets


def _match(
    record: ContactRecord, by_phone: dict[str, _Target], by_email: dict[str, _Target], applied: Applied
) -> _Target | None:
    """The contact the row is about, a new one, or None (refused) when its phone and its email belong
    to two different contacts."""
    via_phone = by_phone.get(record.phone) if record.phone else None
    via_email = by_email.get(record.email) if record.email else None
    if via_phone is not None and via_email is not None and via_phone is not via_email:
        applied.errors.append(
            RowError(
                record.row,
                "email",
                f"{record.email} belongs to {via_email.label()} but {record.phone} to {via_phone.label()}; "
                "a row may update only one contact",
            )
        )
        return None
    found = via_phone or via_email
    if found is not None:
        return found
    return _Target(
        id=None,
        phone=None,
        email=None,
        name="",
        timezone=None,
        tags=[],
        attributes={},
        first_row=record.row,
    )


def _merge(
    target: _Target, record: ContactRecord, by_phone: dict[str, _Target], by_email: dict[str, _Target]
) -> None:
    """The later row wins for every value it has; an address the contact had keeps pointing at it for
    the rest of the batch, so no other contact of the batch can take it (no transient duplicates)."""
    if record.phone:
        target.phone = record.phone
        by_phone[record.phone] = target
    if record.email:
        target.email = record.email
        by_email[record.email] = target
    if record.name:
        target.name = record.name
    if record.timezone:
        target.timezone = record.timezone
    if record.tags:
        target.tags = [*target.tags, *(tag for tag in record.tags if tag not in target.tags)][
            : fields.MAX_TAGS
        ]
    if record.attributes:
        target.attributes = {**target.attributes, **record.attributes}


async def _add_to_group(workspace_id: int, group_id: int, contact_ids: list[int]) -> None:
    await GroupMember.insert(
        *[
            GroupMember(workspace=workspace_id, group=group_id, contact=contact_id)
            for contact_id in contact_ids
        ]
    ).on_conflict(action="DO NOTHING")


CONTACTS = register_kind(ContactsImport())
