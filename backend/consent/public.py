"""Public pages without auth: the web opt-out form and per-contact unsubscribe links (seed 003/004)."""

from __future__ import annotations

PUBLIC_ROUTES: list = []
