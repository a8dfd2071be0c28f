"""``soc-mock serve`` on several worker processes: how many, replaced when one dies, all stopped.

The exactness of rate limits across workers is in ``test_load`` (racing keys); here is the
life of the pool itself, each test against a real ``soc-mock serve`` on loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mockserver.workers import default_workers
from tests.integration.test_load import SOC_MOCK, hammer, soc_mock_serve, worker_pids
from tests.keys import PRO_KEY

SIGMA = ("/api/v1/iocs/sigma?limit=5", {"Authorization": f"Bearer {PRO_KEY}"})

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("load")]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_by_default_one_worker_per_cpu_and_stopping_stops_them_all(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with soc_mock_serve([], tmp_path / "serve.log", env={"TMPDIR": str(scratch)}) as (url, serve):
        expected = default_workers()
        workers = worker_pids(serve)
        assert len(workers) == (expected if expected > 1 else 0)
        assert hammer(url, [SIGMA], total=40, concurrency=8).statuses[200] == 40
        if expected > 1:
            assert [p.name for p in scratch.iterdir()], "no shared counts file"
    assert serve.returncode == 0
    assert all(_gone(pid) for pid in workers)
    assert list(scratch.iterdir()) == []  # the shared counts are removed with the server
    assert "Stopped." in (tmp_path / "serve.log").read_text(encoding="utf-8")


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with soc_mock_serve(["--workers", "2"], log) as (url, serve):
        first = worker_pids(serve)
        victim = min(first)
        os.kill(victim, 9)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = worker_pids(serve)
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.1)
        assert len(now) == 2, (first, now)
        assert victim not in now
        outcome = hammer(url, [SIGMA], total=40, concurrency=8)
        assert outcome.statuses[200] == 40, outcome
    assert f"(pid {victim}) was killed by signal 9; starting another" in log.read_text()


def test_what_keeps_state_in_one_process_is_served_by_one(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with soc_mock_serve(["--clock-step", "1d"], log) as (url, serve):
        assert worker_pids(serve) == set()
        assert hammer(url, [SIGMA], total=4, concurrency=1).statuses[200] == 4
    assert "worker processes" not in log.read_text()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--fault", "503:0.5"], "faults"),
        (["--clock-step", "1d"], "a moving clock"),
        (["--admin"], "the admin routes"),
        (["--dev"], "--dev"),
    ],
)
def test_several_workers_with_state_of_one_process_is_refused(args: list[str], reason: str) -> None:
    done = subprocess.run(
        [str(SOC_MOCK), "serve", "--port", "0", "--workers", "3", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done
    assert f"--workers 3: {reason}" in done.stderr
    assert "keeps its state in one process; use --workers 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_ctrl_c_reaching_every_process_stops_the_pool_without_replacing_anyone(
    tmp_path: Path,
) -> None:
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        serve = subprocess.Popen(
            [str(SOC_MOCK), "serve", "--port", "0", "--workers", "2"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's job would be
        )
    try:
        deadline = time.monotonic() + 60
        while len(worker_pids(serve)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = worker_pids(serve)
        assert len(workers) == 2
        os.killpg(serve.pid, signal.SIGINT)  # what Ctrl+C does: every process of the group
        assert serve.wait(timeout=30) == 0
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait(timeout=10)
    text = log.read_text(encoding="utf-8")
    assert "starting another" not in text
    assert "Stopped." in text
    assert all(_gone(pid) for pid in workers)


def test_counts_that_cannot_be_shared_stop_the_start_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sqlite3

    from mockserver.app import create_app
    from mockserver.ratelimit import RateLimiter
    from mockserver.serving import ServerError
    from mockserver.state import state_of
    from mockserver.workers import WorkerPool

    def full_disk(self: RateLimiter, path: Path) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(RateLimiter, "share_between_processes", full_disk)
    app = create_app()
    pool = WorkerPool(app, state_of(app).limiter, workers=2)
    with pytest.raises(ServerError, match="cannot share the rate-limit counts: database or disk"):
        pool.start()  # fails before any fork
    assert pool._socket is None  # the port is let go
