"""``flowgate worker --processes N``: N worker processes under one parent that keeps them running.

Why processes: one arq worker is one event loop on one core, and the send path spends its time in
Python, so a second core only helps through a second interpreter. Why one parent: whatever manages the
worker (systemd, Docker, an operator's shell) manages one process; the parent turns its one SIGTERM or
Ctrl-C into a graceful stop of every worker, and replaces a worker that dies, so a crash costs one
process's jobs in flight (re-run by arq and the sweepers, see README "What a kill or a restart costs"),
not a share of the machine until someone notices.

Each child is a fresh interpreter (``python -m backend.cli worker --processes 1``), never a fork: a fork
of a process that already holds an event loop, a database pool or Redis connections would share their
sockets between processes. Children run in their own sessions, so a terminal's Ctrl-C reaches the
parent alone (which forwards it once), and Linux sends them SIGTERM if the parent is killed outright.

Readiness: a process started with ``--ready-fd FD`` writes ``ready`` to that descriptor once it takes
jobs. The parent gives each child a pipe this way, so it can tell a worker that crashed while running
(restarted, with a growing delay while it keeps crashing) from one that cannot start at all (bad
database address, missing migration, ...): after :data:`START_FAILURES_LIMIT` start-ups in a row that
never got ready, the parent stops the rest and exits 1 instead of spinning. The parent writes to its own
``--ready-fd`` once every child was ready the first time (benchmarks time start-up with it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from backend.core.processes import die_with_parent

log = logging.getLogger("flowgate.supervisor")

START_FAILURES_LIMIT = 3
"""Start-ups in a row that end before the worker is ready, after which the parent gives up (exit 1)."""
FIRST_RESTART_DELAY_S = 1.0
MAX_RESTART_DELAY_S = 30.0
STABLE_AFTER_S = 60.0
"""A worker that ran this long before it died is restarted after the first delay again, not a longer one."""
STOP_TIMEOUT_S = 30.0
"""How long a graceful stop may take: running jobs get ``backend.worker.GRACEFUL_STOP_S`` to finish, then
arq cancels the rest (they re-queue) and closes its pools."""
READY = b"ready\n"


def announce_ready(fd: int | None) -> None:
    """Tell whoever started this process with ``--ready-fd`` that it is taking jobs (once; then close)."""
    if fd is None:
        return
    with contextlib.suppress(OSError):  # the reader is gone: nobody is waiting any more
        os.write(fd, READY)
    with contextlib.suppress(OSError):
        os.close(fd)


def then_announce_ready(
    on_startup: Callable[[dict[str, Any]], Coroutine[Any, Any, None]] | None, fd: int | None
) -> Callable[[dict[str, Any]], Coroutine[Any, Any, None]]:
    """An arq ``on_startup`` that runs ``on_startup`` and then announces readiness on ``fd``: ready means
    the database, Redis and every domain's start-up are done, not merely that the interpreter is up."""

    async def _startup(ctx: dict[str, Any]) -> None:
        if on_startup is not None:
            await on_startup(ctx)
        announce_ready(fd)

    return _startup


def worker_command(slot: int, *, burst: bool, ready_fd: int) -> list[str]:
    """The command line of one child: an ordinary one-process worker, labelled for the log."""
    command = [sys.executable, "-m", "backend.cli", "worker", "--processes", "1"]
    command += ["--slot", str(slot), "--ready-fd", str(ready_fd)]
    return command + (["--burst"] if burst else [])


@dataclass
class _Slot:
    """One of the N places a worker runs in, across its restarts."""

    number: int
    process: subprocess.Popen[bytes] | None = None
    ready_pipe: int | None = None
    started_at: float = 0.0
    ready: bool = False
    start_failures: int = 0
    restart_delay: float = FIRST_RESTART_DELAY_S
    restart_at: float | None = 0.0
    finished: bool = False


