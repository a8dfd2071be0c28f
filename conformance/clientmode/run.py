"""Client mode: run a client command against the mock, once per scenario, and judge it.

The one place ``conformance`` uses ``mockserver`` (DESIGN-GUIDE's one-way rule exception): a
client can only be judged while a reference server drives it. For each scenario the mock gets
a fresh app on a new loopback port (fresh faults, clock, rate limits) and a fresh temporary
directory; the command runs once per step with ``SOCDEFENDERS_BASE_URL``,
``SOCDEFENDERS_API_KEY`` and ``SOCDEFENDERS_RULES_FILE`` (in that directory, kept across the
scenario's steps so a client's state file survives), bounded by a timeout, killed on expiry.
Every request is recorded. What the checks need is computed here, from the mock's pure store:
which rules each answer delivered intact, and the whole feed at the end of an incremental
scenario. The checks themselves (:mod:`conformance.checks.client_traffic`) see only recorded data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from conformance import contract
from conformance.clientmode.outcome import ClientRequest, RunRecord, ScenarioOutcome, rule_map
from conformance.clientmode.scenarios import (
    KEYS,
    OUTPUT_LIMIT,
    SCENARIO_NAMES,
    SCENARIOS,
    START_BEFORE_NOW,
    Scenario,
)
from conformance.findings import HarnessError, UsageError
from conformance.registry import REGISTRY
from conformance.results import CheckResult, RunResult
from conformance.runner import explain_empty, new_result, run_check

if TYPE_CHECKING:
    from flask import Flask

    from mockserver.fixtures import Dataset
    from mockserver.testing import RecordedRequest


@dataclass(frozen=True)
class ClientConfig:
    """What one client-mode run needs."""

    command: tuple[str, ...]
    scenarios: tuple[str, ...] = ()  # empty: all of them
    timeout: float = 60.0
    fixtures: Path | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def chosen(self) -> list[Scenario]:
        """The scenarios to run, in the catalogue's order; unknown names are a usage error."""
        unknown = sorted(set(self.scenarios) - set(SCENARIO_NAMES))
        if unknown:
            raise UsageError(
                f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIO_NAMES)}"
            )
        if not self.command:
            raise UsageError("no client command given (put it after --)")
        if self.timeout <= 0:
            raise UsageError("--timeout must be positive")
        return [s for s in SCENARIOS if not self.scenarios or s.name in self.scenarios]


class _Mock:
    """One scenario's reference server: app, recorder, clock; answers what it should serve."""

    def __init__(self, dataset: Dataset, scenario: Scenario) -> None:
        from mockserver.app import create_app
        from mockserver.clock import MovingClock
        from mockserver.config import MockConfig, apply_rate_limits
        from mockserver.testing import RequestRecorder

        start = dataset.meta.now - START_BEFORE_NOW
        config = MockConfig(now=start.isoformat(), moving_clock=True)
        if scenario.rate_limit:
            config = replace(config, tiers=apply_rate_limits(config.tiers, [scenario.rate_limit]))
        self.app: Flask = create_app(config, dataset=dataset)
        self.state = self.app.extensions["socmock"]
        assert isinstance(self.state.clock, MovingClock)
        self.clock: MovingClock = self.state.clock
        self.recorder = RequestRecorder(
            self.app.wsgi_app, keep_bodies=lambda path: path == contract.SIGMA_PATH
        )
        self.app.wsgi_app = self.recorder  # type: ignore[method-assign]

    def set_faults(self, specs: Sequence[str]) -> None:
        from mockserver.faults import FaultSettings, install_faults

        install_faults(self.app, FaultSettings.from_options(list(specs), seed=0))

    def advance(self, duration: str) -> None:
        from mockserver.clock import parse_duration

        self.clock.advance(parse_duration(duration))

    def served(self, query: Mapping[str, Sequence[str]], *, unlimited: bool = False) -> bytes:
        """The body the Sigma endpoint gives a Pro key for ``query`` now (faults aside)."""
        from mockserver.errors import InvalidParameter
        from mockserver.query import parse_query

        try:
            parsed = parse_query(query)
        except InvalidParameter:
            return b""
        if unlimited:
            parsed = replace(parsed, since=None, limit=contract.PRO.max_results)
        store, tier = self.state.store, self.state.config.tier("pro")
        selection = store.select(parsed, now=self.clock.now(), tier=tier, sigma_only=True)
        return bytes(store.rules_body(selection.iocs))

    def exchange(self, recorded: RecordedRequest) -> ClientRequest:
        """A recorded request as the checks see it, with the rules it delivered intact."""
        query = {k: tuple(v) for k, v in parse_qs(recorded.query, keep_blank_values=True).items()}
        delivered = None
        if recorded.path == contract.SIGMA_PATH and recorded.status == 200 and recorded.complete:
            sent = rule_map(recorded.response_body, allow_repeats=True)
            expected = rule_map(self.served(query))
            if isinstance(sent, dict) and sent == expected:
                delivered = sent
        return ClientRequest(
            recorded.time, recorded.path, query, dict(recorded.headers), recorded.status,
            dict(recorded.response_headers), recorded.complete, delivered,
        )  # fmt: skip


