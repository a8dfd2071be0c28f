"""``soc-mock record``, ``serve --replay`` and ``import`` end to end over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import requests
from click.testing import CliRunner

from mockserver.app import create_app
from mockserver.cassette import CASSETTE_FILE, load_cassette
from mockserver.cli import main
from mockserver.config import MockConfig
from mockserver.errors import InsufficientTier
from mockserver.fixtures import IOCS_FILE, load_dataset
from mockserver.liveserver import LiveServer
from mockserver.recording import Recorder, RecordLimits, record
from mockserver.replay import Replay, install_replay
from tests.integration.upstreams import (
    SECRET_KEY,
    mock_app,
    planted_upstream,
    upstream_dataset,
)
from tests.keys import FREE_KEY, PRO_KEY

PRO = PRO_KEY
SIGMA = "/api/v1/iocs/sigma"


def _get(base: str, path: str, params: str = "", key: str | None = PRO) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.get(
        f"{base}{path}{'?' + params if params else ''}", headers=headers, timeout=10
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A recording of the planted upstream, which also echoes the caller's key back."""
    work = tmp_path_factory.mktemp("record")
    with LiveServer(planted_upstream(work, echo_key=True)) as upstream:
        summary = record(upstream.url, SECRET_KEY, work / "rec")
    assert summary.stopped is None
    assert summary.dataset_source == "/api/v1/iocs"
    return work / "rec"


def _replay_server(directory: Path, *, only: bool = False) -> LiveServer:
    app = create_app(MockConfig(fixtures=directory / IOCS_FILE))
    install_replay(app, Replay.load(directory / CASSETTE_FILE, only=only))
    return LiveServer(app)


def test_the_key_is_in_no_byte_written(recorded: Path) -> None:
    written = b"".join(p.read_bytes() for p in recorded.rglob("*") if p.is_file())
    assert {p.name for p in recorded.iterdir()} == {IOCS_FILE, CASSETTE_FILE}
    for form in {SECRET_KEY, quote(SECRET_KEY, safe=""), quote_plus(SECRET_KEY), SECRET_KEY[8:]}:
        assert form.encode() not in written
    # the upstream echoed it in a header and in 400 bodies: those are there, redacted
    assert "sk_live_…9xYw".encode() in written


def test_the_dataset_is_the_upstream_feed(recorded: Path) -> None:
    dataset = load_dataset(recorded / IOCS_FILE)
    assert [i.to_json() for i in dataset.iocs] == [i.to_json() for i in upstream_dataset().iocs]
    assert dataset.meta.now == upstream_dataset().meta.now


def test_vcrpy_reads_the_cassette(recorded: Path) -> None:
    import vcr

    interactions = load_cassette(recorded / CASSETTE_FILE)
    wanted = next(i for i in interactions if i.uri.endswith("type=domain&limit=10000"))
    with vcr.use_cassette(str(recorded / CASSETTE_FILE), record_mode="none"):
        got = requests.get(wanted.uri, timeout=5)  # answered by vcrpy: no server is running
    assert got.status_code == 200
    assert got.content == wanted.body
    assert b"query: " in got.content  # the upstream's own format, not the mock's


def test_replay_answers_each_recorded_request_byte_for_byte(recorded: Path) -> None:
    interactions = load_cassette(recorded / CASSETTE_FILE)
    assert len(interactions) > 30
    with _replay_server(recorded, only=True) as server:
        for interaction in interactions:
            path, _, query = interaction.uri.partition("//")[2].partition("/")[2].partition("?")
            got = _get(server.url, "/" + path, query)
            assert got.status_code == interaction.status, interaction.uri
            assert got.content == interaction.body, interaction.uri
            assert got.headers["X-RateLimit-Reset"] == interaction.header("X-RateLimit-Reset")
            assert got.headers["Content-Type"] == interaction.header("Content-Type")


def test_other_queries_come_from_the_recorded_iocs_by_the_mocks_rules(
    recorded: Path, tmp_path: Path
) -> None:
    query = "type=ipv4&confidence=medium&limit=3"  # never recorded
    with _replay_server(recorded) as replay, LiveServer(mock_app(tmp_path)) as mock:
        got, expected = _get(replay.url, SIGMA, query), _get(mock.url, SIGMA, query)
    assert got.status_code == 200
    assert got.text.count("title: ") == 3
    assert got.content == expected.content


def test_replay_only_refuses_what_was_not_recorded_and_still_checks_keys(recorded: Path) -> None:
    with _replay_server(recorded, only=True) as server:
        missing = _get(server.url, SIGMA, "type=ipv4&confidence=high")
        no_key = _get(server.url, SIGMA, "limit=10000", key=None)
        free = _get(server.url, SIGMA, "limit=10000", key=FREE_KEY)
        recorded_answer = _get(server.url, SIGMA, "limit=10000")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_recorded"
    assert "--replay-only" in missing.json()["error"]["message"]
    assert no_key.status_code == 401
    assert free.status_code == 403
    assert recorded_answer.status_code == 200
    assert recorded_answer.text.startswith("title: ")


