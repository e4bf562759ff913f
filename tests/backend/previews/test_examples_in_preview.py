"""Every example flow, created, published and walked through the preview API as a marketer would."""

from __future__ import annotations

import pytest

from flows.examples import EXAMPLES, example_json


async def _preview(client, tenant, name: str, **start):
    import json

    graph = json.loads(example_json(name))
    flow = (
        await client.post("/api/v1/flows", json={"name": name, "graph": graph}, headers=tenant.headers())
    ).json()
    published = await client.post(f"/api/v1/flows/{flow['id']}/publish", headers=tenant.headers())
    assert published.status_code == 201, published.text
    body = {"flow_id": flow["id"], "contact": {"name": "Ana", "timezone": "Europe/Lisbon"}, **start}
    preview = await client.post("/api/v1/previews", json=body, headers=tenant.headers("viewer"))
    assert preview.status_code == 201, preview.text
    return preview.json()


class Walk:
    def __init__(self, client, tenant, preview):
        self.client, self.tenant, self.preview = client, tenant, preview

    async def tap(self, button_id: str) -> None:
        await self._post("reply", {"button_id": button_id})

    async def say(self, text: str) -> None:
        await self._post("reply", {"text": text})

    async def skip(self) -> None:
        await self._post("skip-wait", None)

    async def _post(self, action: str, body) -> None:
        response = await self.client.post(
            f"/api/v1/previews/{self.preview['id']}/{action}",
            json=body,
            headers=self.tenant.headers("viewer"),
        )
        assert response.status_code == 200, response.text
        self.preview = response.json()

    @property
    def said(self) -> list[str]:
        return [bubble["text"] for bubble in self.preview["transcript"] if bubble["direction"] == "out"]

    @property
    def nodes(self) -> list[str]:
        return [step["node_id"] for step in self.preview["path"]]


def test_every_example_is_covered():
    assert set(EXAMPLES) == {"welcome_opt_in", "promotion_follow_up", "faq_keyword_bot", "re_engagement_ab"}


async def test_welcome_yes_opts_in(client, tenant):
    walk = Walk(client, tenant, await _preview(client, tenant, "welcome_opt_in"))
    assert walk.said[0].startswith("Hi Ana! Welcome")
    await walk.tap("yes")
    assert walk.said[-1].startswith("Thanks, Ana! You're in")
    assert "opt_in" in walk.nodes
    assert any("Opted the contact in" in bubble["text"] for bubble in walk.preview["transcript"])
    assert walk.preview["status"] == "completed"


async def test_welcome_no_opts_out(client, tenant):
    walk = Walk(client, tenant, await _preview(client, tenant, "welcome_opt_in"))
    await walk.tap("no")
    assert walk.said[-1].startswith("No problem, we won't send you offers")
    assert "opt_out" in walk.nodes


async def test_promotion_follow_up_after_two_days_then_yes(client, tenant):
    walk = Walk(client, tenant, await _preview(client, tenant, "promotion_follow_up"))
    assert walk.said == ["Ana, our summer sale is on: 30% off all coffee beans until Sunday."]
    await walk.skip()  # no tap: the buttons time out
    assert walk.preview["active_node"] == "wait_2_days"
    await walk.skip()  # two days pass
    assert walk.said[-1].startswith("Only 2 days left")
    await walk.say("yes please")
    assert walk.said[-1].startswith("Here you go")
    assert walk.nodes[-3:] == ["tag_interested", "link", "end_link"]


async def test_promotion_not_now(client, tenant):
    walk = Walk(client, tenant, await _preview(client, tenant, "promotion_follow_up"))
    await walk.tap("later")
    assert walk.said[-1] == "No problem, we won't mention it again. Enjoy your week!"


async def test_faq_bot_answers_loops_and_says_goodbye(client, tenant):
    walk = Walk(client, tenant, await _preview(client, tenant, "faq_keyword_bot"))
    assert walk.said[0].startswith("Hi Ana! I'm the Lisbon Coffee Roasters assistant")
    await walk.say("How much does it cost?")
    assert walk.said[-1].startswith("A 250 g bag")
    await walk.say("when are you open")
    assert walk.said[-1].startswith("We're open Monday")
    await walk.say("do you ship to Mars")
    assert (
        walk.said[-1]
        == 'Sorry, I didn\'t understand "do you ship to Mars". I can tell you about prices and opening hours.'
    )
    await walk.say("bye")
    assert walk.said[-1] == "Thanks for chatting, Ana. Have a great day!"
    assert walk.preview["status"] == "completed"


async def test_re_engagement_skips_recent_customers(client, tenant):
    preview = await _preview(
        client, tenant, "re_engagement_ab", contact={"name": "Ana", "attributes": {"last_order_days": 10}}
    )
    assert Walk(client, tenant, preview).said == []
    assert preview["path"][-1]["node_id"] == "end_active"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_re_engagement_splits_and_reminds_at_ten(client, tenant, seed):
    preview = await _preview(
        client,
        tenant,
        "re_engagement_ab",
        seed=seed,
        contact={"name": "Ana", "timezone": "Europe/Lisbon", "attributes": {"last_order_days": 120}},
    )
    walk = Walk(client, tenant, preview)
    variant = "a" if "mark_a" in walk.nodes else "b"
    assert walk.said[0].startswith("We miss you" if variant == "a" else "It's been a while")
    assert walk.preview["waiting"]["kind"] == "timer"
    until = walk.preview["waiting"]["until"]
    await walk.skip()
    assert walk.said[-1].startswith(f"Reminder: your offer (variant {variant.upper()})")
    assert walk.preview["clock"] == until
