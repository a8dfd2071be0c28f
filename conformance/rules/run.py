"""Running the rule checks (document, collection, compile, validators) on bodies of rules.

Used by ``soc-conformance rules`` on files and by server mode on the responses it fetched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any

from conformance import checks as _checks  # noqa: F401 - registers the built-in checks
from conformance import contract
from conformance.findings import ConformanceError, UsageError
from conformance.progress import current
from conformance.registry import REGISTRY, CheckSpec, Scope
from conformance.results import CheckResult, CompileMatrix
from conformance.rules.documents import RuleSet
from conformance.rules.metarules import meta_group, reference_index
from conformance.rules.outcomes import RuleOutcome
from conformance.rules.profiles import Profile, logsource_row, profile_named
from conformance.rules.toolchain import (
    DEFAULT_RULE_TIMEOUT,
    CompiledRule,
    CompileJob,
    ToolchainConfig,
    check_targets_installed,
    discard_workers,
    installed_plugins,
    start_workers,
)
from conformance.rules.validation_config import ValidationConfig
from conformance.rules.validators import offline_validators, runs_offline
from conformance.runner import new_result, run_check

#: Checks only run when asked for: by an option, or by name with ``--check``.
_OPT_IN = {"id_is_uuid_v4"}
_SCOPES: tuple[Scope, ...] = ("collection", "document", "compile")
#: Collection checks that see every file of a run at once when ``ids_across_bodies`` is set.
_ACROSS_BODIES = {"rule_ids_are_unique"}


@dataclass(frozen=True)
class RuleCheckOptions:
    """How to judge bodies of rules. Built by the CLI (or server mode) from its options."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    targets: tuple[str, ...] = contract.DEFAULT_TARGETS
    required_targets: tuple[str, ...] = contract.REQUIRED_TARGETS
    uuid_v4: bool = False
    attack_data: str | None = None
    strict: bool = False
    workers: int = 2
    validators: bool = True
    #: ``socdefenders`` (the vendor's feed format) or ``sigma`` (any Sigma corpus).
    profile: str = "socdefenders"
    #: Ids must be unique across all bodies (``rules`` on several files), not just within one
    #: (server mode's responses overlap, so there it is per body).
    ids_across_bodies: bool = False
    validation: ValidationConfig = field(default_factory=ValidationConfig)

    @property
    def profile_spec(self) -> Profile:
        """The :class:`Profile` named by ``profile``."""
        return profile_named(self.profile)

    rule_timeout: float | None = DEFAULT_RULE_TIMEOUT  # seconds per rule; None: unbounded

    def all_targets(self) -> tuple[str, ...]:
        """The targets to compile for: ``targets`` plus any required one not listed."""
        extra = tuple(t for t in self.required_targets if t not in self.targets)
        return self.targets + extra


def selected_checks(options: RuleCheckOptions) -> list[CheckSpec]:
    """The checks a run executes (unknown names are a usage error)."""
    chosen = REGISTRY.select(scopes=_SCOPES, include=options.include, exclude=options.exclude)
    if options.uuid_v4:
        chosen += [c for c in REGISTRY.all("document") if c.name == "id_is_uuid_v4"]
    dropped = set() if options.validators else {"pysigma_validators_pass"}
    dropped |= {n for n in _OPT_IN if n not in options.include and not options.uuid_v4}
    dropped |= options.profile_spec.excluded_checks - set(options.include)
    unique = {c.name: c for c in chosen if c.name not in dropped}
    return list(unique.values())


def check_rulesets(
    rulesets: Sequence[Any], options: RuleCheckOptions = RuleCheckOptions()
) -> tuple[list[CheckResult], CompileMatrix]:
    """Run every selected check on every body; return the results and the compile matrix."""
    specs = selected_checks(options)
    results = {s.name: new_result(s) for s in specs}
    targets = options.all_targets()
    profile = options.profile_spec
    matrix = CompileMatrix(
        targets=list(targets), required=list(options.required_targets), rows=profile.matrix_rows
    )
    compile_specs = [s for s in specs if s.scope == "compile"]
    job = None
    if compile_specs:
        config = _toolchain_config(options, compile_specs)
        items = _compile_items(rulesets)
        job = CompileJob(config, items, options.workers, options.rule_timeout)
        _begin_compile(targets, len(items))
    across = options.ids_across_bodies and len(rulesets) > 1
    for ruleset in rulesets:
        for spec in specs:
            if spec.scope == "collection" and not (across and spec.name in _ACROSS_BODIES):
                run_check(spec, ruleset, results[spec.name])
            elif spec.scope == "document":
                for doc in ruleset.documents:
                    run_check(spec, doc, results[spec.name])
    if across:
        everything = _merged(rulesets)
        for spec in specs:
            if spec.name in _ACROSS_BODIES:
                run_check(spec, everything, results[spec.name])
    if job is not None:
        required = frozenset(options.required_targets)
        for subject in _compiled(rulesets, job.results(), required, options.validation):
            _count(matrix, subject)
            _advance_compile(subject, matrix)
            for spec in compile_specs:
                run_check(spec, subject, results[spec.name])
        _end_compile(targets, matrix)
    return [results[s.name] for s in _ordered(specs)], matrix


def _toolchain_config(options: RuleCheckOptions, compile_specs: list[CheckSpec]) -> ToolchainConfig:
    """What the compile workers build (targets checked to be installed first)."""
    targets = options.all_targets()
    check_targets_installed(targets)
    wants_validators = any(s.name == "pysigma_validators_pass" for s in compile_specs)
    return ToolchainConfig(
        targets,
        _validator_names(options, options.profile_spec) if wants_validators else (),
        options.attack_data,
        options.validation.frozen_params(),
    )


