"""Cells an import cannot take as they are, in contacts and opt-out imports alike (issue 14, items 3 and 5):
a NUL character (PostgreSQL refuses it) and a quote that is never closed are errors of their row, naming
the row and column, and every other row is imported."""

from __future__ import annotations

from backend.audience.tables import Contact
from backend.consent.tables import OptOutEntry
from tests.backend.imports.helpers import fetch, import_file, run_worker


async def _import_optouts(client, tenant, redis_url, data: bytes, **form) -> dict:
    response = await client.post(
        "/api/v1/optouts/import",
        files={"file": ("optouts.csv", data, "text/csv")},
        data=form,
        headers=tenant.headers("marketer"),
    )
    assert response.status_code == 202, response.text
    await run_worker(redis_url)
    return await fetch(client, tenant, response.json()["id"])


async def _contact_emails(tenant) -> list[str]:
    rows = await Contact.select(Contact.email).where(Contact.workspace == tenant.id).order_by(Contact.email)
    return [row["email"] for row in rows]


async def _optout_addresses(tenant) -> list[str]:
    rows = (
        await OptOutEntry.select(OptOutEntry.address)
        .where(OptOutEntry.workspace == tenant.id)
        .order_by(OptOutEntry.address)
    )
    return [row["address"] for row in rows]


def _errors(done: dict) -> list[tuple[int, str | None]]:
    return [(error["row"], error["column"]) for error in done["errors"]]


async def test_a_nul_cell_is_its_rows_error_and_the_other_contacts_import(client, tenant, redis_url):
    data = b"email,name,city\na@example.com,Ann,Porto\nb@example.com,B\x00b,Faro\nc@example.com,Cid,Lagos\n"
    done = await import_file(client, tenant, redis_url, data, on_error="skip")
    assert done["status"] == "completed", done
    assert (done["created"], done["skipped"]) == (2, 1)
    assert _errors(done) == [(2, "name")] and "NUL" in done["errors"][0]["message"]
    assert await _contact_emails(tenant) == ["a@example.com", "c@example.com"]


async def test_a_nul_cell_in_reject_mode_fails_once_with_the_row_named(client, tenant, redis_url):
    data = b"email,name\na@example.com,Ann\nb@example.com,B\x00b\n"
    done = await import_file(client, tenant, redis_url, data, on_error="reject")
    assert done["status"] == "failed" and "1 row(s) have errors" in done["failure"], done
    assert _errors(done) == [(2, "name")]
    assert await _contact_emails(tenant) == []


async def test_a_nul_cell_in_an_optout_import_is_its_rows_error(client, tenant, redis_url):
    data = (
        b"channel,address,remarks\nemail,a@example.com,ok\n"
        b"email,b@example.com,bad\x00\nemail,c@example.com,\n"
    )
    done = await _import_optouts(client, tenant, redis_url, data)
    assert done["status"] == "completed", done
    assert _errors(done) == [(2, "remarks")]
    assert await _optout_addresses(tenant) == ["a@example.com", "c@example.com"]


async def test_a_nul_in_an_upload_option_answers_400_naming_it(client, tenant):
    response = await client.post(
        "/api/v1/contacts/import",
        files={"file": ("c.csv", b"email,notes\na@example.com,x\n", "text/csv")},
        data={"columns": '{"notes": "no\\u0000te"}'},
        headers=tenant.headers("marketer"),
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"].startswith("columns")


async def test_an_unclosed_quote_in_a_contacts_import_names_its_row_and_the_rest_import(
    client, tenant, redis_url
):
    data = (
        b'email,name,notes\na@example.com,Ann,"a note\nwith a line break"\n'
        b'b@example.com,"Bob,never closed\nc@example.com,Cid,\nd@example.com,Dee,"quoted"\n'
    )
    done = await import_file(client, tenant, redis_url, data, on_error="skip")
    assert done["status"] == "completed", done
    assert _errors(done) == [(2, "name")]
    assert "line 4 of the file" in done["errors"][0]["message"]
    assert "never closed" in done["errors"][0]["message"]
    assert (done["total_rows"], done["created"], done["skipped"]) == (4, 3, 1)
    assert await _contact_emails(tenant) == ["a@example.com", "c@example.com", "d@example.com"]


async def test_an_unclosed_quote_in_reject_mode_fails_naming_the_row(client, tenant, redis_url):
    data = b'email,name\na@example.com,Ann\nb@example.com,"Bob\nc@example.com,Cid\n'
    done = await import_file(client, tenant, redis_url, data, on_error="reject")
    assert done["status"] == "failed", done
    assert _errors(done) == [(2, "name")]
    assert await _contact_emails(tenant) == []


async def test_an_unclosed_quote_in_an_optout_import_names_its_row_and_the_rest_import(
    client, tenant, redis_url
):
    data = (
        b"channel,address,remarks\nemail,a@example.com,fine\n"
        b'email,b@example.com,"never closed\nemail,c@example.com,\nemail,d@example.com,\n'
    )
    done = await _import_optouts(client, tenant, redis_url, data)
    assert done["status"] == "completed", done
    assert _errors(done) == [(2, "remarks")]
    assert await _optout_addresses(tenant) == ["a@example.com", "c@example.com", "d@example.com"]
