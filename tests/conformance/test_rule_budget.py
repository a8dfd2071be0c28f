"""Bounded cost in rules mode (issue 9): a per-rule time budget, and backends that do not
carry one rule's state into the next (memory that does not grow with the number of rules).

No assertion here is about how long anything took: each planted rule costs far more than
its budget (an endless loop, or minutes of pySigma work against a budget of seconds), and
every assertion is about what is reported.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conformance.commands.rules import rules_command
from conformance.results import Status
from conformance.rules import toolchain
from conformance.rules.documents import parse_body
from conformance.rules.run import RuleCheckOptions, check_rulesets
from tests.conformance.big_rules import big_rule
from tests.conformance.rule_samples import body, many_rules, sample_rule

COMPILE = (
    "pysigma_parses_rule",
    "rules_compile_on_required_targets",
    "rules_compile_on_advisory_targets",
    "pysigma_validators_pass",
)
ENDLESS = "Endless Rule"


def _endless_for_one_title(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plant a toolchain that never finishes the rule titled ENDLESS (pure Python, like the
    quadratic validator of the 10 MB rule); forked workers inherit the plant."""
    real = toolchain.compile_one

    def compile_one(config: Any, ruleset: int, index: int, data: Any) -> Any:
        if isinstance(data, dict) and data.get("title") == ENDLESS:
            while True:
                pass
        return real(config, ruleset, index, data)

    monkeypatch.setattr(toolchain, "compile_one", compile_one)


def _endless_rule() -> str:
    rule = sample_rule("domain")
    title = next(line for line in rule.splitlines() if line.startswith("title: "))
    return rule.replace(title, f"title: {ENDLESS}")


def _run(raw: bytes, **options: Any) -> tuple[dict[str, Any], Any]:
    opts = RuleCheckOptions(include=COMPILE, **{"workers": 1, **options})
    results, matrix = check_rulesets([parse_body(raw, source="budget.yml")], opts)
    return {r.name: r for r in results}, matrix


def _assert_only_the_endless_rule_is_reported(results: dict[str, Any], matrix: Any) -> None:
    parses = results["pysigma_parses_rule"]
    assert parses.status(strict=False) is Status.FAILED
    (finding,) = parses.findings
    assert finding.message.startswith("too expensive to judge: not done after 1 s")
    assert "--rule-timeout" in finding.message
    assert ENDLESS in (finding.reproduction.document or "")  # the finding names the rule
    assert finding.reproduction.document_index == 0
    # the run went on: the other rules were compiled and judged
    required = results["rules_compile_on_required_targets"]
    assert required.status(strict=False) is Status.PASSED
    assert required.judged >= 1
    assert sum(cell.ok for cell in matrix.cells.values()) >= 4


def test_a_rule_over_its_budget_is_a_failure_and_the_run_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _endless_for_one_title(monkeypatch)
    raw = body(_endless_rule(), sample_rule("ipv4"))
    results, matrix = _run(raw, rule_timeout=1.0)
    _assert_only_the_endless_rule_is_reported(results, matrix)


def test_the_other_compile_checks_skip_the_rule_they_could_not_judge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _endless_for_one_title(monkeypatch)
    results, _ = _run(body(_endless_rule()), rule_timeout=1.0)
    for name in COMPILE[1:]:
        assert results[name].status(strict=False) is Status.SKIPPED, name
        assert "too expensive to judge" in (results[name].skip_reason or "")


def test_the_budget_holds_in_forked_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    _endless_for_one_title(monkeypatch)
    raw = body(_endless_rule(), *many_rules(70))  # enough rules for the process pool
    results, matrix = _run(raw, rule_timeout=1.0, workers=2)
    _assert_only_the_endless_rule_is_reported(results, matrix)


def test_the_budget_holds_when_the_checker_runs_in_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SIGALRM reaches only the main thread: from any other thread the rules go to a worker.
    _endless_for_one_title(monkeypatch)
    out: list[Any] = []
    thread = threading.Thread(
        target=lambda: out.append(_run(body(_endless_rule(), sample_rule()), rule_timeout=1.0))
    )
    thread.start()
    thread.join()
    _assert_only_the_endless_rule_is_reported(*out[0])


def test_a_real_hostile_rule_is_stopped_by_its_budget(tmp_path: Path) -> None:
    # 20,000 values: pySigma's duplicate-value validator alone needs seconds on it (it is
    # quadratic: minutes at issue 9's 285,000), Kusto's conversion about as long again.
    path = tmp_path / "big.yml"
    path.write_text(big_rule(20_000) + "---\n" + sample_rule("ipv4"))
    args = [str(path), "--workers", "1", "--check", ",".join(COMPILE), "--rule-timeout", "1"]
    result = CliRunner().invoke(rules_command, args)
    assert result.exit_code == 1, result.output
    assert "too expensive to judge: not done after 1 s, in " in result.output
    # It names what was running: a validator, the target being converted, or (on a loaded
    # machine the second can run out while pySigma still parses the rule) the call below.
    flat = " ".join(result.output.split())
    named = re.search(r"after 1 s, in (validator \w+|converting for \S+|[A-Za-z_][\w.]*) ", flat)
    assert named, flat[:500]
    assert named.group(1) != "compiling", flat[:500]
    assert "Very Large Command Line Rule" in result.output
    assert "1/1 ok" in result.output  # the small rule was compiled on every target


def test_no_budget_when_the_timeout_is_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float | None] = []
    real = toolchain._compile_chunk

    def spy(config: Any, chunk: Any, budget: float | None = None) -> Any:
        seen.append(budget)
        return real(config, chunk, budget)

    monkeypatch.setattr(toolchain, "_compile_chunk", spy)
    result = CliRunner().invoke(
        rules_command,
        ["-", "--workers", "1", "--targets", "splunk+sysmon", "--rule-timeout", "0"],
        input=body(sample_rule()),
    )
    assert result.exit_code == 0, result.output
    assert seen == [None]
    result = CliRunner().invoke(
        rules_command,
        ["-", "--workers", "1", "--targets", "splunk+sysmon"],
        input=body(sample_rule()),
    )
    assert seen == [None, toolchain.DEFAULT_RULE_TIMEOUT]


def test_a_negative_timeout_is_a_usage_error() -> None:
    result = CliRunner().invoke(rules_command, ["-", "--rule-timeout", "-1"], input=b"")
    assert result.exit_code == 2


def _bad_field_rule(number: int) -> str:
    return (
        f"title: Unknown Field {number}\n"
        f"id: {number:08d}-1111-4111-8111-111111111111\n"
        "logsource:\n    category: process_creation\n    product: windows\n"
        f"detection:\n    selection:\n        NoSuchField{number}: 'x'\n"
        "    condition: selection\n"
    )


def test_a_backend_does_not_carry_one_rules_error_into_the_next() -> None:
    # The Kusto pipeline's invalid-field transformation prepends each refused field to its
    # own message: without a reset, rule n's message repeats the sentence n times.
    raw = body(*(_bad_field_rule(n) for n in range(1, 6)))
    results, _ = _run(raw, targets=("kusto+sentinel_asim",), required_targets=())
    findings = results["rules_compile_on_advisory_targets"].findings
    assert len(findings) == 5
    for number, finding in enumerate(findings, start=1):
        assert finding.message.count("Invalid SigmaDetectionItem field name encountered") == 1
        assert f"NoSuchField{number}." in finding.message
