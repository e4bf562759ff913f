"""The import-kind interface other domains plug into (the consent engineer's ``optouts`` kind uses it):
header normalisation and checks, batches with row numbers, per-row errors from validate and apply,
after-commit callbacks, and the upload helper."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.datastructures import UploadFile

from backend.audience import fields
from backend.audience.tables import Contact
from backend.core.errors import InvalidInput
from backend.imports import kinds, runner
from backend.imports.kinds import Applied, ImportKind, RowError, snake_case
from backend.imports.uploads import store_upload
from backend.workspaces.auth import Principal
from backend.workspaces.roles import CredentialKind, Role
from tests.backend.imports.helpers import csv_bytes


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Phone", "phone"),
        (" First Name ", "first_name"),
        ("firstName", "first_name"),
        ("FIRST-NAME", "first_name"),
        ("Prénom", "prenom"),
        ("2fa", "_2fa"),
        ("Valid Days (max)", "valid_days_max"),
        ("e.mail", "e_mail"),
        ("***", ""),
    ],
)
def test_header_names_become_snake_case(raw, name):
    assert snake_case(raw) == name


class TagByEmail(ImportKind):
    """Adds a tag to existing contacts by email: a small kind written only against the interface."""

    name = "tag_by_email"
    required_columns = frozenset({"email", "tag"})
    known_columns = frozenset({"email", "tag"})
    batch_size = 2

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.committed: list[list[int]] = []

    async def prepare(self, job) -> None:
        job.state["prepared"] = True

    async def validate(self, job, rows):
        assert job.state["prepared"] and job.columns == ["email", "tag"]
        records, errors = [], []
        for row in rows:
            try:
                records.append(
                    (row.number, fields.email(row.values["email"]) or "", row.values["tag"].strip())
                )
            except InvalidInput as error:
                errors.append(RowError(row.number, "email", error.problems[0].message))
        return records, errors

    async def apply(self, job, records: list[Any]) -> Applied:
        applied = Applied()
        self.batches.append([number for number, _, _ in records])
        for number, email, tag in records:
            contact = (
                await Contact.select(Contact.id, Contact.tags)
                .where((Contact.workspace == job.workspace_id) & (Contact.email == email))
                .output(load_json=True)
                .first()
            )
            if contact is None:
                applied.errors.append(RowError(number, "email", f"no contact has {email}"))
                continue
            await Contact.update({Contact.tags: [*contact["tags"], tag]}).where(Contact.id == contact["id"])
            applied.updated += 1
        numbers = [number for number, _, _ in records]

        async def committed() -> None:
            self.committed.append(numbers)

        applied.after_commit.append(committed)
        return applied


@pytest.fixture
def tag_kind(monkeypatch):
    kind = TagByEmail()
    monkeypatch.setitem(kinds._REGISTRY, kind.name, kind)
    return kind


async def _store(tenant, data: bytes, **options):
    from backend.workspaces.tables import Credential

    key = await Credential.select(Credential.id).where(Credential.workspace == tenant.id).first()
    principal = Principal(tenant.id, key["id"], CredentialKind.api_key, Role.marketer, None, "test")
    upload = UploadFile(content_type="text/csv", filename="tags.csv", file_data=data)
    return await store_upload(principal, TagByEmail.name, upload, **options)


async def test_a_kind_gets_batches_with_row_numbers_and_reports_row_errors(client, tenant, tag_kind):
    for email in ("a@example.com", "b@example.com"):
        await client.post("/api/v1/contacts", json={"email": email}, headers=tenant.headers())
    rows = [
        ["EMAIL", " Tag "],
        ["A@example.com", "vip"],  # 1
        ["nobody@example.com", "vip"],  # 2: refused by apply
        ["", ""],  # 3: blank
        ["b@example.com", "new"],  # 4
        ["broken", "x"],  # 5: refused by validate
    ]
    stored = await _store(tenant, csv_bytes(rows))
    assert stored["status"] == "queued" and stored["options"] == {"on_error": "skip"}

    assert await runner.run_import(stored["id"]) == "completed"
    done = (await client.get(f"/api/v1/imports/{stored['id']}", headers=tenant.headers())).json()
    assert (done["updated"], done["skipped"], done["error_count"]) == (2, 3, 2)
    assert [(error["row"], error["column"]) for error in done["errors"]] == [(2, "email"), (5, "email")]
    assert tag_kind.batches == [[1, 2], [4]]
    assert tag_kind.committed == tag_kind.batches
    tags = {
        row["email"]: row["tags"]
        for row in await Contact.select(Contact.email, Contact.tags).output(load_json=True)
    }
    assert tags == {"a@example.com": ["vip"], "b@example.com": ["new"]}


async def test_reject_mode_calls_back_only_after_the_whole_file_committed(client, tenant, tag_kind):
    await client.post("/api/v1/contacts", json={"email": "a@example.com"}, headers=tenant.headers())
    good = await _store(
        tenant,
        csv_bytes([["email", "tag"], ["a@example.com", "x"], ["a@example.com", "y"]]),
        on_error="reject",
    )
    assert await runner.run_import(good["id"]) == "completed"
    assert tag_kind.committed == [[1, 2]]

    tag_kind.committed.clear()
    bad = await _store(
        tenant,
        csv_bytes(
            [["email", "tag"], ["a@example.com", "z"], ["a@example.com", "z"], ["ghost@example.com", "z"]]
        ),
        on_error="reject",
    )
    assert await runner.run_import(bad["id"]) == "failed"
    assert tag_kind.committed == []  # the batch that was applied was rolled back: no callback
    contact = (
        await Contact.select(Contact.tags)
        .where(Contact.email == "a@example.com")
        .output(load_json=True)
        .first()
    )
    assert contact["tags"] == ["x", "y"]


@pytest.mark.parametrize(
    ("header", "failure"),
    [
        (["email"], "missing required column(s): tag"),
        (["email", "tag", "colour"], "unknown column(s): colour"),
    ],
)
async def test_the_default_header_check_uses_required_and_known_columns(
    client, tenant, tag_kind, header, failure
):
    stored = await _store(tenant, csv_bytes([header, ["a@example.com"] + [""] * (len(header) - 1)]))
    assert await runner.run_import(stored["id"]) == "failed"
    done = (await client.get(f"/api/v1/imports/{stored['id']}", headers=tenant.headers())).json()
    assert failure in done["failure"] and tag_kind.batches == []


async def test_an_import_of_a_kind_no_worker_knows_fails_clearly(client, tenant, tag_kind, monkeypatch):
    stored = await _store(tenant, csv_bytes([["email", "tag"], ["a@example.com", "x"]]))
    monkeypatch.delitem(kinds._REGISTRY, TagByEmail.name)
    assert await runner.run_import(stored["id"]) == "failed"
    done = (await client.get(f"/api/v1/imports/{stored['id']}", headers=tenant.headers())).json()
    assert "no handler for imports of kind 'tag_by_email'" in done["failure"]
