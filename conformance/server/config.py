"""Server mode's configuration: one frozen dataclass built from options, environment, defaults.

Precedence (one place, :meth:`ServerConfig.from_sources`): command-line option, then
environment variable (``SOCDEFENDERS_*``), then default. The seed is random when not given
and always reported, so any run can be repeated exactly with ``--seed``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from conformance import contract
from conformance.findings import UsageError
from conformance.redaction import Scrubber
from conformance.server.transport import TransportConfig
from conformance.target_aliases import resolve_targets

#: Environment variables, by option name.
ENVIRONMENT = {
    "base_url": "SOCDEFENDERS_BASE_URL",
    "api_key": "SOCDEFENDERS_API_KEY",
    "free_key": "SOCDEFENDERS_FREE_KEY",
    "expired_key": "SOCDEFENDERS_EXPIRED_KEY",
    "targets": "SOCDEFENDERS_TARGETS",
    "required_targets": "SOCDEFENDERS_REQUIRE_TARGET",
    "strict": "SOCDEFENDERS_STRICT",
    "include": "SOCDEFENDERS_CHECK",
    "exclude": "SOCDEFENDERS_EXCLUDE",
    "max_requests": "SOCDEFENDERS_MAX_REQUESTS",
    "seed": "SOCDEFENDERS_SEED",
    "max_examples": "SOCDEFENDERS_MAX_EXAMPLES",
    "timeout": "SOCDEFENDERS_TIMEOUT",
    "max_body_bytes": "SOCDEFENDERS_MAX_BODY_BYTES",
    "max_rate_wait": "SOCDEFENDERS_MAX_RATE_WAIT",
    "probe_rate_limit": "SOCDEFENDERS_PROBE_RATE_LIMIT",
}
_LISTS = {"targets", "required_targets", "include", "exclude"}
_INTS = {"max_requests", "seed", "max_examples", "max_body_bytes"}
_FLOATS = {"timeout", "max_rate_wait"}
_BOOLS = {"strict", "probe_rate_limit"}


@dataclass(frozen=True)
class Option:
    """One server-mode option, as every front end offers it: ``soc-conformance server`` as
    ``--base-url``, the pytest plugin as ``--socdefenders-base-url``, and the environment as
    ``SOCDEFENDERS_BASE_URL``. Lists take ``T[,T...]`` and may repeat."""

    name: str  # the ServerConfig field
    flag: str  # the command line's spelling
    help: str
    kind: type = str  # str, int, float, bool (a flag), or list (tuple of strings)
    metavar: str | None = None

    @property
    def variable(self) -> str:
        """Its environment variable."""
        return ENVIRONMENT[self.name]


#: The options of server mode, in the order ``--help`` lists them (one table for the command,
#: the pytest plugin and the environment).
OPTIONS: tuple[Option, ...] = (
    Option("base_url", "--base-url", "Server root to check.", metavar="URL"),
    Option("api_key", "--api-key", "A Pro key.", metavar="KEY"),
    Option("free_key", "--free-key", "A Free key, for the 403 and 429 checks.", metavar="KEY"),
    Option("expired_key", "--expired-key", "An expired key, for its 401 check.", metavar="KEY"),
    Option("targets", "--targets", "Compile targets.", list, "T[,T...]"),
    Option("required_targets", "--require-target", "Make a target required.", list, "T"),
    Option("strict", "--strict", "Undocumented expectations fail instead of warn.", bool),
    Option(
        "probe_rate_limit",
        "--probe-rate-limit",
        "Trip the key's rate limit once to check the 429.",
        bool,
    ),
    Option("include", "--check", "Run only these checks.", list, "NAME"),
    Option("exclude", "--exclude", "Skip these checks.", list, "NAME"),
    Option("max_requests", "--max-requests", "Request budget (default 600).", int),
    Option("seed", "--seed", "Seed for Hypothesis and every random choice.", int),
    Option("max_examples", "--max-examples", "Hypothesis examples per check (default 12).", int),
    Option("timeout", "--timeout", "Read timeout in seconds (default 30).", float),
)


@dataclass(frozen=True)
class ServerConfig:
    """Everything one server run needs; keys never appear in its repr."""

    base_url: str
    api_key: str = field(repr=False)
    free_key: str | None = field(default=None, repr=False)
    expired_key: str | None = field(default=None, repr=False)
    targets: tuple[str, ...] = contract.DEFAULT_TARGETS
    required_targets: tuple[str, ...] = ()
    target_aliases: tuple[tuple[str, str], ...] = ()  # (target, vendor name) given as aliases
    strict: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_requests: int = 600
    seed: int = 0
    max_examples: int = 12
    timeout: float = 30.0  # read timeout; the whole response gets twice this
    max_body_bytes: int = 64 * 1024 * 1024
    max_rate_wait: float = 90.0
    probe_rate_limit: bool = False  # trip the main key's limit once (the 429 check)

    @classmethod
    def from_sources(
        cls, options: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> ServerConfig:
        """Build from command-line ``options`` (None = not given) over ``env`` over defaults."""
        env = {} if env is None else env
        values: dict[str, Any] = {}
        for name, variable in ENVIRONMENT.items():
            given = options.get(name)
            if given is None or given == () or given is False:
                given = _from_env(name, env.get(variable))
            if given is not None:
                values[name] = given
        if not values.get("base_url"):
            raise UsageError("no base URL: give --base-url or set SOCDEFENDERS_BASE_URL")
        if not values.get("api_key"):
            raise UsageError("no API key: give --api-key or set SOCDEFENDERS_API_KEY")
        values.setdefault("seed", secrets.randbits(32))
        values["required_targets"] = tuple(values.get("required_targets", ()))
        for name in _LISTS & values.keys():
            values[name] = tuple(values[name])
        aliases: dict[str, str] = {}
        for name in ("targets", "required_targets"):
            if name in values:
                values[name], used = resolve_targets(values[name])
                aliases.update(used)
        values["target_aliases"] = tuple(aliases.items())
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise UsageError for values no run could use."""
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"--base-url {self.base_url!r} is not an http(s) URL")
        for name in ("max_requests", "max_examples", "max_body_bytes"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name.replace('_', '-')} must be at least 1")
        if self.timeout <= 0 or self.max_rate_wait < 0:
            raise UsageError("timeouts must be positive")

    def required(self) -> tuple[str, ...]:
        """The targets whose compile failures fail the run: the documented required ones
        among ``targets``, plus every ``--require-target``."""
        defaults = tuple(t for t in contract.REQUIRED_TARGETS if t in self.targets)
        return defaults + tuple(t for t in self.required_targets if t not in defaults)

    def transport_config(self) -> TransportConfig:
        """The transport limits this configuration implies."""
        return TransportConfig(
            base_url=self.base_url,
            connect_timeout=min(10.0, self.timeout),
            read_timeout=self.timeout,
            deadline=2 * self.timeout,
            max_body_bytes=self.max_body_bytes,
            max_requests=self.max_requests,
            max_rate_wait=self.max_rate_wait,
        )

    def scrubber(self) -> Scrubber:
        """A scrubber for every key of this configuration."""
        return Scrubber.of([self.api_key, self.free_key, self.expired_key])


def _from_env(name: str, raw: str | None) -> Any:
    if raw is None or raw == "":
        return None
    if name in _LISTS:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if name in _BOOLS:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    try:
        if name in _INTS:
            return int(raw)
        if name in _FLOATS:
            return float(raw)
    except ValueError:
        raise UsageError(f"{ENVIRONMENT[name]}={raw!r} is not a number") from None
    return raw
