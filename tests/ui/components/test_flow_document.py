"""The editing model behind the canvas and the side panel: every change undoable, ports kept consistent."""

from __future__ import annotations

import pytest

from flows.schema import SendMessageNode, decode_graph
from flows.validation import validate
from tests.ui.flow_samples import SAMPLE_GRAPH
from ui.components.flow_document import COALESCE_SECONDS, Clipboard, FlowDocument, mark_ended


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def doc(clock: Clock) -> FlowDocument:
    return FlowDocument(decode_graph(SAMPLE_GRAPH), clock=clock)


def edges(doc: FlowDocument) -> set[tuple[str, str, str]]:
    return {(edge.source, edge.source_port, edge.target) for edge in doc.graph.edges}


def test_a_new_node_gets_a_readable_free_id_its_position_and_the_selection(doc: FlowDocument) -> None:
    first = doc.add_node("send_message", 100.4, 200.6)
    second = doc.add_node("send_message", 0, 0)
    assert (first.id, second.id) == ("message-1", "message-2")
    assert (first.position.x, first.position.y) == (100, 201)
    assert doc.selection == ["message-2"]
    with pytest.raises(ValueError, match="unknown node kind"):
        doc.add_node("teleport", 0, 0)


def test_connecting_a_used_port_replaces_its_edge_and_clears_a_deliberate_end(doc: FlowDocument) -> None:
    doc.update("welcome", lambda node: mark_ended(node, "next", True))
    assert doc.node("welcome").ends == ["next"]
    doc.connect("welcome", "next", "done")
    doc.connect("welcome", "button:yes", "done")
    assert ("welcome", "button:yes", "ask") not in edges(doc)
    assert {("welcome", "button:yes", "done"), ("welcome", "next", "done")} <= edges(doc)
    assert doc.node("welcome").ends == []


@pytest.mark.parametrize(
    ("source", "port", "target"),
    [("welcome", "rule:r1", "done"), ("welcome", "next", "welcome"), ("ghost", "next", "done")],
)
def test_connections_the_graph_cannot_hold_are_refused(doc: FlowDocument, source, port, target) -> None:
    before = edges(doc)
    assert doc.connect(source, port, target) is None
    assert edges(doc) == before
    assert not doc.can_undo


def test_removing_a_button_drops_its_edge_and_reports_the_port_change(doc: FlowDocument) -> None:
    assert doc.update("welcome", lambda node: node.buttons.pop(0)) is True
    assert ("welcome", "button:yes", "ask") not in edges(doc)
    assert doc.update("welcome", lambda node: setattr(node, "text", "Hello")) is False


def test_deleting_nodes_takes_their_edges_and_the_selection(doc: FlowDocument) -> None:
    doc.select(["ask", "done"])
    doc.delete_nodes(["ask"])
    assert "ask" not in doc.ids()
    assert edges(doc) == {("start", "next", "welcome")}
    assert doc.selection == ["done"]


def test_undo_and_redo_walk_every_kind_of_change(doc: FlowDocument) -> None:
    original = validate(doc.graph)
    doc.move({"ask": (700, 20)})
    doc.connect("welcome", "button:no", "done")
    doc.update("welcome", lambda node: setattr(node, "text", "Changed"))
    doc.delete_nodes(["done"])
    for _ in range(4):
        assert doc.undo()
    assert not doc.undo()
    assert validate(doc.graph) == original
    assert doc.node("ask").position.x == 620
    assert doc.redo() and doc.node("ask").position.x == 700
    # A new change after undoing forgets the undone future.
    doc.add_node("end", 0, 0)
    assert not doc.can_redo


def test_typing_into_one_field_is_one_undo_step_until_a_pause(doc: FlowDocument, clock: Clock) -> None:
    for text in ("H", "He", "Hel", "Hello"):
        doc.update("welcome", lambda node, text=text: setattr(node, "text", text), key="welcome:text")
        clock.now += 0.3
    clock.now += COALESCE_SECONDS + 0.1
    doc.update("welcome", lambda node: setattr(node, "text", "Hello!"), key="welcome:text")
    assert doc.undo() and doc.node("welcome").text == "Hello"
    assert doc.undo() and doc.node("welcome").text.startswith("Hi {{contact.first_name}}")


def test_a_change_that_changes_nothing_leaves_no_undo_step(doc: FlowDocument) -> None:
    doc.move({"ask": (620, 0)})
    doc.update("welcome", lambda node: setattr(node, "label", "Welcome"))
    assert not doc.can_undo and doc.revision == 0


def test_paste_makes_new_ids_keeps_inner_edges_and_selects_the_copies(doc: FlowDocument) -> None:
    clipboard = doc.copy(["welcome", "ask"])
    assert clipboard is not None and len(clipboard.edges) == 1  # start -> welcome is not inside the copy
    pasted = doc.paste(clipboard, at=(1000, 500))
    assert pasted == ["message-1", "wait-1"] == doc.selection
    copy = doc.node("message-1")
    assert isinstance(copy, SendMessageNode) and [b.title for b in copy.buttons] == [
        "Yes please",
        "No thanks",
    ]
    assert (copy.position.x, copy.position.y) == (1000, 540)  # top-left of the copies at the pointer
    assert ("message-1", "button:yes", "wait-1") in edges(doc)
    assert doc.duplicate(["done"]) == ["end-1"]
    assert doc.node("end-1").position.x == doc.node("done").position.x + 40


def test_a_broken_clipboard_pastes_nothing(doc: FlowDocument) -> None:
    count = len(doc.graph.nodes)
    assert doc.paste(Clipboard(nodes=[{"kind": "nope", "id": "x"}], edges=[])) == []
    edge_to_nowhere = Clipboard(
        nodes=[{"kind": "end", "id": "x"}], edges=[{"source": "x", "target": "elsewhere"}]
    )
    assert doc.paste(edge_to_nowhere) == ["end-1"]
    assert len(doc.graph.nodes) == count + 1
    assert all(edge.target != "elsewhere" for edge in doc.graph.edges)


def test_edges_without_ids_get_the_canvas_ids_so_they_can_be_removed() -> None:
    graph = decode_graph(
        {
            "nodes": [{"kind": "start", "id": "s"}, {"kind": "end", "id": "e"}],
            "edges": [{"source": "s", "target": "e"}],
        }
    )
    doc = FlowDocument(graph)
    assert [edge.id for edge in doc.graph.edges] == ["e-s-next-e"]
    assert doc.remove_edges(["e-s-next-e"]) and doc.graph.edges == []
