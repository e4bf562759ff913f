"""NUL characters (U+0000), which PostgreSQL cannot store, get the same answer on every engine (issue 14,
item 3; the rule is backend/core/text.py): text a client sends is refused with a 400 naming the field and
nothing is stored; a contact's inbound text is stored and processed with the NUL removed, never lost.
CSV cells are the imports' row errors (tests/backend/imports/test_text_hygiene.py)."""

from __future__ import annotations

import pytest

from backend.audience.tables import Contact
from backend.core.schemas import Input
from backend.core.text import nul_path, without_nul
from tests.backend.inbound.helpers import CONTACT, events, make_sender, messages, post_webhook, run_worker
from tests.fakes import webhooks as wa

SHAPE = {"status_code", "error", "detail", "errors"}


def _refusal(response, field: str, source: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == SHAPE and body["error"] == "validation_error"
    assert (body["errors"][0]["field"], body["errors"][0]["source"]) == (field, source)
    assert "NUL" in body["detail"] and field in body["detail"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Ann\x00"}, "name"),
        ({"attributes": {"note": "a\x00b"}}, "attributes.note"),
        ({"tags": ["vip", "x\x00"]}, "tags[1]"),
        ({"attributes": {"no\x00te": "a"}}, "attributes.no\\u0000te"),
    ],
)
async def test_a_nul_in_a_body_field_answers_400_naming_it_and_stores_nothing(client, tenant, changes, field):
    body = {"email": "ann@example.com", "name": "Ann", **changes}
    response = await client.post("/api/v1/contacts", json=body, headers=tenant.headers("marketer"))
    _refusal(response, field, "body")
    assert await Contact.count() == 0


async def test_a_nul_in_a_nested_struct_names_the_path(client, tenant):
    body = {
        "sender_id": 1,
        "to": CONTACT,
        "kind": "transactional",
        "text": "Hi",
        "buttons": [{"id": "a", "title": "Yes"}, {"id": "b", "title": "N\x00o"}],
    }
    response = await client.post("/api/v1/messages", json=body, headers=tenant.headers("marketer"))
    _refusal(response, "buttons[1].title", "body")


@pytest.mark.parametrize("query", ["q=a%00b", "tag=%00", "email=x%00@example.com"])
async def test_a_nul_in_a_query_parameter_answers_400_naming_it(client, tenant, query):
    response = await client.get(f"/api/v1/contacts?{query}", headers=tenant.headers("viewer"))
    _refusal(response, query.split("=")[0], "query")


@pytest.mark.parametrize("path", ["/optout?workspace=a%00", "/u/abc%00def"])
async def test_a_nul_in_a_parameter_of_a_public_page_answers_400(client, path):
    """The public pages answer in HTML (their own error page), with the same 400 and sentence."""
    response = await client.get(path)
    assert response.status_code == 400, response.text
    assert "contains a NUL character" in response.text


async def test_a_sandbox_reply_with_a_nul_is_stored_and_processed_without_it(client, tenant, redis_url):
    sender = await make_sender(client, tenant, "sandbox")
    response = await client.post(
        f"/api/v1/senders/{sender['id']}/sandbox/inbound",
        json={"from": CONTACT, "text": "hel\x00lo", "id": "evt\x00-1"},
        headers=tenant.headers("marketer"),
    )
    # The event id is the client's own identifier, not a contact's text: refused like any body field.
    _refusal(response, "id", "body")

    response = await client.post(
        f"/api/v1/senders/{sender['id']}/sandbox/inbound",
        json={"from": CONTACT, "text": "hel\x00lo"},
        headers=tenant.headers("marketer"),
    )
    assert response.status_code == 202, response.text
    await run_worker(redis_url)
    [event] = await events(sender["id"])
    assert event["state"] == "processed" and event["payload"]["text"] == "hello"
    [inbound] = await messages(direction="inbound")
    assert inbound["text"] == "hello"


async def test_a_whatsapp_reply_with_a_nul_is_stored_and_processed_without_it(
    client, tenant, redis_url, fake_providers
):
    sender = await make_sender(client, tenant, "whatsapp_cloud", fake_providers)
    hook = wa.whatsapp_webhook(wa.wa_text(CONTACT, "Do you ship\x00 to Porto?", name="Ana\x00 Lima"))
    response = await post_webhook(client, sender["id"], hook)
    assert response.status_code == 200, response.text

    await run_worker(redis_url)
    [event] = await events(sender["id"])
    assert (event["state"], event["attempts"]) == ("processed", 0)
    [inbound] = await messages(direction="inbound")
    assert inbound["text"] == "Do you ship to Porto?"
    [contact] = await Contact.select(Contact.name)
    assert contact["name"] == "Ana Lima"


def test_the_rule_walks_structs_mappings_and_sequences():
    class Body(Input):
        name: str = ""
        items: list[dict[str, str]] = []

    assert nul_path({"a": [1, "ok", {"b": "x\x00"}]}) == "a[2].b"
    assert nul_path(["clean", 3, None]) is None
    assert without_nul({"k\x00": ("a\x00", 1)}) == {"k": ("a", 1)}
    clean = {"x": "y"}
    assert without_nul(clean) is clean
    with pytest.raises(ValueError, match=r"text field `items\[0\].k`"):
        Body(items=[{"k": "\x00"}])
