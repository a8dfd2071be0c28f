"""Checks of a whole body (one response or one file): loading, and relations between rules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping

from conformance.checks.document import NO_RULE, document_finding
from conformance.findings import Finding, Reproduction, Severity, SkipCheck
from conformance.registry import check
from conformance.rules.documents import LoadProblem, RuleDocument, RuleSet

#: Loading problems judged here; duplicate keys have their own check.
_UNSAFE = {
    LoadProblem.SYNTAX: "invalid YAML",
    LoadProblem.TAG: "language-specific or unknown YAML tag",
    LoadProblem.ALIAS: "YAML alias",
    LoadProblem.DEPTH: "nesting too deep",
}


@check("collection")
def body_is_utf8_yaml(rules: RuleSet) -> Iterator[Finding]:
    """The body is UTF-8, safe-loadable multi-document YAML (no tags, aliases or bombs)."""
    if rules.error is not None:
        yield Finding(
            check="body_is_utf8_yaml",
            message=rules.error,
            expected="UTF-8 multi-document YAML within the load limits",
            reproduction=Reproduction(source=rules.source),
        )
    for warning in rules.warnings:
        yield Finding(
            check="body_is_utf8_yaml",
            message=warning,
            severity=Severity.WARNING,
            reproduction=Reproduction(source=rules.source),
        )
    for doc in rules.documents:
        if doc.problem in _UNSAFE:
            yield document_finding(
                doc,
                _load_message(doc),
                expected="safe-loadable YAML (no tags, no aliases)",
            )


def _load_message(doc: RuleDocument) -> str:
    """``invalid YAML: <PyYAML's words>``, the kind named once (the loader's own messages for
    tags, aliases and depth already say what they are)."""
    error = doc.error or ""
    if doc.problem is not LoadProblem.SYNTAX or error.startswith(_UNSAFE[LoadProblem.SYNTAX]):
        return error
    return f"{_UNSAFE[LoadProblem.SYNTAX]}: {error}"


def _repeats(rules: RuleSet, key_of: Mapping[int, str]) -> Iterator[tuple[str, list[RuleDocument]]]:
    """Keys shared by two or more documents, with those documents in body order."""
    groups: dict[str, list[RuleDocument]] = defaultdict(list)
    for doc in rules.documents:
        key = key_of.get(doc.index)
        if key is not None:
            groups[key].append(doc)
    for key, docs in groups.items():
        if len(docs) > 1:
            yield key, docs


def _place(doc: RuleDocument) -> str:
    return f"{doc.source}:{doc.line} (document {doc.index + 1})"


@check("collection")
def rule_ids_are_unique(rules: RuleSet) -> Iterator[Finding]:
    """No two rules share an ``id``: within one body, or across every file of a ``rules``
    run (which hands this check all its files as one set)."""
    groups: dict[str, list[RuleDocument]] = defaultdict(list)
    for doc in rules.documents:
        data = doc.mapping
        if data is not None and data.get("id") is not None and doc.kind != "action":
            groups[str(data["id"]).lower()].append(doc)
    if not groups:
        raise SkipCheck(NO_RULE)
    for rule_id, docs in groups.items():
        for doc in docs[1:]:
            yield document_finding(
                doc,
                f"id {rule_id} is already used by {_place(docs[0])}",
                received=f"{len(docs)} rules with id {rule_id}: "
                + ", ".join(_place(d) for d in docs),
                expected="one rule per id",
            )


@check("collection")
def one_rule_per_ioc(rules: RuleSet) -> Iterator[Finding]:
    """Each IOC (type and value) has one rule in a body (the feed is one rule per IOC)."""
    keys = {}
    for doc in rules.documents:
        identity = doc.identity
        if identity is not None and identity.ioc_type and identity.value:
            keys[doc.index] = f"{identity.ioc_type} {identity.value}"
    if not keys:
        raise SkipCheck(NO_RULE)
    for key, docs in _repeats(rules, keys):
        yield document_finding(
            docs[1],
            f"IOC {key} has rules in documents {', '.join(str(d.index + 1) for d in docs)}",
            received=f"{len(docs)} rules",
            expected="one rule per IOC",
        )


@check("collection")
def titles_are_distinct(rules: RuleSet) -> Iterator[Finding]:
    """pySigma's ``duplicate_title``: a warning only (the vendor's format reuses titles)."""
    titles = {}
    for doc in rules.documents:
        data = doc.mapping
        if data is not None and isinstance(data.get("title"), str):
            titles[doc.index] = data["title"]
    if not titles:
        raise SkipCheck(NO_RULE)
    repeated = list(_repeats(rules, titles))
    if repeated:
        total = sum(len(docs) for _, docs in repeated)
        sample = repeated[0]
        yield Finding(
            check="titles_are_distinct",
            message=f"{len(repeated)} title(s) shared by {total} rules, e.g. {sample[0]!r}",
            severity=Severity.WARNING,
            received=f"{sample[0]!r} in documents "
            + ", ".join(str(d.index + 1) for d in sample[1][:5]),
            expected="a distinct title per rule (pySigma duplicate_title)",
            reproduction=Reproduction(source=rules.source),
        )
