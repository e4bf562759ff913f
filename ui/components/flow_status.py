"""How a flow's publishing state reads for people, the same on the flows list and in the editor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STATUS_STYLE = {
    "draft": "bg-slate-100 text-slate-600",
    "published": "bg-emerald-50 text-emerald-700",
    "draft_ahead": "bg-amber-50 text-amber-800",
}
"""Tailwind classes of the status chip per API ``status``."""


def status_text(flow: Mapping[str, Any]) -> str:
    """``Draft``, ``Published v3`` or ``Draft ahead of v3`` (unpublished changes since v3)."""
    if flow["status"] == "published":
        return f"Published v{flow['latest_version']}"
    if flow["status"] == "draft_ahead":
        return f"Draft ahead of v{flow['latest_version']}"
    return "Draft"
