"""A wheel built from a clean checkout carries the flow editor's bundle (issue 14, item 11).

The bundle is built, not committed, so only a build hook (setup.py's ``build_py``) can put it in a
wheel; without it ``pip install .`` and the Docker image serve a blank editor. The checkout is what a
fresh clone of the working tree holds: every file git tracks or would track, none it ignores (no
``node_modules``, no ``ui/static/dist``). Copying those instead of cloning HEAD tests the change being
made, not the last commit. The build uses this venv's pinned setuptools and Node package, as the
Dockerfile's build stage does (``--no-build-isolation``), and needs the npm registry or npm's cache.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _clean_checkout(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not part of the change
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.mark.slow
def test_a_wheel_from_a_clean_checkout_carries_the_editor_bundle(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs a git checkout of Flowgate")
    source = tmp_path / "flowgate"
    _clean_checkout(source)
    assert not (source / "ui" / "static" / "dist").exists()
    assert not (source / "ui" / "editor" / "node_modules").exists()

    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path / "wheels"),
            ".",
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]

    from ui.components.flow_editor import BUNDLE  # where the installed ui loads the bundle from

    in_wheel = BUNDLE.relative_to(REPO_ROOT).as_posix()
    (wheel,) = (tmp_path / "wheels").glob("flowgate-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        bundle = archive.read(f"{in_wheel}/index.js")
    assert f"{in_wheel}/editor.css" in names
    assert b"vue" in bundle and len(bundle) > 10_000  # the real esbuild output, Vue left external
    assert "ui/components/flow_editor.js" in names  # the NiceGUI component that imports it
    assert not [name for name in names if "node_modules" in name]
