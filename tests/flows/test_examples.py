"""The shipped example flows: they load, round-trip, validate, and walk the way a marketer expects.

The walks drive the interpreter like the preview API does: tap a button, type a reply, fire the
pending timer, answer the HTTP call, and then compare the chat transcript and the path taken.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

import msgspec
import pytest

from flows.examples import EXAMPLES, example_json, load_example
from flows.graph import CompiledFlow
from flows.interpreter import step
from flows.run import (
    AddTag,
    ButtonTap,
    ContactSnapshot,
    EndRun,
    Event,
    OptIn,
    OptOut,
    Reply,
    RunState,
    ScheduleTimer,
    SendMessage,
    SendResult,
    SetAttribute,
    Start,
    TimerFired,
)
from flows.schema import FlowGraph, SendMessageNode, StartNode, decode_graph, encode_graph

MONDAY_EVENING = datetime(2024, 5, 6, 18, 0, tzinfo=UTC)  # 19:00 in Lisbon


class Conversation:
    """One contact's run through an example, with the transcript a preview would show."""

    def __init__(self, example: str, contact: ContactSnapshot | None = None, *, seed: int = 0) -> None:
        self.flow = CompiledFlow.from_graph(load_example(example))
        self.now = MONDAY_EVENING
        self.state: RunState | None = None
        self.actions: list[object] = []
        self.send(Start(contact=contact or ContactSnapshot(name="Ana", timezone="Europe/Lisbon"), seed=seed))

    def send(self, event: Event) -> Conversation:
        result = step(self.flow, self.state, event, self.now)
        assert result.state is not self.state, f"{event!r} was ignored"
        self.state = result.state
        self.actions.extend(result.actions)
        return self

    def tap(self, button_id: str) -> Conversation:
        return self.send(ButtonTap(button_id=button_id))

    def reply(self, text: str) -> Conversation:
        return self.send(Reply(text=text))

    def fire_timer(self) -> Conversation:
        """Let the pending timer run out: the clock jumps to when it was due."""
        waiting = self.run.waiting
        assert waiting is not None and waiting.timer_id, "nothing to fire"
        assert waiting.until is not None
        self.now = waiting.until
        return self.send(TimerFired(timer_id=waiting.timer_id))

    @property
    def run(self) -> RunState:
        assert self.state is not None
        return self.state

    @property
    def transcript(self) -> list[str]:
        return [action.text for action in self.actions if isinstance(action, SendMessage)]

    @property
    def route(self) -> list[str]:
        return [entry.node_id for entry in self.run.path]

    @property
    def ended(self) -> EndRun:
        ends = [action for action in self.actions if isinstance(action, EndRun)]
        assert len(ends) == 1
        assert self.actions[-1] is ends[0]
        return ends[0]

    def of_type(self, kind: type) -> list[object]:
        return [action for action in self.actions if isinstance(action, kind)]


# --- every example ----------------------------------------------------------------------------------------


def test_every_shipped_json_file_is_listed() -> None:
    files = {item.name for item in resources.files("flows.examples").iterdir() if item.name.endswith(".json")}
    assert files == {f"{name}.json" for name in EXAMPLES}


def test_an_unknown_example_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="welcome_opt_in"):
        load_example("nope")


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_loads_and_round_trips_through_json(name: str) -> None:
    graph = load_example(name)
    assert isinstance(graph, FlowGraph)
    assert graph.format_version == 1
    assert decode_graph(encode_graph(graph)) == graph
    assert decode_graph(msgspec.json.decode(example_json(name))) == graph


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_is_laid_out_left_to_right_with_labels(name: str) -> None:
    graph = load_example(name)
    positions = [(node.position.x, node.position.y) for node in graph.nodes]
    assert len(set(positions)) == len(positions), "two nodes on top of each other"
    start = next(node for node in graph.nodes if isinstance(node, StartNode))
    assert start.position.x == min(x for x, _ in positions)
    assert all(node.label for node in graph.nodes)
    nodes = {node.id: node for node in graph.nodes}
    forward = [edge for edge in graph.edges if nodes[edge.target].position.x > nodes[edge.source].position.x]
    assert len(forward) >= len(graph.edges) - 4, "most edges should point right"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_validates(name: str) -> None:
    validation = pytest.importorskip("flows.validation")
    assert validation.validate(load_example(name)) == []


# --- welcome / opt-in ----------------------------------------------------------------------------------------


WELCOME = (
    "Hi Ana! Welcome to Lisbon Coffee Roasters. Can we send you news and offers here on WhatsApp? "
    "You can stop any time by replying STOP."
)


