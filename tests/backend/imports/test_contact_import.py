"""Contacts CSV imports end to end: the api stores the upload in chunks and enqueues a job, a real arq
worker on a real Redis runs it, and the import reports progress, counts and per-row errors."""

from __future__ import annotations

import pytest

from backend.audience.tables import Contact, GroupMember
from backend.imports.tables import Import, ImportChunk
from tests.backend.imports.helpers import csv_bytes, fetch, import_file, run_worker, upload

HEADER = ["phone", "email", "name", "timezone", "tags"]


def _people(count: int, start: int = 0) -> list[list[str]]:
    return [
        [f"+1415555{number:04d}", f"p{number}@example.com", f"Person {number}", "Europe/Lisbon", "csv;new"]
        for number in range(start, start + count)
    ]


async def _contacts(tenant) -> list[dict]:
    return await (
        Contact.select().where(Contact.workspace == tenant.id).order_by(Contact.id).output(load_json=True)
    )


async def test_the_upload_is_stored_in_pieces_of_at_most_one_mib_and_queued(client, tenant, redis, redis_url):
    rows = [[*HEADER, "notes"]] + [[*row, "x" * 700] for row in _people(3000)]
    data = csv_bytes(rows)
    assert len(data) > 2 * 1024 * 1024

    response = await upload(client, tenant, data)
    assert response.status_code == 202, response.text
    created = response.json()
    assert (
        created["status"] == "queued" and created["kind"] == "contacts" and created["size_bytes"] == len(data)
    )

    chunks = await ImportChunk.select().where(ImportChunk.upload == created["id"]).order_by(ImportChunk.seq)
    assert len(chunks) == 3
    assert all(len(chunk["data"]) <= 1024 * 1024 for chunk in chunks)
    assert b"".join(bytes(chunk["data"]) for chunk in chunks) == data
    assert await redis.zscore("arq:queue", f"import:{created['id']}") is not None

    await run_worker(redis_url)
    done = await fetch(client, tenant, created["id"])
    assert done["status"] == "completed", done
    assert (done["total_rows"], done["processed_rows"], done["created"], done["updated"]) == (
        3000,
        3000,
        3000,
        0,
    )
    assert done["progress"] == 1.0 and done["errors"] == []
    contacts = await _contacts(tenant)
    assert len(contacts) == 3000
    assert contacts[0]["attributes"] == {"notes": "x" * 700}
    assert contacts[0]["tags"] == ["csv", "new"] and contacts[0]["timezone"] == "Europe/Lisbon"
    # The stored file is not kept once the import is finished.
    assert await ImportChunk.count().where(ImportChunk.upload == created["id"]) == 0


async def test_uploads_beyond_litestars_default_body_limit_are_accepted(client, tenant):
    rows = [["email", "notes"]] + [[f"n{number}@example.com", "y" * 3000] for number in range(4000)]
    data = csv_bytes(rows)
    assert len(data) > 12_000_000  # Litestar refuses bodies over 10 MB unless the route allows more
    response = await upload(client, tenant, data)
    assert response.status_code == 202, response.text[:300]
    assert await ImportChunk.count().where(ImportChunk.upload == response.json()["id"]) == 12


async def test_bad_rows_are_reported_by_row_and_column_and_skipped(client, tenant, redis_url):
    rows = [
        ["Phone", "Email", "Name", "Time Zone", "Tags", "Plan"],
        ["+14155550001", "", "Good One", "", "", "gold"],  # 1
        ["12", "", "Bad Phone", "", "", ""],  # 2
        ["", "not-an-email", "Bad Email", "", "", ""],  # 3
        ["+14155550004", "", "", "Mars/Base", "", ""],  # 4
        ["", "", "No Address", "", "", "silver"],  # 5
        ["", "", "", "", "", ""],  # 6: blank, skipped silently
        ["+14155550007", "", "Extra", "", "", "", "surprise"],  # 7
        ["+14155550008", "good@example.com", "Good Two", "", "a;b", ""],  # 8
        ["oops", "bad@", "Two Problems", "", "", ""],  # 9
    ]
    done = await import_file(client, tenant, redis_url, csv_bytes(rows))
    assert done["status"] == "completed", done
    assert done["total_rows"] == 9 and done["processed_rows"] == 9
    assert (done["created"], done["updated"], done["skipped"]) == (2, 0, 7)
    assert done["error_count"] == 7
    located = [(error["row"], error["column"]) for error in done["errors"]]
    assert located == [
        (2, "phone"),
        (3, "email"),
        (4, "timezone"),
        (5, "phone"),
        (7, None),
        (9, "phone"),
        (9, "email"),
    ]
    assert "Mars/Base" in done["errors"][2]["message"]
    assert "header" in done["errors"][4]["message"]

    contacts = await _contacts(tenant)
    assert [contact["name"] for contact in contacts] == ["Good One", "Good Two"]
    assert contacts[0]["attributes"] == {"plan": "gold"} and contacts[1]["tags"] == ["a", "b"]


