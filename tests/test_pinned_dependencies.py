"""The dependency pins hold names and versions only: no registry or download addresses (a lock file that
names a registry breaks installs behind mirrors and leaks where it was made)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def test_requirements_are_name_version_pins_without_urls():
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert lines, "requirements.txt pins nothing"
    assert [line for line in lines if not re.fullmatch(r"[A-Za-z0-9._-]+(\[[^\]]+\])?==[^\s=]+", line)] == []


def test_the_editor_lock_file_names_no_address():
    """`npm install` writes `resolved` and `funding` URLs; ui/editor/.npmrc keeps the first out, the
    second must be stripped (npm ci does not need it) before committing."""
    text = (ROOT / "ui" / "editor" / "package-lock.json").read_text()
    assert URL.findall(text) == []
    packages = json.loads(text)["packages"]
    assert all("resolved" not in entry and "funding" not in entry for entry in packages.values())
