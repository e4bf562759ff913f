"""Example flows that ship with Flowgate: starting points in the editor and fixtures for the tests.

Each is a format-version-1 graph in a JSON file beside this module, read as package data (so it works
from a wheel as well as from the source tree).
"""

from __future__ import annotations

from importlib import resources

from flows.schema import FlowGraph, decode_graph

EXAMPLES: list[str] = [
    "welcome_opt_in",
    "promotion_follow_up",
    "faq_keyword_bot",
    "re_engagement_ab",
]
"""The example names, in the order the editor offers them."""


def example_json(name: str) -> bytes:
    """The example's JSON exactly as shipped (for an API that hands it to the editor unchanged)."""
    if name not in EXAMPLES:
        raise KeyError(f"no example flow named {name!r}; there are: {', '.join(EXAMPLES)}")
    return resources.files(__name__).joinpath(f"{name}.json").read_bytes()


def load_example(name: str) -> FlowGraph:
    """The example as a graph; KeyError for an unknown name."""
    return decode_graph(example_json(name))