def _environment(config: ClientConfig, base_url: str, key: str, rules: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCDEFENDERS_")}
    env.update(config.extra_env)
    env.update(
        SOCDEFENDERS_BASE_URL=base_url, SOCDEFENDERS_API_KEY=key, SOCDEFENDERS_RULES_FILE=str(rules)
    )
    return env


def _execute(
    command: Sequence[str], env: dict[str, str], timeout: float
) -> tuple[int | None, str, str]:
    """Run the command in its own process group; kill the group at the timeout."""
    try:
        process = subprocess.Popen(  # noqa: S603 - running the user's client is the point
            list(command), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        raise HarnessError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from exc
    try:
        out, err = process.communicate(timeout=timeout)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        code = None
    except KeyboardInterrupt:  # the run is stopped: so is the client (its own session)
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return code, _tail(out), _tail(err)


def _tail(data: bytes) -> str:
    return data.decode("utf-8", "replace")[-OUTPUT_LIMIT:]


def run_scenario(scenario: Scenario, config: ClientConfig, dataset: Dataset) -> ScenarioOutcome:
    """Run every step of ``scenario`` against a fresh mock and record what happened."""
    from mockserver.liveserver import LiveServer

    mock = _Mock(dataset, scenario)
    runs: list[RunRecord] = []
    with tempfile.TemporaryDirectory(prefix="soc-client-") as scratch, LiveServer(mock.app) as live:
        rules = Path(scratch) / "rules.yml"
        for index, step in enumerate(scenario.steps):
            if step.advance:
                mock.advance(step.advance)
            mock.set_faults(step.faults)
            before = rules.read_bytes() if rules.exists() else None
            seen = len(mock.recorder.requests)
            key = KEYS[step.key]
            code, out, err = _execute(
                config.command, _environment(config, live.url, key, rules), config.timeout
            )
            recorded = mock.recorder.settle()[seen:]
            after = rules.read_bytes() if rules.exists() else None
            exchanges = tuple(mock.exchange(r) for r in recorded)
            runs.append(RunRecord(index, step, key, code, out, err, exchanges, before, after))
        feed = None
        if scenario.incremental:
            served = rule_map(mock.served(_filters(runs), unlimited=True))
            feed = served if isinstance(served, dict) else None
    return ScenarioOutcome(scenario, config.command, tuple(runs), feed)


def _filters(runs: Sequence[RunRecord]) -> dict[str, tuple[str, ...]]:
    """The client's filters (type, confidence, industry) from its first Sigma request."""
    for run in runs:
        for exchange in run.exchanges:
            if exchange.path == contract.SIGMA_PATH:
                keep = ("type", "confidence", "industry")
                return {k: v for k, v in exchange.query.items() if k in keep}
    return {}


def load_reference_dataset(path: Path | None) -> Dataset:
    """The dataset the mock serves (default: the committed fixtures)."""
    from mockserver.errors import MockServerError
    from mockserver.fixtures import load_dataset

    try:
        return load_dataset(path)
    except MockServerError as exc:
        raise UsageError(str(exc)) from exc


def elapsed(start: float) -> str:
    """Seconds since ``start``, for progress lines."""
    return f"{time.monotonic() - start:.1f}s"


def judge_outcomes(outcomes: Sequence[ScenarioOutcome], config: ClientConfig) -> list[CheckResult]:
    """Run every selected client check on every scenario; one result per check."""
    import conformance.checks.client_files
    import conformance.checks.client_traffic  # noqa: F401

    results = []
    for spec in REGISTRY.select(scopes=["client"], include=config.include, exclude=config.exclude):
        result = new_result(spec)
        for outcome in outcomes:
            before = len(result.skips)
            run_check(spec, outcome, result)
            if len(result.skips) > before:  # say which scenario gave the reason
                result.skips[-1] = f"{outcome.scenario.name}: {result.skips[-1]}"
        results.append(result)
    return results


def run_client(config: ClientConfig, progress: Callable[[str], None] | None = None) -> RunResult:
    """Run the chosen scenarios and judge the client; ``progress`` hears one line per scenario."""
    import shlex

    scenarios = config.chosen()
    REGISTRY.select(scopes=["client"], include=config.include, exclude=config.exclude)
    dataset = load_reference_dataset(config.fixtures)
    outcomes = []
    interrupted = False
    for scenario in scenarios:
        started = time.monotonic()
        try:
            outcome = run_scenario(scenario, config, dataset)
        except KeyboardInterrupt:  # SIGINT/SIGTERM: judge the scenarios that finished
            interrupted = True
            break
        outcomes.append(outcome)
        if progress is not None:
            codes = ", ".join("timeout" if r.exit_code is None else str(r.exit_code)
                              for r in outcome.runs)  # fmt: skip
            progress(f"scenario {scenario.name}: exit {codes} ({elapsed(started)})")
    result = RunResult(mode="client", subject=shlex.join(config.command), seed=None, strict=False)
    result.interrupted = interrupted
    result.checks = judge_outcomes(outcomes, config)
    if interrupted:
        explain_empty(result.checks, "interrupted before a scenario finished")
    result.requests_made = sum(len(r.exchanges) for o in outcomes for r in o.runs)
    return result
