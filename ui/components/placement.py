"""Where a step added by a click goes: near the middle of the view, but never on top of another step.

A step dragged from the palette lands where it is dropped (the person chose the spot). A click on a
palette entry names no spot, so the editor asks for the view's centre, and :func:`free_spot` nudges the
new step outward from there, ring by ring, until it overlaps no step already drawn (with a gap, so
their ports and edges stay readable). The browser sends the measured boxes of the drawn steps; the new
step's own size is not known before it is drawn, so :data:`NEW_STEP_SIZE` stands in for it.

Pure functions, tested directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple


class Box(NamedTuple):
    """A step on the canvas: its top-left corner and size, in flow coordinates."""

    x: float
    y: float
    width: float
    height: float

    def overlaps(self, other: Box, gap: float) -> bool:
        """Whether the two boxes come closer than ``gap`` on both axes (touching at ``gap`` is fine)."""
        return (
            self.x < other.x + other.width + gap
            and other.x < self.x + self.width + gap
            and self.y < other.y + other.height + gap
            and other.y < self.y + self.height + gap
        )


NEW_STEP_SIZE = (240.0, 110.0)
"""About the largest a new step is drawn (a message with its Next port): a little too big is harmless."""
GAP = 24.0
STEP = 40.0
MAX_RINGS = 60
"""How far the search goes (60 x 40 px each way) before it gives up and uses the centre after all."""


def centred(centre: tuple[float, float], size: tuple[float, float] = NEW_STEP_SIZE) -> tuple[float, float]:
    """The top-left corner that puts a box of ``size`` in the middle of ``centre``."""
    return centre[0] - size[0] / 2, centre[1] - size[1] / 2


def free_spot(
    wanted: tuple[float, float],
    taken: Iterable[Box],
    *,
    size: tuple[float, float] = NEW_STEP_SIZE,
    gap: float = GAP,
    step: float = STEP,
    max_rings: int = MAX_RINGS,
) -> tuple[float, float]:
    """The top-left corner nearest to ``wanted`` where a box of ``size`` overlaps none of ``taken``.

    Candidates lie on a grid of ``step`` around ``wanted``, tried in rings of growing distance; within a
    ring the nearest comes first, and of equally near ones those below and to the right (flows read
    left to right, top to bottom). When nothing within ``max_rings`` is free, ``wanted`` itself.
    """
    boxes = list(taken)
    width, height = size
    for dx, dy in _offsets(max_rings):
        candidate = Box(wanted[0] + dx * step, wanted[1] + dy * step, width, height)
        if not any(candidate.overlaps(box, gap) for box in boxes):
            return candidate.x, candidate.y
    return wanted


def _offsets(max_rings: int) -> Iterator[tuple[int, int]]:
    """Grid offsets ring by ring (ring r: the points r steps away along either axis), nearest first."""
    yield 0, 0
    for ring in range(1, max_rings + 1):
        points = [
            (dx, dy)
            for dx in range(-ring, ring + 1)
            for dy in range(-ring, ring + 1)
            if max(abs(dx), abs(dy)) == ring
        ]
        points.sort(key=lambda point: (point[0] ** 2 + point[1] ** 2, point[1] < 0, point[0] < 0))
        yield from points


def boxes_from(raw: object) -> list[Box]:
    """The ``boxes`` the browser sent (``[{x, y, width, height}]``); malformed entries are skipped."""
    boxes = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            boxes.append(Box(*(float(item[key]) for key in ("x", "y", "width", "height"))))
        except (KeyError, TypeError, ValueError):
            continue
    return boxes
