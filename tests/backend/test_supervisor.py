"""`flowgate worker --processes N` as an operator runs it: real processes on this run's database and Redis."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import flowgate_command, free_port, subprocess_env

pytestmark = pytest.mark.slow


class Workers:
    """A running ``flowgate worker`` parent, its log, and what it said on its ``--ready-fd`` pipe."""

    def __init__(self, process: subprocess.Popen[bytes], ready: int, log: Path) -> None:
        self.process = process
        self.ready = ready
        self.log = log

    def wait_ready(self, timeout: float = 60.0) -> None:
        readable, _, _ = select.select([self.ready], [], [], timeout)
        assert readable, f"not ready within {timeout}s:\n{self.log.read_text()}"
        assert os.read(self.ready, 64) == b"ready\n", self.log.read_text()

    def children(self) -> set[int]:
        """The parent's child processes' pids, as Linux lists them."""
        pid = self.process.pid
        with contextlib.suppress(FileNotFoundError):
            return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
        return set()

    def wait_for_log(self, fragment: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while fragment not in self.log.read_text():
            assert time.monotonic() < deadline, f"{fragment!r} not logged:\n{self.log.read_text()}"
            assert self.process.poll() is None, f"the parent exited:\n{self.log.read_text()}"
            time.sleep(0.1)


@pytest.fixture
def start_workers(tmp_path: Path, redis_url: str, migrated) -> Iterator:
    started: list[Workers] = []

    def _start(*args: str, **env: str) -> Workers:
        read_end, write_end = os.pipe()
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                flowgate_command("worker", *args, "--ready-fd", str(write_end)),
                env=subprocess_env(FLOWGATE_REDIS_URL=redis_url, FLOWGATE_LOG_LEVEL="info", **env),
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(write_end,),
                cwd=tmp_path,
            )
        os.close(write_end)
        started.append(Workers(process, read_end, log))
        return started[-1]

    yield _start
    for workers in started:  # a failed test must not leave workers taking the next test's jobs
        if workers.process.poll() is None:
            for child in workers.children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            workers.process.kill()
            workers.process.wait()
        os.close(workers.ready)


def _gone(pids: set[int], timeout: float = 5.0) -> bool:
    """True once none of ``pids`` runs any more (a reaped child's pid no longer exists)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.1)
    return False


def test_a_killed_worker_is_replaced_and_sigterm_stops_every_worker(start_workers):
    workers = start_workers("--processes", "2")
    workers.wait_ready()
    first = workers.children()
    assert len(first) == 2
    victim = min(first)

    os.kill(victim, signal.SIGKILL)
    workers.wait_for_log(f"(pid {victim}) exited with code -9")
    deadline = time.monotonic() + 60
    while True:
        now = workers.children()
        if len(now) == 2 and victim not in now:
            break
        assert time.monotonic() < deadline, f"no replacement: {now}\n{workers.log.read_text()}"
        time.sleep(0.1)
    (replacement,) = now - first
    workers.wait_for_log(f"ready (pid {replacement},")  # the new worker got as far as taking jobs

    workers.process.send_signal(signal.SIGTERM)
    assert workers.process.wait(45) == 0, workers.log.read_text()
    assert _gone(now), workers.log.read_text()
    assert "stopping 2 worker processes on SIGTERM" in workers.log.read_text()
    assert "stopped with code" not in workers.log.read_text()  # each worker stopped cleanly


def test_burst_workers_empty_the_queue_and_the_parent_exits_with_them(start_workers):
    workers = start_workers("--processes", "2", "--burst")
    assert workers.process.wait(60) == 0, workers.log.read_text()
    assert workers.log.read_text().count(") finished its burst") == 2


def test_a_worker_that_cannot_start_stops_the_parent_instead_of_restarting_for_ever(start_workers):
    unreachable = f"postgresql://flowgate@127.0.0.1:{free_port()}/nothing"
    workers = start_workers("--processes", "2", FLOWGATE_DATABASE_URL=unreachable)
    assert workers.process.wait(90) == 1, workers.log.read_text()
    text = workers.log.read_text()
    assert "before it was ready, 3 times in a row: giving up" in text
    assert "ConnectionRefusedError" in text or "Connect call failed" in text  # the child's own reason


def test_one_process_runs_in_place_without_a_parent(start_workers):
    workers = start_workers("--processes", "1")
    workers.wait_ready()
    assert workers.children() == set()
    workers.process.send_signal(signal.SIGTERM)
    assert workers.process.wait(30) == 0, workers.log.read_text()


def test_ctrl_c_reaches_every_worker_through_the_parent(start_workers):
    workers = start_workers("--processes", "2")
    workers.wait_ready()
    children = workers.children()
    assert len(children) == 2

    workers.process.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends the parent alone
    assert workers.process.wait(45) == 0, workers.log.read_text()
    assert _gone(children), workers.log.read_text()
    assert "stopping 2 worker processes on SIGINT" in workers.log.read_text()
    assert "stopped with code" not in workers.log.read_text()
