"""Body rewrites of the ``body``-stage faults, and where ``truncate`` cuts: pure functions."""

from __future__ import annotations

import re
from typing import Final

_INVALID_DOCUMENT: Final = "title: [unterminated flow sequence\nid: 'broken\n"
_GLOBAL_DOCUMENT: Final = "action: global\nlogsource:\n  product: linux\n"
_DOCUMENT_SEPARATOR: Final = re.compile(r"(?m)^---[ \t]*\r?\n")


def split_documents(body: bytes) -> list[str]:
    """Split a multi-document YAML body on ``---`` lines, dropping empty documents."""
    return [d for d in _DOCUMENT_SEPARATOR.split(body.decode("utf-8")) if d.strip()]


def rewrite_body(name: str, body: bytes) -> bytes:
    """Apply a ``body`` stage fault to a Sigma YAML body (a pure function)."""
    if name == "empty-200":
        return b""
    if name == "bom-crlf":
        return b"\xef\xbb\xbf" + body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    documents = split_documents(body)
    middle = len(documents) // 2
    if name == "invalid-yaml":
        documents.insert(middle, _INVALID_DOCUMENT)
    elif name == "duplicate-id" and documents:
        documents.insert(middle + 1, documents[middle])
    elif name == "action-global":
        documents.insert(0, _GLOBAL_DOCUMENT)
    return "---\n".join(d if d.endswith("\n") else d + "\n" for d in documents).encode("utf-8")


def truncation_point(body: bytes) -> int:
    """Return where ``truncate`` cuts: the middle of the middle document (never the end)."""
    documents = [d.encode("utf-8") for d in split_documents(body)] or [body]
    target = documents[len(documents) // 2]
    cut = max(body.find(target), 0) + max(1, len(target) // 2)  # in bytes: may split a character
    return max(0, min(cut, len(body) - 1))
