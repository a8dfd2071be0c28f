"""The mock's configuration: one frozen :class:`MockConfig`, built in one place.

Precedence, highest first: command-line options, then ``SOCMOCK_*`` environment variables,
then the defaults below.

=========================  ==============================  ======================================
option                     environment variable            default
=========================  ==============================  ======================================
``--host``                 ``SOCMOCK_HOST``                ``127.0.0.1``
``--port``                 ``SOCMOCK_PORT``                ``8000``
``--fixtures PATH``        ``SOCMOCK_FIXTURES``            the committed ``iocs.json``
``--keys PATH``            ``SOCMOCK_KEYS``                none (demo keys only)
``--now ISO|real``         ``SOCMOCK_NOW``                 the fixtures' ``meta.now``
``--rate-limit SPEC``      ``SOCMOCK_RATE_LIMIT``          docs/contract.md §3 per tier
``--rate-limit-storage``   ``SOCMOCK_RATE_LIMIT_STORAGE``  ``memory://``
``--fault NAME[:ARG...]``  ``SOCMOCK_FAULTS`` (``a,b``)    none (see ``soc-mock faults``)
``--faults/--no-faults``   ``SOCMOCK_FAULTS_ENABLED``      off; on when a fault is named
``--fault-seed INT``       ``SOCMOCK_FAULT_SEED``          ``0``
``--moving-clock``         ``SOCMOCK_MOVING_CLOCK``        off (fixed clock, no admin routes)
``--clock-step DURATION``  ``SOCMOCK_CLOCK_STEP``          none; setting it moves the clock
``--admin``                ``SOCMOCK_ADMIN``               off; on with a moving clock
=========================  ==============================  ======================================

A rate-limit SPEC is ``TIER=LIMITS`` with LIMITS in the ``limits`` library's notation
(``1000/minute;1000000/day``); several tiers are separated by ``,`` (or the option repeated).
``anonymous=LIMITS`` sets the bucket of requests with no active key, per client address
(default: the Pro figures, so that a client's tests meet 401s, not 429s, unless they ask).
``--no-faults`` turns off faults named in the environment; naming a fault on the command line
as well is a contradiction (a ConfigError). A moving clock (:class:`mockserver.clock.MovingClock`)
starts at ``--now`` and enables the loopback-only ``/_admin/clock`` routes. The admin routes
(the request journal ``/_admin/requests``, and the clock when it moves) are on with
``--admin`` or a moving clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from mockserver.clock import parse_duration
from mockserver.errors import ConfigError
from mockserver.faults import FaultSettings


@dataclass(frozen=True, slots=True)
class Tier:
    """What a subscription tier may do (docs/contract.md §3)."""

    name: str
    rate_limits: str
    max_results: int
    lookback_days: int
    sigma_access: bool


#: The rate-limits page's table.
DEFAULT_TIERS: Final = (
    Tier(
        "pro", "1000/minute;1000000/day", max_results=10_000, lookback_days=365, sigma_access=True
    ),
    Tier("free", "10/minute;1000/day", max_results=100, lookback_days=1, sigma_access=False),
)
#: Requests with no active key are counted per client address: the vendor documents no such
#: limit, so the mock's is as generous as its largest tier (configurable: ``anonymous=...``).
ANONYMOUS: Final = "anonymous"
DEFAULT_ANONYMOUS_LIMITS: Final = "1000/minute;1000000/day"
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8000
DEFAULT_STORAGE: Final = "memory://"
ENV_PREFIX: Final = "SOCMOCK_"


@dataclass(frozen=True, slots=True)
class MockConfig:
    """Everything that configures one mock server instance."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    fixtures: Path | None = None
    keys: Path | None = None
    now: str | None = None
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    rate_limit_storage: str = DEFAULT_STORAGE
    faults: FaultSettings = field(default_factory=FaultSettings)
    moving_clock: bool = False
    clock_step: timedelta | None = None
    anonymous_rate_limits: str = DEFAULT_ANONYMOUS_LIMITS
    admin: bool = False
    journal_size: int = 1000

    @property
    def clock_moves(self) -> bool:
        """Whether the clock can move (``--moving-clock``, or a ``--clock-step``)."""
        return self.moving_clock or self.clock_step is not None

    @property
    def admin_routes(self) -> bool:
        """Whether the loopback-only ``/_admin/`` routes exist (``--admin``, or a moving clock)."""
        return self.admin or self.clock_moves

    def tier(self, name: str) -> Tier:
        """Return the tier called ``name``."""
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise ConfigError(f"unknown tier {name!r}; known: {', '.join(t.name for t in self.tiers)}")

    @classmethod
    def from_sources(
        cls, options: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> MockConfig:
        """Build the config from CLI ``options`` (``None`` = not given), ``env``, defaults."""
        options = {k: v for k, v in (options or {}).items() if v not in (None, ())}
        env = env or {}

        def pick(name: str) -> Any:
            if name in options:
                return options[name]
            return env.get(ENV_PREFIX + name.upper()) or None

        config = cls()
        host = pick("host")
        port = pick("port")
        fixtures = pick("fixtures")
        keys = pick("keys")
        storage = pick("rate_limit_storage")
        rate_limit = pick("rate_limit")
        if port is not None:
            config = replace(config, port=_port(port))
        if rate_limit is not None:
            specs = [rate_limit] if isinstance(rate_limit, str) else list(rate_limit)
            chosen = _rate_limit_parts(specs, [*(t.name for t in config.tiers), ANONYMOUS])
            config = replace(
                config,
                tiers=tuple(
                    replace(t, rate_limits=chosen[t.name]) if t.name in chosen else t
                    for t in config.tiers
                ),
                anonymous_rate_limits=chosen.get(ANONYMOUS, config.anonymous_rate_limits),
            )
        step = pick("clock_step")
        clock_step = parse_duration(str(step)) if step is not None else None
        return replace(
            config,
            host=str(host) if host is not None else config.host,
            fixtures=Path(fixtures) if fixtures is not None else None,
            keys=Path(keys) if keys is not None else None,
            now=str(pick("now")) if pick("now") is not None else None,
            rate_limit_storage=str(storage) if storage is not None else config.rate_limit_storage,
            faults=_faults(options, env),
            moving_clock=_flag(pick("moving_clock"), "moving_clock") or clock_step is not None,
            clock_step=clock_step,
            admin=_flag(pick("admin"), "admin"),
        )


def _flag(value: Any, name: str) -> bool:
    """A boolean option (a bool) or environment value (1/0, true/false, yes/no, on/off)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be 1/0, true/false, yes/no or on/off")


def _faults(options: Mapping[str, Any], env: Mapping[str, str]) -> FaultSettings:
    """Fault settings: ``--fault``/``--faults``/``--fault-seed`` over their variables.

    An explicit "off" (``--no-faults``, or ``SOCMOCK_FAULTS_ENABLED=0`` with no option)
    turns off whatever faults the environment names.
    """
    specs: list[str] = list(options.get("fault", ()))
    enabled = options.get("faults_enabled")
    if enabled is False and specs:
        raise ConfigError("--no-faults contradicts --fault: choose one")
    if enabled is None and ENV_PREFIX + "FAULTS_ENABLED" in env:
        enabled = _flag(env[ENV_PREFIX + "FAULTS_ENABLED"], "faults_enabled")
    if enabled is False:
        return FaultSettings()
    if not specs:
        specs = [s.strip() for s in env.get(ENV_PREFIX + "FAULTS", "").split(",") if s.strip()]
    raw_seed = options.get("fault_seed", env.get(ENV_PREFIX + "FAULT_SEED") or 0)
    try:
        seed = int(raw_seed)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"the fault seed must be an integer, not {raw_seed!r}") from exc
    return FaultSettings.from_options(specs, enabled=bool(enabled), seed=seed)


def _port(value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"port must be an integer, not {value!r}") from exc
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be in 0..65535, not {port}")
    return port


def apply_rate_limits(tiers: tuple[Tier, ...], specs: Iterable[str]) -> tuple[Tier, ...]:
    """Return ``tiers`` with the rate limits the specs set (``pro=5/minute;100/day,free=...``)."""
    chosen = _rate_limit_parts(specs, [tier.name for tier in tiers])
    return tuple(
        replace(tier, rate_limits=chosen[tier.name]) if tier.name in chosen else tier
        for tier in tiers
    )


def _rate_limit_parts(specs: Iterable[str], names: Iterable[str]) -> dict[str, str]:
    """Parse ``NAME=LIMITS`` parts (``,``-separated, over all specs) into name → LIMITS."""
    from limits import parse_many  # the limits package is only needed when limits change

    known = tuple(names)
    chosen: dict[str, str] = {}
    for spec in specs:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, limits = part.partition("=")
            name = name.strip().lower()
            if not sep or name not in known:
                raise ConfigError(
                    f"rate limit {part!r} must look like TIER=LIMITS with TIER one of "
                    f"{', '.join(known)} (e.g. pro=1000/minute;1000000/day)"
                )
            try:
                parsed = parse_many(limits)
            except ValueError as exc:
                raise ConfigError(f"rate limit {part!r}: {exc}") from exc
            if not parsed:
                raise ConfigError(f"rate limit {part!r} names no limit")
            chosen[name] = limits.strip()
    return chosen
