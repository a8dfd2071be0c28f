"""Compiling each rule on each target separately: one bad rule never hides the others."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conformance.findings import UsageError
from conformance.results import Status
from conformance.rules.documents import parse_body
from conformance.rules.run import RuleCheckOptions, check_rulesets
from conformance.rules.toolchain import Target
from tests.conformance.rule_samples import GOOD_VALUES, body, many_rules, sample_rule

COMPILE = (
    "pysigma_parses_rule",
    "rules_compile_on_required_targets",
    "rules_compile_on_advisory_targets",
)
#: A rule Splunk converts and Lucene refuses (field references are unsupported there).
LUCENE_ONLY_FAILS = sample_rule("ipv4").replace(
    "DestinationIp: '203.0.113.42'", "DestinationIp|fieldref: SourceIp"
)


def _run(raw: bytes, **options: object) -> dict[str, object]:
    opts = RuleCheckOptions(include=COMPILE, workers=1, **options)  # type: ignore[arg-type]
    results, matrix = check_rulesets([parse_body(raw, source="t.yml")], opts)
    return {"results": {r.name: r for r in results}, "matrix": matrix}


def test_every_documented_type_compiles_on_the_required_targets() -> None:
    out = _run(body(*(sample_rule(t) for t in GOOD_VALUES)))
    results = out["results"]
    assert results["rules_compile_on_required_targets"].status(strict=True) is Status.PASSED  # type: ignore[index]
    matrix = out["matrix"]
    for ioc_type in GOOD_VALUES:
        assert matrix.cell(ioc_type, "splunk+sysmon").ok == 1  # type: ignore[attr-defined]


def test_vendor_domain_mapping_fails_on_sentinel_as_a_warning_only() -> None:
    out = _run(body(sample_rule("domain")))
    advisory = out["results"]["rules_compile_on_advisory_targets"]  # type: ignore[index]
    assert advisory.status(strict=True) is Status.WARNING
    assert {f.target for f in advisory.findings} == {
        "kusto+sentinel_asim",
        "qradar-aql-community+qradar-aql-fields",
    }
    assert out["matrix"].cell("domain", "kusto+sentinel_asim").failed == 1  # type: ignore[attr-defined]


def test_requiring_an_advisory_target_makes_its_failure_fail() -> None:
    out = _run(
        body(sample_rule("domain")),
        required_targets=("splunk+sysmon", "lucene+ecs_windows", "kusto+sentinel_asim"),
    )
    required = out["results"]["rules_compile_on_required_targets"]  # type: ignore[index]
    assert required.status(strict=False) is Status.FAILED
    assert [f.target for f in required.findings] == ["kusto+sentinel_asim"]


def test_one_bad_rule_is_reported_as_that_rule_on_that_target() -> None:
    raw = body(sample_rule("ipv4"), LUCENE_ONLY_FAILS, sample_rule("md5"))
    out = _run(raw)
    required = out["results"]["rules_compile_on_required_targets"]  # type: ignore[index]
    assert [(f.reproduction.document_index, f.target) for f in required.findings] == [
        (1, "lucene+ecs_windows")
    ]
    matrix = out["matrix"]
    assert matrix.cell("ipv4", "splunk+sysmon").ok == 2  # type: ignore[attr-defined]
    assert matrix.cell("ipv4", "lucene+ecs_windows").failed == 1  # type: ignore[attr-defined]
    assert matrix.cell("md5", "lucene+ecs_windows").ok == 1  # type: ignore[attr-defined]


def test_unparseable_rule_fails_pysigma_parses_rule() -> None:
    bad = sample_rule().replace("DestinationIp:", "DestinationIp|bogusmodifier:")
    out = _run(body(sample_rule("md5"), bad))
    parses = out["results"]["pysigma_parses_rule"]  # type: ignore[index]
    assert [f.reproduction.document_index for f in parses.findings] == [1]
    assert "bogusmodifier" in parses.findings[0].message


def test_process_pool_gives_the_same_verdict_as_inline() -> None:
    rules = [*many_rules(70), LUCENE_ONLY_FAILS]
    raw = body(*rules)
    inline = check_rulesets(
        [parse_body(raw, source="x")], RuleCheckOptions(include=COMPILE, workers=1)
    )
    pooled = check_rulesets(
        [parse_body(raw, source="x")], RuleCheckOptions(include=COMPILE, workers=2)
    )
    assert inline[1].cells == pooled[1].cells
    summary = [[(f.reproduction.document_index, f.target) for f in r.findings] for r in inline[0]]
    assert summary == [
        [(f.reproduction.document_index, f.target) for f in r.findings] for r in pooled[0]
    ]
    assert (70, "lucene+ecs_windows") in summary[1]


@pytest.mark.parametrize("spec", ["splunk", "+sysmon", "nosuch+sysmon", "splunk+nosuch"])
def test_unknown_or_malformed_target_is_a_usage_error(spec: str) -> None:
    with pytest.raises(UsageError):
        check_rulesets(
            [parse_body(body(sample_rule()), source="x")],
            RuleCheckOptions(include=COMPILE, targets=(spec,), required_targets=(), workers=1),
        )


def test_target_name_round_trips() -> None:
    assert Target.parse("splunk+sysmon").name == "splunk+sysmon"


def _verdicts(results: list[object]) -> dict[str, tuple[str, int]]:
    return {r.name: (r.status(strict=False).value, len(r.findings)) for r in results}  # type: ignore[attr-defined]


def test_workers_started_before_the_rules_are_loaded_serve_the_run() -> None:
    import gc

    from conformance.rules import toolchain
    from conformance.rules.run import compile_workers

    raw = body(*many_rules(70), LUCENE_ONLY_FAILS)
    options = RuleCheckOptions(include=COMPILE, workers=2)
    inline, _ = check_rulesets([parse_body(raw, source="x")], replace(options, workers=1))
    with compile_workers(options):
        assert len(toolchain._READY) == 1  # forked before anything is loaded
        rulesets = [parse_body(raw, source="x")]
        results, matrix = check_rulesets(rulesets, options)
        assert not toolchain._READY  # the run took them
    assert _verdicts(results) == _verdicts(inline)
    assert matrix.cell("ipv4", "lucene+ecs_windows").failed == 1
    assert gc.get_freeze_count() == 0  # the heap is thawed once the workers are done


def test_early_workers_no_run_took_are_stopped() -> None:
    import gc

    from conformance.rules import toolchain
    from conformance.rules.run import compile_workers

    options = RuleCheckOptions(include=COMPILE, workers=2)
    with compile_workers(options):
        pool = next(iter(toolchain._READY.values()))
        # A few rules compile inline: the early pool is let go at once.
        check_rulesets([parse_body(body(sample_rule()), source="x")], options)
        assert not toolchain._READY
    with compile_workers(options):
        pool = next(iter(toolchain._READY.values()))  # then the file could not be read
    assert not toolchain._READY
    with pytest.raises(RuntimeError):
        pool.submit(int)  # shut down
    assert gc.get_freeze_count() == 0


def test_a_usage_error_is_left_to_the_run() -> None:
    from conformance.rules import toolchain
    from conformance.rules.run import compile_workers

    options = RuleCheckOptions(include=("no_such_check",), workers=2)
    with compile_workers(options):
        assert not toolchain._READY
        with pytest.raises(UsageError):
            check_rulesets([parse_body(body(sample_rule()), source="x")], options)


def test_chunks_stay_small_however_many_rules() -> None:
    from conformance.rules import toolchain

    config = toolchain.ToolchainConfig(("splunk+sysmon",), ())
    items = [(0, i, {"title": "x"}) for i in range(4000)]  # a quarter each: 500
    job = toolchain.CompileJob(config, items, 2, None)
    try:
        assert len(job._futures) == 4000 // toolchain._CHUNK_MOST
    finally:
        assert len(list(job.results())) == 4000
