"""Sigma 2.0 meta-rules: correlations and filters, judged with the rules they refer to.

A correlation (``correlation:``) counts or orders the matches of other rules; a filter
(``filter:``) adds exclusions to other rules. Neither means anything alone, so each is compiled
as a small group: the rules it refers to (by ``id`` or ``name``, found in any file of the run)
followed by the meta-rule itself, read by pySigma's ``SigmaCollection`` (which resolves the
references and applies filters), validated, and converted per target. One finding per defect:
a reference to a rule that is not in the run is a parse error of the meta-rule (pySigma's own
for a correlation; ours for a filter, which pySigma would silently apply to nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.rules.documents import RuleDocument
from conformance.rules.outcomes import (
    RuleOutcome,
    TargetOutcome,
    convert,
    validator_issues,
)

#: Rules shipped with a ``rules: any`` filter at most (the first of its logsource).
_ANY_FILTER_RULES = 50


def references(data: dict[str, Any]) -> list[str]:
    """The ids or names a correlation or filter refers to (``any``: none named)."""
    body = data.get("correlation") if "correlation" in data else data.get("filter")
    refs = body.get("rules") if isinstance(body, dict) else None
    if isinstance(refs, str):
        return [] if refs.lower() == "any" else [refs]
    return [str(r) for r in refs] if isinstance(refs, list) else []


def reference_index(everyone: Sequence[RuleDocument]) -> dict[str, RuleDocument]:
    """Rules and correlations by lower-cased ``id`` and ``name`` (the first one wins)."""
    by_key: dict[str, RuleDocument] = {}
    for other in everyone:
        mapping = other.mapping
        if mapping is None or other.kind not in ("rule", "correlation"):
            continue
        for key in (mapping.get("id"), mapping.get("name")):
            if key is not None:
                by_key.setdefault(str(key).lower(), other)
    return by_key


def meta_group(
    doc: RuleDocument,
    everyone: Sequence[RuleDocument],
    by_key: dict[str, RuleDocument] | None = None,
) -> list[dict[str, Any]]:
    """The mappings to compile ``doc`` (a correlation or filter) with: the documents it refers
    to, transitively for correlations of correlations, then ``doc`` itself. ``by_key`` is
    ``reference_index(everyone)``, computed once by a caller with many meta-rules."""
    from conformance.rules.profiles import logsource_row

    data = doc.mapping or {}
    if by_key is None:
        by_key = reference_index(everyone)
    if doc.kind == "filter" and not references(data):
        row = logsource_row(data)
        same = [o for o in everyone if o.kind == "rule" and logsource_row(o.mapping) == row]
        return [o.mapping for o in same[:_ANY_FILTER_RULES] if o.mapping] + [data]
    chosen: dict[int, RuleDocument] = {}
    pending = references(data)
    while pending:
        found = by_key.get(pending.pop().lower())
        if found is None or id(found) in chosen or found is doc:
            continue
        chosen[id(found)] = found
        if found.kind == "correlation" and found.mapping is not None:
            pending += references(found.mapping)
    # Referenced rules first: pySigma resolves a correlation's references among earlier rules.
    ordered = sorted(chosen.values(), key=lambda d: d.kind == "correlation")
    return [d.mapping for d in ordered if d.mapping is not None] + [data]


def compile_group(tools: Any, ruleset: int, index: int, group: list[dict[str, Any]]) -> Any:
    """Parse, validate and convert a meta-rule with the rules it refers to (in a worker)."""
    meta = group[-1]
    is_filter = "filter" in meta
    try:
        collection = _collection(group)
    except Exception as exc:  # noqa: BLE001 - any parser crash is that meta-rule's finding
        return RuleOutcome(ruleset, index, parse_errors=(f"{type(exc).__name__}: {exc}",))
    if collection.errors:
        return RuleOutcome(ruleset, index, parse_errors=tuple(map(str, collection.errors)))
    if is_filter:
        # pySigma applies a filter to the rules it finds and ignores the others: a mistyped id
        # would silently filter nothing.
        present = {str(k).lower() for r in collection.rules for k in (r.id, r.name) if k}
        missing = [r for r in references(meta) if r.lower() not in present]
        if missing:
            why = f"the filter refers to rule(s) not in this run: {', '.join(missing)}"
            return RuleOutcome(ruleset, index, parse_errors=(why,))
    # pySigma's validators take rules and correlations, not filters.
    issues = [] if is_filter else validator_issues(tools.validators, collection.rules[-1])
    outcomes = []
    for spec, backend in tools.backends.items():
        fresh = _collection(group)  # a pipeline rewrites what it converts: a copy per target
        if is_filter:  # the filtered rules are what a backend is given
            results = [convert(spec, backend, rule) for rule in fresh.rules]
        else:  # a correlation converts with the rules it refers to, as sigma-cli does
            results = [_convert_collection(spec, backend, fresh)]
            if _no_correlations(results[0].message):
                # The backend has no correlation support at all: nothing about this rule to
                # judge there (the matrix shows "-"), not a defect of the rule.
                continue
        failed = [r for r in results if not r.ok]
        if results:  # a filter that applies to no rule of the run converts nothing
            outcomes.append(failed[0] if failed else results[0])
    return RuleOutcome(ruleset, index, targets=tuple(outcomes), issues=tuple(issues))


def _no_correlations(message: str | None) -> bool:
    """pySigma's words for a backend without any correlation support."""
    return bool(message) and "does not support correlation rules" in str(message)


def _convert_collection(spec: str, backend: Any, collection: Any) -> Any:
    try:
        queries = backend.convert(collection)
    except Exception as exc:  # noqa: BLE001 - backends raise many kinds; each is a finding
        return TargetOutcome(spec, ok=False, message=f"{type(exc).__name__}: {exc}")
    if not queries:
        return TargetOutcome(spec, ok=False, message="the backend produced no query")
    return TargetOutcome(spec, ok=True, query=str(queries[-1]))


def _collection(group: list[dict[str, Any]]) -> Any:
    from sigma.collection import SigmaCollection

    return SigmaCollection.from_dicts(group, collect_errors=True)
