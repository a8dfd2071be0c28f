"""Client mode: run a client command against the mock, once per scenario, and judge it.

The one place ``conformance`` uses ``mockserver`` (the one-way rule's exception), and only
through its public :class:`mockserver.testing.ReferenceServer`: a client can only be judged
while a reference server drives it. For each scenario the reference server is fresh (new
loopback port, faults, clock, rate limits) and so is a temporary directory; the command runs
once per step with ``SOCDEFENDERS_BASE_URL``, ``SOCDEFENDERS_API_KEY`` and
``SOCDEFENDERS_RULES_FILE`` (in that directory, kept across the scenario's steps so a client's
state file survives), bounded by a timeout, killed on expiry. Every request is recorded, and
the server says which body each Sigma query should have had: so each answer is known to have
delivered its rules intact or not, and at the end of an incremental scenario, the whole feed.
The checks (:mod:`conformance.checks.client_traffic`, ``client_files``) see only that record.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs

from conformance import contract
from conformance.clientmode.outcome import (
    ClientRequest,
    FileModel,
    RunRecord,
    ScenarioOutcome,
    infer_file_model,
    rule_map,
)
from conformance.clientmode.scenarios import (
    KEYS,
    OUTPUT_LIMIT,
    SCENARIO_NAMES,
    SCENARIOS,
    START_BEFORE_NOW,
    Scenario,
)
from conformance.findings import HarnessError, UsageError
from conformance.progress import current
from conformance.registry import REGISTRY
from conformance.results import CheckResult, RunResult
from conformance.runner import explain_empty, new_result, run_check
from mockserver.testing import (
    Dataset,
    MockServerError,
    RecordedRequest,
    ReferenceServer,
)
from mockserver.testing import (
    load_reference_dataset as _load_dataset,
)

#: ``--file-model``: what the client's rules file holds (``auto``: inferred from its runs).
FileModelChoice = Literal["auto", "accumulate", "latest"]


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
    file_model: FileModelChoice = "auto"

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
        if self.file_model not in ("auto", "accumulate", "latest"):
            raise UsageError(f"--file-model is auto, accumulate or latest, not {self.file_model!r}")
        return [s for s in SCENARIOS if not self.scenarios or s.name in self.scenarios]


def _exchange(server: ReferenceServer, recorded: RecordedRequest) -> ClientRequest:
    """A recorded request as the checks see it, with the rules it delivered intact."""
    query = {k: tuple(v) for k, v in parse_qs(recorded.query, keep_blank_values=True).items()}
    delivered = None
    if recorded.path == contract.SIGMA_PATH and recorded.status == 200 and recorded.complete:
        sent = rule_map(recorded.response_body, allow_repeats=True)
        expected = rule_map(server.body_for(recorded.query))
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
    """Run every step of ``scenario`` against a fresh reference server; record what happened."""
    server = ReferenceServer(dataset, start_before=START_BEFORE_NOW, rate_limit=scenario.rate_limit)
    runs: list[RunRecord] = []
    with tempfile.TemporaryDirectory(prefix="soc-client-") as scratch, server:
        rules = Path(scratch) / "rules.yml"
        for index, step in enumerate(scenario.steps):
            if step.advance:
                server.advance(step.advance)
            server.set_faults(step.faults)
            before = rules.read_bytes() if rules.exists() else None
            seen = len(server.requests)
            key = KEYS[step.key]
            code, out, err = _execute(
                config.command, _environment(config, server.url, key, rules), config.timeout
            )
            recorded = server.settle()[seen:]
            after = rules.read_bytes() if rules.exists() else None
            exchanges = tuple(_exchange(server, r) for r in recorded)
            runs.append(RunRecord(index, step, key, code, out, err, exchanges, before, after))
        feed = None
        if scenario.incremental:
            whole = dict(_filters(runs), limit=(str(contract.PRO.max_results),))
            served = rule_map(server.body_for(whole))
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
    """The dataset the reference server serves (default: the committed fixtures)."""
    try:
        return _load_dataset(path)
    except MockServerError as exc:
        raise UsageError(str(exc)) from exc


def elapsed(start: float) -> str:
    """Seconds since ``start``, for progress lines."""
    return f"{time.monotonic() - start:.1f}s"


def file_model(outcomes: Sequence[ScenarioOutcome], config: ClientConfig) -> tuple[FileModel, str]:
    """The file model the client is judged by, and how it was chosen (for the report)."""
    if config.file_model != "auto":
        return config.file_model, "--file-model"
    inferred = infer_file_model(outcomes)
    if inferred is None:
        return "accumulate", "no run told the models apart"
    return inferred, "inferred from the runs"


def judge_outcomes(outcomes: Sequence[ScenarioOutcome], config: ClientConfig) -> list[CheckResult]:
    """Run every selected client check on every scenario; one result per check."""
    import conformance.checks.client_files
    import conformance.checks.client_traffic  # noqa: F401

    model, _ = file_model(outcomes, config)
    results = []
    for spec in REGISTRY.select(scopes=["client"], include=config.include, exclude=config.exclude):
        result = new_result(spec)
        for outcome in outcomes:
            before = len(result.skips)
            run_check(spec, replace(outcome, file_model=model), result)
            if len(result.skips) > before:  # say which scenario gave the reason
                result.skips[-1] = f"{outcome.scenario.name}: {result.skips[-1]}"
        results.append(result)
    return results


def run_client(config: ClientConfig, progress: Callable[[str], None] | None = None) -> RunResult:
    """Run the chosen scenarios and judge the client; ``progress`` hears one line per scenario."""
    scenarios = config.chosen()
    REGISTRY.select(scopes=["client"], include=config.include, exclude=config.exclude)
    dataset = load_reference_dataset(config.fixtures)
    outcomes = []
    interrupted = False
    current().begin("scenarios", "scenario", len(scenarios), every=1)
    for scenario in scenarios:
        started = time.monotonic()
        current().advance("scenarios", 0, item=f"{scenario.name} running")
        try:
            outcome = run_scenario(scenario, config, dataset)
        except KeyboardInterrupt:  # SIGINT/SIGTERM: judge the scenarios that finished
            interrupted = True
            break
        outcomes.append(outcome)
        codes = ", ".join(
            "timeout" if r.exit_code is None else str(r.exit_code) for r in outcome.runs
        )
        line = f"{scenario.name}: exit {codes} ({elapsed(started)})"
        current().advance("scenarios", item=line)
        if progress is not None:
            progress(f"scenario {line}")
    current().end("scenarios")
    model, how = file_model(outcomes, config)
    subject = f"{shlex.join(config.command)} (rules file judged as {model!r}: {how})"
    result = RunResult(mode="client", subject=subject, seed=None, strict=False)
    result.interrupted = interrupted
    result.checks = judge_outcomes(outcomes, config)
    if interrupted:
        explain_empty(result.checks, "interrupted before a scenario finished")
    result.requests_made = sum(len(r.exchanges) for o in outcomes for r in o.runs)
    return result
