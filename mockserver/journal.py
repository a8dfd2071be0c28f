"""The request journal: the last requests the mock answered, for clients in any language.

A :class:`JournalMiddleware` around the whole app (faults included, so the status is the one
the client got) notes each request when its answer starts: method, path, query, headers,
status, arrival time, time to the answer's start and the ``X-Request-Id``. The loopback-only
admin routes (:mod:`mockserver.admin`) serve it as ``GET /_admin/requests`` and empty it with
``DELETE /_admin/requests``, as WireMock's request journal does. Requests to ``/_admin/`` are
not journalled.

Bounded: a ring buffer of ``capacity`` entries (the oldest go first), so a long-running mock
holds a fixed amount. No secret is kept: API keys are redacted wherever they appear
(``sk_live_…abcd``), and credential headers that hold no such key are replaced whole.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from mockserver.errors import redact

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ADMIN_PREFIX: Final = "/_admin/"
DEFAULT_CAPACITY: Final = 1000
#: Headers that carry credentials: shown only as their redacted key, or not at all.
_CREDENTIAL_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "cookie"}
)
REDACTED: Final = "[redacted]"
#: Longest header or query value kept (a client may send megabytes of query string).
_VALUE_LIMIT: Final = 2048


def _clip(text: str) -> str:
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"


def redact_header(name: str, value: str) -> str:
    """A header value as the journal shows it: keys redacted, other credentials hidden."""
    shown = redact(value)
    if name.lower() in _CREDENTIAL_HEADERS and shown == value:
        # No sk_live_ key in it, but still a credential (a token of another kind, a cookie).
        scheme, _, token = value.strip().partition(" ")
        return f"{scheme} {REDACTED}" if token and scheme.lower() == "bearer" else REDACTED
    return _clip(shown)


def redact_query(query: str) -> dict[str, list[str]]:
    """A raw query string as name → values, every API key in names or values redacted."""
    pairs: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        pairs.setdefault(_clip(redact(name)), []).append(_clip(redact(value)))
    return pairs


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    found = {
        key[5:].replace("_", "-").title(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            found[key.replace("_", "-").title()] = str(environ[key])
    return {name: redact_header(name, value) for name, value in found.items()}


class RequestJournal:
    """The last ``capacity`` requests, oldest first, safe to use from several threads."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        """Keep at most ``capacity`` entries (at least one)."""
        self.capacity = max(1, capacity)
        self._entries: deque[dict[str, Any]] = deque(maxlen=self.capacity)
        self._lock = threading.Lock()
        self._total = 0

    def record(self, entry: dict[str, Any]) -> None:
        """Add one entry, dropping the oldest when full."""
        with self._lock:
            self._total += 1
            self._entries.append(entry)

    def snapshot(self) -> dict[str, Any]:
        """The journal as ``GET /_admin/requests`` serves it."""
        with self._lock:
            entries = list(self._entries)
            total = self._total
        return {
            "requests": entries,
            "count": len(entries),
            "total": total,
            "dropped": total - len(entries),
            "capacity": self.capacity,
        }

    def clear(self) -> int:
        """Forget every entry (and the count); return how many were held."""
        with self._lock:
            held = len(self._entries)
            self._entries.clear()
            self._total = 0
            return held


class JournalMiddleware:
    """WSGI middleware that notes each non-admin request in ``journal`` when it is answered."""

    def __init__(self, app: WSGIApplication, journal: RequestJournal) -> None:
        """Wrap ``app``."""
        self.app = app
        self.journal = journal

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer through the wrapped app, recording the request as its answer starts."""
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(ADMIN_PREFIX):
            return self.app(environ, start_response)
        arrived = time.time()
        started = time.perf_counter()

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            request_id = next((v for k, v in headers if k.lower() == "x-request-id"), None)
            self.journal.record(
                {
                    "time": datetime.fromtimestamp(arrived, UTC)
                    .isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"),
                    "method": str(environ.get("REQUEST_METHOD", "GET")),
                    "path": _clip(redact(path)),
                    "query": redact_query(str(environ.get("QUERY_STRING", ""))),
                    "headers": _headers(environ),
                    "status": int(status.split(" ", 1)[0]),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    "request_id": request_id,
                    "client": str(environ.get("REMOTE_ADDR", "")),
                }
            )
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def install_journal(app: Any, journal: RequestJournal) -> JournalMiddleware:
    """Wrap a Flask app's ``wsgi_app`` (fault layer included) with the journal, once."""
    middleware = app.extensions.get("socdefenders_journal")
    if not isinstance(middleware, JournalMiddleware):
        middleware = app.wsgi_app = JournalMiddleware(app.wsgi_app, journal)
        app.extensions["socdefenders_journal"] = middleware
    return middleware