async def test_reject_mode_leaves_nothing_when_any_row_is_bad(client, tenant, redis_url):
    group = (await client.post("/api/v1/groups", json={"name": "Imported"}, headers=tenant.headers())).json()
    rows = [HEADER, *_people(3000)]
    rows[2999][0] = "+1 555"  # data row 2999
    done = await import_file(
        client, tenant, redis_url, csv_bytes(rows), on_error="reject", group_id=group["id"]
    )
    assert done["status"] == "failed", done
    assert "nothing was imported" in done["failure"]
    assert [(error["row"], error["column"]) for error in done["errors"]] == [(2999, "phone")]
    assert (done["created"], done["updated"], done["skipped"]) == (0, 0, 3000)
    assert await _contacts(tenant) == []
    assert await GroupMember.count().where(GroupMember.group == group["id"]) == 0

    rows[2999][0] = "+14155559999"
    done = await import_file(
        client, tenant, redis_url, csv_bytes(rows), on_error="reject", group_id=group["id"]
    )
    assert done["status"] == "completed", done
    assert done["created"] == 3000 and done["error_count"] == 0
    assert await GroupMember.count().where(GroupMember.group == group["id"]) == 3000


async def test_a_conflict_found_while_applying_rolls_back_a_rejected_file(client, tenant, redis_url):
    for body in ({"phone": "+14155550001", "email": "one@example.com"}, {"phone": "+14155550002"}):
        assert (await client.post("/api/v1/contacts", json=body, headers=tenant.headers())).status_code == 201
    # Row 3's phone is contact 2's, its email contact 1's: it cannot update both.
    rows = [HEADER, *_people(2, start=100), ["+14155550002", "one@example.com", "Clash", "", ""]]

    rejected = await import_file(client, tenant, redis_url, csv_bytes(rows), on_error="reject")
    assert rejected["status"] == "failed"
    assert [(error["row"], error["column"]) for error in rejected["errors"]] == [(3, "email")]
    assert len(await _contacts(tenant)) == 2

    skipped = await import_file(client, tenant, redis_url, csv_bytes(rows))
    assert skipped["status"] == "completed"
    assert (skipped["created"], skipped["skipped"]) == (2, 1)
    assert "contact" in skipped["errors"][0]["message"]
    assert len(await _contacts(tenant)) == 4


