"""Loopback-only admin routes, registered with ``--admin`` or when the mock's clock can move.

``GET /_admin/requests`` serves the request journal (:mod:`mockserver.journal`: the last
requests, keys redacted) and ``DELETE /_admin/requests`` empties it.

With a moving clock, ``GET /_admin/clock`` tells the mock's current instant; ``POST
/_admin/clock`` with ``{"advance": "7d"}`` moves it forward, or with ``{"now":
"2026-09-01T00:00:00Z"}`` sets it. Both answer ``{"now": ISO, "step": DURATION | null}``.

A client that is not on a loopback address (``127.0.0.0/8``, ``::1``, or their IPv4-mapped
IPv6 forms) gets a 403 in the error envelope, code ``admin_refused``: the routes change what
every client sees and the journal shows what other clients sent, so they are for the test
harness on the same machine, never for the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from flask import Response, jsonify, request

from mockserver.clock import MovingClock, format_duration, parse_duration, parse_instant_utc
from mockserver.errors import APIError, ConfigError, echo
from mockserver.faults import is_loopback_address
from mockserver.state import state, state_of

if TYPE_CHECKING:
    from flask import Flask

CLOCK_PATH: Final = "/_admin/clock"
REQUESTS_PATH: Final = "/_admin/requests"
_FIELDS: Final = ("advance", "now")


class AdminRefused(APIError):
    """403 for an admin route called from a non-loopback address."""

    status = 403
    code = "admin_refused"


class InvalidAdminRequest(APIError):
    """400 for an admin request body that is not what the route reads."""

    status = 400
    code = "invalid_parameter"


def _invalid(field: str, allowed: str, received: str, reason: str) -> InvalidAdminRequest:
    return InvalidAdminRequest(
        f"Invalid admin request: {reason}.",
        details={"parameter": field, "allowed": allowed, "received": echo(received)},
    )


def _require_loopback() -> None:
    # REMOTE_ADDR, never X-Forwarded-For: a header is the client's word, the socket is not.
    if not is_loopback_address(request.remote_addr):
        raise AdminRefused("Admin routes answer loopback clients only.")


def _moving_clock() -> MovingClock:
    _require_loopback()
    clock = state().clock
    assert isinstance(clock, MovingClock)  # registered only with a moving clock
    return clock


def _describe(clock: MovingClock) -> Response:
    step = format_duration(clock.step) if clock.step is not None else None
    return jsonify({"now": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"), "step": step})


def get_clock() -> Response:
    """``GET /_admin/clock``: the mock's current instant and step."""
    return _describe(_moving_clock())


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    fields = [f for f in _FIELDS if isinstance(body, dict) and f in body]
    if not isinstance(body, dict) or len(fields) != 1 or set(body) - set(_FIELDS):
        raise _invalid(
            "body",
            'a JSON object with exactly one of {"advance": "7d"} or {"now": ISO 8601}',
            request.get_data(as_text=True),
            "expected a JSON object with exactly one of 'advance' or 'now'",
        )
    return body


def post_clock() -> Response:
    """``POST /_admin/clock``: advance the clock by a duration, or set it to an instant."""
    clock = _moving_clock()
    body = _body()
    field = "advance" if "advance" in body else "now"
    value = body[field]
    try:
        if not isinstance(value, str) or len(value) > 64:
            raise ConfigError(f"{field} must be a string of at most 64 characters")
        if field == "advance":
            clock.advance(parse_duration(value))
        else:
            clock.set(parse_instant_utc(value))
    except ConfigError as exc:
        allowed = "a duration such as 7d, 12h, 30m" if field == "advance" else "ISO 8601"
        raise _invalid(field, allowed, str(value), str(exc)) from exc
    return _describe(clock)


def get_requests() -> Response:
    """``GET /_admin/requests``: the journal, oldest request first."""
    _require_loopback()
    return jsonify(state().journal.snapshot())


def delete_requests() -> Response:
    """``DELETE /_admin/requests``: empty the journal; say how many entries it held."""
    _require_loopback()
    return jsonify({"cleared": state().journal.clear()})


def register_admin(app: Flask) -> None:
    """Add the admin routes: the journal always, the clock when it moves."""
    app.add_url_rule(REQUESTS_PATH, "admin_get_requests", get_requests, methods=["GET"])
    app.add_url_rule(REQUESTS_PATH, "admin_delete_requests", delete_requests, methods=["DELETE"])
    if isinstance(state_of(app).clock, MovingClock):
        app.add_url_rule(CLOCK_PATH, "admin_get_clock", get_clock, methods=["GET"])
        app.add_url_rule(CLOCK_PATH, "admin_post_clock", post_clock, methods=["POST"])
