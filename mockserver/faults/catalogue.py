"""The named faults, their one-line help and bounds, and the parsing of fault specs.

A spec is ``NAME[:ARG...]`` (``soc-mock serve --fault``, or the ``X-Mock-Fault`` header), with
``ARG`` a rate in [0, 1] (``503:0.3``), a duration (``latency:200ms``, ``429-burst:3s``) or a
cap on how many times the fault fires (``503:max=2``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Final, Literal

from mockserver.errors import ConfigError

FAULT_HEADER: Final = "X-Mock-Fault"
API_PREFIX: Final = "/api/v1/"
#: Upper bounds that keep every fault finite, whatever the caller asks for.
MAX_DELAY_SECONDS: Final = 10.0
MAX_BURST_SECONDS: Final = 60.0
MAX_DRIBBLE_SECONDS: Final = 30.0
DRIBBLE_PIECES: Final = 20

Stage = Literal["delay", "status", "body", "delivery"]


class FaultSpecError(ConfigError):
    """A fault specification (``--fault`` value or ``X-Mock-Fault`` header) is malformed."""


@dataclass(frozen=True)
class Fault:
    """A named fault: one-line help, stage, duration bounds. Stages apply in order: ``delay``
    (sleep), ``status`` (replace the answer), ``body`` (rewrite YAML), ``delivery`` (bytes)."""

    name: str
    summary: str
    stage: Stage
    yaml_only: bool = False
    default_seconds: float | None = None
    max_seconds: float | None = None


_REGISTRY: Final = (
    Fault("429-burst", "429 rate_limit_exceeded with X-RateLimit-* until the burst's reset "
          "(default 2s)", "status", default_seconds=2.0, max_seconds=MAX_BURST_SECONDS),
    Fault("500", "500 internal_error in the JSON error envelope", "status"),
    Fault("502", "502 bad_gateway in the JSON error envelope", "status"),
    Fault("503", "503 service_unavailable in the JSON error envelope", "status"),
    Fault("latency", "fixed delay before the answer (default 200ms, max 10s)", "delay",
          default_seconds=0.2, max_seconds=MAX_DELAY_SECONDS),
    Fault("jitter", "seeded random delay between 0 and the duration (default 500ms, max 10s)",
          "delay", default_seconds=0.5, max_seconds=MAX_DELAY_SECONDS),
    Fault("dribble", "body sent in 20 slow pieces over the duration (default 1s, max 30s)",
          "delivery", default_seconds=1.0, max_seconds=MAX_DRIBBLE_SECONDS),
    Fault("truncate", "Content-Length promised, body cut mid-document, connection closed",
          "delivery"),
    Fault("reset", "connection reset (TCP RST) before any byte of the answer", "delivery"),
    Fault("invalid-yaml", "an unparseable YAML document in the middle of the rules", "body",
          yaml_only=True),
    Fault("duplicate-id", "one rule document served twice (a duplicate id)", "body",
          yaml_only=True),
    Fault("action-global", "an 'action: global' document first, merged by pySigma into "
          "every rule", "body", yaml_only=True),
    Fault("bom-crlf", "UTF-8 byte order mark and CRLF line ends (valid YAML: must still work)",
          "body", yaml_only=True),
    Fault("empty-200", "200 with an empty body (no rules), headers kept", "body", yaml_only=True),
)  # fmt: skip
#: Every fault by name, in the order ``soc-mock faults`` lists them.
FAULTS: Final[Mapping[str, Fault]] = MappingProxyType({f.name: f for f in _REGISTRY})


def describe_faults() -> list[str]:
    """Return one help line per fault, for ``soc-mock faults``."""
    width = max(len(name) for name in FAULTS)
    return [f"{f.name.ljust(width)}  {f.summary}" for f in FAULTS.values()]


@dataclass(frozen=True)
class FaultSpec:
    """A chosen fault: fire with probability ``rate``, at most ``max_times`` times if given."""

    name: str
    rate: float = 1.0
    seconds: float | None = None
    max_times: int | None = None

    @property
    def fault(self) -> Fault:
        """The registered fault this spec names."""
        return FAULTS[self.name]

    @property
    def duration(self) -> float:
        """The effective duration in seconds, capped by the fault's maximum."""
        fault = self.fault
        chosen = self.seconds if self.seconds is not None else fault.default_seconds or 0.0
        return min(chosen, fault.max_seconds or 0.0)

    def __str__(self) -> str:
        """Render back to the ``NAME[:ARG...]`` form that :func:`parse_fault_spec` reads."""
        parts = [self.name]
        if self.rate != 1.0:
            parts.append(f"{self.rate:g}")
        if self.seconds is not None:
            parts.append(f"{self.seconds!r}s")
        if self.max_times is not None:
            parts.append(f"max={self.max_times}")
        return ":".join(parts)


_DURATION = re.compile(r"\A(\d+(?:\.\d+)?)(ms|s)\Z")
_MAX_TIMES = re.compile(r"\Amax=(\d+)\Z")


def parse_fault_spec(text: str) -> FaultSpec:
    """Parse ``NAME[:ARG...]`` (ARG: a rate, a duration such as ``200ms``, or ``max=N``)."""
    name, *args = text.strip().split(":")
    if name not in FAULTS:
        raise FaultSpecError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    spec = FaultSpec(name)
    for arg in args:
        duration, max_times = _DURATION.match(arg), _MAX_TIMES.match(arg)
        if duration:
            if FAULTS[name].max_seconds is None:
                raise FaultSpecError(f"fault {name!r} takes no duration (got {arg!r})")
            divisor = 1000.0 if duration.group(2) == "ms" else 1.0
            seconds = float(duration.group(1)) / divisor
            limit = FAULTS[name].max_seconds or 0.0
            if seconds > limit:
                # Refused, not capped: a banner or a test saying 13s while 10s run is a lie.
                raise FaultSpecError(
                    f"fault {name!r} lasts at most {limit:g}s (got {arg!r} in {text!r})"
                )
            spec = replace(spec, seconds=seconds)
        elif max_times:
            spec = replace(spec, max_times=int(max_times.group(1)))
        else:
            try:
                rate = float(arg)
            except ValueError:
                raise FaultSpecError(f"bad argument {arg!r} in fault {text!r}") from None
            if not 0.0 <= rate <= 1.0:
                raise FaultSpecError(f"rate {arg!r} in fault {text!r} is not in [0, 1]")
            spec = replace(spec, rate=rate)
    return spec


@dataclass(frozen=True)
class FaultSettings:
    """The fault part of the mock's configuration: ``enabled`` gates both specs and header."""

    enabled: bool = False
    specs: tuple[FaultSpec, ...] = ()
    seed: int = 0

    @classmethod
    def from_options(
        cls, specs: Sequence[str] = (), *, enabled: bool = False, seed: int = 0
    ) -> FaultSettings:
        """Build settings from CLI values; naming any fault enables faults."""
        parsed = tuple(parse_fault_spec(s) for s in specs)
        return cls(enabled=enabled or bool(parsed), specs=parsed, seed=seed)