async def test_rows_matching_a_contact_update_it_and_duplicates_merge(client, tenant, redis_url):
    await client.patch("/api/v1/settings", json={"default_phone_region": "US"}, headers=tenant.headers())
    existing = (
        await client.post(
            "/api/v1/contacts",
            json={"phone": "+14155550100", "name": "Old", "tags": ["x"], "attributes": {"a": 1}},
            headers=tenant.headers(),
        )
    ).json()
    rows = [
        ["phone", "email", "name", "tags", "city"],
        ["(415) 555-0100", "", "New", "y", "Porto"],  # 1: updates the existing contact by phone
        ["", "dup@example.com", "First", "", ""],  # 2: new
        ["+14155550300", "", "Phone Only", "", ""],  # 3: new
        ["", "other@example.com", "Other", "", ""],  # 4: new
        ["+14155550301", "DUP@example.com", "Later Wins", "t", "Faro"],  # 5: merges into row 2
    ]
    rows += [[f"+1415556{number:04d}", "", f"Filler {number}", "", ""] for number in range(600)]
    rows.append(["", "dup@example.com", "", "", "Braga"])  # 606: the next batch, same contact again

    done = await import_file(client, tenant, redis_url, csv_bytes(rows))
    assert done["status"] == "completed", done
    assert (done["created"], done["updated"], done["skipped"]) == (603, 3, 0)

    contacts = {contact["id"]: contact for contact in await _contacts(tenant)}
    assert len(contacts) == 604
    updated = contacts[existing["id"]]
    assert updated["name"] == "New" and updated["tags"] == ["x", "y"]
    assert updated["attributes"] == {"a": 1, "city": "Porto"}
    (dup,) = [contact for contact in contacts.values() if contact["email"] == "dup@example.com"]
    assert dup["name"] == "Later Wins" and dup["phone"] == "+14155550301"
    assert dup["attributes"] == {"city": "Braga"} and dup["tags"] == ["t"]

    # Importing the same file again creates nothing and leaves every value as it was. (Only the
    # contact that changed between batches of the file is written again, then set back.)
    again = await import_file(client, tenant, redis_url, csv_bytes(rows))
    assert (again["created"], again["updated"]) == (0, 606)
    after = {contact["id"]: contact for contact in await _contacts(tenant)}
    assert {key: {**value, "updated_at": None} for key, value in after.items()} == {
        key: {**value, "updated_at": None} for key, value in contacts.items()
    }
    rewritten = [key for key in after if after[key]["updated_at"] != contacts[key]["updated_at"]]
    assert rewritten == [dup["id"]]


async def test_every_imported_contact_joins_the_group(client, tenant, redis_url):
    group = (await client.post("/api/v1/groups", json={"name": "From CSV"}, headers=tenant.headers())).json()
    member = (
        await client.post("/api/v1/contacts", json={"phone": "+14155550000"}, headers=tenant.headers())
    ).json()
    done = await import_file(
        client, tenant, redis_url, csv_bytes([HEADER, *_people(700)]), group_id=group["id"]
    )
    assert (done["created"], done["updated"]) == (699, 1)
    assert done["options"] == {"group_id": group["id"]}
    page = (await client.get(f"/api/v1/groups/{group['id']}", headers=tenant.headers())).json()
    assert page["member_count"] == 700
    assert await GroupMember.exists().where(
        (GroupMember.group == group["id"]) & (GroupMember.contact == member["id"])
    )


async def test_a_group_deleted_before_the_job_runs_fails_the_import(client, tenant, redis_url):
    group = (await client.post("/api/v1/groups", json={"name": "Doomed"}, headers=tenant.headers())).json()
    response = await upload(client, tenant, csv_bytes([HEADER, *_people(3)]), group_id=group["id"])
    await client.delete(f"/api/v1/groups/{group['id']}", headers=tenant.headers())
    await run_worker(redis_url)
    done = await fetch(client, tenant, response.json()["id"])
    assert done["status"] == "failed" and "group_id" in done["failure"]
    assert await _contacts(tenant) == []


@pytest.mark.parametrize(
    ("data", "failure"),
    [
        (b"", None),
        (csv_bytes([["name", "city"], ["Ann", "Porto"]]), "phone or an email column"),
        (csv_bytes([["Email", "E-mail"], ["a@example.com", "b@example.com"]]), "appears twice"),
        (csv_bytes([["email", "", "city"], ["a@example.com", "", "x"]]), "column 2 has no name"),
        (csv_bytes([["email", "x" * 70], ["a@example.com", "1"]]), "cannot be an attribute"),
        (
            csv_bytes([["email", "Marketing consent"], ["a@example.com", "no"]]),
            "looks like marketing consent",
        ),
        ("email,name\na@example.com,Zoë\n".encode("latin-1"), "not UTF-8"),
        # In a data row an unclosed quote is that row's error (test_text_hygiene.py); in the header, fatal.
        (b'email,"name\na@example.com,x\n' + b"more,lines\n" * 120_000, "never closed"),
    ],
)
async def test_a_file_that_cannot_be_read_fails_with_nothing_applied(
    client, tenant, redis_url, data, failure
):
    response = await upload(client, tenant, data)
    if failure is None:
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "file"
        return
    await run_worker(redis_url)
    done = await fetch(client, tenant, response.json()["id"])
    assert done["status"] == "failed", done
    assert failure in done["failure"]
    assert await _contacts(tenant) == []


async def test_a_header_without_rows_completes_empty(client, tenant, redis_url):
    done = await import_file(client, tenant, redis_url, csv_bytes([HEADER]))
    assert done["status"] == "completed" and done["total_rows"] == 0 and done["created"] == 0


