"""HTTP endpoints of this domain (registered in backend/app.py through CONTROLLERS)."""

from __future__ import annotations

CONTROLLERS: list = []
