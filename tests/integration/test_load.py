"""Loopback load on the mock, and its rate limiter exact under concurrency.

* About 20,000 requests at concurrency 32 against the mock under gunicorn with 2 workers:
  every one answered, every one a 200 (bounded by a deadline, never by a speed assertion).
* A key allowed N requests per window gets exactly N successes in total when many clients
  race for them: within one process (threaded werkzeug, ``memory://`` storage) and across two
  gunicorn workers sharing a real Redis (``SOCMOCK_RATE_LIMIT_STORAGE=redis://...``).
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from mockserver.app import create_app
from mockserver.config import MockConfig, apply_rate_limits
from mockserver.liveserver import LiveServer
from tests.integration.redis_server import redis_url
from tests.keys import PRO_KEY

__all__ = ["redis_url"]  # the fixture, imported so that pytest finds it here

GUNICORN = Path(sys.executable).with_name("gunicorn")
ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 32
LOAD_REQUESTS = 20_000
LOAD_DEADLINE_SECONDS = 180.0
#: Requests each racing key is allowed per window; each round sends three times as many.
ALLOWED = 60
ROUNDS = 6
#: No test here should trip the Pro tier's real per-minute limit by accident.
UNLIMITED = "pro=100000000/minute;1000000000/day,free=100000000/minute;1000000000/day"

Request = tuple[str, Mapping[str, str]]  # path with query, headers


@dataclass
class Outcome:
    """What a burst of requests got back."""

    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    bad_bodies: list[str] = field(default_factory=list)

    @property
    def answered(self) -> int:
        """Requests that got a complete HTTP response."""
        return sum(self.statuses.values())


def hammer(
    base_url: str,
    requests: Sequence[Request],
    *,
    total: int,
    concurrency: int = CONCURRENCY,
    deadline_seconds: float = 60.0,
) -> Outcome:
    """Send ``total`` requests (cycling through ``requests``) from ``concurrency`` threads.

    Each thread keeps one keep-alive connection and reconnects after an error; every thread
    stops at the deadline, so a stuck server makes the caller's assertions fail, not hang.
    """
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    counter = itertools.count()
    lock = threading.Lock()
    outcome = Outcome()
    stop_at = time.monotonic() + deadline_seconds

    def worker() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        while time.monotonic() < stop_at:
            with lock:
                index = next(counter)
            if index >= total:
                break
            path, headers = requests[index % len(requests)]
            try:
                connection.request("GET", path, headers=dict(headers))
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    outcome.errors.append(f"{path}: {type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
                continue
            problem = _body_problem(response.status, response.getheader("Content-Type"), body)
            with lock:
                outcome.statuses[response.status] += 1
                if problem is not None:
                    outcome.bad_bodies.append(f"{path}: {problem}")
        connection.close()

    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return outcome


def _body_problem(status: int, content_type: str | None, body: bytes) -> str | None:
    """Why a response body is not what its status promises, or None."""
    if status >= 400:
        try:
            error = json.loads(body)["error"]
            if not {"code", "message", "request_id"} <= error.keys():
                return f"{status} envelope lacks fields: {error}"
        except (ValueError, KeyError, TypeError, AttributeError):
            return f"{status} body is not the error envelope: {body[:200]!r}"
        return None
    if status == 200 and content_type and "yaml" in content_type and b"title:" not in body:
        return "a Sigma answer without any rule"
    return None


def _keys_file(directory: Path, secrets: Sequence[str]) -> Path:
    path = directory / "keys.json"
    records = [{"key": secret, "tier": "pro", "status": "active"} for secret in secrets]
    path.write_text(json.dumps({"keys": records}), encoding="utf-8")
    return path


def _racing_keys(directory: Path, tag: str = "race") -> tuple[list[str], Path]:
    # Tests sharing one Redis need keys of their own: counts there outlive a test.
    secrets = [f"sk_live_{tag}_round_{n}_0123456789" for n in range(ROUNDS)]
    return secrets, _keys_file(directory, secrets)


@contextmanager
def gunicorn_mock(env: Mapping[str, str], log: Path, *, workers: int = 2) -> Iterator[str]:
    """The mock under gunicorn (``workers`` processes, 4 threads each) on a loopback port."""
    command = [
        str(GUNICORN),
        "--workers", str(workers),
        "--worker-class", "gthread",
        "--threads", "4",
        "--bind", "127.0.0.1:0",
        "--no-control-socket",
        "--log-level", "info",
        "mockserver.app:create_app_from_env()",
    ]  # fmt: skip
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SOCMOCK_")}
    full_env.update(env)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        yield _wait_for_workers(process, log, workers)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_workers(process: subprocess.Popen[bytes], log: Path, workers: int) -> str:
    """Wait until gunicorn listens and every worker answers ``/healthz``; return the URL."""
    deadline = time.monotonic() + 60
    url = None
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{text[-3000:]}")
        found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", text)
        if found and text.count("Booting worker") >= workers:
            url = found.group(1)
            outcome = hammer(url, [("/healthz", {})], total=workers * 8, concurrency=workers)
            if outcome.statuses[200] == workers * 8:
                return url
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not get ready (url {url}):\n{log.read_text()[-3000:]}")


def _mixed_requests() -> list[Request]:
    """A realistic mix for the load test: Sigma pages, filters, the JSON list, both headers."""
    bearer = {"Authorization": f"Bearer {PRO_KEY}"}
    header = {"X-API-Key": PRO_KEY}
    return [
        ("/api/v1/iocs/sigma?limit=100", bearer),
        ("/api/v1/iocs/sigma?type=ipv4&confidence=high&limit=20", header),
        ("/api/v1/iocs/sigma?type=url&limit=50", bearer),
        ("/api/v1/iocs/sigma?since=2026-06-01T00:00:00Z&limit=30", header),
        ("/api/v1/iocs/sigma?industry=energy&limit=10", bearer),
        ("/api/v1/iocs?limit=25&offset=50", bearer),
        ("/api/v1/iocs?type=domain&limit=10", header),
    ]


def _assert_exact(outcome: Outcome, allowed: int, sent: int, where: str) -> None:
    assert outcome.errors == [], f"{where}: transport errors: {outcome.errors[:5]}"
    assert outcome.bad_bodies == [], f"{where}: {outcome.bad_bodies[:5]}"
    assert outcome.answered == sent, f"{where}: only {outcome.answered} of {sent} answered"
    assert set(outcome.statuses) <= {200, 429}, f"{where}: {outcome.statuses}"
    assert outcome.statuses[200] == allowed, (
        f"{where}: {outcome.statuses[200]} successes for a key allowed {allowed} per window "
        f"({outcome.statuses[429]} refused)"
    )


@pytest.mark.slow
@pytest.mark.xdist_group("load")
def test_twenty_thousand_requests_at_concurrency_32_under_two_gunicorn_workers(
    tmp_path: Path,
) -> None:
    env = {"SOCMOCK_RATE_LIMIT": UNLIMITED}
    with gunicorn_mock(env, tmp_path / "gunicorn.log") as url:
        outcome = hammer(
            url,
            _mixed_requests(),
            total=LOAD_REQUESTS,
            deadline_seconds=LOAD_DEADLINE_SECONDS,
        )
    print(f"load: {outcome.answered} answered, statuses {dict(outcome.statuses)}")
    assert outcome.errors == [], f"{len(outcome.errors)} errors, e.g. {outcome.errors[:5]}"
    assert outcome.bad_bodies == [], outcome.bad_bodies[:5]
    assert set(outcome.statuses) == {200}, outcome.statuses
    # The deadline only bounds a stuck run; on any sane machine every request is answered.
    assert outcome.answered == LOAD_REQUESTS, (
        f"only {outcome.answered} of {LOAD_REQUESTS} answered before the "
        f"{LOAD_DEADLINE_SECONDS:.0f} s bound"
    )


def _race(url: str, secrets: Sequence[str], where: str) -> None:
    """For each key in turn, 3N racing requests: exactly N must succeed."""
    for secret in secrets:
        request = ("/api/v1/iocs?limit=1", {"Authorization": f"Bearer {secret}"})
        outcome = hammer(url, [request], total=3 * ALLOWED)
        _assert_exact(outcome, ALLOWED, 3 * ALLOWED, f"{where}, key …{secret[-4:]}")


@pytest.mark.slow
@pytest.mark.xdist_group("load")
def test_rate_limit_is_exact_under_concurrency_in_one_process(tmp_path: Path) -> None:
    secrets, keys = _racing_keys(tmp_path)
    config = MockConfig(keys=keys)
    config = replace(config, tiers=apply_rate_limits(config.tiers, [f"pro={ALLOWED}/minute"]))
    with LiveServer(create_app(config)) as server:
        _race(server.url, secrets, "one process, memory://")


@pytest.mark.slow
@pytest.mark.xdist_group("load")
def test_rate_limit_is_exact_across_two_gunicorn_workers_sharing_redis(
    tmp_path: Path, redis_url: str
) -> None:
    secrets, keys = _racing_keys(tmp_path)
    env = {
        "SOCMOCK_KEYS": str(keys),
        "SOCMOCK_RATE_LIMIT": f"pro={ALLOWED}/minute",
        "SOCMOCK_RATE_LIMIT_STORAGE": redis_url,
    }
    with gunicorn_mock(env, tmp_path / "gunicorn.log") as url:
        _race(url, secrets, "2 gunicorn workers, redis")


SOC_MOCK = Path(sys.executable).with_name("soc-mock")


@contextmanager
def soc_mock_serve(
    args: Sequence[str], log: Path, env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``soc-mock serve --port 0 ARGS`` on loopback; its URL once it answers, and the process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCMOCK_")} | dict(env or {})
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(SOC_MOCK), "serve", "--port", "0", *args], cwd=ROOT, env=env, stdout=sink,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = log.read_text(encoding="utf-8", errors="replace")
            if process.poll() is not None:
                pytest.fail(f"soc-mock serve exited with {process.returncode}:\n{text[-3000:]}")
            found = re.search(r"mock API on (http://127\.0\.0\.1:\d+)", text)
            if found and hammer(found.group(1), [("/healthz", {})], total=1).statuses[200]:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"soc-mock serve did not get ready:\n{log.read_text()[-3000:]}")
        yield found.group(1), process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def worker_pids(process: subprocess.Popen[bytes]) -> set[int]:
    """The child processes of ``process`` (Linux: /proc)."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    return {int(pid) for pid in children.read_text().split()}


@pytest.mark.slow
@pytest.mark.xdist_group("load")
def test_rate_limit_is_exact_across_soc_mock_workers_sharing_their_counts(tmp_path: Path) -> None:
    secrets, keys = _racing_keys(tmp_path)
    args = ["--workers", "2", "--keys", str(keys), "--rate-limit", f"pro={ALLOWED}/minute"]
    with soc_mock_serve(args, tmp_path / "serve.log") as (url, process):
        assert len(worker_pids(process)) == 2
        _race(url, secrets, "soc-mock serve --workers 2, memory:// shared")
    text = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert "2 worker processes; rate limits counted across all of them" in text


@pytest.mark.slow
@pytest.mark.xdist_group("load")
def test_rate_limit_is_exact_across_soc_mock_workers_sharing_redis(
    tmp_path: Path, redis_url: str
) -> None:
    secrets, keys = _racing_keys(tmp_path, "workers")
    args = ["--workers", "2", "--keys", str(keys), "--rate-limit", f"pro={ALLOWED}/minute",
            "--rate-limit-storage", redis_url]  # fmt: skip
    with soc_mock_serve(args, tmp_path / "serve.log") as (url, _):
        _race(url, secrets, "soc-mock serve --workers 2, redis")
