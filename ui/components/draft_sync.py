"""Keeping a flow's draft saved and validated while it is edited, without ever overwriting newer work.

Every change marks the draft dirty; once the person pauses for :attr:`DraftSync.delay` seconds the
graph is saved with the ``revision`` it was loaded at, and the API's answer brings the next revision.
After a save the saved draft is validated, so the problems shown always belong to what is stored,
which is also what Publish would freeze.

- A 409 means the draft was saved elsewhere (another tab, a colleague) since it was loaded: saving
  stops for good and the page offers to reload. Nothing is overwritten silently.
- No answer (API restarting, network gone) keeps the change and retries with growing pauses; the
  state says so, and nothing is lost while the page stays open.
- Saves run one at a time; changes made during a save go out in the next one.

No NiceGUI in here: the page passes callbacks, tests drive it against the real API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ui.backend import ApiError, BackendClient, BackendUnreachable, FlowInfo, ProblemInfo

log = logging.getLogger(__name__)

SaveState = Literal["saved", "pending", "saving", "conflict", "failed", "signed_out"]
RETRY_SECONDS = (2.0, 5.0, 10.0, 30.0)
MAX_WAIT = 5.0
"""Someone who types without pausing still gets a save every few seconds."""


@dataclass
class DraftSync:
    api: BackendClient
    token: str
    flow_id: int
    revision: int
    graph: Callable[[], dict[str, Any]]
    """The draft to save as JSON builtins, read when a save starts (so it is always the newest)."""
    on_state: Callable[[SaveState, str], None] = lambda state, detail: None
    on_problems: Callable[[list[ProblemInfo]], None] = lambda problems: None
    on_saved: Callable[[FlowInfo], None] = lambda flow: None
    """Each save's answer (the flow with its new status, e.g. ``draft_ahead`` after a publish)."""
    delay: float = 0.6
    state: SaveState = "saved"
    problems: list[ProblemInfo] | None = None
    """The saved draft's problems; None until the first validation answered."""
    validated_revision: int | None = None
    _dirty: bool = False
    _pending_name: str | None = None
    _task: asyncio.Task | None = field(default=None, repr=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _failures: int = 0
    _last_change: float = 0.0

    # --- what the page calls ------------------------------------------------------------------

    def changed(self) -> None:
        """The graph changed: save it once the person pauses."""
        if self.state in ("conflict", "signed_out"):
            return
        self._dirty = True
        self._last_change = asyncio.get_running_loop().time()
        self._set("pending")
        self._ensure_running()

    def rename(self, name: str) -> None:
        if self.state in ("conflict", "signed_out"):
            return
        self._pending_name = name
        self._set("pending")
        self._ensure_running()

    async def flush(self) -> bool:
        """Save now whatever is pending; True when the draft is saved and validated."""
        if self.state in ("conflict", "signed_out"):
            return False
        if self._dirty or self._pending_name is not None:
            self._wake.set()  # skip the pause
            self._ensure_running()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
        if self.validated_revision != self.revision:
            await self.validate()
        return self.is_clean

    @property
    def is_clean(self) -> bool:
        return self.state == "saved" and not self._dirty and self._pending_name is None

    @property
    def publishable(self) -> bool:
        """Saved, validated at this revision, and without problems."""
        return self.is_clean and self.validated_revision == self.revision and self.problems == []

    async def validate(self) -> None:
        """Validate the saved draft (also run once when the page opens)."""
        revision = self.revision
        try:
            result = await self.api.validate_flow(self.token, self.flow_id)
        except BackendUnreachable:
            return  # the next save validates again
        except ApiError as exc:
            self._api_error(exc)
            return
        if revision != self.revision:
            return  # a save landed meanwhile: its own validation follows
        self.problems = list(result["errors"])
        self.validated_revision = revision
        self.on_problems(self.problems)

    def conflicted(self) -> None:
        """Another request of this page learnt that the draft changed elsewhere (a publish's 409)."""
        self._set("conflict")

    # --- the save loop ------------------------------------------------------------------------

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._dirty or self._pending_name is not None:
            if self._failures:
                await self._pause(self._retry_delay(), debounce=False)
            else:
                await self._pause(self.delay, debounce=True)
            if self.state in ("conflict", "signed_out"):
                return
            saved = await self._save_once()
            if saved is None:
                return
            if not saved:
                continue  # failed: retry after a longer pause
            if not self._dirty and self._pending_name is None:
                await self.validate()

    async def _pause(self, seconds: float, *, debounce: bool) -> None:
        """Wait until ``seconds`` passed without a change (``debounce``) or since now, at most
        :data:`MAX_WAIT` in all; :meth:`flush` cuts it short."""
        self._wake.clear()
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            since = max(self._last_change, started) if debounce else started
            remaining = min(since + seconds, started + MAX_WAIT) - loop.time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
                return
            except TimeoutError:
                continue

    def _retry_delay(self) -> float:
        return RETRY_SECONDS[min(self._failures - 1, len(RETRY_SECONDS) - 1)]

    async def _save_once(self) -> bool | None:
        """One PUT of the newest draft. True saved, False failed (retry), None stop for good."""
        had_graph, name = self._dirty, self._pending_name
        graph = self.graph() if had_graph else None
        self._dirty, self._pending_name = False, None
        self._set("saving")
        try:
            saved = await self.api.save_flow_draft(
                self.token, self.flow_id, revision=self.revision, graph=graph, name=name
            )
        except BackendUnreachable:
            self._restore(had_graph, name)
            self._failures += 1
            self._set("failed", f"the API is not answering; retrying in {self._retry_delay():g} s")
            return False
        except ApiError as exc:
            self._restore(had_graph, name)
            if exc.status in (409, 401):
                self._api_error(exc)
                return None
            self._failures += 1
            self._set("failed", exc.detail)
            return False if exc.status >= 500 else None
        self._failures = 0
        self.revision = saved["revision"]
        self.on_saved(saved)
        if not (self._dirty or self._pending_name is not None):
            self._set("saved")
        return True

    def _restore(self, had_graph: bool, name: str | None) -> None:
        """Put back what a failed save carried, unless newer changes already replaced it."""
        self._dirty = self._dirty or had_graph
        if self._pending_name is None:
            self._pending_name = name

    def _api_error(self, exc: ApiError) -> None:
        if exc.status == 409:
            self._set("conflict")
        elif exc.status == 401:
            self._set("signed_out")
        else:
            log.warning("flow %s: the API refused: %s", self.flow_id, exc)

    def _set(self, state: SaveState, detail: str = "") -> None:
        self.state = state
        self.on_state(state, detail)
