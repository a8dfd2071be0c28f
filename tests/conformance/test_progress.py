"""Progress on standard error: plain lines off a terminal, rich bars on one, silence with -q."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

import conformance.checks.client_traffic  # noqa: F401 - registers the client checks
from conformance.cli import main
from conformance.clientmode.run import ClientConfig, run_client
from conformance.progress import (
    NORMAL,
    QUIET,
    VERBOSE,
    NullProgress,
    PlainProgress,
    RichProgress,
    current,
    reporter_for,
    reporting,
)
from conformance.server.transport import Credentials, Transport, TransportConfig
from tests.conformance.test_transport import KEY, FakeClock, RateLimitedApp, serve_wsgi
from tests.keys import PRO_KEY

PY = sys.executable


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_come_at_the_steps_asked_for_with_the_other_counters() -> None:
    out = io.StringIO()
    plain = PlainProgress(out)
    plain.begin("requests", "requests", 600)
    plain.begin("checks", "server checks", 2, every=1)
    plain.begin("compile:splunk", "splunk", 2)
    plain.advance("requests", 5)
    plain.advance("compile:splunk")
    plain.advance("checks", item="status_codes: passed")
    plain.advance("requests")
    plain.detail("GET /x -> 200")
    plain.end("compile:splunk", "1 compiled, 0 failed")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[server checks 1/2] status_codes: passed (requests 5/600, ")
    assert "splunk" not in lines[0]  # a sub-counter shows at its end only
    assert lines[1] == "[splunk 1/2] done: 1 compiled, 0 failed"
    assert len(lines) == 2  # no line per request, no detail without -v
    assert "\x1b" not in out.getvalue()


def test_plain_verbose_adds_every_step_and_the_details() -> None:
    out = io.StringIO()
    plain = PlainProgress(out, verbosity=VERBOSE)
    plain.begin("compile", "rules compiled", 100, every=50)
    plain.advance("compile")
    plain.detail("GET /x -> 200")
    assert out.getvalue().splitlines() == [
        out.getvalue().splitlines()[0],
        "GET /x -> 200",
    ]
    assert out.getvalue().startswith("[rules compiled 1/100]")


def test_the_reporter_follows_the_options_and_the_terminal() -> None:
    assert isinstance(reporter_for(QUIET, _Tty()), NullProgress)
    assert isinstance(reporter_for(NORMAL, io.StringIO()), PlainProgress)
    assert isinstance(reporter_for(NORMAL, _Tty(), {"TERM": "xterm"}), RichProgress)
    assert isinstance(reporter_for(VERBOSE, _Tty(), {"TERM": "dumb"}), PlainProgress)


def test_runners_talk_to_a_silent_reporter_when_no_command_set_one() -> None:
    assert isinstance(current(), NullProgress)
    plain = PlainProgress(io.StringIO())
    with reporting(plain):
        assert current() is plain
    assert isinstance(current(), NullProgress)


@pytest.mark.parametrize(("no_color", "coloured"), [("1", False), (None, True)])
def test_colour_only_without_no_color(
    monkeypatch: pytest.MonkeyPatch, no_color: str | None, coloured: bool
) -> None:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard", width=80)
    bars = RichProgress(console=console, verbosity=VERBOSE)
    bars.begin("checks", "server checks", 3)
    bars.begin("compile:splunk", "splunk", 3)
    bars.advance("checks", item="a: passed")
    bars.note("waiting 58 s for X-RateLimit-Reset")
    bars.end("checks", "3 done")  # a task ended before another: ids are not positions
    bars.end("compile:splunk", "3 compiled")
    bars.close()
    text = buffer.getvalue()
    assert "waiting 58 s for X-RateLimit-Reset" in text
    assert "splunk: 3 compiled" in text
    assert ("\x1b[33m" in text) is coloured  # the note's yellow


def test_the_transport_says_it_waits_for_the_rate_limit_reset() -> None:
    clock = FakeClock(1_000_000.0)
    app = RateLimitedApp(allowed=1, reset=1_000_058, now=clock.time)
    out = io.StringIO()
    with serve_wsgi(app) as url, reporting(PlainProgress(out)):
        client = Transport(TransportConfig(base_url=url), sleep=clock.sleep, clock=clock.time)
        current().begin("requests", "requests", 10)
        for _ in range(2):
            client.get("/", credentials=Credentials(KEY))
    assert "waiting 58 s for X-RateLimit-Reset" in out.getvalue()


def test_client_mode_counts_its_scenarios() -> None:
    out = io.StringIO()
    config = ClientConfig(
        command=(PY, "-c", "pass"), scenarios=("happy",), include=("sends_the_key_in_a_header",)
    )
    with reporting(PlainProgress(out)):
        run_client(config)
    assert out.getvalue().startswith("[scenario 1/1] happy: exit 0 (")


RULE = """title: t
id: 7f4e4f27-6d2c-4b8e-9b6a-0c3e8f0b5a11
status: experimental
logsource: {category: dns}
detection: {sel: {query: example.com}, condition: sel}
level: high
"""


@pytest.mark.parametrize(
    ("flags", "expected"),
    [((), "[rules compiled 1/1]"), (("-q",), None), (("-v", "-q"), None)],
)
def test_rules_cli_progress_and_quiet(
    tmp_path: Path, flags: tuple[str, ...], expected: str | None
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULE)
    args = ["rules", str(rules), "--targets", "splunk+sysmon", "--no-validators", *flags]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    if expected is None:
        assert result.stderr == ""
    else:
        assert expected in result.stderr
        assert "[splunk+sysmon 1/1] done: 1 compiled, 0 failed" in result.stderr
    assert "soc-conformance rules" in result.stdout


@pytest.mark.parametrize("verbose", [False, True])
def test_server_cli_shows_checks_done_and_requests_spent(verbose: bool) -> None:
    from mockserver.app import create_app
    from mockserver.liveserver import LiveServer

    key = PRO_KEY
    with LiveServer(create_app()) as server:
        args = ["server", "--base-url", server.url, "--api-key", key, "--seed", "1"]
        args += ["--check", "missing_key_is_401_missing_api_key", "--max-requests", "50"]
        result = CliRunner().invoke(main, args + (["-v"] if verbose else []), env={})
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "[server checks 1/1] missing_key_is_401_missing_api_key: passed (requests 2/50, " in err
    assert ("GET " in err) is verbose  # -v: each request, its key redacted
    if verbose:
        assert "/api/v1/iocs/sigma?limit=1 -> 200" in err
    assert key not in err
    assert "[server checks" not in result.stdout  # progress never mixes with the report