async def test_encoding_delimiters_and_chunk_boundaries(client, tenant, redis_url, monkeypatch):
    from backend.imports import uploads

    monkeypatch.setattr(uploads, "CHUNK_BYTES", 7)  # cut through multi-byte characters and CRLFs
    rows = [
        ["Email", "Name", "Note"],
        ["zoe@example.com", "Zoë Ünal", 'said "hi",\r\nthen left'],
        ["joao@example.com", "João 💬", "line\u2028separator"],
    ]
    done = await import_file(client, tenant, redis_url, csv_bytes(rows, bom=True))
    assert done["status"] == "completed" and done["created"] == 2, done
    contacts = await _contacts(tenant)
    assert [contact["name"] for contact in contacts] == ["Zoë Ünal", "João 💬"]
    assert contacts[0]["attributes"]["note"] == 'said "hi",\r\nthen left'
    assert contacts[1]["attributes"]["note"] == "line\u2028separator"

    semicolons = b'email;name;tags\nsemi@example.com;Semi;"a;b"\n'
    done = await import_file(client, tenant, redis_url, semicolons)
    assert done["status"] == "completed" and done["created"] == 1, done
    (semi,) = [contact for contact in await _contacts(tenant) if contact["email"] == "semi@example.com"]
    assert semi["tags"] == ["a", "b"]


async def test_upload_checks(client, tenant, monkeypatch):
    from backend.imports import uploads

    data = csv_bytes([HEADER, *_people(50)])
    assert (await upload(client, tenant, data, role="viewer")).status_code == 403

    bad_mode = await upload(client, tenant, data, on_error="maybe")
    assert bad_mode.status_code == 400 and "on_error" in bad_mode.json()["detail"]
    foreign = await upload(client, tenant, data, group_id=999999)
    assert foreign.status_code == 400 and foreign.json()["errors"][0]["field"] == "group_id"
    no_file = await client.post(
        "/api/v1/contacts/import",
        data={"on_error": "skip"},
        files={"other": ("x", b"y")},
        headers=tenant.headers(),
    )
    assert no_file.status_code == 400 and "file" in no_file.json()["detail"]

    # A body announced larger than the route allows is refused before it is read, naming the field.
    announced = await client.post(
        "/api/v1/contacts/import",
        content=b"--x--\r\n",
        headers={
            **tenant.headers(),
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(200 * 1024 * 1024),
        },
    )
    assert announced.status_code == 413
    assert announced.json()["errors"][0]["field"] == "file"

    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1000)
    too_large = await upload(client, tenant, data)
    assert too_large.status_code == 413
    assert too_large.json()["errors"][0]["field"] == "file"
    assert await Import.count() == 0 and await ImportChunk.count() == 0


async def test_imports_are_listed_and_filtered(client, tenant, redis_url):
    first = (await upload(client, tenant, csv_bytes([HEADER, *_people(2)]))).json()
    second = (
        await upload(client, tenant, csv_bytes([HEADER, *_people(2, start=5)]), on_error="reject")
    ).json()
    listed = (await client.get("/api/v1/imports", headers=tenant.headers("viewer"))).json()
    assert [item["id"] for item in listed["items"]] == [first["id"], second["id"]]
    assert "errors" not in listed["items"][0]
    assert listed["items"][1]["on_error"] == "reject"
    assert (await client.get("/api/v1/imports", params={"kind": "optouts"}, headers=tenant.headers())).json()[
        "items"
    ] == []
    await run_worker(redis_url)
    done = (
        await client.get("/api/v1/imports", params={"status": "completed"}, headers=tenant.headers())
    ).json()
    assert len(done["items"]) == 2


async def test_a_consent_column_named_in_the_mapping_is_kept_as_an_attribute(client, tenant, redis_url):
    """Said on purpose, a consent-looking column is the user's attribute; the opt-out list is untouched."""
    data = csv_bytes([["email", "Consent"], ["a@example.com", "no"]])
    done = await import_file(client, tenant, redis_url, data, columns='{"Consent": "crm_consent"}')
    assert done["status"] == "completed" and done["created"] == 1, done
    (contact,) = await _contacts(tenant)
    assert contact["attributes"] == {"crm_consent": "no"}
