"""The sandbox's simulated customers (``auto_reply``): what they plan for a message, and that planning
never changes what a send answers. The delivery of the plan through the worker is in
tests/backend/inbound/test_sandbox_auto_reply.py."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import msgspec

from backend.providers.base import Button, InboundMessage, StatusUpdate
from backend.providers.registry import Providers
from backend.providers.sandbox import STOP_TEXT, PlannedEvent, SandboxProvider, plan_answers
from backend.senders.provider_config import AutoReply, SandboxConfig
from tests.backend.providers.helpers import outgoing

ALWAYS = AutoReply(delivered=1.0, read=1.0, reply=1.0, stop=0.0, delay_seconds=(1.0, 3.0))
OFFER = outgoing(message_id=7, buttons=[Button(id="yes", title="Yes please"), Button(id="no", title="No")])


class Recorder:
    """An answer scheduler that keeps what it was handed (or fails, to show a send does not care)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.scheduled: list[tuple[int, list[PlannedEvent]]] = []

    async def schedule(self, sender_id: int, planned: list[PlannedEvent]) -> None:
        if self.fail:
            raise ConnectionError("redis is away")
        self.scheduled.append((sender_id, planned))


def _sandbox(auto_reply: AutoReply | None, answers: Recorder | None, seed: int = 1) -> SandboxProvider:
    return SandboxProvider(
        sender_id=5,
        address="+351910000000",
        config=SandboxConfig(auto_reply=auto_reply),
        answers=answers,
        rng=random.Random(seed),
    )


def test_a_message_with_buttons_is_delivered_read_and_tapped_in_that_order():
    planned = plan_answers(OFFER, ALWAYS, random.Random(3))

    delivered, read, answer = (item.event for item in planned)
    assert isinstance(delivered, StatusUpdate) and isinstance(read, StatusUpdate)
    assert (delivered.status, read.status) == ("delivered", "read")
    for update in (delivered, read):
        # What a provider's status webhook carries: its id for the message, and ours echoed back.
        assert (update.provider_message_id, update.callback_ref, update.recipient) == (
            "sandbox-7",
            "7",
            "+351912000001",
        )
    assert isinstance(answer, InboundMessage)
    assert answer.from_address == "+351912000001"
    assert (answer.button_id, answer.button_title) in {("yes", "Yes please"), ("no", "No")}
    assert answer.text is None
    assert answer.context_provider_message_id == "sandbox-7"
    assert len({event.provider_event_id for event in (delivered, read, answer)}) == 3
    # Each step comes 1 to 3 seconds after the one before it.
    delays = [item.after_s for item in planned]
    steps = [delays[0], delays[1] - delays[0], delays[2] - delays[1]]
    assert all(1.0 <= step <= 3.0 + 1e-6 for step in steps), delays


def test_a_message_without_buttons_is_answered_with_one_of_the_texts():
    rules = msgspec.structs.replace(ALWAYS, texts=("Yes!", "Maybe"))
    answers = {plan_answers(outgoing(), rules, random.Random(seed))[-1].event.text for seed in range(40)}
    assert answers == {"Yes!", "Maybe"}


def test_stop_answers_marketing_messages_only():
    rules = msgspec.structs.replace(ALWAYS, stop=1.0)
    stop = plan_answers(OFFER, rules, random.Random(1))[-1].event
    assert (stop.text, stop.button_id) == (STOP_TEXT, None)

    # A keyword's confirmation is transactional: answering it STOP again would never end.
    confirmation = plan_answers(outgoing(kind="transactional"), rules, random.Random(1))[-1].event
    assert confirmation.text != STOP_TEXT


def test_the_funnel_stops_where_a_rate_says_no():
    assert plan_answers(OFFER, AutoReply(delivered=0.0), random.Random(1)) == []
    only_delivered = plan_answers(OFFER, AutoReply(delivered=1.0, read=0.0), random.Random(1))
    assert [item.event.status for item in only_delivered] == ["delivered"]
    unanswered = plan_answers(OFFER, AutoReply(delivered=1.0, read=1.0, reply=0.0), random.Random(1))
    assert [item.event.status for item in unanswered] == ["delivered", "read"]


def test_rates_are_shares_of_the_step_before():
    rules = AutoReply(delivered=0.9, read=0.5, reply=0.5, stop=0.2, delay_seconds=(0.0, 0.0))
    rng = random.Random(2026)
    counts: dict[str, int] = {"delivered": 0, "read": 0, "answer": 0, "stop": 0}
    for message_id in range(4000):
        for item in plan_answers(outgoing(message_id=message_id), rules, rng):
            event: Any = item.event
            if isinstance(event, StatusUpdate):
                counts[event.status] += 1
            else:
                counts["answer"] += 1
                counts["stop"] += event.text == STOP_TEXT
    assert abs(counts["delivered"] / 4000 - 0.9) < 0.03
    assert abs(counts["read"] / counts["delivered"] - 0.5) < 0.04
    assert abs(counts["answer"] / counts["read"] - 0.5) < 0.05
    assert abs(counts["stop"] / counts["answer"] - 0.2) < 0.05


async def test_send_answers_accepted_and_hands_the_plan_to_the_scheduler():
    answers = Recorder()
    result = await _sandbox(ALWAYS, answers).send(OFFER)

    assert (result.outcome, result.provider_message_id) == ("accepted", "sandbox-7")
    [(sender_id, planned)] = answers.scheduled
    assert sender_id == 5
    assert [type(item.event).__name__ for item in planned] == [
        "StatusUpdate",
        "StatusUpdate",
        "InboundMessage",
    ]


async def test_without_auto_reply_or_without_a_scheduler_nobody_answers():
    answers = Recorder()
    result = await _sandbox(None, answers).send(OFFER)
    assert (result.outcome, answers.scheduled) == ("accepted", [])

    # The api process builds providers without a scheduler: the config alone makes nobody answer.
    assert (await _sandbox(ALWAYS, None).send(OFFER)).outcome == "accepted"


async def test_a_scheduler_failure_never_fails_the_send():
    result = await _sandbox(ALWAYS, Recorder(fail=True)).send(OFFER)
    assert (result.outcome, result.provider_message_id) == ("accepted", "sandbox-7")


async def test_the_registry_hands_its_scheduler_to_sandbox_senders(http):
    answers = Recorder()
    providers = Providers(http, public_url="https://f.example", sandbox_answers=answers)
    row = {
        "id": 3,
        "provider": "sandbox",
        "address": "+351910000000",
        "config": {"auto_reply": {"delivered": 1, "read": 0, "delay_seconds": [0, 0]}},
        "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    sandbox = providers.for_sender(row)
    await sandbox.send(outgoing(message_id=11))
    [(sender_id, [planned])] = answers.scheduled
    assert (sender_id, planned.after_s, planned.event.provider_event_id) == (3, 0.0, "sandbox-11:delivered")
    await providers.aclose()
