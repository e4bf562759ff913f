"""The demo workspace ``flowgate dev`` seeds, so a newcomer's first look shows a campaign that moves.

Made once, when the database has no workspace yet (:func:`backend.devtree._prepare_database`), inside
the caller's transaction: a failure leaves no half-made demo behind, and the next ``flowgate dev`` tries
again. Everything goes through the domain services (or, for the contacts, the import's bulk insert after
the same field rules), so the demo holds exactly what a user's own clicks would have made: audit
records, consent history with its evidence, a published flow version, a campaign in its plan.

What is in it:

- settings: phone region ``PT`` and time zone ``Europe/Lisbon`` (the example flows' coffee shop);
- a sandbox WhatsApp sender whose simulated customers answer by themselves (``auto_reply``);
- :data:`CONTACTS` contacts in the group "Demo customers": names, emails and a few attributes, all but
  :data:`WITHOUT_PHONE` with a sandbox phone number (those show as "no address" on WhatsApp), and
  :data:`OPTED_OUT` of them marked as not consenting by the imported customer list;
- the example flow "promotion_follow_up", published, with its waits shortened to minutes so runs end
  and contacts come back (with the campaign's ``allow_reentry``) while someone watches;
- a marketing category whose STOP replies last a day, so the demo audience does not dwindle for good;
- a marketing campaign starting a minute after the seed, every :data:`EVERY_MINUTES` minutes for
  :data:`CAMPAIGN_DAYS` days.
"""

from __future__ import annotations

import json
import random
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.audience import fields, groups
from backend.audience.bulk import insert_contacts
from backend.audience.schemas import GroupCreate
from backend.campaigns.schemas import CampaignCreate, Every
from backend.campaigns.service import create_campaign
from backend.consent import categories
from backend.consent.service import record_opt_out
from backend.flows import service as flows
from backend.senders.schemas import SenderCreate
from backend.senders.service import create_sender
from backend.workspaces import service as workspaces
from backend.workspaces.auth import Principal
from backend.workspaces.schemas import SettingsPatch
from flows.examples import example_json

SANDBOX_NUMBER = "+351910000000"
CONTACTS = 300
WITHOUT_PHONE = 5
OPTED_OUT = 10
GROUP_NAME = "Demo customers"
FLOW_EXAMPLE = "promotion_follow_up"
FLOW_NAME = "Summer sale (demo)"
CAMPAIGN_NAME = "Summer sale (demo)"
CATEGORY_NAME = "Offers"
EVERY_MINUTES = 5
CAMPAIGN_DAYS = 30
START_AFTER = timedelta(minutes=1)
AUTO_REPLY: dict[str, Any] = {
    "delivered": 0.97,
    "read": 0.75,
    "reply": 0.45,
    "stop": 0.01,
    "delay_seconds": [2, 20],
}
"""The demo sender's simulated customers: most messages delivered, most of those read, nearly half of
those answered, and one answer in a hundred a STOP (sender config ``auto_reply``)."""
DEMO_WAITS = {"promo": ("reply_timeout", 600), "wait_2_days": ("seconds", 300), "answer": ("timeout", 600)}
"""node id -> (field, seconds): the example's hour, two days and day become minutes in the demo."""

_FIRST = ("Ana", "João", "Maria", "Pedro", "Inês", "Tiago", "Beatriz", "Rui", "Sofia", "Miguel", "Carla")
_LAST = ("Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Martins", "Sousa", "Gomes", "Alves")
_CITIES = ("Lisboa", "Porto", "Braga", "Coimbra", "Faro", "Setúbal", "Aveiro")
_ROASTS = ("espresso", "filter", "decaf", "single origin")
_TIERS = ("bronze", "silver", "gold")


def contact_phone(index: int) -> str:
    """The ``index``-th demo contact's sandbox number (valid Portuguese mobiles, none of them the sender's)."""
    return f"+351 910 001 {index:03d}"


