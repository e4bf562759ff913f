"""How many flow nodes the interpreter executes per second on one core.

Run: ``.venv/bin/python bench/flows_interpreter.py`` (``--quick`` for a shorter run).

Two workloads, each timed a few times with the best run reported (the least disturbed by the rest of
the machine):

a) a chain of set_attribute / add_tag / branch (attribute rule) nodes, each run in a single
   ``step`` call: the interpreter's hot loop alone. 1,000 nodes is the default budget of one call;
   the 100,000-node chain (with a raised budget) shows the cost of big graphs (larger indexes);
b) many contacts through the FAQ example: start, four questions, goodbye. Every ``step`` call copies
   the state and renders messages, as a campaign worker would.

The target from issue 3 is over 100,000 node steps per second.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows.examples import load_example
from flows.graph import CompiledFlow
from flows.interpreter import step
from flows.run import ContactSnapshot, Reply, Start
from flows.schema import (
    AddTagNode,
    BranchNode,
    BranchRule,
    Edge,
    EndNode,
    FlowGraph,
    Node,
    SetAttributeNode,
    StartNode,
)

TARGET = 100_000
NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
FAQ_QUESTIONS = [
    "How much is it?",
    "When are you open?",
    "Do you ship to Spain?",
    "What does it cost?",
    "bye",
]


def pin_to_one_core() -> str:
    """Measure one core even on a busy many-core machine (Linux only; elsewhere it just runs)."""
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to CPU {core}"
    return "not pinned"


def chain_flow(length: int) -> CompiledFlow:
    """start → (set_attribute → add_tag → branch) x length/3 → end, every branch output going on."""
    nodes: list[Node] = [StartNode(id="start")]
    for index in range(length):
        node_id = f"n{index}"
        kind = index % 3
        if kind == 0:
            nodes.append(SetAttributeNode(id=node_id, attribute="score", value=str(index)))
        elif kind == 1:
            nodes.append(AddTagNode(id=node_id, tag=f"tag{index % 7}"))
        else:
            rule = BranchRule(id="high", attribute="score", operator="gt", value="100")
            nodes.append(BranchNode(id=node_id, mode="attribute", rules=[rule]))
    nodes.append(EndNode(id="end"))
    edges: list[Edge] = []
    for source, target in pairwise(nodes):
        ports = ["rule:high", "else"] if isinstance(source, BranchNode) else ["next"]
        edges.extend(Edge(source=source.id, source_port=port, target=target.id) for port in ports)
    return CompiledFlow.from_graph(FlowGraph(nodes=nodes, edges=edges))


def bench_chain(length: int, calls: int) -> tuple[int, float]:
    """``calls`` runs through a chain of ``length`` nodes, each run in a single ``step`` call."""
    flow = chain_flow(length)
    start = Start(contact=ContactSnapshot(name="Ann"))
    result = step(flow, None, start, NOW, budget=length + 10)
    assert result.state.ended_reason == "end", result.state.ended_reason
    steps = 0
    started = time.perf_counter()
    for _ in range(calls):
        steps += step(flow, None, start, NOW, budget=length + 10).state.steps
    return steps, time.perf_counter() - started


def bench_faq(contacts: int) -> tuple[int, float]:
    flow = CompiledFlow.from_graph(load_example("faq_keyword_bot"))
    steps = 0
    started = time.perf_counter()
    for seed in range(contacts):
        now = NOW
        state = step(flow, None, Start(contact=ContactSnapshot(name="Ann"), seed=seed), now).state
        for question in FAQ_QUESTIONS:
            now += timedelta(seconds=30)
            state = step(flow, state, Reply(text=question), now).state
        assert state.ended_reason == "end", state.ended_reason
        steps += state.steps
    return steps, time.perf_counter() - started


def best_of(repeats: int, run: Callable[[], tuple[int, float]]) -> tuple[int, float]:
    results = [run() for _ in range(repeats)]
    return min(results, key=lambda item: item[1] / item[0])


def report(name: str, steps: int, elapsed: float) -> bool:
    rate = steps / elapsed
    verdict = "ok" if rate > TARGET else "BELOW TARGET"
    print(
        f"{name:<48} {steps:>9,} steps in {elapsed * 1000:8.1f} ms  {rate:>12,.0f} steps/s  ({rate / TARGET:.1f}x target, {verdict})"
    )
    return rate > TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads, fewer repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    scale = 5 if args.quick else 1

    print(f"flows interpreter benchmark, Python {sys.version.split()[0]}, {pin_to_one_core()}")
    print(f"target: over {TARGET:,} node steps/s\n")
    ok = True
    for length, calls in ((998, 100 // scale), (100_000, 1)):
        length //= 1 if length < 1000 else scale
        ok &= report(
            f"a) chain of {length + 2:,} nodes, one step call x {calls}",
            *best_of(repeats, lambda length=length, calls=calls: bench_chain(length, calls)),
        )
    contacts = 10_000 // scale
    ok &= report(
        f"b) FAQ bot, {contacts:,} contacts x 6 events", *best_of(repeats, lambda: bench_faq(contacts))
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
