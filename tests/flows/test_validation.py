"""flows.validation: one table row per rule, valid graphs that must stay silent, messages and order.

Pure tests: no backend import, no database or Redis fixture. Graphs are built from small helpers:
:func:`flow` chains a start, the given steps and an end through each step's main output, and the
step helpers mark their other outputs as deliberate ends, so a row only differs from a valid flow
by the one mistake it pins.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.schema import (
    AddTagNode,
    AddToGroupNode,
    BranchNode,
    BranchRule,
    Button,
    DelayNode,
    Edge,
    EndNode,
    FlowGraph,
    HttpRequestNode,
    Node,
    OptInNode,
    OptOutNode,
    RemoveFromGroupNode,
    SaveField,
    SendMessageNode,
    SetAttributeNode,
    StartNode,
    TemplateRef,
    WaitForReplyNode,
    decode_graph,
    encode_graph,
)
from flows.validation import CODES, Problem, validate

# --- building graphs ------------------------------------------------------------------------------------


def start(**settings: Any) -> StartNode:
    return StartNode(id="s", **settings)


def end(node_id: str = "e") -> EndNode:
    return EndNode(id=node_id)


def send(node_id: str = "m", text: str = "Hello", **settings: Any) -> SendMessageNode:
    return SendMessageNode(id=node_id, text=text, **settings)


def wait(node_id: str = "w", **settings: Any) -> WaitForReplyNode:
    """A wait whose timeout deliberately ends the run (its main output is ``reply``)."""
    settings.setdefault("ends", ["timeout"])
    return WaitForReplyNode(id=node_id, **settings)


def http(node_id: str = "h", url: str = "https://api.example.com/v1", **settings: Any) -> HttpRequestNode:
    """A request whose failure deliberately ends the run (its main output is ``success``)."""
    settings.setdefault("ends", ["failure"])
    return HttpRequestNode(id=node_id, url=url, **settings)


def rule(rule_id: str = "r1", **settings: Any) -> BranchRule:
    return BranchRule(id=rule_id, **settings)


def branch(node_id: str = "b", rules: Sequence[BranchRule] | None = None, **settings: Any) -> BranchNode:
    """A branch whose rule outputs deliberately end the run (its main output is ``else``)."""
    rules = [rule(value="yes")] if rules is None else list(rules)
    settings.setdefault("ends", [f"rule:{item.id}" for item in rules])
    return BranchNode(id=node_id, rules=rules, **settings)


def split(node_id: str = "b", percents: Sequence[float] = (50, 50), **settings: Any) -> BranchNode:
    """A random split; its first rule is its main output, the others deliberately end the run."""
    rules = [rule(f"r{index}", percent=percent) for index, percent in enumerate(percents, 1)]
    settings.setdefault("ends", [f"rule:{item.id}" for item in rules[1:]])
    return BranchNode(id=node_id, mode="random", rules=rules, **settings)


def edge(source: str, target: str, port: str = "next") -> Edge:
    return Edge(source=source, target=target, source_port=port)


def main_port(node: Node) -> str:
    if isinstance(node, WaitForReplyNode):
        return "reply"
    if isinstance(node, HttpRequestNode):
        return "success"
    if isinstance(node, BranchNode):
        return f"rule:{node.rules[0].id}" if node.mode == "random" else "else"
    return "next"


def flow(
    *steps: Node,
    first: StartNode | None = None,
    nodes: Sequence[Node] = (),
    edges: Sequence[Edge] = (),
) -> FlowGraph:
    """start → steps → end through each node's main output, plus extra ``nodes`` and ``edges``."""
    line: list[Node] = [first or start(), *steps, end()]
    chain = [edge(a.id, b.id, main_port(a)) for a, b in pairwise(line)]
    return FlowGraph(nodes=[*line, *nodes], edges=[*chain, *edges])


def pairs(problems: Sequence[Problem]) -> set[tuple[str | None, str]]:
    return {(problem.node_id, problem.code) for problem in problems}


def codes(problems: Sequence[Problem]) -> list[str]:
    return [problem.code for problem in problems]


# --- one row per rule -------------------------------------------------------------------------------------

Build = Callable[[], FlowGraph]

