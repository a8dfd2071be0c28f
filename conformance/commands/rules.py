"""``soc-conformance rules FILE... | -``: every rule check on saved files (or stdin).

The gate a user puts in the cron job between download and SIEM push. Exit codes: 0 conformant,
1 failures, 2 usage error, 3 could not test (e.g. an unreadable file).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from conformance import contract
from conformance.checks.document import NO_RULE
from conformance.commands.conclusion import conclude, split_values
from conformance.commands.output import output_options
from conformance.findings import HarnessError, UsageError
from conformance.redaction import Scrubber
from conformance.results import RunResult
from conformance.rules.documents import LoadLimits, RuleSet, parse_body
from conformance.rules.toolchain import DEFAULT_RULE_TIMEOUT
from conformance.runner import (
    collecting,
    count_rules,
    explain_empty,
    reached_rules,
    stop_workers,
)
from conformance.target_aliases import resolve_targets


def read_rulesets(files: tuple[str, ...]) -> list[RuleSet]:
    """Read and split every file (``-`` is stdin); an unreadable file is a harness error."""
    # One byte past the limit is enough for parse_body to report "too large": never hold an
    # endless stdin or a huge file in memory to find that out.
    cap = LoadLimits().max_body_bytes + 1
    rulesets = []
    for name in files:
        if name == "-":
            body = sys.stdin.buffer.read(cap)
            source = "<stdin>"
        else:
            try:
                with Path(name).open("rb") as handle:
                    body = handle.read(cap)
            except OSError as exc:
                raise HarnessError(f"cannot read {name}: {exc.strerror or exc}") from exc
            source = name
        rulesets.append(parse_body(body, source=source))
    return rulesets


@click.command("rules")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--targets",
    multiple=True,
    metavar="T[,T...]",
    help="Compile targets backend+pipeline, or the vendor's names splunk, elastic, sentinel,"
    " qradar (default: those four; list: soc-conformance targets).",
)
@click.option(
    "--require-target",
    multiple=True,
    metavar="T",
    help="Make a target's compile failures fail the run (repeatable).",
)
@click.option("--strict", is_flag=True, help="Undocumented expectations fail instead of warn.")
@click.option("--check", "include", multiple=True, metavar="NAME", help="Run only these checks.")
@click.option("--exclude", multiple=True, metavar="NAME", help="Skip these checks.")
@click.option("--uuid-v4", is_flag=True, help="Demand random (v4) UUID ids.")
@click.option(
    "--attack-data",
    type=click.Path(exists=True, dir_okay=False),
    help="Local MITRE ATT&CK STIX JSON: enables the ATT&CK validators.",
)
@click.option(
    "--min-rules",
    type=click.IntRange(min=0),
    metavar="N",
    help="Fail (exit 1) when fewer than N rules were judged (default: an empty answer passes).",
)
@click.option("--junitxml", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), help="Write JSON here (- for stdout)."
)
@output_options
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--no-validators", is_flag=True, help="Skip pySigma's validators.")
@click.option(
    "--rule-timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_RULE_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Time budget of one rule (parse, validators, every target); a rule that needs more"
    " is reported as too expensive to judge (a failure) and the run goes on. 0: no budget.",
)
def rules_command(
    files: tuple[str, ...],
    targets: tuple[str, ...],
    require_target: tuple[str, ...],
    strict: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    uuid_v4: bool,
    attack_data: str | None,
    junitxml: str | None,
    json_path: str | None,
    workers: int,
    no_validators: bool,
    rule_timeout: float,
    min_rules: int | None,
) -> None:
    """Check saved Sigma rule files (or - for stdin) against the SOC Defenders contract.

    Required targets default to splunk+sysmon and lucene+ecs_windows (those of them listed in
    --targets when --targets is given); advisory targets only show in the compile matrix.
    A check with no rule to judge (an empty or unreadable file) is skipped, never passed; the
    summary says how many rules were judged, and --min-rules N fails a run with fewer.
    """
    from conformance.rules.run import RuleCheckOptions, check_rulesets

    try:
        chosen, aliases = resolve_targets(split_values(targets) or contract.DEFAULT_TARGETS)
        named_required, required_aliases = resolve_targets(split_values(require_target))
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    aliases = required_aliases | aliases
    required = tuple(t for t in contract.REQUIRED_TARGETS if t in chosen) + named_required
    options = RuleCheckOptions(
        include=split_values(include),
        exclude=split_values(exclude),
        targets=chosen,
        required_targets=tuple(dict.fromkeys(required)),
        uuid_v4=uuid_v4,
        attack_data=attack_data,
        strict=strict,
        workers=workers,
        validators=not no_validators,
        rule_timeout=rule_timeout or None,
    )
    subject = ", ".join("<stdin>" if f == "-" else f for f in files)

    def run() -> RunResult:
        result = RunResult(mode="rules", subject=subject, seed=None, strict=strict)
        rulesets = read_rulesets(files)
        with collecting() as made:
            try:
                result.checks, result.matrix = check_rulesets(rulesets, options)
            except KeyboardInterrupt:
                # What each check judged before the signal; the compile matrix is incomplete.
                result.checks, result.interrupted = list(made), True
                stop_workers()
        if result.interrupted:
            explain_empty(result.checks, "not run: interrupted")
            result.rules_judged = reached_rules(result.checks)
        else:
            explain_empty(result.checks, NO_RULE)
            result.rules_judged = count_rules(rulesets)
        if result.matrix is not None:
            result.matrix.aliases.update(aliases)
        result.require_rules(min_rules)
        return result

    conclude(run, json_path=json_path, junitxml=junitxml, scrubber=Scrubber.of(()))
