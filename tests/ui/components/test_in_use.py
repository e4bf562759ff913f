"""The sentence that names the campaigns keeping a flow or group from being deleted."""

from __future__ import annotations

from ui.components.in_use import in_use_sentence


def test_one_campaign_is_named_and_told_apart_from_several() -> None:
    assert in_use_sentence(["Spring sale"], False, "this group", "group") == (
        "Not deleted: the campaign “Spring sale” uses this group. Delete it or give it another group first."
    )
    assert in_use_sentence(["A", "B"], False, "this flow", "flow") == (
        "Not deleted: the campaigns “A” and “B” use this flow. Delete them or give them another flow first."
    )
    assert in_use_sentence(["A", "B", "C"], True, "this flow", "flow").startswith(
        "Not deleted: the campaigns “A”, “B”, “C” and more use this flow."
    )