INVALID: list[Any] = [
    # structure
    pytest.param(lambda: FlowGraph(nodes=[end()]), {}, {(None, "no_start")}, id="no_start"),
    pytest.param(
        lambda: flow(nodes=[StartNode(id="s2")], edges=[edge("s2", "e")]),
        {},
        {("s2", "multiple_starts")},
        id="multiple_starts",
    ),
    pytest.param(
        lambda: flow(send("m"), nodes=[send("m", "Again")]),
        {},
        {("m", "duplicate_node_id")},
        id="duplicate_node_id",
    ),
    pytest.param(
        lambda: flow(wait(ends=[]), edges=[edge("w", "ghost", "timeout")]),
        {},
        {("w", "dangling_edge")},
        id="dangling_edge_to_missing_node",
    ),
    pytest.param(
        lambda: flow(edges=[edge("ghost", "e")]),
        {},
        {("e", "dangling_edge")},
        id="dangling_edge_from_missing_node",
    ),
    pytest.param(
        lambda: flow(edges=[edge("ghost", "phantom")]),
        {},
        {(None, "dangling_edge")},
        id="dangling_edge_both_missing",
    ),
    pytest.param(
        lambda: flow(send("m"), edges=[edge("m", "e", "button:gone")]),
        {},
        {("m", "unknown_port")},
        id="unknown_port_deleted_button",
    ),
    pytest.param(
        lambda: flow(edges=[edge("e", "e")]), {}, {("e", "unknown_port")}, id="unknown_port_from_end"
    ),
    pytest.param(
        lambda: flow(send("m", ends=["button:x"])), {}, {("m", "unknown_port")}, id="unknown_port_in_ends"
    ),
    pytest.param(lambda: flow(edges=[edge("s", "e")]), {}, {("s", "duplicate_edge")}, id="duplicate_edge"),
    pytest.param(
        lambda: flow(wait(ends=[]), edges=[edge("w", "s", "timeout")]),
        {},
        {("w", "edge_into_start")},
        id="edge_into_start",
    ),
    pytest.param(lambda: flow(wait(ends=[])), {}, {("w", "unconnected_output")}, id="unconnected_timeout"),
    pytest.param(lambda: flow(branch(ends=[])), {}, {("b", "unconnected_output")}, id="unconnected_rule"),
    pytest.param(lambda: flow(http(ends=[])), {}, {("h", "unconnected_output")}, id="unconnected_failure"),
    pytest.param(lambda: flow(nodes=[end("e2")]), {}, {("e2", "unreachable_node")}, id="unreachable_node"),
    pytest.param(
        lambda: flow(
            AddTagNode(id="a", tag="loop"),
            branch(mode="attribute", rules=[rule(attribute="vip", value="yes")], ends=[]),
            edges=[edge("b", "a", "rule:r1")],
        ),
        {},
        {("a", "loop_without_wait")},
        id="loop_without_wait",
    ),
    pytest.param(
        lambda: flow(
            branch(mode="attribute", rules=[rule(attribute="vip", value="yes")], ends=[]),
            edges=[edge("b", "b", "rule:r1")],
        ),
        {},
        {("b", "loop_without_wait")},
        id="self_loop",
    ),
    # missing settings
    pytest.param(lambda: flow(send(text="")), {}, {("m", "missing_field")}, id="send_without_content"),
    pytest.param(
        lambda: flow(send(text="", template=TemplateRef(name=" "))),
        {},
        {("m", "missing_field")},
        id="template_name",
    ),
    pytest.param(
        lambda: flow(SetAttributeNode(id="a", value="x")),
        {},
        {("a", "missing_field")},
        id="set_attribute_attribute",
    ),
    pytest.param(lambda: flow(AddTagNode(id="t")), {}, {("t", "missing_field")}, id="add_tag_tag"),
    pytest.param(lambda: flow(AddToGroupNode(id="g")), {}, {("g", "missing_field")}, id="add_to_group_group"),
    pytest.param(
        lambda: flow(RemoveFromGroupNode(id="g")), {}, {("g", "missing_field")}, id="remove_group_group"
    ),
    pytest.param(lambda: flow(http(url="")), {}, {("h", "missing_field")}, id="http_url"),
    pytest.param(
        lambda: flow(http(save=[SaveField(path="data.id")])),
        {},
        {("h", "missing_field")},
        id="http_save_variable",
    ),
    pytest.param(
        lambda: flow(first=start(trigger="keyword")),
        {},
        {("s", "missing_field")},
        id="keyword_start_keywords",
    ),
    pytest.param(lambda: flow(branch(rules=[])), {}, {("b", "missing_field")}, id="branch_without_rules"),
    pytest.param(
        lambda: flow(branch(rules=[rule(operator="contains", value="")])),
        {},
        {("b", "missing_field")},
        id="reply_rule_value",
    ),
    pytest.param(
        lambda: flow(branch(mode="attribute", rules=[rule(operator="equals", value="gold")])),
        {},
        {("b", "missing_field")},
        id="attribute_rule_attribute",
    ),
    pytest.param(
        lambda: flow(DelayNode(id="d", mode="time_of_day", time_of_day="")),
        {},
        {("d", "missing_field")},
        id="delay_time_of_day",
    ),
    pytest.param(
        lambda: flow(send(buttons=[Button(id="y", title="")])),
        {},
        {("m", "missing_field")},
        id="button_title",
    ),
    # wrong values
    pytest.param(lambda: flow(DelayNode(id="d", seconds=0)), {}, {("d", "invalid_field")}, id="delay_zero"),
    pytest.param(
        lambda: flow(wait(timeout=91 * 86_400)), {}, {("w", "invalid_field")}, id="wait_over_90_days"
    ),
    pytest.param(
        lambda: flow(send(buttons=[Button(id="y", title="Yes")], reply_timeout=-1)),
        {},
        {("m", "invalid_field")},
        id="reply_timeout_negative",
    ),
    pytest.param(lambda: flow(http(timeout_seconds=120)), {}, {("h", "invalid_field")}, id="http_timeout"),
    pytest.param(
        lambda: flow(DelayNode(id="d", mode="time_of_day", time_of_day="24:00")),
        {},
        {("d", "invalid_field")},
        id="time_of_day_24h",
    ),
    pytest.param(
        lambda: flow(branch(rules=[rule(operator="gt", value="3")])),
        {},
        {("b", "invalid_field")},
        id="attribute_operator_in_reply_mode",
    ),
    pytest.param(
        lambda: flow(branch(mode="attribute", rules=[rule(attribute="plan", operator="button", value="y")])),
        {},
        {("b", "invalid_field")},
        id="reply_operator_in_attribute_mode",
    ),
    pytest.param(
        lambda: flow(
            send(buttons=[Button(id="y", title="Yes")]), branch(rules=[rule(operator="button", value="n")])
        ),
        {},
        {("b", "invalid_field")},
        id="button_rule_unknown_button",
    ),
    pytest.param(
        lambda: flow(
            branch(mode="attribute", rules=[rule(attribute="age", operator="gte", value="eighteen")])
        ),
        {},
        {("b", "invalid_field")},
        id="numeric_operator_text_value",
    ),
    pytest.param(
        lambda: flow(send(media_url="ftp://files.example.com/a.png")),
        {},
        {("m", "invalid_field")},
        id="media_url_not_http",
    ),
    pytest.param(
        lambda: flow(
            send(text="", media_url="https://cdn.example.com/a.png", buttons=[Button(id="y", title="Yes")])
        ),
        {"channel": "whatsapp"},
        {("m", "missing_field")},
        id="media_with_buttons_and_no_text",
    ),
    pytest.param(
        lambda: flow(send(text="x" * 800, media_url="https://cdn.example.com/a.png")),
        {"channel": "viber"},
        {("m", "invalid_field")},
        id="media_caption_too_long_for_viber",
    ),
    pytest.param(
        lambda: flow(http(url="api.example.com/v1")), {}, {("h", "invalid_field")}, id="url_without_scheme"
    ),
    pytest.param(
        lambda: flow(wait(save_as="my answer")), {}, {("w", "invalid_field")}, id="save_as_not_identifier"
    ),
    pytest.param(
        lambda: flow(SetAttributeNode(id="a", attribute="first-name", value="x")),
        {},
        {("a", "invalid_field")},
        id="attribute_not_identifier",
    ),
    pytest.param(
        lambda: flow(http(save=[SaveField(variable="1st", path="id")])),
        {},
        {("h", "invalid_field")},
        id="save_variable_not_identifier",
    ),
    pytest.param(
        lambda: flow(send(buttons=[Button(id="y", title="Yes, please tell me more")])),
        {},
        {("m", "invalid_field")},
        id="button_title_over_20",
    ),
    pytest.param(
        lambda: flow(send(text="Hi {{ contact name }}")),
        {},
        {("m", "invalid_field")},
        id="malformed_placeholder",
    ),
    # references to the workspace
    pytest.param(
        lambda: flow(AddToGroupNode(id="g", group_id=7)),
        {"group_ids": [1, 2]},
        {("g", "unknown_reference")},
        id="unknown_group",
    ),
    pytest.param(
        lambda: flow(OptOutNode(id="o", category_id=9)),
        {"category_ids": [1]},
        {("o", "unknown_reference")},
        id="unknown_category",
    ),
    pytest.param(
        lambda: flow(send(category_id=9)),
        {"category_ids": []},
        {("m", "unknown_reference")},
        id="send_category",
    ),
    # buttons and rules
    pytest.param(
        lambda: flow(send(buttons=[Button(id=f"b{index}", title=f"Option {index}") for index in range(4)])),
        {},
        {("m", "too_many_buttons")},
        id="too_many_buttons",
    ),
    pytest.param(
        lambda: flow(send(buttons=[Button(id="y", title="Yes"), Button(id="y", title="Sure")])),
        {},
        {("m", "duplicate_button_id")},
        id="duplicate_button_id",
    ),
    pytest.param(
        lambda: flow(branch(rules=[rule("r1", value="yes"), rule("r1", value="no")])),
        {},
        {("b", "duplicate_rule_id")},
        id="duplicate_rule_id",
    ),
    pytest.param(lambda: flow(split(percents=(50, 40))), {}, {("b", "split_not_100")}, id="split_sums_to_90"),
    pytest.param(
        lambda: flow(split(percents=(100, 0))), {}, {("b", "split_not_100")}, id="split_zero_percent"
    ),
    # variables
    pytest.param(
        lambda: flow(send(text="Your code: {{vars.code}}")),
        {},
        {("m", "unknown_variable")},
        id="unknown_vars",
    ),
    pytest.param(
        lambda: flow(send(text="Your plan: {{contact.plan}}")),
        {"known_attributes": ["city"]},
        {("m", "unknown_variable")},
        id="unknown_contact_attribute",
    ),
    pytest.param(
        lambda: flow(send(text="You said {{reply.text}}")),
        {},
        {("m", "unknown_variable")},
        id="reply_before_any_wait",
    ),
    pytest.param(
        lambda: flow(send(text="Hi {{user.name}}")), {}, {("m", "unknown_variable")}, id="unknown_namespace"
    ),
    pytest.param(
        lambda: flow(send(text="Thanks, {{vars.answer}}"), wait(save_as="answer")),
        {},
        {("m", "unknown_variable")},
        id="variable_saved_only_later",
    ),
    pytest.param(
        lambda: flow(http(headers={"Authorization": "Bearer {{vars.token}}"})),
        {},
        {("h", "unknown_variable")},
        id="unknown_variable_in_header",
    ),
    pytest.param(
        lambda: flow(SetAttributeNode(id="a", attribute="city", value="{{vars.city}}")),
        {},
        {("a", "unknown_variable")},
        id="unknown_variable_in_attribute_value",
    ),
    # channels
    pytest.param(
        lambda: flow(send(buttons=[Button(id="y", title="Yes")])),
        {"channel": "sms"},
        {("m", "unsupported_on_channel")},
        id="sms_buttons",
    ),
    pytest.param(
        lambda: flow(send(text="", template=TemplateRef(name="promo"))),
        {"channel": "sms"},
        {("m", "unsupported_on_channel")},
        id="sms_template",
    ),
    pytest.param(
        lambda: flow(send(media_url="https://cdn.example.com/a.png")),
        {"channel": "sms"},
        {("m", "unsupported_on_channel")},
        id="sms_media",
    ),
    pytest.param(
        lambda: flow(send(buttons=[Button(id="y", title="Yes")])),
        {"channel": "email"},
        {("m", "unsupported_on_channel")},
        id="email_buttons",
    ),
]


