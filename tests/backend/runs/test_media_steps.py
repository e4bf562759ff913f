"""A send step's media reaches the contact, not only the preview: stored with the message, sent in the
provider's own form (the fake WhatsApp Cloud server), shown by the messages API."""

from __future__ import annotations

from tests.backend.campaigns.helpers import phone, work
from tests.backend.messages.helpers import make_sender
from tests.backend.runs.helpers import edge, flow_graph, message, node, outbound_of, publish, started

PICTURE = "https://cdn.example/spring.jpg"


async def test_a_media_step_sends_its_picture_with_the_text_as_caption(
    client, tenant, redis_url, fake_providers
):
    graph = flow_graph(
        [
            node("start", "start", trigger="api"),
            message(
                "range",
                'Our new range, {{contact.first_name | "friend"}}',
                "transactional",
                media_url=PICTURE,
            ),
            message("only", "", "transactional", media_url="https://cdn.example/price-list.pdf"),
            node("end", "end"),
        ],
        [edge("start", "range"), edge("range", "only"), edge("only", "end")],
    )
    flow = await publish(client, tenant, graph)
    sender = await make_sender(
        client, tenant, "whatsapp_cloud", config=fake_providers.config("whatsapp_cloud")
    )
    run = await started(
        client, tenant, flow["id"], sender["id"], to=phone(0), attributes={"first_name": "Ana"}
    )
    await work(redis_url)

    picture, document = (request.body for request in fake_providers.sent("whatsapp"))
    assert picture["type"] == "image"
    assert picture["image"] == {"link": PICTURE, "caption": "Our new range, Ana"}
    assert document["type"] == "document"
    assert document["document"] == {"link": "https://cdn.example/price-list.pdf"}
    first, _document = await outbound_of(run["contact_id"])
    assert (first["status"], first["media_url"]) == ("sent", PICTURE)
    shown = await client.get(f"/api/v1/messages/{first['id']}", headers=tenant.headers())
    assert shown.json()["media_url"] == PICTURE and shown.json()["text"] == "Our new range, Ana"
