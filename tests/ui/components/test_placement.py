"""Where a step added by a palette click lands: near the view's centre, clear of every drawn step."""

from __future__ import annotations

import pytest

from ui.components.placement import NEW_STEP_SIZE, Box, boxes_from, centred, free_spot

SIZE = NEW_STEP_SIZE


def _clear(spot: tuple[float, float], taken: list[Box], gap: float = 24.0) -> bool:
    box = Box(spot[0], spot[1], *SIZE)
    return not any(box.overlaps(other, gap) for other in taken)


def test_an_empty_view_takes_the_centre_itself():
    assert free_spot(centred((500, 300)), []) == centred((500, 300))


def test_a_step_at_the_centre_pushes_the_new_one_beside_it_not_onto_it():
    wanted = centred((500, 300))
    taken = [Box(wanted[0], wanted[1], 220, 90)]
    spot = free_spot(wanted, taken)
    assert spot != wanted
    assert _clear(spot, taken)
    # The nearest free spot: one step of the grid past the other box's edge plus the gap, no further.
    assert abs(spot[0] - wanted[0]) + abs(spot[1] - wanted[1]) <= 220 + 90 + 2 * 24 + 2 * 40


def test_clicks_in_a_row_never_stack_steps():
    taken: list[Box] = []
    for _ in range(12):
        spot = free_spot(centred((0, 0)), taken)
        assert _clear(spot, taken)
        taken.append(Box(spot[0], spot[1], *SIZE))
    # All twelve stay near the centre (a few rings), not flung across the canvas.
    assert max(abs(box.x) + abs(box.y) for box in taken) < 1200


def test_ties_go_below_and_to_the_right():
    wanted = (0.0, 0.0)
    # A wall above-left and the centre blocked: of equally near spots the one below/right wins.
    spot = free_spot(wanted, [Box(-10, -10, 40, 40)], size=(20, 20), gap=0, step=40)
    assert spot[0] >= 0 and spot[1] >= 0


def test_a_crowded_canvas_falls_back_to_the_centre():
    wall = [Box(-10_000, -10_000, 20_000, 20_000)]
    assert free_spot((5, 5), wall, max_rings=3) == (5, 5)


def test_boxes_sent_by_the_browser_are_read_and_junk_is_skipped():
    raw = [
        {"x": 1, "y": 2, "width": 200, "height": 80},
        {"x": "3", "y": 4.5, "width": 10, "height": 10},
        {"x": 1},
        "node",
        {"x": None, "y": 0, "width": 1, "height": 1},
    ]
    assert boxes_from(raw) == [Box(1, 2, 200, 80), Box(3, 4.5, 10, 10)]
    assert boxes_from({"x": 1}) == []


@pytest.mark.parametrize(
    ("other", "overlaps"),
    [
        (Box(100, 0, 50, 50), False),  # exactly the gap apart on x
        (Box(99, 0, 50, 50), True),
        (Box(0, 100, 50, 50), False),
        (Box(-100, -100, 50, 50), False),  # the gap apart diagonally
        (Box(-70, -70, 50, 50), True),  # closer than the gap on both axes
    ],
)
def test_overlap_counts_the_gap(other: Box, overlaps: bool):
    assert Box(0, 0, 50, 50).overlaps(other, gap=50) is overlaps