def test_without_the_json_endpoint_the_iocs_come_from_the_rules(tmp_path: Path) -> None:
    app = mock_app(tmp_path)

    def forbidden() -> object:  # this key may not use the JSON endpoint
        raise InsufficientTier("JSON is not in your plan")

    app.view_functions["iocs"] = forbidden
    with LiveServer(app) as upstream:
        summary = record(upstream.url, SECRET_KEY, tmp_path / "rec")
    assert summary.dataset_source.endswith("rules")
    assert not summary.skipped
    derived = {i.id: i for i in load_dataset(tmp_path / "rec" / IOCS_FILE).iocs}
    original = [i for i in upstream_dataset().iocs if i.type not in ("mitre-attack", "sha512")]
    assert set(derived) == {i.id for i in original}
    for ioc in original:
        got = derived[ioc.id]
        assert (got.type, got.value, got.confidence) == (ioc.type, ioc.value, ioc.confidence)
        assert got.added.date() == ioc.added.date()
        assert got.mitre_techniques == ioc.mitre_techniques
        assert sorted(got.industries) == sorted(ioc.industries)


def test_the_crawl_waits_for_the_reset_and_keeps_to_its_budget(tmp_path: Path) -> None:
    """4 requests a second upstream, Reset in milliseconds: no 429 is ever recorded."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    app = planted_upstream(tmp_path, ("reset_ms",), rate_limit="pro=4/second")
    with LiveServer(app) as upstream:
        recorder = Recorder(upstream.url, SECRET_KEY, RecordLimits(max_requests=6), sleep=sleep)
        summary = record(upstream.url, SECRET_KEY, tmp_path / "rec", recorder=recorder)
    assert summary.requests == 6
    assert summary.stopped
    assert "budget" in summary.stopped
    statuses = [i.status for i in load_cassette(tmp_path / "rec" / CASSETTE_FILE)]
    assert 429 not in statuses
    assert len(statuses) == 6
    assert waits
    assert all(0 < w <= 2.5 for w in waits)


def test_import_of_served_rules_reproduces_the_same_rules(tmp_path: Path) -> None:
    with LiveServer(mock_app(tmp_path)) as mock:
        served = _get(mock.url, SIGMA, "limit=10000").text
    (tmp_path / "rules.yml").write_text(served, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["import", str(tmp_path / "rules.yml"), "-o", str(tmp_path / "imported.json")]
    )
    assert result.exit_code == 0, result.output
    dataset = load_dataset(tmp_path / "imported.json")
    with LiveServer(create_app(MockConfig(), dataset=dataset)) as again:
        reproduced = _get(again.url, SIGMA, "limit=10000").text
    assert sorted(reproduced.split("---\n")) == sorted(served.split("---\n"))
    assert len(served.split("---\n")) == len(dataset.iocs) > 100


def test_import_and_record_report_bad_input_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_bytes(b"\xff\xfe")
    runner = CliRunner()
    bad = runner.invoke(main, ["import", str(tmp_path / "bad.yml")])
    missing = runner.invoke(main, ["import", str(tmp_path / "nope.yml")])
    no_rules = tmp_path / "empty.yml"
    no_rules.write_text("title: x\n")
    empty = runner.invoke(main, ["import", str(no_rules)])
    no_key = runner.invoke(main, ["record", "--upstream", "http://127.0.0.1:9", "-o", "x"], env={})
    only = runner.invoke(main, ["serve", "--replay-only"])
    bad_url = runner.invoke(main, ["record", "--upstream", "ftp://x", "--api-key", "k", "-o", "x"])
    for result, code in ((bad, 2), (missing, 2), (empty, 1), (no_key, 2), (only, 2), (bad_url, 2)):
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
    assert "no API key" in no_key.output
    assert "--replay-only needs --replay" in only.output


def test_record_cli_takes_the_key_from_the_environment(tmp_path: Path) -> None:
    with LiveServer(planted_upstream(tmp_path)) as upstream:
        result = CliRunner().invoke(
            main,
            ["record", "--upstream", upstream.url, "-o", str(tmp_path / "rec")],
            env={"SOCDEFENDERS_API_KEY": SECRET_KEY},
        )
    assert result.exit_code == 0, result.output
    assert "150 IOCs (from /api/v1/iocs)" in result.output
    assert f"soc-mock serve --replay {tmp_path / 'rec'}" in result.output
    assert SECRET_KEY not in result.output
    assert json.loads((tmp_path / "rec" / IOCS_FILE).read_text())["meta"]["source"].startswith(
        "recorded from http://127.0.0.1:"
    )


def test_an_unreachable_upstream_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["record", "--upstream", "http://127.0.0.1:9", "--api-key", SECRET_KEY, "-o", "x"],
    )
    assert result.exit_code == 1
    assert "no response" in result.output
    assert SECRET_KEY not in result.output
    assert "Traceback" not in result.output


def test_the_banner_says_which_replay_mode_is_on(recorded: Path) -> None:
    both = Replay.load(recorded / CASSETTE_FILE).describe()
    only = Replay.load(recorded / CASSETTE_FILE, only=True).describe()
    assert "answered from the recorded IOCs" in both
    assert "404 not_recorded" in only
