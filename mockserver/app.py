"""The Flask application: ``create_app(config)`` builds it; the views stay thin.

Per request, on every route: find the key and count the request against its rate limits, or
against the client address's anonymous bucket when it has no active key (429 when over). Then,
on the API: refuse a missing or bad key (401), check the tier (403), parse the query (400),
select from the store, answer. Every answer carries the ``X-RateLimit-*`` headers of the
bucket the request counted in.

Every error is an :class:`~mockserver.errors.APIError` rendered by one handler into the JSON
envelope; any other exception is logged and becomes a 500 in the same envelope, and Flask's
``got_request_exception`` signal is sent so that a test harness (``liveserver``) can re-raise it.
"""

from __future__ import annotations

import logging
import os
from typing import Final
from urllib.parse import urlencode

from flask import Flask, Response, g, got_request_exception, jsonify, request
from werkzeug.exceptions import HTTPException

from mockserver.admin import register_admin
from mockserver.auth import APIKey, presented_key
from mockserver.clock import Clock, MovingClock
from mockserver.config import MockConfig
from mockserver.errors import (
    APIError,
    InsufficientTier,
    InternalError,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    RateLimitExceeded,
    echo,
    envelope,
    new_request_id,
)
from mockserver.faults import install_faults
from mockserver.fixtures import Dataset
from mockserver.journal import ADMIN_PREFIX, install_journal
from mockserver.openapi import register_openapi
from mockserver.query import parse_query
from mockserver.ratelimit import RateLimitStatus
from mockserver.render import YAML_MEDIA_TYPE
from mockserver.state import EXTENSION, MockState, build_state, state

__all__ = ["EXTENSION", "MockState", "build_state", "create_app", "create_app_from_env", "state"]

SIGMA_PATH = "/api/v1/iocs/sigma"
IOCS_PATH = "/api/v1/iocs"

logger = logging.getLogger("mockserver")


def _args() -> dict[str, list[str]]:
    parsed: dict[str, list[str]] | None = g.get("args")
    if parsed is not None:  # read once a request: counting it needs them, and so does the view
        return parsed
    try:
        parsed = g.args = request.args.to_dict(flat=False)
    except UnicodeDecodeError:  # raw bytes that are not UTF-8: the client's error, not ours
        raise InvalidParameter(
            "query string", "percent-encoded UTF-8", None, "not valid UTF-8"
        ) from None
    return parsed


def _count_request() -> None:
    """Count the request in its key's bucket, or its address's anonymous one; 429 when over.

    Runs before routing decides anything, so a 404 or a 405 counts like any other request.
    An authentication error is kept for the API views to raise: other routes need no key.
    """
    current = state()
    try:
        args = _args()
    except InvalidParameter:
        args = {}  # the view answers 400 for it; the key may still be in a header
    key: APIKey | None = None
    try:
        key = current.keys.authenticate(presented_key(request.headers, args))
    except APIError as exc:
        g.auth_error = exc
    g.key = key
    address = request.remote_addr or ""
    if request.path.startswith(ADMIN_PREFIX):
        # The test harness's routes: shown the caller's bucket, never counted or refused.
        fingerprint, tier = (key.fingerprint, key.tier) if key else (None, None)
        g.rate_limit = current.limiter.peek(fingerprint, tier, address)
        return
    status = (
        current.limiter.hit(key.fingerprint, key.tier)
        if key is not None
        else current.limiter.hit_anonymous(address)
    )
    g.rate_limit = status
    if not status.allowed:
        who = "this API key" if key is not None else "requests without a valid API key"
        raise RateLimitExceeded(
            f"Rate limit of {status.limit} requests exceeded for {who}; retry after "
            f"X-RateLimit-Reset ({status.reset})."
        )


def _authorise(*, sigma: bool) -> APIKey:
    error: APIError | None = g.get("auth_error")
    if error is not None:
        raise error
    key: APIKey = g.key
    current = state()
    if sigma and not current.config.tier(key.tier).sigma_access:
        raise InsufficientTier(
            "The Sigma rules endpoint needs a Pro subscription.", details={"tier": key.tier}
        )
    return key


def sigma_rules() -> Response:
    """``GET /api/v1/iocs/sigma``: the selected IOCs as a multi-document YAML body."""
    key = _authorise(sigma=True)
    current = state()
    query = parse_query(_args())
    selection = current.store.select(
        query, now=current.clock.now(), tier=current.config.tier(key.tier), sigma_only=True
    )
    if isinstance(current.clock, MovingClock):
        current.clock.tick()  # --clock-step: the next call sees a later feed
    return Response(current.store.rules_body(selection.iocs), content_type=YAML_MEDIA_TYPE)


#: The filters a paging link carries over (besides ``offset`` and ``limit``).
_LINK_FILTERS: Final = ("type", "since", "confidence", "industry", "category")


