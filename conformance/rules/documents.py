"""A body of Sigma rules, split into documents and safe-loaded one by one.

The body is judged before anything else touches it: UTF-8 only, no language-specific tags,
no duplicate keys (pySigma's own loader rejects them), no aliases (an alias bomb costs
nothing to send and a lot to expand), bounded size, count and nesting. Each ``---``
document is loaded on its own, so one bad document is reported as that document while the
others are still checked.
"""

from __future__ import annotations

import enum
import functools
import re
import sys
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml

from conformance.rules.indicators import RuleIdentity, rule_identity

_BOM = "\ufeff"
#: A document marker at column 0 ends any block scalar in YAML, so splitting on such lines is
#: faithful to the YAML grammar. Content after ``--- `` on the same line stays in the document.
_SEPARATOR = re.compile(r"^---(?=[ \t]|$)[ \t]*", re.MULTILINE)
_BLANK_OR_COMMENT = re.compile(r"^(?:[ \t]*(?:#[^\n]*)?(?:\n|$))*$")


@dataclass(frozen=True)
class LoadLimits:
    """Bounds on what one body may cost to load (generous for real feeds, bounded for bombs)."""

    max_body_bytes: int = 64 * 1024 * 1024
    max_documents: int = 100_000
    max_depth: int = 64
    max_aliases: int = 0  # rule feeds have no use for aliases: any alias is a finding


class LoadProblem(enum.Enum):
    """Why a document did not load (each kind is judged by its own check)."""

    SYNTAX = "syntax"
    DUPLICATE_KEY = "duplicate_key"
    TAG = "tag"
    ALIAS = "alias"
    DEPTH = "depth"


@dataclass(frozen=True)
class RuleDocument:
    """One YAML document of a body: its raw text and the safe-loaded value (or why not)."""

    index: int  # 0-based position among the body's documents
    text: str  # the document as received (without its ``---`` line)
    data: Any  # the safe-loaded value, None when empty or when loading failed
    error: str | None  # why it failed to load, or None
    source: str  # a file name or URL
    problem: LoadProblem | None = None  # the kind of ``error``
    trailing: bool = False  # the empty document after a final ``---``
    line: int = 1  # the line of the body (1-based) where the document's text starts

    @property
    def kind(self) -> str | None:
        """What the mapping is in Sigma 2.0 terms: ``rule``, ``correlation`` (a meta-rule over
        other rules), ``filter`` (exclusions applied to other rules) or ``action`` (a
        collection action such as ``action: global``); None when it is not a mapping."""
        data = self.mapping
        if data is None:
            return None
        for key in ("action", "correlation", "filter"):
            if key in data:
                return key
        return "rule"

    @property
    def label(self) -> str:
        """How a finding names the rule: its title and id when it has them, else its place."""
        data = self.mapping or {}
        title, rule_id = data.get("title"), data.get("id")
        parts = [f"{title!r}" if isinstance(title, str) and title else None]
        parts.append(f"id {rule_id}" if rule_id is not None else None)
        named = " ".join(p for p in parts if p)
        return named or f"{self.source}:{self.line}"

    @property
    def mapping(self) -> dict[str, Any] | None:
        """The loaded document when it is a mapping, else None."""
        return self.data if isinstance(self.data, dict) else None

    @functools.cached_property
    def identity(self) -> RuleIdentity | None:
        """What the rule is about (``conformance.rules.indicators.rule_identity``), computed once:
        several checks and the compile matrix ask for it."""
        return rule_identity(self)


@dataclass(frozen=True)
class RuleSet:
    """A whole body (a response or a file) as documents, or why it could not be read at all."""

    source: str
    documents: tuple[RuleDocument, ...]
    error: str | None = None  # whole-body problem: not UTF-8, too large, too many documents
    warnings: tuple[str, ...] = ()  # tolerated oddities, e.g. a byte-order mark


class _DocumentError(Exception):
    """A document failed one of the loader's safety rules."""

    def __init__(self, problem: LoadProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


class RuleLoader(yaml.CSafeLoader):
    """PyYAML's C safe loader, rejecting duplicate keys like pySigma's ``SigmaYAMLLoader``.

    ``first_line`` is the body line the document starts on, so the lines it reports are lines
    of the file, not of the document.
    """

    first_line = 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """Build a mapping, refusing a key seen twice."""
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                line = key_node.start_mark.line + self.first_line
                raise _DocumentError(
                    LoadProblem.DUPLICATE_KEY, f"duplicate key {key!r} (line {line})"
                )
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_lenient_timestamp(self, node: yaml.ScalarNode) -> Any:
        """A timestamp, or its text when it names no real day (``2026-02-30``): the date
        check reports that, where PyYAML would raise ``ValueError`` from deep inside."""
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)

    def construct_shared_str(self, node: yaml.ScalarNode) -> str:
        """A string; a short one shared with every equal short string loaded (``sys.intern``):
        keys and common values (``title``, ``condition``, ``windows``) repeat in every rule,
        and a run holds every document of its corpus."""
        value = self.construct_scalar(node)
        return sys.intern(value) if len(value) <= _SHARED_STR else value


#: Strings up to this length are interned when loaded.
_SHARED_STR = 40

RuleLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    RuleLoader.construct_lenient_timestamp,
)
RuleLoader.add_constructor("tag:yaml.org,2002:str", RuleLoader.construct_shared_str)