@pytest.mark.parametrize(("build", "options", "expected"), INVALID)
def test_each_invalid_graph_reports_exactly_its_problem(
    build: Build, options: dict[str, Any], expected: set[tuple[str | None, str]]
) -> None:
    problems = validate(build(), **options)
    assert pairs(problems) == expected, [problem.message for problem in problems]


def test_the_table_covers_every_code() -> None:
    covered = {code for row in INVALID for _, code in row.values[2]}
    assert covered == set(CODES)


# --- valid graphs stay silent -------------------------------------------------------------------------------


def every_kind() -> FlowGraph:
    """A keyword bot touching every node kind, with variables flowing from where they are defined."""
    nodes: list[Node] = [
        start(trigger="keyword", keywords=["PROMO", "OFFER"], label="Keyword PROMO"),
        send(
            "ask",
            "Hi {{contact.name | 'there'}}! Want the offer for {{contact.city}}?",
            buttons=[Button(id="yes", title="Yes"), Button(id="no", title="No thanks")],
            media_url="https://cdn.example.com/{{contact.city}}/offer.png",
        ),
        wait("why", save_as="answer", ends=[]),
        branch(
            "route",
            rules=[
                rule("tapped", operator="button", value="yes"),
                rule("stop", operator="contains", value="stop"),
            ],
            ends=[],
        ),
        OptOutNode(id="out", category_id=1),
        DelayNode(id="pause", seconds=3_600),
        DelayNode(id="morning", mode="time_of_day", time_of_day="09:30", days=["mon", "tue"]),
        SetAttributeNode(id="remember", attribute="last_answer", value="{{vars.answer}} / {{reply.text}}"),
        AddTagNode(id="tag", tag="promo-2024"),
        AddToGroupNode(id="join", group_id=1),
        RemoveFromGroupNode(id="leave", group_id=2),
        branch(
            "segment",
            mode="attribute",
            rules=[
                rule("adult", attribute="age", operator="gte", value="18"),
                rule("known", operator="is_set", attribute="email"),
            ],
            ends=["rule:known"],
        ),
        split("ab", percents=(33.33, 33.33, 33.34), ends=["rule:r2", "rule:r3"]),
        http(
            "crm",
            url="https://crm.example.com/contacts/{{contact.phone}}?answer={{vars.answer}}",
            method="POST",
            headers={"Authorization": "Bearer abc"},
            body='{"plan": "{{contact.last_answer}}"}',
            save=[SaveField(variable="coupon", path="data.coupon")],
            timeout_seconds=5,
            ends=[],
        ),
        send(
            "coupon",
            text="",
            template=TemplateRef(name="coupon_v2", params=["{{contact.name}}", "{{vars.coupon}}"]),
            message_kind="transactional",
            category_id=2,
        ),
        OptInNode(id="in", category_id=2),
        end(),
        end("sorry"),
    ]
    edges = [
        edge("s", "ask"),
        edge("ask", "route", "button:yes"),
        edge("ask", "why"),
        edge("why", "route", "reply"),
        edge("why", "e", "timeout"),
        edge("route", "pause", "rule:tapped"),
        edge("route", "out", "rule:stop"),
        edge("route", "pause", "else"),
        edge("out", "e"),
        edge("pause", "morning"),
        edge("morning", "remember"),
        edge("remember", "tag"),
        edge("tag", "join"),
        edge("join", "leave"),
        edge("leave", "segment"),
        edge("segment", "ab", "rule:adult"),
        edge("segment", "sorry", "else"),
        edge("ab", "crm", "rule:r1"),
        edge("crm", "coupon", "success"),
        edge("crm", "sorry", "failure"),
        edge("coupon", "in"),
        edge("in", "e"),
    ]
    return FlowGraph(nodes=nodes, edges=edges)


