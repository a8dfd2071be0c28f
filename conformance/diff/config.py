"""The diff run's settings: two base URLs, a key for each side, the budget and the seed.

Precedence as in server mode: command-line option, then ``SOCDEFENDERS_*`` variable, then
default. ``--api-key`` (``SOCDEFENDERS_API_KEY``) serves both sides unless ``--api-key-a`` /
``--api-key-b`` (``SOCDEFENDERS_API_KEY_A`` / ``_B``) name a side's own key.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.findings import UsageError
from conformance.redaction import Scrubber
from conformance.server.transport import TransportConfig

ENVIRONMENT = {
    "api_key": "SOCDEFENDERS_API_KEY",
    "api_key_a": "SOCDEFENDERS_API_KEY_A",
    "api_key_b": "SOCDEFENDERS_API_KEY_B",
    "max_requests": "SOCDEFENDERS_MAX_REQUESTS",
    "seed": "SOCDEFENDERS_SEED",
    "timeout": "SOCDEFENDERS_TIMEOUT",
}


@dataclass(frozen=True)
class DiffConfig:
    """Everything one diff run needs; keys never appear in its repr."""

    base_url_a: str
    base_url_b: str
    key_a: str = field(repr=False)
    key_b: str = field(repr=False)
    max_requests: int = 60  # per side
    seed: int = 0
    timeout: float = 30.0
    queries_from: Path | None = None  # a VCR cassette: its Sigma requests are the queries
    max_rate_wait: float = 90.0

    @classmethod
    def from_sources(
        cls, options: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> DiffConfig:
        """Build from ``options`` (None = not given) over ``env`` over the defaults."""
        env = {} if env is None else env

        def pick(name: str) -> Any:
            given = options.get(name)
            return given if given is not None else (env.get(ENVIRONMENT[name]) or None)

        urls = tuple(options.get("base_urls") or ())
        if len(urls) != 2:
            raise UsageError(f"give --base-url exactly twice (A, then B), not {len(urls)} time(s)")
        shared = pick("api_key")
        key_a, key_b = pick("api_key_a") or shared, pick("api_key_b") or shared
        if not key_a or not key_b:
            raise UsageError(
                "no API key: give --api-key (or --api-key-a and --api-key-b), or set "
                "SOCDEFENDERS_API_KEY"
            )
        try:
            max_requests = int(pick("max_requests") or 60)
            seed = int(pick("seed")) if pick("seed") is not None else secrets.randbits(32)
            timeout = float(pick("timeout") or 30.0)
        except ValueError as exc:
            raise UsageError(f"not a number: {exc}") from None
        queries = options.get("queries_from")
        config = cls(
            urls[0],
            urls[1],
            key_a,
            key_b,
            max_requests=max_requests,
            seed=seed,
            timeout=timeout,
            queries_from=Path(queries) if queries else None,
        )
        config.validate()
        return config

    def validate(self) -> None:
        """Raise UsageError for values no run could use."""
        for url in (self.base_url_a, self.base_url_b):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise UsageError(f"--base-url {url!r} is not an http(s) URL")
        if self.max_requests < 2:
            raise UsageError("--max-requests must be at least 2 (one survey, one query)")
        if self.timeout <= 0:
            raise UsageError("--timeout must be positive")
        if self.queries_from is not None and not self.queries_from.is_file():
            raise UsageError(f"--queries-from {self.queries_from}: no such file")

    def transport_config(self, base_url: str) -> TransportConfig:
        """One side's transport limits (each side has its own budget)."""
        return TransportConfig(
            base_url=base_url,
            connect_timeout=min(10.0, self.timeout),
            read_timeout=self.timeout,
            deadline=2 * self.timeout,
            max_requests=self.max_requests,
            max_rate_wait=self.max_rate_wait,
        )

    def scrubber(self) -> Scrubber:
        """A scrubber for both keys."""
        return Scrubber.of([self.key_a, self.key_b])
