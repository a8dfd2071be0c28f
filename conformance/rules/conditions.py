"""Judging a Sigma condition on its own, before any backend sees it.

pySigma parses a condition only when a backend converts the rule, so a condition naming a
missing selection shows up as "does not compile on <target>" once per target. Here the
condition goes through pySigma's own grammar (``sigma.conditions.condition``) and every
identifier and selector is resolved against the selections the detection defines, the way
pySigma's ``postprocess`` resolves them: one finding, named for what it is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any


def condition_problems(condition: Any, selections: Sequence[str]) -> list[str]:
    """What is wrong with one condition over the given selection names (empty: nothing)."""
    if not isinstance(condition, str):
        return [f"a condition is a string, not {type(condition).__name__}"]
    if "|" in condition:
        # pySigma refuses the Sigma 1 aggregation syntax; Sigma 2 has correlation rules.
        return ["the '|' aggregation syntax is not Sigma 2.0 (use a correlation rule)"]
    tree, error = _parse(condition)
    if error is not None:
        return [f"does not parse: {error}"]
    return list(dict.fromkeys(_unresolved(tree, list(selections))))


@functools.lru_cache(maxsize=4096)
def _parse(condition: str) -> tuple[Any, str | None]:
    """pySigma's parse tree of a condition, or why it does not parse. Cached: a corpus repeats
    a few conditions (``selection``, ``all of selection_*``...) and a parse costs about a
    millisecond; the tree is only read, never changed."""
    from pyparsing import ParseException
    from sigma.conditions import condition as grammar

    try:
        return grammar.parse_string(condition, parse_all=True)[0], None
    except ParseException as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - pySigma's parse actions raise their own errors
        return None, f"{type(exc).__name__}: {exc}"


def _unresolved(tree: Any, selections: list[str]) -> Iterator[str]:
    """Identifiers naming no selection and selectors matching none, in condition order."""
    from sigma.conditions import ConditionIdentifier, ConditionItem, ConditionSelector

    stack = [tree]
    found: list[str] = []
    while stack:
        node = stack.pop()
        if isinstance(node, ConditionIdentifier):
            if node.identifier not in selections:
                found.append(f"selection {node.identifier!r} is not defined in the detection")
        elif isinstance(node, ConditionSelector):
            if not _selector_matches(node.pattern, selections):
                found.append(
                    f"'{node.args[0]} of {node.pattern}' matches no selection"
                    + (f" (selections: {', '.join(selections)})" if selections else "")
                )
        elif isinstance(node, ConditionItem):
            stack.extend(reversed([a for a in node.args if a is not None]))
    yield from found


def _selector_matches(pattern: str, selections: list[str]) -> bool:
    """Whether ``1 of pattern`` / ``all of pattern`` selects at least one selection (pySigma's
    rule: ``them`` is every selection, ``*`` any run of characters, ``_``-prefixed selections
    only for ``_``-prefixed patterns)."""
    if pattern == "them":
        return bool(selections)
    regex = re.compile(pattern.replace("*", ".*"))
    return any(
        regex.fullmatch(name) and (pattern.startswith("_") or not name.startswith("_"))
        for name in selections
    )
