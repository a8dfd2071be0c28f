"""The scenarios client mode puts a client through: each a named situation as one or more runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

Expect = Literal["success", "failure", "either"]
#: The demo keys the mock serves, by the role a step gives its client.
KEYS: Mapping[str, str] = {
    "pro": "sk_live_demo_pro",
    "free": "sk_live_demo_free",
    "revoked": "sk_live_demo_revoked",
}
#: Where the scenarios' clock starts: this long before the dataset's reference instant, so the
#: feed is a few hundred rules and grows by some hundred per 30-day step.
START_BEFORE_NOW = timedelta(days=300)
OUTPUT_LIMIT = 4000  # characters of a run's stdout/stderr kept for the report


@dataclass(frozen=True)
class Step:
    """One run of the command: the clock moved first, the faults on, the key, the verdict due."""

    faults: tuple[str, ...] = ()
    key: str = "pro"
    advance: str | None = None
    expect: Expect = "success"


@dataclass(frozen=True)
class Scenario:
    """A named situation the client must handle, as one or several runs."""

    name: str
    summary: str
    steps: tuple[Step, ...]
    rate_limit: str | None = None
    incremental: bool = False


_BASE = Step()
_LATER = Step(advance="30d")
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("happy", "one run, nothing goes wrong", (_BASE,)),
    Scenario("bad-key", "a revoked key: 401", (Step(key="revoked", expect="failure"),)),
    Scenario("free-key", "a Free key on a Pro endpoint: 403",
             (Step(key="free", expect="failure"),)),
    Scenario(
        "rate-limited",
        "1 request/second, and the first answer a 429 burst",
        (Step(faults=("429-burst:1s:max=1",)),),
        rate_limit="pro=1/1second",
    ),
    Scenario("server-errors", "a 502 then a 503, then the API recovers",
             (Step(faults=("502:max=1", "503:max=2")),)),
    Scenario("server-down", "every answer a 503", (Step(faults=("503",), expect="failure"),)),
    Scenario("truncated-body", "a good run, then every body cut mid-document",
             (_BASE, replace(_LATER, faults=("truncate",), expect="failure"))),
    Scenario("invalid-yaml", "a good run, then an invalid YAML document mid-body",
             (_BASE, replace(_LATER, faults=("invalid-yaml",), expect="failure"))),
    Scenario("action-global", "a good run, then an 'action: global' document first",
             (_BASE, replace(_LATER, faults=("action-global",), expect="failure"))),
    Scenario("duplicate-id", "a good run, then one rule served twice",
             (_BASE, replace(_LATER, faults=("duplicate-id",), expect="either"))),
    Scenario("connection-reset", "a good run, then every connection reset",
             (_BASE, replace(_LATER, faults=("reset",), expect="failure"))),
    Scenario("empty-200", "a good run, then a 200 with an empty body",
             (_BASE, Step(faults=("empty-200",), expect="either"))),
    Scenario("bom-crlf", "a byte-order mark and CRLF line ends (valid YAML)",
             (Step(faults=("bom-crlf",)),)),
    Scenario("incremental", "three runs, the clock 30 days later each time",
             (_BASE, _LATER, _LATER), incremental=True),
)  # fmt: skip
SCENARIO_NAMES = tuple(s.name for s in SCENARIOS)
