"""``soc-conformance rules FILE... | -``: every rule check on saved files (or stdin).

The gate a user puts in the cron job between download and SIEM push. Exit codes: 0 conformant,
1 failures, 2 usage error, 3 could not test (e.g. an unreadable file).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

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


def expand_paths(files: tuple[str, ...]) -> list[str]:
    """Files as given, directories replaced by their ``*.yml``/``*.yaml`` files, recursively and
    sorted (as sigma-cli reads them); a directory without any is a usage error."""
    out: list[str] = []
    for name in files:
        path = Path(name)
        if name != "-" and path.is_dir():
            found = sorted(
                str(p) for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()
            )
            if not found:
                raise UsageError(f"{name}: a directory without any *.yml or *.yaml file")
            out += found
        else:
            out.append(name)
    return list(dict.fromkeys(out))


def read_rulesets(files: tuple[str, ...]) -> list[RuleSet]:
    """Read and split every file (``-`` is stdin, a directory its rule files); an unreadable
    file is a harness error."""
    # One byte past the limit is enough for parse_body to report "too large": never hold an
    # endless stdin or a huge file in memory to find that out.
    cap = LoadLimits().max_body_bytes + 1
    rulesets = []
    for name in expand_paths(files):
        source = "<stdin>" if name == "-" else name
        # Read straight into parse_body, which lets the bytes go once decoded.
        rulesets.append(parse_body(_read(name, cap), source=source))
    return rulesets


def _read(name: str, cap: int) -> bytes:
    """Up to ``cap`` bytes of a file, or of stdin for ``-``."""
    if name == "-":
        return sys.stdin.buffer.read(cap)
    try:
        with Path(name).open("rb") as handle:
            return handle.read(cap)
    except OSError as exc:
        raise HarnessError(f"cannot read {name}: {exc.strerror or exc}") from exc


@click.command("rules")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--targets",
    multiple=True,
    metavar="T[,T...]",
    help="Compile targets backend+pipeline, or the vendor's names splunk, elastic, sentinel,"
    " qradar (default: the profile's; list: soc-conformance targets).",
)
@click.option(
    "--profile",
    type=click.Choice(["socdefenders", "sigma"]),
    default="socdefenders",
    show_default=True,
    help="socdefenders: the vendor's IOC feed format too; sigma: generic Sigma checks only.",
)
@click.option(
    "--required-targets",
    "--require-target",
    "require_target",
    multiple=True,
    metavar="T[,T...]",
    help="Targets whose compile failures fail the run (added to the targets if missing).",
)
@click.option(
    "--advisory-targets",
    multiple=True,
    metavar="T[,T...]",
    help="Targets whose compile failures are warnings (added to the targets if missing).",
)
@click.option(
    "--validation-config",
    type=click.Path(exists=True, dir_okay=False),
    help="pySigma validator configuration (validators, per-rule exclusions, config).",
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
    profile: str,
    require_target: tuple[str, ...],
    advisory_targets: tuple[str, ...],
    validation_config: str | None,
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
    """Check saved Sigma rule files, directories (their *.yml/*.yaml, recursively) or - for
    stdin, against the SOC Defenders contract (--profile socdefenders) or as any Sigma corpus
    (--profile sigma).

    Required targets default to splunk+sysmon and lucene+ecs_windows (sigma profile:
    splunk+sysmon), those of them listed in --targets when --targets is given; advisory targets
    give warnings and show in the compile matrix. A check with no rule to judge (an empty or
    unreadable file) is skipped, never passed; the summary says how many rules were judged, and
    --min-rules N fails a run with fewer.
    """
    from conformance.rules.profiles import profile_named, target_roles
    from conformance.rules.run import RuleCheckOptions, check_rulesets, compile_workers
    from conformance.rules.toolchain import installed_plugins
    from conformance.rules.validation_config import ValidationConfig, load_validation_config

    subject = ", ".join("<stdin>" if f == "-" else f for f in files)

    def run() -> RunResult:
        # Options are read in here: conclude() turns their usage errors into exit code 2.
        # The vendor's names (splunk, elastic...) first, then each target's role.
        named, aliases = resolve_targets(split_values(targets))
        named_required, required_aliases = resolve_targets(split_values(require_target))
        named_advisory, advisory_aliases = resolve_targets(split_values(advisory_targets))
        aliases = advisory_aliases | required_aliases | aliases
        chosen, required = target_roles(
            profile_named(profile),
            targets=named,
            required=named_required,
            advisory=named_advisory,
        )
        validation = ValidationConfig()
        if validation_config is not None:
            validation = load_validation_config(validation_config, installed_plugins().validators)
        options = RuleCheckOptions(
            profile=profile,
            ids_across_bodies=True,
            validation=validation,
            include=split_values(include),
            exclude=split_values(exclude),
            targets=chosen,
            required_targets=required,
            uuid_v4=uuid_v4,
            attack_data=attack_data,
            strict=strict,
            workers=workers,
            validators=not no_validators,
            rule_timeout=rule_timeout or None,
        )
        result = RunResult(mode="rules", subject=subject, seed=None, strict=strict)
        # The compile workers start before the rules are loaded: they share none of them.
        with compile_workers(options), collecting() as made:
            rulesets = read_rulesets(files)
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
