"""The example clients against the live mock: the careful one syncs exactly, the naive one fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from mockserver.config import MockConfig
from mockserver.faults import FaultSettings
from mockserver.fixtures import dump_dataset
from mockserver.generate import generate_meta, generate_records
from mockserver.testing import LiveMock, live_socdefenders
from tests.keys import FREE_KEY, PRO_KEY, REVOKED_KEY

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PRO = PRO_KEY


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fixtures") / "iocs.json"
    path.write_text(dump_dataset(generate_meta(21, 160), generate_records(21, 160)))
    return path


@contextmanager
def serving(fixtures: Path, *faults: str, now: str | None = None) -> Iterator[LiveMock]:
    settings = FaultSettings.from_options(list(faults), seed=4)
    with live_socdefenders(MockConfig(fixtures=fixtures, now=now), faults=settings) as live:
        yield live


def run(script: str, live: LiveMock, rules: Path, *args: str, key: str = PRO) -> Any:
    bin_dir = str(Path(sys.executable).parent)
    env = dict(
        os.environ,
        PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
        SOCDEFENDERS_BASE_URL=live.base_url,
        SOCDEFENDERS_API_KEY=key,
        SOCDEFENDERS_RULES_FILE=str(rules),
    )
    command = [sys.executable, str(EXAMPLES / script), *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def served_ids(live: LiveMock) -> list[str]:
    """What the server serves now, fetched directly (faults off for this request)."""
    response = requests.get(
        live.url("/api/v1/iocs/sigma"),
        params={"limit": 10000},
        headers={"Authorization": f"Bearer {PRO}"},
        timeout=30,
    )
    response.raise_for_status()
    return [d["id"] for d in yaml.safe_load_all(response.text)]


def file_ids(path: Path) -> list[str]:
    return [d["id"] for d in yaml.safe_load_all(path.read_text(encoding="utf-8"))]


@pytest.mark.slow
def test_sync_writes_exactly_the_served_rules_and_they_compile(
    fixtures: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yml"
    with serving(fixtures) as live:
        result = run("sync_rules.py", live, rules, "--no-check", "--compile")
        assert result.returncode == 0, result.stderr
        expected = served_ids(live)
        assert file_ids(rules) == expected
        state = json.loads(Path(f"{rules}.state.json").read_text())
        assert state["rules"] == len(expected)
        assert state["since"].endswith("Z")
        before = rules.read_bytes()
        again = run("sync_rules.py", live, rules, "--no-check")
        assert again.returncode == 0, again.stderr
        assert rules.read_bytes() == before
        # The second run asked only for what came after the first run's watermark.
        sigma_queries = [r.query for r in live.requests if r.path.endswith("/sigma")]
        assert f"since={requests.utils.quote(state['since'], safe='')}" in sigma_queries[-1]
    compiled = subprocess.run(
        [str(Path(sys.executable).parent / "sigma"), "convert", "-t", "splunk", "-p", "sysmon",
         str(rules)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stderr[-2000:]
    assert len([q for q in compiled.stdout.splitlines() if q.strip()]) == len(expected)


def test_incremental_runs_miss_nothing_and_fetch_nothing_twice(
    fixtures: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yml"
    first_ids: list[str] = []
    for now in ("2026-08-01T00:00:00Z", "2026-09-15T12:00:00Z", "2026-11-01T00:00:00Z"):
        with serving(fixtures, now=now) as live:
            result = run("sync_rules.py", live, rules, "--no-check")
            assert result.returncode == 0, result.stderr
            expected = served_ids(live)
            fetched = [r for r in live.requests if r.path.endswith("/sigma")]
        assert file_ids(rules) == expected  # nothing missed
        assert len(set(file_ids(rules))) == len(expected)
        if first_ids:
            assert "since=" in fetched[0].query
            # Fetched nothing twice: this run's first page held only rules new to the file.
            assert not set(first_ids) & set(expected[len(first_ids) :])
        first_ids = expected


@pytest.mark.parametrize(
    "faults",
    [("503:max=2",), ("500:max=1", "502:max=1"), ("truncate:max=1",), ("reset:max=1",),
     ("429-burst:1s:max=1",), ("bom-crlf",), ("latency:100ms", "dribble:200ms")],
)  # fmt: skip
def test_sync_survives_transient_faults(fixtures: Path, tmp_path: Path, faults: tuple[str]) -> None:
    rules = tmp_path / "rules.yml"
    with serving(fixtures, *faults) as live:
        result = run("sync_rules.py", live, rules, "--no-check", "--backoff", "0.05")
        assert result.returncode == 0, result.stderr
        assert file_ids(rules) == served_ids(live)


@pytest.mark.parametrize("fault", ["invalid-yaml", "action-global", "503", "truncate"])
def test_sync_keeps_the_old_file_when_the_answer_is_bad(
    fixtures: Path, tmp_path: Path, fault: str
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("title: kept\nid: old-rule\n", encoding="utf-8")
    with serving(fixtures, fault) as live:
        result = run("sync_rules.py", live, rules, "--no-check", "--backoff", "0.01", "--full")
    assert result.returncode in (4, 5), result.stdout
    assert rules.read_text(encoding="utf-8") == "title: kept\nid: old-rule\n"
    assert not Path(f"{rules}.state.json").exists()
    assert list(tmp_path.iterdir()) == [rules]  # no temp file left behind


def test_sync_stops_at_once_on_a_refused_key(fixtures: Path, tmp_path: Path) -> None:
    with serving(fixtures) as live:
        result = run("sync_rules.py", live, tmp_path / "r.yml", key=REVOKED_KEY)
        free = run("sync_rules.py", live, tmp_path / "r.yml", key=FREE_KEY)
        statuses = [r.status for r in live.requests]
    assert (result.returncode, free.returncode) == (3, 3)
    assert statuses == [401, 403]  # one request each: no retry
    assert "invalid_api_key" in result.stderr
    assert "demo_revoked" not in result.stderr + result.stdout  # the key is redacted


def test_sync_with_the_conformance_check_gates_the_file(fixtures: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    with serving(fixtures) as live:
        result = run("sync_rules.py", live, rules, "--check-arg=--strict")
        expected = served_ids(live)
    # The mock's output passes the strict gate, so the file is written: exactly what was served.
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(file_ids(rules)) == sorted(expected)
    assert len(expected) > 50


def test_the_gate_keeps_rules_the_checker_refuses_out(fixtures: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("title: kept\nid: old-rule\n", encoding="utf-8")
    with serving(fixtures) as live:
        # Domain rules do not compile for Microsoft XDR (docs/toolchain.md): requiring that target
        # makes the checker refuse the file, so nothing may be written.
        result = run(
            "sync_rules.py", live, rules, "--full", "--check-arg=--no-validators",
            "--check-arg=--targets=kusto+microsoft_xdr",
            "--check-arg=--require-target=kusto+microsoft_xdr",
        )  # fmt: skip
    assert result.returncode == 5, result.stderr[-3000:]
    assert "soc-conformance rules failed" in result.stderr
    assert rules.read_text(encoding="utf-8") == "title: kept\nid: old-rule\n"
    assert not Path(f"{rules}.state.json").exists()


def test_naive_client_leaves_a_partial_file(fixtures: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    with serving(fixtures, "truncate") as live:
        result = run("naive_client.py", live, rules)
        promised = requests.get(
            live.url("/api/v1/iocs/sigma"), headers={"X-API-Key": PRO}, timeout=30, stream=True
        )
        whole = int(promised.headers["Content-Length"])
        promised.close()
    assert result.returncode == 0  # it even claims success
    assert 0 < rules.stat().st_size < whole


def test_naive_client_hammers_on_401(fixtures: Path, tmp_path: Path) -> None:
    with serving(fixtures) as live:
        run("naive_client.py", live, tmp_path / "r.yml", key=REVOKED_KEY)
        statuses = [r.status for r in live.requests]
    assert statuses == [401] * 20


def test_delta_sync_keeps_the_latest_delta_with_since_from_the_servers_clock(
    fixtures: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yml"
    state_path = Path(f"{rules}.state.json")
    with serving(fixtures, now="2026-09-15T12:00:00Z") as live:
        first = run("delta_sync.py", live, rules)
        assert first.returncode == 0, first.stderr
        assert file_ids(rules) == served_ids(live)
        # The server's clock (the mock's, not this machine's) is the next since.
        assert json.loads(state_path.read_text())["since"] == "2026-09-15T12:00:00Z"
        again = run("delta_sync.py", live, rules)
        assert again.returncode == 0, again.stderr
        sigma = [r.query for r in live.requests if r.path.endswith("/sigma")]
    assert "since=2026-09-15T12%3A00%3A00Z" in sigma[-1]
    assert rules.read_bytes() == b""  # nothing new: an empty file, as curl -o leaves it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules.yml", "rules.yml.state.json"]


@pytest.mark.parametrize("fault", ["invalid-yaml", "503"])
def test_delta_sync_changes_nothing_when_the_answer_is_bad(
    fixtures: Path, tmp_path: Path, fault: str
) -> None:
    rules = tmp_path / "rules.yml"
    state_path = Path(f"{rules}.state.json")
    rules.write_text("title: kept\nid: old-rule\n", encoding="utf-8")
    state_path.write_text('{"since": "2026-08-01T00:00:00Z"}\n', encoding="utf-8")
    with serving(fixtures, fault) as live:
        result = run("delta_sync.py", live, rules, "--backoff", "0.01")
    assert result.returncode in (4, 5), result.stdout
    assert result.stderr.strip()
    assert rules.read_text(encoding="utf-8") == "title: kept\nid: old-rule\n"
    assert state_path.read_text(encoding="utf-8") == '{"since": "2026-08-01T00:00:00Z"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules.yml", "rules.yml.state.json"]
