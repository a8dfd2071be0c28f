"""API keys: the key ring, and finding the request's key in its headers or query string.

A key travels as ``Authorization: Bearer sk_live_...`` (the vendor's recommendation),
``X-API-Key: sk_live_...`` or the ``api_key`` query parameter, looked for in that order.
Keys are compared with :func:`hmac.compare_digest` against every known key, so the time a
lookup takes does not tell how much of a guessed key was right.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from mockserver.errors import (
    ConfigError,
    ExpiredAPIKey,
    InvalidAPIKey,
    MissingAPIKey,
    redact_key,
)

KEY_PREFIX: Final = "sk_live_"
STATUSES: Final = ("active", "expired", "revoked")
_WELL_FORMED = re.compile(r"\Ask_live_[A-Za-z0-9_\-]{1,200}\Z")


@dataclass(frozen=True, slots=True)
class APIKey:
    """A configured key: its secret, tier and status (``active``, ``expired``, ``revoked``)."""

    secret: str
    tier: str
    status: str = "active"
    demo: bool = False

    @property
    def fingerprint(self) -> str:
        """A stable, non-secret identifier of the key (rate-limit buckets, logs)."""
        return hashlib.sha256(self.secret.encode()).hexdigest()[:16]

    @property
    def redacted(self) -> str:
        """The key as it may be shown: ``sk_live_…abcd``."""
        return redact_key(self.secret)

    def __repr__(self) -> str:
        """Never show the secret in a repr (tracebacks, logs)."""
        return f"APIKey({self.redacted}, tier={self.tier!r}, status={self.status!r})"


class KeyRing:
    """The keys the mock accepts."""

    def __init__(self, keys: Iterable[APIKey]) -> None:
        """Hold ``keys``; a later key with the same secret replaces an earlier one."""
        by_secret = {key.secret: key for key in keys}
        self.keys: tuple[APIKey, ...] = tuple(by_secret.values())

    @classmethod
    def from_records(
        cls, records: Iterable[Mapping[str, Any]], *, tiers: Iterable[str], origin: str = ""
    ) -> KeyRing:
        """Build a key ring from one keys file's records, checking each record's fields.

        Errors name the record by its index in that file (``origin``: the file's path).
        """
        known_tiers = tuple(tiers)
        keys = []
        for index, record in enumerate(records):
            secret = str(record.get("key", ""))
            tier = str(record.get("tier", ""))
            status = str(record.get("status", "active"))
            where = f"{origin + ': ' if origin else ''}keys[{index}] ({redact_key(secret)})"
            if not _WELL_FORMED.match(secret):
                raise ConfigError(f"{where}: a key must look like sk_live_ and [A-Za-z0-9_-]")
            if tier not in known_tiers:
                raise ConfigError(f"{where}: tier must be one of {', '.join(known_tiers)}")
            if status not in STATUSES:
                raise ConfigError(f"{where}: status must be one of {', '.join(STATUSES)}")
            keys.append(APIKey(secret, tier, status, demo=bool(record.get("demo", False))))
        return cls(keys)

    def __iter__(self) -> Any:
        """Iterate over the keys."""
        return iter(self.keys)

    def lookup(self, candidate: str) -> APIKey | None:
        """Return the key equal to ``candidate``, comparing in constant time per key."""
        found = None
        encoded = candidate.encode()
        for key in self.keys:
            # No early exit: every key is compared, whatever matched.
            if hmac.compare_digest(key.secret.encode(), encoded):
                found = key
        return found

    def authenticate(self, presented: str | None) -> APIKey:
        """Return the active key ``presented`` names, or raise the matching 401 error."""
        if presented is None or presented == "":
            raise MissingAPIKey(
                "No API key. Send 'Authorization: Bearer sk_live_...' or 'X-API-Key: sk_live_...'."
            )
        key = self.lookup(presented) if _WELL_FORMED.match(presented) else None
        if key is None or key.status == "revoked":
            raise InvalidAPIKey("The API key is not valid.")
        if key.status == "expired":
            raise ExpiredAPIKey("The API key has expired or was deactivated.")
        return key


class HeaderSource(Protocol):
    """Anything with a case-insensitive ``get`` for header names (werkzeug's ``Headers``)."""

    def get(self, key: str) -> str | None:
        """Return the header's value, or ``None``."""
        ...


def presented_key(headers: HeaderSource, args: Mapping[str, Any]) -> str | None:
    """Return the key a request carries, from ``Authorization``, ``X-API-Key`` or ``api_key``.

    An ``Authorization`` header that is not a Bearer token counts as a malformed key.
    """
    authorization = headers.get("Authorization")
    if authorization is not None and authorization.strip():
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return "(not a bearer token)"  # malformed: rejected as invalid_api_key
        return token.strip()
    header = headers.get("X-API-Key")
    if header is not None and header.strip():
        return header.strip()
    value = args.get("api_key")
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value else None