def _check_graph(root: yaml.Node, limits: LoadLimits) -> None:
    """Refuse aliases (a node reached twice) and nesting deeper than the limit, iteratively."""
    seen: set[int] = set()
    aliases = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            aliases += 1
            if aliases > limits.max_aliases:
                raise _DocumentError(
                    LoadProblem.ALIAS, "YAML aliases/anchors are not allowed in a rule feed"
                )
            continue  # an allowed alias is not walked twice
        seen.add(id(node))
        if depth > limits.max_depth:
            raise _DocumentError(
                LoadProblem.DEPTH, f"nesting deeper than {limits.max_depth} levels"
            )
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)


def load_document(
    text: str, limits: LoadLimits = LoadLimits(), *, first_line: int = 1, source: str = ""
) -> tuple[Any, LoadProblem | None, str | None]:
    """Safe-load one YAML document: ``(value, problem, error)``; value is None on error.

    Errors name lines of the body (the document starts on ``first_line``) and the ``source``.
    """
    loader = RuleLoader(text)
    loader.first_line = first_line
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None, None
        _check_graph(node, limits)
        return loader.construct_document(node), None, None
    except _DocumentError as exc:
        return None, exc.problem, str(exc)
    except yaml.constructor.ConstructorError as exc:
        # The safe constructor refuses every tag it does not know (``!!python/object`` ...).
        return None, LoadProblem.TAG, f"unsupported YAML tag: {exc.problem}"
    except yaml.YAMLError as exc:
        _shift_marks(exc, first_line, source)
        # libyaml refuses nesting beyond its own bound (1000 levels) as a parse error.
        if "nesting depth" in str(exc):
            return None, LoadProblem.DEPTH, f"nesting too deep: {exc}"
        return None, LoadProblem.SYNTAX, f"invalid YAML: {exc}"
    except (ValueError, TypeError, OverflowError) as exc:
        # Constructors raise plain exceptions on odd scalars; the document is still unloadable.
        return None, LoadProblem.SYNTAX, f"cannot construct a value: {exc}"
    except RecursionError:
        return None, LoadProblem.DEPTH, "nesting too deep to load"
    finally:
        loader.dispose()


def _shift_marks(exc: yaml.YAMLError, first_line: int, source: str) -> None:
    """Make a YAML error's marks point into the body (file lines, file name), not the
    document on its own (where every document starts at line 1 of ``<unicode string>``)."""
    for name in ("context_mark", "problem_mark"):
        mark = getattr(exc, name, None)
        if mark is not None:  # libyaml's marks are read-only: replace them
            line = mark.line + first_line - 1
            moved = yaml.Mark(source or mark.name, mark.index, line, mark.column, None, 0)
            setattr(exc, name, moved)


def split_documents(text: str) -> list[tuple[str, bool]]:
    """Split YAML text at ``---`` lines: ``(document text, is_trailing_empty)`` pairs.

    A blank (or comment-only) preamble before the first ``---`` is not a document, so an empty
    body has none and a leading ``---`` is fine; a blank piece after the last ``---`` is the
    trailing empty document YAML sees there.
    """
    first, *rest = _SEPARATOR.split(text)
    pieces = ([] if _is_blank(first) else [first]) + [_drop_newline(p) for p in rest]
    return [
        (piece, bool(rest) and position == len(pieces) - 1 and _is_blank(piece))
        for position, piece in enumerate(pieces)
    ]


def start_lines(text: str, count: int) -> list[int]:
    """The line (1-based) where each of the ``count`` pieces :func:`split_documents` gave
    starts: the line of the first ``---`` after which it comes (the next line when nothing
    follows the marker), and line 1 for a first document without a marker."""
    lines = [1]
    line, position = 1, 0
    for match in _SEPARATOR.finditer(text):
        line += text.count("\n", position, match.end())
        position = match.end()
        lines.append(line + 1 if text.startswith("\n", position) else line)
    return lines[len(lines) - count :] if count else []


def _drop_newline(piece: str) -> str:
    """The text after a ``---`` line starts with that line's newline: drop it."""
    return piece[1:] if piece.startswith("\n") else piece


def _is_blank(text: str) -> bool:
    """Whitespace and comments only."""
    return bool(_BLANK_OR_COMMENT.match(text))


def parse_body(body: bytes, *, source: str, limits: LoadLimits = LoadLimits()) -> RuleSet:
    """Decode and split a body, then safe-load each document on its own."""
    if len(body) > limits.max_body_bytes:
        return RuleSet(
            source, (), error=f"body is {len(body)} bytes, above the {limits.max_body_bytes} limit"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RuleSet(
            source, (), error=f"body is not UTF-8: byte {exc.start} is {body[exc.start]:#04x}"
        )
    # The body and then the whole text let go as soon as they are split: a 20 MB file with
    # one character outside the BMP decodes to an 80 MB string (four bytes a character), and
    # its loaded documents come on top. (A caller that keeps its own reference keeps them.)
    del body
    warnings: list[str] = []
    if text.startswith(_BOM):
        text = text[1:]
        warnings.append("body starts with a UTF-8 byte-order mark")
    text = text.replace("\r\n", "\n")
    pieces = split_documents(text)
    starts = start_lines(text, len(pieces))
    del text
    error = None
    if len(pieces) > limits.max_documents:
        error = (
            f"{len(pieces)} documents, above the {limits.max_documents} limit: checked the first"
        )
        pieces = pieces[: limits.max_documents]
    documents = []
    for index, (doc_text, trailing) in enumerate(pieces):
        line = starts[index]
        data, problem, why = load_document(doc_text, limits, first_line=line, source=source)
        documents.append(
            RuleDocument(
                index, doc_text, data, why, source, problem=problem, trailing=trailing, line=line
            )
        )
    return RuleSet(source, tuple(documents), error=error, warnings=tuple(warnings))
