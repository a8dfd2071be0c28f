"""The check registry: registration, selection by scope and name, and what a spec runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.findings import Finding, UsageError
from conformance.registry import REGISTRY, Registry


def _passes(subject: object) -> None:
    """Passes: nothing to say."""


def _finds(subject: object) -> Iterator[Finding]:
    """Finds one thing.

    A second paragraph that is not part of the description.
    """
    yield Finding("", f"about {subject}")


def _one(subject: object) -> Finding:
    """Returns one finding."""
    return Finding("", "one")


def test_a_check_is_described_by_its_docstrings_first_paragraph() -> None:
    registry = Registry()
    spec = registry.register("document", _finds)
    assert (spec.name, spec.scope) == ("_finds", "document")
    assert spec.description == "Finds one thing."


def test_a_spec_runs_its_function_whatever_it_returns() -> None:
    registry = Registry()
    assert registry.register("document", _passes).run("x") == []
    assert [f.message for f in registry.register("document", _finds).run("x")] == ["about x"]
    assert [f.message for f in registry.register("document", _one).run("x")] == ["one"]


def test_another_function_under_a_registered_name_is_refused() -> None:
    registry = Registry()
    registry.register("document", _passes)
    registry.register("document", _passes)  # the same function again (a re-import): replaced

    def impostor(subject: object) -> None:
        """Another function under the same name."""

    impostor.__name__ = "_passes"
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("server", impostor)


def test_selection_by_scope_include_and_exclude() -> None:
    registry = Registry()
    for func in (_passes, _finds):
        registry.register("document", func)
    registry.register("server", _one)
    assert [c.name for c in registry.select(scopes=["document"])] == ["_passes", "_finds"]
    assert [c.name for c in registry.select(scopes=["document"], include=["_finds"])] == ["_finds"]
    assert [c.name for c in registry.select(scopes=["document", "server"], exclude=["_finds"])] == [
        "_passes",
        "_one",
    ]


def test_an_unknown_name_is_a_usage_error_naming_the_known_checks() -> None:
    registry = Registry()
    registry.register("document", _passes)
    with pytest.raises(UsageError, match=r"unknown check\(s\): _pases; known checks: _passes"):
        registry.select(scopes=["document"], exclude=["_pases"])


def test_every_built_in_check_has_a_statement_and_a_description() -> None:
    from conformance.commands.checks import all_checks

    checks = all_checks()
    assert len(checks) == len(REGISTRY.all()) > 40
    for spec in checks:
        assert spec.statement.text, spec.name
        assert spec.description, spec.name
        assert spec.description != spec.name, spec.name
