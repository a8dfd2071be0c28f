"""A registry of small named checks, selectable by name (``--check`` / ``--exclude``).

A check is a function named for the property it holds (``rule_ids_are_unique``), registered
with :func:`check` under a scope that says what it receives:

- ``document``: one parsed YAML document (:class:`conformance.rules.documents.RuleDocument`);
- ``collection``: a whole response or file (:class:`conformance.rules.documents.RuleSet`);
- ``compile``: one rule and what the toolchain said of it
  (:class:`conformance.rules.toolchain.CompiledRule`);
- ``server``: a live target (:class:`conformance.server.context.ServerContext`);
- ``client``: one scenario a client went through
  (:class:`conformance.clientmode.outcome.ScenarioOutcome`).

A check is a plain function: it yields or returns :class:`~conformance.findings.Finding`
objects, or raises ``CheckFailure`` / ``SkipCheck``; returning nothing means the property
held. The runner (:mod:`conformance.runner`) names the check on every finding, so a check
never writes its own name. The overloads of :func:`check` tell mypy which subject each scope
receives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from conformance.findings import Finding, UsageError
from conformance.statements import Statement, statement_of

if TYPE_CHECKING:
    from conformance.clientmode.outcome import ScenarioOutcome
    from conformance.rules.documents import RuleDocument, RuleSet
    from conformance.rules.toolchain import CompiledRule
    from conformance.server.context import ServerContext

Scope = Literal["document", "collection", "compile", "server", "client"]
#: What a check may give back: findings (yielded, or a list), one finding, or nothing.
CheckOutput = Iterable[Finding] | Finding | None
CheckFunc = Callable[[Any], CheckOutput]
_S = TypeVar("_S")


@dataclass(frozen=True)
class CheckSpec:
    """A registered check."""

    name: str
    scope: Scope
    func: CheckFunc
    description: str
    #: The documented statement the check enforces, and its severity by default / --strict.
    statement: Statement = field(default_factory=lambda: statement_of(""))

    def run(self, subject: Any) -> list[Finding]:
        """Run the check on one subject: its findings, collected (exceptions pass through)."""
        output = self.func(subject)
        if output is None:
            return []
        if isinstance(output, Finding):
            return [output]
        return list(output)


class Registry:
    """Checks by name, in registration order."""

    def __init__(self) -> None:
        self._checks: dict[str, CheckSpec] = {}

    def register(self, scope: Scope, func: CheckFunc) -> CheckSpec:
        """Add ``func`` under its own name; a name can be registered once."""
        name = func.__name__
        known = self._checks.get(name)
        # A module imported afresh (pytester and importlib.reload drop it from sys.modules)
        # registers the same check again: replace it. Another function with the name is a bug.
        if known is not None and _origin(known.func) != _origin(func):
            raise ValueError(f"check {name!r} is registered twice")
        # The docstring's first paragraph, whole: a first line alone can stop mid-sentence.
        summary = " ".join((func.__doc__ or "").strip().split("\n\n")[0].split())
        spec = CheckSpec(name, scope, func, summary or name, statement_of(name))
        self._checks[name] = spec
        return spec

    def all(self, scope: Scope | None = None) -> list[CheckSpec]:
        """Every check, or those of one scope."""
        return [c for c in self._checks.values() if scope is None or c.scope == scope]

    def select(
        self,
        *,
        scopes: Iterable[Scope],
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
    ) -> list[CheckSpec]:
        """The checks of ``scopes`` named by ``include`` (all if empty) minus ``exclude``.

        Unknown names are a usage error that lists the known ones, so a typo never silently
        turns a check off.
        """
        include, exclude = list(include), list(exclude)
        unknown = sorted(set(include + exclude) - set(self._checks))
        if unknown:
            known = ", ".join(sorted(self._checks))
            raise UsageError(f"unknown check(s): {', '.join(unknown)}; known checks: {known}")
        wanted = set(scopes)
        chosen = [c for c in self._checks.values() if c.scope in wanted]
        if include:
            chosen = [c for c in chosen if c.name in include]
        return [c for c in chosen if c.name not in exclude]


def _origin(func: CheckFunc) -> tuple[str, str]:
    return (getattr(func, "__module__", ""), getattr(func, "__qualname__", ""))


#: The process-wide registry the built-in checks register into (like pytest's plugin manager,
#: filled by importing the check modules; see ``conformance.checks``).
REGISTRY = Registry()


_Check = Callable[[_S], CheckOutput]


@overload
def check(scope: Literal["document"]) -> Callable[[_Check[RuleDocument]], _Check[RuleDocument]]: ...
@overload
def check(scope: Literal["collection"]) -> Callable[[_Check[RuleSet]], _Check[RuleSet]]: ...
@overload
def check(scope: Literal["compile"]) -> Callable[[_Check[CompiledRule]], _Check[CompiledRule]]: ...
@overload
def check(scope: Literal["server"]) -> Callable[[_Check[ServerContext]], _Check[ServerContext]]: ...
@overload
def check(
    scope: Literal["client"],
) -> Callable[[_Check[ScenarioOutcome]], _Check[ScenarioOutcome]]: ...
def check(scope: Scope) -> Callable[[CheckFunc], CheckFunc]:
    """Decorator: register the function as a check of ``scope`` (typed by scope for mypy)."""

    def decorate(func: CheckFunc) -> CheckFunc:
        REGISTRY.register(scope, func)
        return func

    return decorate
