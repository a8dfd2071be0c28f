"""Verdicts at the edges (issue 8 §1, §2, §5): the user's own mistakes are never a verdict on
the server, nothing judged is never "passed", and an interrupted run keeps what it judged.

Servers run on loopback ports (``LiveServer``); the commands run through click's runner or,
for signals, as subprocesses that are sent SIGINT/SIGTERM (every wait bounded).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from conformance.checks.document import NO_RULE
from conformance.cli import main
from conformance.clientmode.outcome import RunRecord, ScenarioOutcome
from conformance.clientmode.scenarios import SCENARIOS
from conformance.registry import REGISTRY
from conformance.rules.documents import parse_body
from conformance.rules.outcomes import RuleOutcome, TargetOutcome
from conformance.rules.toolchain import CompiledRule
from conformance.runner import new_result, run_check
from mockserver.app import create_app
from mockserver.liveserver import LiveServer
from tests.conformance.rule_samples import body, sample_rule
from tests.keys import EXPIRED_KEY, FREE_KEY, PRO_KEY

PRO, FREE, EXPIRED = PRO_KEY, FREE_KEY, EXPIRED_KEY
FAST_RULES = ["--targets", "splunk+sysmon", "--workers", "1"]
#: A server run that needs few requests: no Hypothesis exploring, no compiling.
FEW_CHECKS = ["--check", "media_type_is_yaml", "--check", "rule_ids_are_unique"]
WAIT = 120  # seconds: the bound of every wait on a subprocess or a server event


class Counting:
    """A WSGI wrapper counting the requests that reach ``app``."""

    def __init__(self, app: Any) -> None:
        self.app, self.count = app, 0

    def __call__(self, environ: Any, start_response: Any) -> Any:
        self.count += 1
        return self.app(environ, start_response)


@pytest.fixture
def mock() -> Iterator[tuple[str, Counting]]:
    app = create_app()
    counter = Counting(app.wsgi_app)
    app.wsgi_app = counter  # type: ignore[method-assign]
    with LiveServer(app) as server:
        yield server.url, counter


def server(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["server", *args], env={}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def rules(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["rules", *args], input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# -- §1 the user's mistakes: exit 2/3 in one line, before the budget is spent ----------------


@pytest.mark.parametrize(
    ("key", "named"),
    [
        ("sk_live_wrong_key_0123456789ab", "401 invalid_api_key"),
        (EXPIRED, "401 expired_api_key"),
        (FREE, "403"),
    ],
    ids=["wrong", "expired", "free-as-pro"],
)
def test_a_refused_key_is_could_not_test_in_one_line(
    mock: tuple[str, Counting], tmp_path: Path, key: str, named: str
) -> None:
    url, counter = mock
    report = tmp_path / "r.json"
    code, out, err = server("--base-url", url, "--api-key", key, "--json", str(report))
    assert code == 3, out + err
    data = json.loads(report.read_text())  # the files are still written, marked could-not-test
    assert data["exit_code"] == 3
    assert named in data["harness_error"]
    assert key not in report.read_text()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert named in lines[0]
    assert "check the key" in lines[0]
    assert key not in err  # redacted
    assert counter.count <= 2  # the probe (and, after a 401, the same key as X-API-Key)


def test_a_free_key_given_as_pro_is_said_to_be_not_pro(mock: tuple[str, Counting]) -> None:
    code, _, err = server("--base-url", mock[0], "--api-key", FREE, "--seed", "1")
    assert code == 3
    assert "not a Pro key" in err


def test_a_server_that_ignores_bearer_is_judged_not_excused() -> None:
    app = create_app()
    inner = app.wsgi_app

    def drop_bearer(environ: Any, start_response: Any) -> Any:
        environ.pop("HTTP_AUTHORIZATION", None)  # only X-API-Key reaches the app
        return inner(environ, start_response)

    app.wsgi_app = drop_bearer  # type: ignore[method-assign]
    with LiveServer(app) as live:
        code, out, err = server("--base-url", live.url, "--api-key", PRO, *FEW_CHECKS)
    assert code == 1, out + err  # the key is good (X-API-Key works): the server failed
    assert "check the key" not in err
    assert "media_type_is_yaml" in out


@pytest.mark.parametrize("suffix", ["/api/v1/iocs/sigma", "/api/v1/iocs/sigma/", "/api/v1"])
def test_a_base_url_ending_in_the_api_path_is_a_usage_error(
    mock: tuple[str, Counting], suffix: str
) -> None:
    url, counter = mock
    code, _, err = server("--base-url", url + suffix, "--api-key", PRO)
    assert code == 2, err
    assert "already ends in the path" in err
    assert f"{url}{suffix.rstrip('/')}/api/v1/iocs/sigma" in err  # the URL it would have tried
    assert counter.count == 0


def _site(status: int, payload: str, content_type: str) -> Flask:
    app = Flask("not-the-api")

    @app.route("/", defaults={"path": ""})
    @app.route("/<path:path>")
    def everything(path: str) -> tuple[str, int, dict[str, str]]:
        return payload, status, {"Content-Type": content_type}

    return app


@pytest.mark.parametrize(
    "app",
    [
        _site(200, "<!DOCTYPE html><html><body>Welcome</body></html>", "text/html"),
        _site(404, '{"detail": "Not Found"}', "application/json"),
        Flask("no-routes"),  # werkzeug's own 404 page
    ],
    ids=["html-page", "json-404-not-the-envelope", "plain-404"],
)
def test_a_base_url_where_no_api_answers_is_could_not_test(app: Flask) -> None:
    with LiveServer(app) as live:
        url = live.url
        code, out, err = server("--base-url", url, "--api-key", PRO, "--seed", "1")
    assert code == 3, out + err
    assert len(err.strip().splitlines()) == 1, err
    assert f"no API answers at {url}" in err


def test_a_refused_connection_is_could_not_test_in_one_line() -> None:
    code, _, err = server("--base-url", "http://127.0.0.1:9", "--api-key", PRO)
    assert code == 3
    assert len(err.strip().splitlines()) == 1, err
    assert "no API answers at http://127.0.0.1:9" in err


@pytest.mark.parametrize(
    "where", ["missing-dir/x.json", "a-file/x.json", "."], ids=["no-dir", "file-as-dir", "dir"]
)
def test_an_unwritable_report_path_exits_2_before_any_request(
    mock: tuple[str, Counting], tmp_path: Path, where: str
) -> None:
    url, counter = mock
    (tmp_path / "a-file").write_text("")
    path = str(tmp_path / where)
    for option in ("--json", "--junitxml"):
        code, _, err = server("--base-url", url, "--api-key", PRO, option, path)
        assert code == 2, err
        assert path in err
    assert counter.count == 0


def test_json_to_stdout_puts_the_human_report_on_stderr(mock: tuple[str, Counting]) -> None:
    url, _ = mock
    code, out, err = server("--base-url", url, "--api-key", PRO, "--seed", "2", "--json", "-",
                            *FEW_CHECKS)  # fmt: skip
    assert code == 0, err
    data = json.loads(out)  # stdout is exactly one JSON document
    assert data["exit_code"] == 0
    assert "CONFORMANT" in err


def test_only_one_report_can_go_to_stdout(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_bytes(body(sample_rule("ipv4")))
    code, _, err = rules(str(tmp_path / "r.yml"), "--json", "-", "--junitxml", "-")
    assert code == 2
    assert "only one report" in err


# -- §2 nothing judged is never "passed" -------------------------------------------------------


def _statuses(text: str) -> dict[str, tuple[str, str | None]]:
    data = json.loads(text)
    return {c["name"]: (c["status"], c["skip_reason"]) for c in data["checks"]}


@pytest.mark.parametrize(
    "content",
    [b"", os.urandom(4096), b"just a string\n---\n- a list\n"],
    ids=["empty", "random", "no-mapping"],
)
def test_a_file_without_rules_passes_no_rule_check(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "rules.yml"
    path.write_bytes(content)
    report = tmp_path / "r.json"
    code, out, _ = rules(str(path), *FAST_RULES, "--json", str(report))
    statuses = _statuses(report.read_text())
    # Only the loading checks judge such a file; every check about rules says why it did not.
    judged = {"body_is_utf8_yaml", "documents_are_mappings", "no_duplicate_keys"}
    for name, (status, reason) in statuses.items():
        if name not in judged:
            assert status == "skipped", (name, status)
            assert reason == NO_RULE, (name, reason)
    assert "0 rule(s) judged" in out
    assert json.loads(report.read_text())["rules_judged"] == 0
    assert code == (0 if content == b"" else 1)


def test_min_rules_fails_a_run_with_fewer_rules(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yml"
    empty.write_bytes(b"")
    assert rules(str(empty), *FAST_RULES)[0] == 0  # an empty answer can be right
    code, out, _ = rules(str(empty), *FAST_RULES, "--min-rules", "1")
    assert code == 1
    assert "0 rule(s) judged, fewer than --min-rules 1" in out
    good = tmp_path / "good.yml"
    good.write_bytes(body(sample_rule("ipv4"), sample_rule("domain")))
    code, out, _ = rules(str(good), *FAST_RULES, "--min-rules", "2")
    assert code == 0, out
    assert "2 rule(s) judged" in out
    assert rules(str(good), *FAST_RULES, "--min-rules", "3")[0] == 1


def test_min_rules_in_server_mode(mock: tuple[str, Counting]) -> None:
    url, _ = mock
    args = ["--base-url", url, "--api-key", PRO, "--seed", "4", *FEW_CHECKS]
    code, out, err = server(*args, "--min-rules", "1")
    assert code == 0, out + err
    assert " rule(s) judged" in out
    assert "; 0 rule(s) judged" not in out
    code, out, _ = server(*args, "--min-rules", "1000000")
    assert code == 1
    assert "fewer than --min-rules 1000000" in out


def _run(spec_name: str, subject: Any) -> tuple[str, str | None]:
    spec = next(s for s in REGISTRY.all() if s.name == spec_name)
    result = new_result(spec)
    run_check(spec, subject, result)
    return result.status(strict=False).value, result.skip_reason


def test_document_checks_skip_what_is_not_a_rule() -> None:
    (doc,) = parse_body(b"- not\n- a rule\n", source="x").documents
    for name in ("required_fields_present", "id_is_uuid", "no_action_documents",
                 "attack_tags_are_well_formed", "detection_value_is_literal_ioc"):  # fmt: skip
        assert _run(name, doc) == ("skipped", NO_RULE), name


def test_a_rule_without_the_judged_field_skips_that_check() -> None:
    (doc,) = parse_body(b"title: t\nlogsource: {}\n", source="x").documents
    assert _run("attack_tags_are_well_formed", doc) == ("skipped", "no rule has tags")
    assert _run("id_is_uuid", doc) == ("skipped", "no rule has id")


def test_compile_checks_skip_a_rule_that_did_not_parse() -> None:
    (doc,) = parse_body(body(sample_rule("ipv4")), source="x").documents
    broken = CompiledRule(doc, RuleOutcome(0, 0, parse_errors=("bad",)), frozenset({"t"}))
    for name in ("rules_compile_on_required_targets", "pysigma_validators_pass"):
        assert _run(name, broken)[0] == "skipped", name
    only_advisory = CompiledRule(
        doc, RuleOutcome(0, 0, targets=(TargetOutcome("a", ok=True),)), frozenset()
    )
    assert _run("rules_compile_on_required_targets", only_advisory) == (
        "skipped",
        "no required target",
    )
    assert _run("rules_compile_on_advisory_targets", only_advisory) == ("passed", None)


def test_a_client_that_sends_nothing_does_not_pass_the_key_check() -> None:
    import conformance.checks.client_traffic  # noqa: F401 - registers the checks

    happy = next(s for s in SCENARIOS if s.name == "happy")
    run = RunRecord(0, happy.steps[0], PRO, 0, "", "", (), None, None)
    outcome = ScenarioOutcome(happy, ("client",), (run,))
    for name in ("sends_the_key_in_a_header", "sends_only_documented_parameters"):
        assert _run(name, outcome) == ("skipped", "the client sent no request to the API")


# -- §5 SIGINT / SIGTERM: a partial report marked interrupted, exit 130 -------------------------


class Gate:
    """A WSGI wrapper holding every request that carries ``key`` until released."""

    def __init__(self, app: Any, key: str) -> None:
        self.app, self.key = app, key
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        if environ.get("HTTP_AUTHORIZATION") == f"Bearer {self.key}":
            self.reached.set()
            self.release.wait(WAIT)
        return self.app(environ, start_response)


def _cli(*args: str) -> subprocess.Popen[bytes]:
    code = "import sys; from conformance.cli import main; sys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _interrupt(process: subprocess.Popen[bytes], signum: int) -> tuple[int, str, str]:
    process.send_signal(signum)
    try:
        out, err = process.communicate(timeout=WAIT)
    finally:
        process.kill()
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_server_run_reports_what_it_judged(tmp_path: Path, signum: int) -> None:
    app = create_app()
    gate = Gate(app.wsgi_app, EXPIRED)  # the second check waits here until interrupted
    app.wsgi_app = gate  # type: ignore[method-assign]
    report, junit = tmp_path / "r.json", tmp_path / "j.xml"
    with LiveServer(app) as live:
        process = _cli("server", "--base-url", live.url, "--api-key", PRO, "--expired-key",
                       EXPIRED, "--seed", "1", "--check", "unknown_key_is_401_invalid_api_key",
                       "--check", "expired_key_is_401_expired_api_key", "--json", str(report),
                       "--junitxml", str(junit))  # fmt: skip
        try:
            assert gate.reached.wait(WAIT), "the run never reached the held request"
            code, out, err = _interrupt(process, signum)
        finally:
            gate.release.set()
    assert code == 130, out + err
    assert "INTERRUPTED" in out
    assert "Traceback" not in err
    assert "Aborted" not in err
    data = json.loads(report.read_text())
    assert data["interrupted"] is True
    assert data["exit_code"] == 130
    statuses = _statuses(report.read_text())
    assert statuses["unknown_key_is_401_invalid_api_key"] == ("passed", None)
    assert statuses["expired_key_is_401_expired_api_key"] == ("skipped", "not run: interrupted")
    assert 'name="interrupted"' in junit.read_text()
    assert EXPIRED not in out + err + report.read_text()


def test_an_interrupted_client_run_keeps_its_finished_scenarios(tmp_path: Path) -> None:
    marker = tmp_path / "hanging"
    # Scenario "happy" ends at once; under the revoked key of "bad-key" the client hangs.
    script = (
        "import os, pathlib, sys, time\n"
        "if 'revoked' in os.environ['SOCDEFENDERS_API_KEY']:\n"
        "    pathlib.Path(sys.argv[1]).touch(); time.sleep(600)\n"
    )
    report = tmp_path / "r.json"
    args = ["--scenario", "happy", "--scenario", "bad-key", "--timeout", "300"]
    args += ["--json", str(report), "--", sys.executable, "-c", script, str(marker)]
    process = _cli("client", *args)
    try:
        for _ in range(WAIT * 10):
            if marker.exists() or process.poll() is not None:
                break
            threading.Event().wait(0.1)
        assert marker.exists(), "the client never reached the second scenario"
        code, out, err = _interrupt(process, signal.SIGINT)
    finally:
        process.kill()
    assert code == 130, out + err
    assert "happy: exit 0" in err
    statuses = _statuses(report.read_text())
    assert statuses["completes_within_the_timeout"] == ("passed", None)  # judged on "happy"
    assert json.loads(report.read_text())["interrupted"] is True


def test_an_interrupted_rules_run_writes_the_partial_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conformance.rules.run as rules_run

    def judge_one_then_stop(rulesets: Any, options: Any) -> Any:
        spec = next(s for s in REGISTRY.all("document") if s.name == "id_is_uuid")
        result = new_result(spec)
        for doc in rulesets[0].documents:
            run_check(spec, doc, result)
        raise KeyboardInterrupt

    monkeypatch.setattr(rules_run, "check_rulesets", judge_one_then_stop)
    path, report = tmp_path / "rules.yml", tmp_path / "r.json"
    path.write_bytes(body(sample_rule("ipv4")))
    code, out, _ = rules(str(path), "--json", str(report))
    assert code == 130
    assert "INTERRUPTED" in out
    data = json.loads(report.read_text())
    assert data["interrupted"] is True
    assert [(c["name"], c["status"]) for c in data["checks"]] == [("id_is_uuid", "passed")]