def demo_contacts(region: str) -> list[dict[str, Any]]:
    """The demo contacts as the import stores them (the same field rules), the same on every machine."""
    rng = random.Random(2026)
    rows: list[dict[str, Any]] = []
    for index in range(CONTACTS):
        first, last = _FIRST[index % len(_FIRST)], _LAST[(index * 7 + index // len(_FIRST)) % len(_LAST)]
        has_phone = index < CONTACTS - WITHOUT_PHONE
        rows.append(
            {
                "phone": fields.phone(contact_phone(index), region) if has_phone else None,
                "email": fields.email(_ascii(f"{first}.{last}.{index}@example.com").lower()),
                "name": fields.name(f"{first} {last}"),
                "attributes": fields.attributes(
                    {
                        "city": rng.choice(_CITIES),
                        "favourite_roast": rng.choice(_ROASTS),
                        "last_order_days": rng.randint(1, 200),
                        "loyalty": rng.choice(_TIERS),
                    }
                ),
                "tags": fields.tags(["customer", "newsletter"] if index % 3 == 0 else ["customer"]),
                "timezone": fields.timezone("Europe/Lisbon"),
            }
        )
    return rows


def _ascii(text: str) -> str:
    """João -> Joao: addresses people can type on any keyboard."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def demo_flow_graph() -> dict[str, Any]:
    """The shipped example with its waits in minutes (labels say so), everything else as shipped."""
    graph = json.loads(example_json(FLOW_EXAMPLE))
    for node in graph["nodes"]:
        if node["id"] in DEMO_WAITS:
            field, seconds = DEMO_WAITS[node["id"]]
            node[field] = seconds
        if node["id"] == "wait_2_days":
            node["label"] = f"Wait {DEMO_WAITS['wait_2_days'][1] // 60} minutes (demo)"
    return graph


async def seed(workspace_id: int, api_key: str, now: datetime | None = None) -> dict[str, int]:
    """Fill the fresh demo workspace, acting as its admin key; the ids made, by name."""
    moment = now or datetime.now(UTC)
    principal = await _admin(api_key, moment)
    settings = await workspaces.update_settings(
        principal, SettingsPatch(default_phone_region="PT", timezone="Europe/Lisbon")
    )
    sender = await create_sender(
        principal,
        SenderCreate(
            name="Demo sandbox",
            channel="whatsapp",
            provider="sandbox",
            address=SANDBOX_NUMBER,
            config={"auto_reply": AUTO_REPLY},
            confirmation_message="You are unsubscribed from our marketing messages. Reply START to come back.",
            opt_in_confirmation_message="Welcome back: you will receive our marketing messages again.",
            help_reply="Demo shop: reply STOP to opt out of marketing, START to opt back in.",
        ),
    )
    contacts = await insert_contacts(workspace_id, demo_contacts(settings["default_phone_region"]), moment)
    group = await groups.create_group(
        principal,
        GroupCreate(name=GROUP_NAME, description="Sandbox customers of the demo shop (made by flowgate dev)"),
    )
    await groups.add_members(principal, group["id"], [row["id"] for row in contacts])
    phones = sorted(row["phone"] for row in contacts if row["phone"])
    for address in phones[:: len(phones) // OPTED_OUT][:OPTED_OUT]:
        await record_opt_out(
            workspace_id,
            channel="whatsapp",
            address=address,
            source="import",
            remarks="demo data: not consenting to marketing in the imported customer list",
            actor=principal.label,
            evidence={"seed": "flowgate dev demo"},
        )
    category = await categories.create_category(
        principal,
        categories.CategoryCreate(
            name=CATEGORY_NAME,
            description="Promotions; a STOP in reply lasts a day in the demo",
            unsubscribe_days=1,
        ),
    )
    flow = await flows.create_flow(principal, FLOW_NAME, demo_flow_graph())
    await flows.publish(principal, flow["id"], None)
    campaign = await create_campaign(
        principal,
        CampaignCreate(
            name=CAMPAIGN_NAME,
            description="Sandbox customers answer by themselves: watch the funnel fill",
            flow_id=flow["id"],
            group_id=group["id"],
            sender_id=sender["id"],
            category_id=category["id"],
            kind="marketing",
            start_at=moment + START_AFTER,
            end_at=moment + timedelta(days=CAMPAIGN_DAYS),
            every=Every(unit="minute", count=EVERY_MINUTES),
            allow_reentry=True,
        ),
        now=moment,
    )
    return {
        "sender_id": sender["id"],
        "group_id": group["id"],
        "category_id": category["id"],
        "flow_id": flow["id"],
        "campaign_id": campaign.id,
    }


async def _admin(api_key: str, now: datetime) -> Principal:
    """The seed acts as the workspace's initial admin key, so the audit log says who made the demo."""
    found = await workspaces.authenticate(api_key, now)
    if found is None:  # pragma: no cover - the key was made in the same transaction
        raise RuntimeError("the demo workspace's admin key does not authenticate")
    return found[0]