def test_welcome_yes_opts_in_and_thanks() -> None:
    chat = Conversation("welcome_opt_in")
    assert chat.transcript == [WELCOME]
    welcome = chat.of_type(SendMessage)[0]
    assert [button.title for button in welcome.buttons] == ["Yes, please", "No, thanks"]
    assert chat.run.waiting is not None and chat.run.waiting.kind == "buttons"

    chat.tap("yes")

    assert chat.transcript == [
        WELCOME,
        "Thanks, Ana! You're in: expect our best offers, at most once a week.",
    ]
    assert chat.route == ["start", "welcome", "opt_in", "thanks", "subscribed"]
    assert chat.of_type(OptIn) == [OptIn(node_id="opt_in")]
    assert chat.of_type(OptOut) == []
    assert chat.ended == EndRun(status="completed", reason="end", node_id="subscribed")


def test_welcome_no_opts_out_and_says_goodbye() -> None:
    chat = Conversation("welcome_opt_in", ContactSnapshot()).tap("no")
    assert chat.transcript[0].startswith("Hi there! Welcome")
    assert chat.transcript[1:] == [
        "No problem, we won't send you offers. You can still message us here any time."
    ]
    assert chat.route == ["start", "welcome", "opt_out", "goodbye", "not_subscribed"]
    assert chat.of_type(OptOut) == [OptOut(node_id="opt_out")]
    assert chat.of_type(OptIn) == []


def test_welcome_without_an_answer_ends_after_a_day() -> None:
    chat = Conversation("welcome_opt_in").fire_timer()
    assert chat.transcript == [WELCOME]
    assert chat.route == ["start", "welcome", "no_answer"]
    assert chat.now == datetime(2024, 5, 7, 18, 0, tzinfo=UTC)


# --- promotion with a follow-up ------------------------------------------------------------------------------


PROMO = "Ana, our summer sale is on: 30% off all coffee beans until Sunday."
LINK = "Here you go: https://shop.example.com/summer-sale (code SUMMER30 at checkout)."
FOLLOW_UP = "Only 2 days left of the summer sale! Reply YES and we'll send you the link."


def test_promotion_show_me_sends_the_link() -> None:
    chat = Conversation("promotion_follow_up").tap("show")
    assert chat.transcript == [PROMO, LINK]
    assert chat.of_type(SendMessage)[0].media_url == "https://example.com/images/summer-sale.jpg"
    assert chat.route == ["start", "promo", "tag_interested", "link", "end_link"]
    assert chat.of_type(AddTag) == [AddTag(node_id="tag_interested", tag="summer-sale-interested")]
    assert chat.run.contact.tags == ["summer-sale-interested"]


def test_promotion_not_now_is_respected() -> None:
    chat = Conversation("promotion_follow_up").tap("later")
    assert chat.transcript == [PROMO, "No problem, we won't mention it again. Enjoy your week!"]
    assert chat.route == ["start", "promo", "tag_not_now", "ok_later", "end_not_now"]


def test_promotion_follows_up_two_days_later_and_a_yes_gets_the_link() -> None:
    chat = Conversation("promotion_follow_up")
    chat.fire_timer()  # no tap within the hour
    delay = chat.of_type(ScheduleTimer)[-1]
    assert delay.node_id == "wait_2_days"
    assert delay.fire_at == datetime(2024, 5, 8, 19, 0, tzinfo=UTC)
    assert chat.transcript == [PROMO]

    chat.fire_timer()
    assert chat.transcript == [PROMO, FOLLOW_UP]

    chat.reply("Yes please!")
    assert chat.transcript == [PROMO, FOLLOW_UP, LINK]
    assert chat.route == [
        "start",
        "promo",
        "wait_2_days",
        "follow_up",
        "answer",
        "interested",
        "tag_interested",
        "link",
        "end_link",
    ]
    assert chat.run.vars == {"follow_up_answer": "Yes please!"}
    assert chat.ended.reason == "end"


def test_promotion_follow_up_answered_no_ends_quietly() -> None:
    chat = Conversation("promotion_follow_up").fire_timer().fire_timer().reply("no thanks")
    assert chat.transcript == [PROMO, FOLLOW_UP]
    assert chat.route[-2:] == ["interested", "end_no_interest"]


def test_promotion_to_an_opted_out_contact_moves_on_to_the_follow_up_path() -> None:
    """Seed 002: the consent gate fails the marketing send; the run takes ``next``, it does not hang."""
    chat = Conversation("promotion_follow_up")
    chat.send(SendResult(message_ref="promo#1", status="failed", reason="opted_out"))
    assert chat.route == ["start", "promo", "wait_2_days"]
    assert chat.run.waiting is not None and chat.run.waiting.kind == "timer"


# --- FAQ keyword bot ------------------------------------------------------------------------------------------