@contextmanager
def compile_workers(options: RuleCheckOptions) -> Iterator[None]:
    """Start the compile workers that :func:`check_rulesets` with ``options`` will use inside
    the block now, before its rules are loaded (so the workers share none of them:
    ``toolchain.start_workers``); workers no run took are stopped on leaving. A usage error
    (an unknown target or check) is left to ``check_rulesets`` to raise, in its own order."""
    compile_specs = [s for s in _selected_or_none(options) if s.scope == "compile"]
    if compile_specs and options.workers > 1:
        with suppress(ConformanceError):
            start_workers(_toolchain_config(options, compile_specs), options.workers)
    try:
        yield
    finally:
        discard_workers()


def _selected_or_none(options: RuleCheckOptions) -> list[CheckSpec]:
    """:func:`selected_checks`, or none when the selection is a usage error."""
    try:
        return selected_checks(options)
    except ConformanceError:
        return []


def _validator_names(options: RuleCheckOptions, profile: Profile) -> tuple[str, ...]:
    """The profile's offline validators, or those ``--validation-config`` selects (still only
    the ones that run offline)."""
    default = offline_validators(
        attack_data=options.attack_data, not_for_profile=profile.excluded_validators
    )
    chosen = options.validation.select(default, installed_plugins().validators)
    return tuple(n for n in chosen if runs_offline(n, attack_data=options.attack_data))


def _compile_items(rulesets: Sequence[Any]) -> list[tuple[int, int, Any]]:
    """What the workers compile: each rule's mapping; for a correlation or filter, the list of
    mappings it is compiled with (``conformance.rules.metarules``)."""
    everyone = [doc for ruleset in rulesets for doc in ruleset.documents]
    by_key: dict[str, Any] | None = None
    items: list[tuple[int, int, Any]] = []
    for r, ruleset in enumerate(rulesets):
        for doc in ruleset.documents:
            if doc.kind == "rule":
                items.append((r, doc.index, doc.data))
            elif doc.kind in ("correlation", "filter"):
                by_key = by_key if by_key is not None else reference_index(everyone)
                items.append((r, doc.index, meta_group(doc, everyone, by_key)))
    return items


def _merged(rulesets: Sequence[Any]) -> RuleSet:
    """Every body's documents as one set (each document keeps its own source and line)."""
    documents = tuple(doc for ruleset in rulesets for doc in ruleset.documents)
    sources = ", ".join(dict.fromkeys(ruleset.source for ruleset in rulesets))
    return RuleSet(sources, documents)


def _compiled(
    rulesets: Sequence[Any],
    outcomes: Iterable[RuleOutcome],
    required: frozenset[str],
    validation: ValidationConfig,
) -> Iterator[CompiledRule]:
    for outcome in outcomes:
        document = rulesets[outcome.ruleset].documents[outcome.index]
        excluded = validation.excluded((document.mapping or {}).get("id"))
        if excluded:  # accepted exceptions of --validation-config
            kept = tuple(i for i in outcome.issues if i.validator not in excluded)
            outcome = replace(outcome, issues=kept)
        yield CompiledRule(document, outcome, required)


def _row(matrix: CompileMatrix, subject: CompiledRule) -> str:
    """The matrix row of a rule: its IOC type, or its logsource (see ``CompileMatrix``)."""
    document = subject.document
    if document.kind in ("correlation", "filter"):
        return document.kind or "unknown"
    if matrix.rows == "logsource":
        return logsource_row(document.mapping)
    identity = document.identity
    return (identity.ioc_type if identity else None) or "unknown"


def _count(matrix: CompileMatrix, subject: CompiledRule) -> None:
    """Add one rule's target outcomes to the matrix, under its row."""
    row = _row(matrix, subject)
    for outcome in subject.outcome.targets:
        cell = matrix.cell(row, outcome.target)
        if outcome.ok:
            cell.ok += 1
        else:
            cell.failed += 1


def _begin_compile(targets: Sequence[str], rules: int) -> None:
    """Progress: a counter per target, one for all (a plain log gets a line per tenth)."""
    progress = current()
    progress.note(f"compiling {rules} rule(s) on {len(targets)} target(s)")
    progress.begin("compile", "rules compiled", rules, every=max(1, rules // 10))
    for target in targets:
        progress.begin(f"compile:{target}", target, rules)


def _advance_compile(subject: CompiledRule, matrix: CompileMatrix) -> None:
    progress = current()
    progress.advance("compile")
    for outcome in subject.outcome.targets:
        failed = sum(c.failed for (_, t), c in matrix.cells.items() if t == outcome.target)
        progress.advance(f"compile:{outcome.target}", item=f"{failed} failed" if failed else "")


def _end_compile(targets: Sequence[str], matrix: CompileMatrix) -> None:
    progress = current()
    progress.end("compile")
    for target in targets:
        cells = [c for (_, t), c in matrix.cells.items() if t == target]
        ok, failed = sum(c.ok for c in cells), sum(c.failed for c in cells)
        progress.end(f"compile:{target}", f"{ok} compiled, {failed} failed")


def _ordered(specs: list[CheckSpec]) -> list[CheckSpec]:
    """Checks in report order: body first, then documents, then compile."""
    rank = {scope: i for i, scope in enumerate(_SCOPES)}
    return sorted(specs, key=lambda s: rank[s.scope])


def check_names() -> list[str]:
    """Every rule check's name (for ``--help`` and error messages)."""
    return sorted(c.name for scope in _SCOPES for c in REGISTRY.all(scope))


__all__ = [
    "RuleCheckOptions",
    "UsageError",
    "check_names",
    "check_rulesets",
    "compile_workers",
    "selected_checks",
]
