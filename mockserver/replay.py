"""``soc-mock serve --replay DIR``: recorded requests get their recorded answers, byte for byte.

A request to the API whose method, path and parameters (in any order, the key aside) equal a
recorded one gets that recording's status, headers and body: the upstream's own rule text,
error codes and ``X-RateLimit-*`` values (those are not counted against the mock's limits).
The key is still checked by the mock first (401/403 as always), so a replay directory shared
with a team does not turn into an open feed. Any other request is answered by the mock from
the recorded IOCs (``DIR/iocs.json``), or with ``--replay-only`` by a 404 ``not_recorded``
envelope that says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from flask import Flask, Response, request

from mockserver.auth import presented_key
from mockserver.cassette import HOP_HEADERS, Interaction, load_cassette, request_key
from mockserver.errors import APIError, FixtureError, InsufficientTier

REPLAYED_PATHS: Final = ("/api/v1/iocs/sigma", "/api/v1/iocs")
#: Headers the mock sets itself on every answer (``_finish`` and Werkzeug).
_OWN_HEADERS: Final = HOP_HEADERS | {"date", "server", "x-request-id"}


class NotRecorded(APIError):
    """404 for a request the cassette does not hold (``--replay-only``)."""

    status = 404
    code = "not_recorded"


@dataclass(frozen=True)
class Replay:
    """The recorded answers, by request identity."""

    source: Path
    answers: dict[tuple[str, str, tuple[tuple[str, str], ...]], Interaction]
    only: bool = False

    @classmethod
    def load(cls, path: Path, *, only: bool = False) -> Replay:
        """Read a cassette (a later recording of the same request wins)."""
        interactions = load_cassette(path)
        replayed = [i for i in interactions if i.path in REPLAYED_PATHS]
        if not replayed:
            raise FixtureError(f"{path} records no request to {' or '.join(REPLAYED_PATHS)}")
        return cls(path, {i.match_key(): i for i in replayed}, only)

    def describe(self) -> str:
        """The banner's line."""
        rest = (
            "any other request: 404 not_recorded (--replay-only)"
            if self.only
            else "any other request: answered from the recorded IOCs by the mock's rules"
        )
        return f"Replay: {len(self.answers)} recorded requests from {self.source}; {rest}."


def _answer(recorded: Interaction) -> Response:
    response = Response(recorded.body, status=recorded.status)
    response.headers.clear()
    for name, value in recorded.response_headers:
        if name.lower() not in _OWN_HEADERS:
            # HTTP/1.1 headers are Latin-1: a redacted key's ellipsis becomes three dots
            safe = value.replace("\u2026", "...").encode("latin-1", "replace").decode("latin-1")
            response.headers.add(name, safe)
    return response


def install_replay(app: Flask, replay: Replay) -> None:
    """Answer recorded requests from ``replay`` before the mock's views see them."""
    from mockserver.app import state  # the app module builds on the core; import at use

    def replay_first() -> Response | None:
        if request.path not in REPLAYED_PATHS:
            return None
        try:
            params: Sequence[tuple[str, str]] = list(request.args.items(multi=True))
        except UnicodeDecodeError:
            return None  # the mock's own view answers it: 400 invalid_parameter
        current = state()
        key = current.keys.authenticate(presented_key(request.headers, dict(params)))
        if request.path == REPLAYED_PATHS[0] and not current.config.tier(key.tier).sigma_access:
            raise InsufficientTier(
                "The Sigma rules endpoint needs a Pro subscription.", details={"tier": key.tier}
            )
        recorded = replay.answers.get(request_key(request.method, request.path, params))
        if recorded is not None:
            return _answer(recorded)
        if replay.only:
            raise NotRecorded(
                "This request was not recorded (soc-mock serve --replay-only); serve without "
                "--replay-only to answer it from the recorded IOCs.",
                details={"recorded_requests": len(replay.answers)},
            )
        return None

    app.before_request(replay_first)