class Supervisor:
    """Start ``processes`` workers, keep them running, stop them all on SIGTERM/SIGINT.

    ``run()`` returns the exit status: 0 after a requested stop (or, with ``burst``, once every worker
    emptied the queue and exited), 1 when a worker could not start :data:`START_FAILURES_LIMIT` times in a
    row. ``command`` makes a child's command line (tests and benchmarks keep the default).
    """

    def __init__(
        self,
        processes: int,
        *,
        env: dict[str, str],
        burst: bool = False,
        ready_fd: int | None = None,
        command: Callable[..., list[str]] = worker_command,
    ) -> None:
        self.slots = [_Slot(number) for number in range(1, processes + 1)]
        self.env = env
        self.burst = burst
        self.ready_fd = ready_fd
        self.command = command
        self.selector = selectors.DefaultSelector()
        self.stop_signal: int | None = None
        self.all_ready_once = False
        self.started_at = time.monotonic()

    # --- the loop -------------------------------------------------------------------------------------

    def run(self) -> int:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        self.selector.register(wake_read, selectors.EVENT_READ, None)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        previous = {
            signum: signal.signal(signum, handler)
            for signum, handler in (
                (signal.SIGTERM, self._on_stop_signal),
                (signal.SIGINT, self._on_stop_signal),
                # A child's death writes to the wake-up pipe too: it is noticed at once, not at the next tick.
                (signal.SIGCHLD, lambda *_: None),
            )
        }
        log.info("starting %d worker processes%s", len(self.slots), " (burst)" if self.burst else "")
        try:
            status = self._loop()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.selector.close()
            os.close(wake_read)
            os.close(wake_write)
        return status

    def _on_stop_signal(self, signum: int, _frame: object) -> None:
        if self.stop_signal is None:
            self.stop_signal = signum

    def _loop(self) -> int:
        while True:
            if self.stop_signal is not None:
                self._stop_all(self.stop_signal, f"on {signal.Signals(self.stop_signal).name}")
                return 0
            for slot in self.slots:
                if slot.process is not None and slot.process.poll() is not None:
                    self._read_ready(slot)  # a worker can announce readiness and die before we look
                    if not self._exited(slot):
                        self._stop_all(signal.SIGTERM, "after a worker failed to start")
                        return 1
            if self.burst and all(slot.finished for slot in self.slots):
                log.info("every worker process finished its burst")
                return 0
            now = time.monotonic()
            for slot in self.slots:
                if slot.process is None and slot.restart_at is not None and slot.restart_at <= now:
                    self._start(slot)
            if not self.all_ready_once and all(slot.ready or slot.finished for slot in self.slots):
                self.all_ready_once = True
                log.info(
                    "%d worker processes ready in %.1f s",
                    len(self.slots),
                    time.monotonic() - self.started_at,
                )
                announce_ready(self.ready_fd)
            self._wait(self._next_deadline(now))

    def _next_deadline(self, now: float) -> float:
        """Seconds until the next restart is due (signals and child deaths wake the loop earlier)."""
        due = [slot.restart_at for slot in self.slots if slot.process is None and slot.restart_at is not None]
        return max(0.0, min([*due, now + 1.0]) - now)

    def _wait(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            if key.data is None:  # the wake-up pipe: drain it
                with contextlib.suppress(BlockingIOError):
                    while os.read(key.fd, 512):
                        pass
            else:
                self._read_ready(key.data)

    # --- one slot -------------------------------------------------------------------------------------

    def _start(self, slot: _Slot) -> None:
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        try:
            slot.process = subprocess.Popen(
                self.command(slot.number, burst=self.burst, ready_fd=write_end),
                env=self.env,
                pass_fds=(write_end,),
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        finally:
            os.close(write_end)  # the child holds its copy; EOF on ours means the child is gone
        slot.ready_pipe = read_end
        slot.ready = False
        slot.restart_at = None
        slot.started_at = time.monotonic()
        self.selector.register(read_end, selectors.EVENT_READ, slot)
        log.info("worker process %d started (pid %d)", slot.number, slot.process.pid)

    def _read_ready(self, slot: _Slot) -> None:
        if slot.ready_pipe is None:
            return
        try:
            data = os.read(slot.ready_pipe, 64)
        except BlockingIOError:
            return
        if data.startswith(READY.strip()):
            slot.ready = True
            assert slot.process is not None
            log.info(
                "worker process %d ready (pid %d, %.1f s)",
                slot.number,
                slot.process.pid,
                time.monotonic() - slot.started_at,
            )
            slot.start_failures = 0
        if data == b"" or slot.ready:  # EOF, or nothing more to hear from this child
            self._close_pipe(slot)

    def _close_pipe(self, slot: _Slot) -> None:
        if slot.ready_pipe is not None:
            self.selector.unregister(slot.ready_pipe)
            os.close(slot.ready_pipe)
            slot.ready_pipe = None

    def _exited(self, slot: _Slot) -> bool:
        """Handle a child's exit: finished burst, restart later, or give up (returns False)."""
        assert slot.process is not None
        code = slot.process.returncode
        pid = slot.process.pid
        ran_for = time.monotonic() - slot.started_at
        was_ready = slot.ready
        slot.process = None
        slot.ready = False
        self._close_pipe(slot)
        if self.burst and code == 0:
            slot.finished = True
            log.info("worker process %d (pid %d) finished its burst", slot.number, pid)
            return True
        if not was_ready:
            slot.start_failures += 1
            if slot.start_failures >= START_FAILURES_LIMIT:
                log.error(
                    "worker process %d exited with code %s before it was ready, %d times in a row: giving up "
                    "(its log above says why)",
                    slot.number,
                    code,
                    slot.start_failures,
                )
                return False
        elif ran_for >= STABLE_AFTER_S:
            slot.restart_delay = FIRST_RESTART_DELAY_S
        delay = slot.restart_delay
        slot.restart_delay = min(delay * 2, MAX_RESTART_DELAY_S)
        slot.restart_at = time.monotonic() + delay
        log.warning(
            "worker process %d (pid %d) exited with code %s after %.1f s%s; restarting it in %.0f s",
            slot.number,
            pid,
            code,
            ran_for,
            "" if was_ready else " before it was ready",
            delay,
        )
        return True

    # --- stopping -------------------------------------------------------------------------------------

    def _stop_all(self, signum: int, reason: str) -> None:
        """Forward ``signum`` to every running worker, wait for their own graceful stop, kill stragglers."""
        running = [slot.process for slot in self.slots if slot.process is not None]
        running = [process for process in running if process.poll() is None]
        if running:
            log.info("stopping %d worker processes %s", len(running), reason)
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning(
                    "worker pid %d did not stop within %.0f s: killing it", process.pid, STOP_TIMEOUT_S
                )
                process.kill()
                process.wait()
            else:
                # A burst worker has no signal handlers of its own and dies of the signal: expected.
                if process.returncode not in (0, -signum):
                    log.warning("worker pid %d stopped with code %s", process.pid, process.returncode)
        for slot in self.slots:
            self._close_pipe(slot)
            slot.process = None