def test_faq_bot_answers_until_goodbye() -> None:
    graph = load_example("faq_keyword_bot")
    start = next(node for node in graph.nodes if isinstance(node, StartNode))
    # HELP is every sender's help keyword (the consent service answers it), so the bot starts on others.
    assert (start.trigger, start.keywords) == ("keyword", ["FAQ", "QUESTION"])
    assert all(
        node.message_kind == "transactional" for node in graph.nodes if isinstance(node, SendMessageNode)
    )

    chat = Conversation("faq_keyword_bot")
    chat.reply("How much is a bag of beans?")
    chat.reply("When are you OPEN on Sunday?")
    chat.reply("Do you ship to Spain?")
    chat.reply("Thanks, bye!")

    assert chat.transcript == [
        "Hi Ana! I'm the Lisbon Coffee Roasters assistant. Ask me about prices or opening hours, "
        "or type BYE when you're done.",
        "A 250 g bag of our house blend is 9.50 EUR; single origins start at 12 EUR. Anything else?",
        "We're open Monday to Saturday 8:00-19:00 and Sunday 9:00-14:00. Anything else?",
        'Sorry, I didn\'t understand "Do you ship to Spain?". I can tell you about prices and opening hours.',
        "Thanks for chatting, Ana. Have a great day!",
    ]
    assert chat.route == [
        "start",
        "greeting",
        *("ask", "topic", "answer_price"),
        *("ask", "topic", "answer_hours"),
        *("ask", "topic", "fallback"),
        *("ask", "topic", "goodbye"),
        "end_bye",
    ]
    assert chat.run.visits["ask"] == 4
    assert chat.run.vars == {"question": "Thanks, bye!"}
    assert chat.ended == EndRun(status="completed", reason="end", node_id="end_bye")


def test_faq_bot_closes_when_the_contact_goes_quiet() -> None:
    chat = Conversation("faq_keyword_bot").reply("prices?").fire_timer()
    assert len(chat.transcript) == 2
    assert chat.route[-2:] == ["ask", "end_idle"]
    assert chat.ended.node_id == "end_idle"


# --- re-engagement with an A/B split --------------------------------------------------------------------------


def lapsed(**attributes: object) -> ContactSnapshot:
    return ContactSnapshot(
        name="Ana", timezone="Europe/Lisbon", attributes={"last_order_days": 120, **attributes}
    )


def seed_for(variant: str) -> int:
    """The first seed whose split takes ``variant``: seeds make the split reproducible."""
    for seed in range(100):
        if f"mark_{variant}" in Conversation("re_engagement_ab", lapsed(), seed=seed).route:
            return seed
    raise AssertionError(f"no seed below 100 takes variant {variant}")


@pytest.mark.parametrize(
    ("variant", "offer"),
    [
        ("a", "We miss you, Ana! Here's 15% off your next order: COMEBACK15"),
        ("b", "It's been a while, Ana! Your next order ships free with code FREESHIP."),
    ],
)
def test_re_engagement_sends_a_variant_then_a_reminder_at_ten_local(variant: str, offer: str) -> None:
    chat = Conversation("re_engagement_ab", lapsed(), seed=seed_for(variant))
    assert chat.transcript == [offer]
    assert chat.of_type(SetAttribute) == [
        SetAttribute(node_id=f"mark_{variant}", attribute="reengagement_variant", value=variant.upper())
    ]
    timer = chat.of_type(ScheduleTimer)[-1]
    assert timer.node_id == "until_10"
    assert timer.fire_at == datetime(2024, 5, 7, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Lisbon (UTC+1)

    chat.fire_timer()

    assert chat.transcript == [
        offer,
        f"Reminder: your offer (variant {variant.upper()}) ends on Sunday. Shop now: https://shop.example.com",
    ]
    assert chat.route == [
        "start",
        "lapsed",
        "split",
        f"mark_{variant}",
        f"offer_{variant}",
        "until_10",
        "reminder",
        "end_done",
    ]
    assert chat.ended.reason == "end"


@pytest.mark.parametrize("attributes", [{"last_order_days": 30}, {"last_order_days": "unknown"}, {}])
def test_re_engagement_leaves_recent_customers_alone(attributes: dict[str, object]) -> None:
    contact = ContactSnapshot(name="Ana", attributes=attributes)
    chat = Conversation("re_engagement_ab", contact)
    assert chat.transcript == []
    assert chat.route == ["start", "lapsed", "end_active"]


def test_re_engagement_split_is_about_half_and_half() -> None:
    flow = CompiledFlow.from_graph(load_example("re_engagement_ab"))
    variants = [
        step(flow, None, Start(contact=lapsed(), seed=seed), MONDAY_EVENING).state.path[3].node_id
        for seed in range(1000)
    ]
    assert 0.45 < variants.count("mark_a") / len(variants) < 0.55