def _page_link(offset: int, limit: int) -> str:
    # Only the filters travel: unknown parameters are ignored anyway, and copying them would
    # echo a key sent under a mistyped name (``?apikey=sk_live_...``) into the links.
    args = [(k, v) for k, v in request.args.items(multi=True) if k in _LINK_FILTERS]
    args += [("offset", str(offset)), ("limit", str(limit))]
    return f"{request.base_url}?{urlencode(args)}"


def iocs() -> Response:
    """``GET /api/v1/iocs``: the selected IOCs as JSON, with paging links."""
    key = _authorise(sigma=False)
    current = state()
    query = parse_query(_args(), json_endpoint=True)
    now = current.clock.now()
    selection = current.store.select(query, now=now, tier=current.config.tier(key.tier))
    end = selection.offset + len(selection.iocs)
    return jsonify(
        {
            "meta": {
                "total": selection.total,
                "count": len(selection.iocs),
                "limit": selection.limit,
                "offset": selection.offset,
                "now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "data": [current.store.record(ioc) for ioc in selection.iocs],
            "links": {
                "self": _page_link(selection.offset, selection.limit),
                "next": _page_link(end, selection.limit) if end < selection.total else None,
            },
        }
    )


def health() -> Response:
    """``GET /healthz``: unauthenticated liveness probe."""
    return jsonify({"status": "ok", "iocs": len(state().store)})


def _assign_request_id() -> None:
    g.request_id = new_request_id()


def _finish(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id") or new_request_id()
    status: RateLimitStatus | None = g.get("rate_limit")
    # An answer that already says its own limits keeps them: a replayed recording carries the
    # upstream's values, which are the point of replaying it.
    if status is not None and "X-RateLimit-Limit" not in response.headers:
        response.headers.update(status.headers())
    return response


def _handle_error(exc: Exception) -> Response:
    if isinstance(exc, APIError):
        error: APIError = exc
    elif isinstance(exc, HTTPException):
        error = _from_http(exc)
    else:
        from flask import current_app

        logger.exception("unexpected error in %s %s", request.method, request.path)
        got_request_exception.send(current_app._get_current_object(), exception=exc)  # type: ignore[attr-defined]
        error = InternalError("The mock server failed unexpectedly; see its log.")
    request_id = g.get("request_id") or new_request_id()
    response = jsonify(envelope(error, request_id))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def _from_http(exc: HTTPException) -> APIError:
    if exc.code == 404:
        return NotFound(f"No endpoint at {echo(request.path)}.")
    if exc.code == 405:
        error = MethodNotAllowed(f"{echo(request.method)} is not allowed on {echo(request.path)}.")
        error.headers.update((k, v) for k, v in exc.get_headers() if k.lower() == "allow")
        return error
    return APIError(
        exc.description or exc.name,
        status=exc.code or 500,
        code=exc.name.lower().replace(" ", "_"),
    )


def create_app(
    config: MockConfig | None = None, *, dataset: Dataset | None = None, clock: Clock | None = None
) -> Flask:
    """Build the mock's Flask app (``dataset`` and ``clock`` override what config names).

    The fault layer is always installed (disabled unless the config enables it), so a stray
    ``X-Mock-Fault`` header gets its 403 rather than being silently ignored; the admin routes
    exist with ``config.admin`` or a moving clock, and with them the request journal.
    """
    config = config if config is not None else MockConfig()
    app = Flask("mockserver")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = build_state(config, dataset=dataset, clock=clock)
    app.add_url_rule(SIGMA_PATH, "sigma_rules", sigma_rules, methods=["GET"])
    app.add_url_rule(IOCS_PATH, "iocs", iocs, methods=["GET"])
    app.add_url_rule("/healthz", "health", health, methods=["GET"])
    app.before_request(_assign_request_id)
    app.before_request(_count_request)
    app.after_request(_finish)
    app.register_error_handler(Exception, _handle_error)
    if config.admin_routes:
        register_admin(app)
    register_openapi(app)
    install_faults(app, config.faults)
    if config.admin_routes:
        # Outside the fault layer: the journal notes the status the client got.
        install_journal(app, app.extensions[EXTENSION].journal)
    return app


def create_app_from_env() -> Flask:
    """Build the app from ``SOCMOCK_*`` environment variables (for gunicorn, other WSGI hosts).

    A host may run it in several worker processes: rate limits in ``memory://`` are then
    counted by each worker on its own, so that is announced on standard error, every time.
    """
    config = MockConfig.from_sources(env=os.environ)
    if config.rate_limit_storage.startswith("memory://"):
        logger.warning(
            "soc-mock: rate limits are kept in memory://, per process: under several workers "
            "each counts on its own. Share them with SOCMOCK_RATE_LIMIT_STORAGE=redis://HOST:6379."
        )
    return create_app(config)