VALID: list[Any] = [
    pytest.param(lambda: flow(), {}, id="start_to_end"),
    pytest.param(
        every_kind,
        {
            "known_attributes": ["city", "age"],
            "group_ids": [1, 2],
            "category_ids": [1, 2],
            "channel": "whatsapp",
        },
        id="every_node_kind",
    ),
    pytest.param(lambda: flow(wait()), {}, id="timeout_deliberately_ends"),
    pytest.param(
        lambda: flow(send(buttons=[Button(id="y", title="Yes")])),
        {},
        id="unconnected_buttons_fall_through_next",
    ),
    pytest.param(
        lambda: FlowGraph(
            nodes=[start(), send(), wait(ends=[]), end()],
            edges=[edge("s", "m"), edge("m", "w"), edge("w", "m", "reply"), edge("w", "e", "timeout")],
        ),
        {},
        id="loop_through_a_wait",
    ),
    pytest.param(
        lambda: flow(
            send(buttons=[Button(id="again", title="Again")]), edges=[edge("m", "m", "button:again")]
        ),
        {},
        id="self_loop_on_a_send_waiting_for_buttons",
    ),
    pytest.param(
        lambda: flow(http(ends=[]), edges=[edge("h", "h", "failure")]), {}, id="http_retry_loop_pauses"
    ),
    pytest.param(
        lambda: flow(send(text="Hi {{contact.first_name | \"there\"}}, {{vars.x | 'friend'}} {{user.y | }}")),
        {},
        id="defaults_make_any_variable_fine",
    ),
    pytest.param(
        lambda: FlowGraph(
            nodes=[
                start(),
                send(buttons=[Button(id="y", title="Yes")]),
                send("m2", "You tapped {{reply.button}}: {{reply.text}}"),
                end(),
            ],
            edges=[edge("s", "m"), edge("m", "m2", "button:y"), edge("m", "e"), edge("m2", "e")],
        ),
        {},
        id="reply_after_send_with_connected_buttons",
    ),
    pytest.param(
        lambda: flow(SetAttributeNode(id="a", attribute="plan", value="gold"), send(text="{{contact.plan}}")),
        {},
        id="attribute_set_by_an_ancestor",
    ),
    pytest.param(
        lambda: flow(send(text="{{contact.plan}} {{contact.email}} {{contact.timezone}}")),
        {"known_attributes": ["plan"]},
        id="known_attribute_and_contact_fields",
    ),
    pytest.param(
        lambda: flow(http(save=[SaveField(variable="order", path="data")]), send(text="{{vars.order.id}}")),
        {},
        id="http_saved_variable_nested_path",
    ),
    pytest.param(
        lambda: FlowGraph(
            nodes=[start(), send(text="Again? {{vars.answer}}"), wait(save_as="answer", ends=[]), end()],
            edges=[edge("s", "m"), edge("m", "w"), edge("w", "m", "reply"), edge("w", "e", "timeout")],
        ),
        {},
        id="variable_defined_inside_the_same_loop",
    ),
    pytest.param(
        lambda: flow(
            branch(rules=[rule(operator="is_number")]),
            branch("b2", mode="attribute", rules=[rule(attribute="email", operator="is_not_set")]),
        ),
        {},
        id="operators_without_value",
    ),
    pytest.param(
        lambda: flow(
            http(url="https://{{vars.host | 'api.example.com'}}/v1"),
            http("h2", url="{{vars.base | 'https://x.io'}}"),
        ),
        {},
        id="urls_with_variables",
    ),
    pytest.param(lambda: flow(AddToGroupNode(id="g", group_id=99)), {}, id="group_ids_unknown_to_caller"),
    pytest.param(
        lambda: flow(send(media_url="https://cdn.example.com/a.png")), {"channel": "whatsapp"}, id="media"
    ),
    pytest.param(lambda: flow(send()), {"channel": "carrier-pigeon"}, id="unknown_channel_adds_no_checks"),
]


