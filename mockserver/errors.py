"""Every error the mock raises, and the JSON envelope API errors are rendered into.

::

    MockServerError                 root: anything the mock raises on purpose
    ├── ConfigError                 bad CLI option, environment variable or keys file
    ├── FixtureError                fixture file missing or malformed
    └── APIError                    an HTTP error response (status, code, details)
        ├── InvalidParameter        400 invalid_parameter
        ├── MissingAPIKey           401 missing_api_key
        ├── InvalidAPIKey           401 invalid_api_key (unknown, malformed or revoked)
        ├── ExpiredAPIKey           401 expired_api_key
        ├── InsufficientTier        403 insufficient_tier
        ├── NotFound                404 not_found
        ├── MethodNotAllowed        405 method_not_allowed
        ├── RateLimitExceeded       429 rate_limit_exceeded
        ├── InternalError           500 internal_error
        ├── BadGateway              502 bad_gateway           (fault ``502``)
        ├── ServiceUnavailable      503 service_unavailable   (fault ``503``)
        └── FaultInjectionRefused   403 fault_injection_refused

Elsewhere, beside the modules that raise them: ``faults.FaultSpecError`` (a ConfigError),
``admin.AdminRefused`` and ``admin.InvalidAdminRequest`` (APIErrors of the admin routes),
``liveserver.LiveServerError`` (an error raised inside a test server, re-raised in the test).

Views raise these; one Flask error handler (``mockserver.app``) renders them as
``{"error": {"code", "message", "request_id", "details"?}}``. Messages never contain an API
key: anything echoed back goes through :func:`redact`.
"""

from __future__ import annotations

import os
import random
import re
import secrets
from collections.abc import Mapping
from typing import Any, Final

_KEY_PATTERN = re.compile(r"sk_live_[^\s&;,\"'/]*")
_ECHO_LIMIT = 64


class MockServerError(Exception):
    """Root of the mock's own errors."""


class ConfigError(MockServerError):
    """A configuration value (option, environment variable, keys file) is invalid."""


class FixtureError(MockServerError):
    """The fixture dataset cannot be found or is malformed."""


class APIError(MockServerError):
    """An error the API answers with: an HTTP status, a machine code and optional details."""

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        """Create the error; ``message`` is shown to the client, so it must hold no secret."""
        super().__init__(message)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.message = message
        self.details = dict(details) if details is not None else None
        self.headers: dict[str, str] = {}


class InvalidParameter(APIError):
    """A query parameter has a value outside what the endpoint accepts."""

    status = 400
    code = "invalid_parameter"

    def __init__(self, parameter: str, allowed: Any, received: str | None, reason: str) -> None:
        """Name the parameter, what is allowed and (redacted, truncated) what was received."""
        details: dict[str, Any] = {"parameter": parameter, "allowed": allowed}
        if received is not None:
            details["received"] = echo(received)
        super().__init__(
            f"Invalid value for query parameter '{parameter}': {redact(reason)}.", details=details
        )
        self.parameter = parameter


class MissingAPIKey(APIError):
    """No API key in the request."""

    status = 401
    code = "missing_api_key"


class InvalidAPIKey(APIError):
    """The key is unknown, malformed or revoked."""

    status = 401
    code = "invalid_api_key"


class ExpiredAPIKey(APIError):
    """The key has expired or was deactivated."""

    status = 401
    code = "expired_api_key"


class InsufficientTier(APIError):
    """The key's tier does not include this endpoint."""

    status = 403
    code = "insufficient_tier"


class NotFound(APIError):
    """No such endpoint."""

    status = 404
    code = "not_found"


class MethodNotAllowed(APIError):
    """The endpoint exists but not for this HTTP method."""

    status = 405
    code = "method_not_allowed"


class RateLimitExceeded(APIError):
    """The key has used up its requests for the current window."""

    status = 429
    code = "rate_limit_exceeded"


class InternalError(APIError):
    """An unexpected failure inside the mock (logged with its traceback)."""

    status = 500
    code = "internal_error"


class BadGateway(APIError):
    """502, as a proxy in front of the API answers when the API is down (fault ``502``)."""

    status = 502
    code = "bad_gateway"


class ServiceUnavailable(APIError):
    """503, as during maintenance or overload (fault ``503``)."""

    status = 503
    code = "service_unavailable"


class FaultInjectionRefused(APIError):
    """403 for ``X-Mock-Fault`` when faults are off or the client is not on loopback."""

    status = 403
    code = "fault_injection_refused"


#: Request ids need to be unique, not unguessable: a generator seeded once from the system's
#: randomness spares every request a ``getrandom`` system call (the hot path's costliest line).
_IDS: Final = random.Random(secrets.randbits(128))  # noqa: S311 (see above)
# A forked worker (gunicorn) must not repeat its parent's sequence.
os.register_at_fork(after_in_child=lambda: _IDS.seed(secrets.randbits(128)))


def new_request_id() -> str:
    """Return a fresh request id: ``req_`` and 24 hex digits."""
    return f"req_{_IDS.getrandbits(96):024x}"


def redact_key(key: str) -> str:
    """Show a key as ``sk_live_…abcd`` (prefix, an ellipsis, its last four characters)."""
    return "sk_live_…" + key[-4:] if len(key) > len("sk_live_") + 4 else "sk_live_…"


def redact(text: str) -> str:
    """Replace every API key in ``text`` (a log line, a URL) by its redacted form."""
    return _KEY_PATTERN.sub(lambda m: redact_key(m.group(0)), text)


def echo(text: str) -> str:
    """Return client input safe to echo back in an error: keys redacted, at most 64 chars."""
    cleaned = redact(text)
    return cleaned if len(cleaned) <= _ECHO_LIMIT else cleaned[: _ECHO_LIMIT - 1] + "…"


def envelope(error: APIError, request_id: str) -> dict[str, Any]:
    """Return the JSON error envelope for ``error``."""
    body: dict[str, Any] = {"code": error.code, "message": error.message, "request_id": request_id}
    if error.details is not None:
        body["details"] = error.details
    return {"error": body}
