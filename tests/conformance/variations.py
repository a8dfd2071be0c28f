"""Conformant variations: the real mock changed in ways the contract allows, each of which the
whole suite (every server check, every rule check, compiling on the required targets) must pass
with ``--strict``. The other half of the proof, apps broken on purpose, is
``tests.conformance.catalogue``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import requests
import yaml
from werkzeug.wrappers import Response

from conformance import contract
from tests.conformance.planted import (
    Reselected,
    WSGIApp,
    chunked,
    each_answer,
    each_rules_answer,
    gzipped,
    keys_reversed,
    per_document,
    per_query,
    raw_body,
    respond,
    rule_id,
    with_rule_id,
)

Shows = Callable[[requests.Response, requests.Response], bool]


@dataclass(frozen=True)
class ConformantVariation:
    """The mock changed in a way the contract allows: the whole suite must pass it.

    ``shows(varied, plain)`` tells, from the answers of the varied and of the plain mock to
    ``GET /api/v1/iocs/sigma?limit=20`` (Pro key), that the variation is really in effect (None
    when no client can see it), so that a variation that silently changed nothing can never
    pass for one the checker accepts.
    """

    name: str
    make: Callable[[WSGIApp], WSGIApp]
    doc: str
    shows: Shows | None


_UNKNOWN_KEEP = {*contract.SIGMA_PARAMETERS, "api_key"}


@lru_cache(maxsize=4096)
def _redumped(doc: str) -> str:
    # Cached: pure-Python dumping of the whole feed on every request would dominate the run.
    return yaml.safe_dump(yaml.safe_load(doc), sort_keys=True, width=10_000, allow_unicode=True)


def _drop_unknown(query: dict[str, str]) -> None:
    for name in set(query) - _UNKNOWN_KEEP:
        del query[name]


def _crlf_by_id(doc: str) -> str:
    return doc.replace("\n", "\r\n") if int(rule_id(doc)[-1], 16) % 2 else doc


def _crlf(body: bytes) -> bytes:
    return body.replace(b"\n", b"\r\n")


def _other_id(doc: str) -> str:
    return with_rule_id(doc, str(uuid.uuid5(uuid.NAMESPACE_OID, rule_id(doc))))


def _text_yaml(response: Response) -> None:
    response.content_type = "text/yaml; charset=utf-8"


def _x_yaml(response: Response) -> None:
    response.content_type = "application/x-yaml"


def _newest_first(whole: list[str], count: int) -> list[str]:
    return whole[::-1][:count]


def _by_id(whole: list[str], count: int) -> list[str]:
    return sorted(whole, key=rule_id)[:count]


def _values(name: str, body: bytes) -> list[str]:
    """Every top-level ``name:`` value of a body, in order."""
    pattern = re.compile(rb"^" + name.encode() + rb": (\S+)\r?$", re.MULTILINE)
    return [m.decode() for m in pattern.findall(body)]


def _in_order(name: str, newest_first: bool) -> Shows:
    def shows(varied: requests.Response, plain: requests.Response) -> bool:
        values = _values(name, varied.content)
        return len(set(values)) > 1 and values == sorted(values, reverse=newest_first)

    return shows


def _starts(prefix: bytes) -> Shows:
    return lambda varied, plain: varied.content.startswith(prefix)


def _header(name: str, value: str) -> Shows:
    return lambda varied, plain: varied.headers.get(name, "").startswith(value)


def _other_ids(varied: requests.Response, plain: requests.Response) -> bool:
    ids = _values("id", varied.content)
    return bool(ids) and not set(ids) & set(_values("id", plain.content))


VARIATIONS: tuple[ConformantVariation, ...] = (
    ConformantVariation("CRLF line endings", respond(raw_body(_crlf)), "every line ends CRLF",
                        lambda v, p: v.content == _crlf(p.content)),
    ConformantVariation("LF and CRLF mixed", per_document(_crlf_by_id),
                        "the rules of odd ids end their lines CRLF",
                        lambda v, p: b"\r\n" in v.content and b"e\n" in v.content),
    ConformantVariation("leading ---", respond(raw_body(lambda b: b"---\n" + b if b else b)),
                        "a separator before the first rule", _starts(b"---\ntitle:")),
    ConformantVariation("trailing ---", respond(raw_body(lambda b: b + b"---\n" if b else b)),
                        "a separator after the last rule (an empty trailing document)",
                        lambda v, p: v.content.endswith(b"\n---\n")),
    ConformantVariation("document end markers", per_document(lambda d: d + "...\n"),
                        "each rule ends with YAML's ... marker",
                        lambda v, p: b"\n...\n---\n" in v.content),
    ConformantVariation("comment preamble",
                        respond(raw_body(lambda b: b"# SOC Defenders Sigma feed\n" + b)),
                        "a comment line first, even on empty answers", _starts(b"# SOC")),
    ConformantVariation("text/yaml", respond(each_rules_answer(_text_yaml)),
                        "the media type one vendor page names", _header("Content-Type", "text/")),
    ConformantVariation("application/x-yaml", respond(each_rules_answer(_x_yaml)),
                        "the legacy YAML media type, no charset",
                        _header("Content-Type", "application/x-yaml")),
    ConformantVariation("newest first", lambda app: Reselected(app, _newest_first),
                        "another stable order: newest added first", _in_order("date", True)),
    ConformantVariation("ordered by id", lambda app: Reselected(app, _by_id),
                        "another stable order: by rule id", _in_order("id", False)),
    ConformantVariation("unknown parameters dropped", per_query(_drop_unknown),
                        "a server that strips what it does not know before reading", None),
    ConformantVariation("keys in another order", per_document(keys_reversed),
                        "every rule's keys, and their keys, in reverse order",
                        _starts(b"---\nlevel:")),
    ConformantVariation("re-serialised by PyYAML", per_document(_redumped),
                        "sorted keys, PyYAML's own quoting and list indentation",
                        _starts(b"---\nauthor:")),
    ConformantVariation("ids from another derivation", per_document(_other_id),
                        "still one deterministic UUID per IOC, just another one", _other_ids),
    ConformantVariation("gzip content encoding", respond(gzipped),
                        "bodies gzip-compressed for clients that accept it",
                        _header("Content-Encoding", "gzip")),
    ConformantVariation("chunked transfer encoding", respond(each_answer(chunked)),
                        "no Content-Length: the body streams in chunks",
                        _header("Transfer-Encoding", "chunked")),
)  # fmt: skip