@pytest.mark.parametrize(("build", "options"), VALID)
def test_valid_graph_has_no_problems(build: Build, options: dict[str, Any]) -> None:
    assert validate(build(), **options) == []


def test_every_kind_graph_really_has_every_kind() -> None:
    kinds = {node.__struct_config__.tag for node in every_kind().nodes}
    assert kinds == {
        "start",
        "send_message",
        "wait_for_reply",
        "branch",
        "delay",
        "set_attribute",
        "add_tag",
        "add_to_group",
        "remove_from_group",
        "http_request",
        "opt_out",
        "opt_in",
        "end",
    }


def test_decoded_json_validates_like_the_structs() -> None:
    graph = every_kind()
    assert validate(decode_graph(encode_graph(graph)), known_attributes=["city", "age"]) == validate(
        graph, known_attributes=["city", "age"]
    )


# --- messages and fields --------------------------------------------------------------------------------------


def only(problems: Sequence[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_message_names_the_node_by_its_label() -> None:
    problem = only(validate(flow(send(text="", label="Welcome"))))
    assert problem.message == 'Send "Welcome": the message has no text, media or template.'
    assert problem.field == "text"


def test_message_names_an_unlabelled_node_by_kind_and_id() -> None:
    problem = only(validate(flow(AddTagNode(id="n7"))))
    assert problem.message.startswith("Add tag (node n7): ")
    assert problem.field == "tag"


def test_field_of_a_button_title() -> None:
    graph = flow(
        send(buttons=[Button(id="a", title="Yes"), Button(id="b", title="This title is far too long")])
    )
    problem = only(validate(graph))
    assert (problem.code, problem.field) == ("invalid_field", "buttons[1].title")
    assert "20" in problem.message


def test_field_of_a_split_percentage() -> None:
    problem = only(validate(flow(split(percents=(-5, 105)))))
    assert (problem.code, problem.field) == ("split_not_100", "rules[0].percent")


def test_field_of_a_template_parameter_and_the_variable_named() -> None:
    graph = flow(
        send(text="", template=TemplateRef(name="promo", params=["ok", "{{vars.coupon}}"]), label="Promo")
    )
    problem = only(validate(graph))
    assert (problem.code, problem.field) == ("unknown_variable", "template.params[1]")
    assert problem.message.startswith('Send "Promo": template parameter 2 uses {{vars.coupon}}')


def test_field_of_a_header() -> None:
    problem = only(validate(flow(http(headers={"X-Key": "{{vars.key}}"}))))
    assert problem.field == "headers.X-Key"


def test_unknown_port_in_ends_points_at_ends() -> None:
    problem = only(validate(flow(wait(ends=["timeout", "later"]))))
    assert (problem.code, problem.field) == ("unknown_port", "ends")


def test_connection_problems_point_at_the_port() -> None:
    problem = only(validate(flow(send(label="Offer"), edges=[edge("m", "e", "button:gone")])))
    assert problem.field == "button:gone"
    assert problem.message.startswith('Send "Offer": ')


def test_loop_message_lists_the_nodes_in_the_loop() -> None:
    graph = flow(
        AddTagNode(id="a", tag="x", label="Tag"),
        branch(mode="attribute", rules=[rule(attribute="vip", value="yes")], ends=[], label="VIP?"),
        edges=[edge("b", "a", "rule:r1")],
    )
    problem = only(validate(graph))
    assert problem.node_id == "a"
    assert 'Add tag "Tag"' in problem.message and 'Branch "VIP?"' in problem.message


def test_unknown_variable_reported_once_per_field_and_variable() -> None:
    problems = validate(
        flow(send(text="{{vars.a}} {{vars.a}} {{vars.b}}", media_url="https://x.io/{{vars.a}}"))
    )
    assert [(problem.field, problem.code) for problem in problems] == [
        ("media_url", "unknown_variable"),
        ("text", "unknown_variable"),
        ("text", "unknown_variable"),
    ]


def test_durations_are_spelled_in_whole_units() -> None:
    problem = only(validate(flow(wait(timeout=91 * 86_400, label="Answer?"))))
    assert problem.message == (
        'Wait for reply "Answer?": the time to wait for a reply is 91 days; '
        "it must be between 1 second and 90 days."
    )
    assert problem.field == "timeout"


def test_group_reference_uses_its_own_code() -> None:
    problem = only(validate(flow(RemoveFromGroupNode(id="g", group_id=3)), group_ids=[]))
    assert (problem.code, problem.field) == ("unknown_reference", "group_id")


# --- order and robustness ---------------------------------------------------------------------------------------


def test_order_is_graph_level_then_node_order_then_field() -> None:
    rules = [rule(f"r{index}", value="") for index in range(12)]
    graph = FlowGraph(
        nodes=[
            AddTagNode(id="t", ends=["next"]),
            BranchNode(id="b", rules=rules, ends=[f"rule:r{i}" for i in range(12)] + ["else"]),
        ],
        edges=[edge("ghost", "phantom")],
    )
    problems = validate(graph)
    assert [(problem.node_id, problem.code) for problem in problems[:3]] == [
        (None, "no_start"),
        (None, "dangling_edge"),
        ("t", "missing_field"),
    ]
    branch_fields = [problem.field for problem in problems if problem.node_id == "b"]
    assert branch_fields == [f"rules[{index}].value" for index in range(12)]
    assert validate(graph) == problems


def test_no_unreachable_check_without_a_single_start() -> None:
    graph = FlowGraph(
        nodes=[StartNode(id="a"), StartNode(id="b"), end()], edges=[edge("a", "e"), edge("b", "e")]
    )
    assert codes(validate(graph)) == ["multiple_starts"]


def test_empty_graph() -> None:
    assert codes(validate(FlowGraph())) == ["no_start"]


def test_large_graphs_need_no_recursion() -> None:
    """Not a timing test: a long chain and a long spinning cycle are analysed without recursion limits."""
    size = 5_000
    tags = [AddTagNode(id=f"t{index}", tag="x") for index in range(size)]
    assert validate(flow(*tags)) == []
    again = branch(mode="attribute", rules=[rule(attribute="vip", value="yes")], ends=[])
    ring = flow(*tags, again, edges=[edge("b", "t0", "rule:r1")])
    problem = only(validate(ring))
    assert (problem.node_id, problem.code) == ("t0", "loop_without_wait")
    assert problem.message.count("Add tag") == 11
    assert f"and {size + 1 - 10} more" in problem.message  # the tags and the branch


def test_validation_module_is_pure() -> None:
    """flows/ is shared by api, workers and previews: validation may import only the stdlib, msgspec and flows."""
    source = Path(__file__).resolve().parents[2] / "flows" / "validation.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "re", "collections", "dataclasses", "typing", "msgspec", "flows"}


# --- property: any decoded graph validates without raising -------------------------------------------------------

_IDS = st.sampled_from(["s", "a", "b", "e", ""])
_TEXTS = st.sampled_from(
    [
        "",
        "Hi",
        "{{contact.name}}",
        "{{vars.x}}",
        "{{ broken",
        "{{reply.text}}",
        "https://x.io/{{vars.x}}",
        "x" * 30,
    ]
)
_PORTS = st.sampled_from(
    ["next", "else", "reply", "timeout", "success", "failure", "button:y", "rule:r", "nope"]
)
_NUMBERS = st.floats(allow_nan=True, allow_infinity=True)
_BASE = {"id": _IDS, "ends": st.lists(_PORTS, max_size=2), "label": st.sampled_from(["", "L"])}
_RULES = st.lists(
    st.builds(
        BranchRule,
        id=st.sampled_from(["r", "q"]),
        operator=st.sampled_from(["equals", "button", "gt", "is_set", "??"]),
        value=_TEXTS,
        attribute=st.sampled_from(["", "age", "a b"]),
        percent=_NUMBERS,
    ),
    max_size=3,
)
_NODES = st.one_of(
    st.builds(
        StartNode,
        trigger=st.sampled_from(["manual", "keyword"]),
        keywords=st.lists(_TEXTS, max_size=2),
        **_BASE,
    ),
    st.builds(
        SendMessageNode,
        text=_TEXTS,
        media_url=_TEXTS,
        buttons=st.lists(st.builds(Button, id=st.sampled_from(["y", "n"]), title=_TEXTS), max_size=4),
        template=st.none() | st.builds(TemplateRef, name=_TEXTS, params=st.lists(_TEXTS, max_size=2)),
        reply_timeout=st.integers(-10, 10**9),
        category_id=st.none() | st.integers(0, 3),
        **_BASE,
    ),
    st.builds(WaitForReplyNode, timeout=st.integers(-10, 10**9), save_as=_TEXTS, **_BASE),
    st.builds(BranchNode, mode=st.sampled_from(["reply", "attribute", "random"]), rules=_RULES, **_BASE),
    st.builds(
        DelayNode,
        mode=st.sampled_from(["duration", "time_of_day"]),
        seconds=st.integers(-1, 10**9),
        time_of_day=st.sampled_from(["", "9", "09:30", "99:99"]),
        **_BASE,
    ),
    st.builds(SetAttributeNode, attribute=_TEXTS, value=_TEXTS, **_BASE),
    st.builds(AddToGroupNode, group_id=st.none() | st.integers(0, 3), **_BASE),
    st.builds(
        HttpRequestNode,
        url=_TEXTS,
        headers=st.dictionaries(st.sampled_from(["A", ""]), _TEXTS, max_size=2),
        save=st.lists(st.builds(SaveField, variable=_TEXTS, path=_TEXTS), max_size=2),
        timeout_seconds=_NUMBERS,
        **_BASE,
    ),
    st.builds(EndNode, **_BASE),
)
_GRAPHS = st.builds(
    FlowGraph,
    nodes=st.lists(_NODES, max_size=8),
    edges=st.lists(st.builds(Edge, source=_IDS, target=_IDS, source_port=_PORTS), max_size=12),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=_GRAPHS, channel=st.sampled_from([None, "sms", "email", "whatsapp"]))
def test_any_graph_validates_without_raising_in_a_stable_order(graph: FlowGraph, channel: str | None) -> None:
    problems = validate(graph, group_ids=[1], category_ids=[2], channel=channel)
    assert all(isinstance(problem, Problem) and problem.code in CODES for problem in problems)
    assert all(problem.message for problem in problems)
    assert validate(graph, group_ids=[1], category_ids=[2], channel=channel) == problems
    graph_level = [problem.node_id is None for problem in problems]
    assert graph_level == sorted(graph_level, reverse=True)
