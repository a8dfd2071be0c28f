"""Compiling each rule on each target separately, on both cores.

Each document is YAML-loaded once (``conformance.rules.documents``); the loaded mapping is
shipped to worker processes in chunks (plain dicts pickle cheaply, pySigma objects do not). A
worker builds the pySigma rule, runs the offline validators on it, and converts it for every
target. A processing pipeline rewrites the rule it is applied to, so each further target gets a
fresh rule object from the same mapping: ``SigmaRule.from_dict`` costs far less than a deep
copy, and far less than a second YAML parse (which is what running ``sigma convert`` per target
pays). One rule failing on one target is recorded as that rule on that target; nothing aborts.

Kept whole (over 300 lines) because the worker pool, the per-rule time budget and the
backend reset share one lifecycle: each rule is compiled, bounded and cleaned up in one place.
"""

from __future__ import annotations

import atexit
import collections
import functools
import gc
import itertools
import math
import multiprocessing
import operator
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from conformance.findings import UsageError
from conformance.rules.documents import RuleDocument
from conformance.rules.metarules import compile_group
from conformance.rules.outcomes import (
    RuleOutcome,
    convert,
    validator_issues,
)

#: Below this many rules a process pool costs more than it saves.
_INLINE_BELOW = 64
#: The most rules one chunk (a worker's task) holds: a worker holds a chunk's mappings and
#: outcomes at once, so chunks sized by the corpus would make its memory grow with the corpus.
_CHUNK_MOST = 200
#: Seconds one rule may cost (parse, validators, every target) before it is reported as too
#: expensive to judge (``--rule-timeout``). A real rule takes milliseconds; SigmaHQ's slowest
#: takes well under a second. ``sigma check`` needs 13 s on a hostile 10 MB rule.
DEFAULT_RULE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Target:
    """A compile target: a pySigma backend and the processing pipeline it runs with."""

    backend: str
    pipeline: str

    @property
    def name(self) -> str:
        """``backend+pipeline``, as the CLI spells it."""
        return f"{self.backend}+{self.pipeline}"

    @classmethod
    def parse(cls, spec: str) -> Target:
        """Read ``backend+pipeline``; anything else is a usage error."""
        backend, plus, pipeline = spec.strip().partition("+")
        if not plus or not backend or not pipeline:
            raise UsageError(f"target {spec!r} is not of the form backend+pipeline")
        return cls(backend, pipeline)


@functools.cache
def installed_plugins() -> Any:
    """pySigma's installed backends, pipelines and validators, discovered once per process
    (discovery imports every plugin: about half a second, inherited by forked workers)."""
    from sigma.plugins import InstalledSigmaPlugins

    return InstalledSigmaPlugins.autodiscover()


def check_targets_installed(targets: Sequence[str]) -> None:
    """Raise a usage error naming any target whose backend or pipeline is not installed."""
    plugins = installed_plugins()
    for spec in targets:
        target = Target.parse(spec)
        if target.backend not in plugins.backends:
            known = ", ".join(sorted(plugins.backends))
            raise UsageError(f"unknown backend {target.backend!r} in {spec!r}; installed: {known}")
        if target.pipeline not in plugins.pipelines:
            known = ", ".join(sorted(plugins.pipelines))
            raise UsageError(
                f"unknown pipeline {target.pipeline!r} in {spec!r}; installed: {known}"
            )


@dataclass(frozen=True)
class ToolchainConfig:
    """What a worker needs to build its backends and validators (hashable: cached per process)."""

    targets: tuple[str, ...]
    validators: tuple[str, ...]  # pySigma validator identifiers to run; empty = none
    attack_data: str | None = None
    #: Validator name → constructor keyword arguments (``--validation-config``'s ``config:``).
    validator_params: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()


@dataclass(frozen=True)
class CompiledRule:
    """The subject of a compile check: a document, its toolchain outcome and the run's policy."""

    document: RuleDocument
    outcome: RuleOutcome
    required: frozenset[str]
    warning_validators: frozenset[str] = frozenset()


class _Toolchain:
    """The backends and validators of one process, built once per configuration."""

    def __init__(self, config: ToolchainConfig) -> None:
        plugins = installed_plugins()
        resolver = plugins.get_pipeline_resolver()
        self.backends: dict[str, Any] = {}
        for spec in config.targets:
            target = Target.parse(spec)
            pipeline = resolver.resolve([target.pipeline], target=target.backend)
            backend_class: Any = plugins.backends[target.backend]
            self.backends[spec] = backend_class(processing_pipeline=pipeline)
        if config.attack_data is not None:
            use_attack_data(config.attack_data)
        validator_classes: dict[str, Any] = dict(plugins.validators)
        params = {name: dict(items) for name, items in config.validator_params}
        self.validators = {
            name: validator_classes[name](**params.get(name, {})) for name in config.validators
        }


def use_attack_data(path: str) -> None:
    """Point pySigma's ATT&CK data at a local STIX file through a private cache, and load it.

    Loaded here, in the main process before any worker forks, so a file that is not ATT&CK
    STIX JSON is a usage error rather than a "validator crashed" finding on every rule.
    """
    from sigma.data import mitre_attack

    cache_dir = tempfile.mkdtemp(prefix="soc-conformance-attack-")
    # Forked workers leave through os._exit and skip atexit: only this process removes it.
    atexit.register(shutil.rmtree, cache_dir, ignore_errors=True)
    # The private cache first: set_url clears whatever cache is current, and the user's own
    # (~/.cache/pysigma) must stay intact.
    mitre_attack.set_cache_dir(cache_dir)
    # Absolute, so it never starts with http:// or https:// (which pySigma would download).
    mitre_attack.set_url(str(Path(path).resolve()))
    try:
        techniques = mitre_attack.mitre_attack_techniques
    except (RuntimeError, ValueError, LookupError, AttributeError, TypeError) as exc:
        # pySigma's loader wraps I/O and JSON errors in RuntimeError; the others are what its
        # parser raises on JSON of another shape (a list, objects without their fields), and
        # RecursionError (a RuntimeError) on JSON nested too deep.
        raise UsageError(
            f"--attack-data {path}: not MITRE ATT&CK STIX JSON ({type(exc).__name__}: {exc})"
        ) from exc
    if not techniques:
        raise UsageError(
            f"--attack-data {path}: no ATT&CK technique in it (STIX attack-pattern objects"
            " with a mitre-attack external_id)"
        )


@functools.cache
def _toolchain(config: ToolchainConfig) -> _Toolchain:
    # Cached per process on purpose: building backends and pipelines is the costly part of a
    # worker's start, and a worker serves many chunks.
    return _Toolchain(config)


def compile_one(config: ToolchainConfig, ruleset: int, index: int, data: Any) -> RuleOutcome:
    """Parse one loaded document with pySigma, validate it, and convert it for every target."""
    from sigma.rule import SigmaRule

    tools = _toolchain(config)
    if isinstance(data, list):  # a correlation or filter with the rules it refers to
        outcome: RuleOutcome = compile_group(tools, ruleset, index, data)
        return outcome
    try:
        rule = SigmaRule.from_dict(data, collect_errors=True)
    except Exception as exc:  # noqa: BLE001 - any parser crash is that rule's finding
        return RuleOutcome(ruleset, index, parse_errors=(f"{type(exc).__name__}: {exc}",))
    if rule.errors:
        return RuleOutcome(ruleset, index, parse_errors=tuple(str(e) for e in rule.errors))
    issues = validator_issues(tools.validators, rule)
    outcomes = []
    for position, (spec, backend) in enumerate(tools.backends.items()):
        fresh = rule if position == 0 else SigmaRule.from_dict(data, collect_errors=True)
        outcomes.append(convert(spec, backend, fresh))
    return RuleOutcome(ruleset, index, targets=tuple(outcomes), issues=tuple(issues))


def _compile_chunk(
    config: ToolchainConfig, chunk: Sequence[tuple[int, int, Any]], budget: float | None = None
) -> list[RuleOutcome]:
    with _alarm_handler(budget) as armed:
        return [
            _compile_bounded(config, ruleset, index, data, budget if armed else None)
            for ruleset, index, data in chunk
        ]


# -- bounded cost: a time budget per rule, backends reset after each rule ---------------------


class _OverBudget(BaseException):
    """Raised by SIGALRM in the middle of a rule's work (a BaseException: the ``except
    Exception`` that turns a backend's or validator's error into a finding must not catch it).
    """

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def can_bound_here() -> bool:
    """Whether this thread can bound a rule's time (SIGALRM: main thread, POSIX only)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def _alarm_handler(budget: float | None) -> Iterator[bool]:
    """Install the SIGALRM handler for a chunk; yields whether per-rule timers can be armed."""
    if not budget or not can_bound_here() or signal.getitimer(signal.ITIMER_REAL)[0]:
        yield False  # (a timer already running is someone else's: left alone, unbounded)
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise _OverBudget(_where(frame))

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _where(frame: FrameType | None) -> str:
    """What the rule's work was doing when the alarm rang, read off the stack up to
    compile_one: a conversion (for which target), a validator's ``validate`` (which one), or
    else the call just below compile_one (pySigma's parser, say)."""
    below: FrameType | None = None
    doing: str | None = None
    while frame is not None and frame.f_code is not compile_one.__code__:
        if frame.f_code is convert.__code__:
            doing = f"converting for {frame.f_locals.get('spec')}"
        elif frame.f_code.co_name == "validate" and frame.f_locals.get("self") is not None:
            doing = f"validator {type(frame.f_locals['self']).__name__}"
        below, frame = frame, frame.f_back
    if frame is None or below is None:
        return "compiling"
    return doing or below.f_code.co_qualname


def _compile_bounded(
    config: ToolchainConfig, ruleset: int, index: int, data: Any, budget: float | None
) -> RuleOutcome:
    """``compile_one`` within ``budget`` seconds (None: unbounded), backends reset after."""
    _toolchain(config)  # built outside the budget: it is the process's, not the rule's
    pristine = _pristine_state(config)
    try:
        if budget is None:
            return compile_one(config, ruleset, index, data)
        try:
            signal.setitimer(signal.ITIMER_REAL, budget)
            return compile_one(config, ruleset, index, data)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _OverBudget as over:
        where = f"not done after {budget:g} s, in {over.where}"
        return RuleOutcome(ruleset, index, over_budget=where)
    finally:
        _reset_backends(config, pristine)


#: One saved attribute dictionary: the object and a copy of its ``__dict__`` when built.
_Saved = tuple[Any, dict[str, Any]]


@dataclass(frozen=True)
class _PristinePipeline:
    """One backend's processing pipeline as built: each item's saved state (the item and its
    transformation), in pipeline order, and the postprocessing items'."""

    pipeline: Any
    items: tuple[tuple[_Saved, ...], ...]
    postprocessing: tuple[tuple[_Saved, ...], ...]


def _saved(item: Any) -> tuple[_Saved, ...]:
    things = (item, getattr(item, "transformation", None))
    return tuple((t, dict(vars(t))) for t in things if t is not None and hasattr(t, "__dict__"))


@functools.cache
def _pristine_state(config: ToolchainConfig) -> tuple[_PristinePipeline, ...]:
    """The state of every processing item and transformation of this process's backends, as
    built (cached per process, taken before the first rule is converted).

    Some transformations keep what they did to one rule: the Kusto pipelines' invalid-field
    transformation prepends "Invalid SigmaDetectionItem field name encountered: <field>." to
    its own message on every rule it refuses, so a backend reused for many rules gives ever
    longer error messages (one sentence repeated hundreds of times) and memory grows with the
    number of rules. Restoring what a rule changed after every rule bounds both.
    """
    saved = []
    for backend in _toolchain(config).backends.values():
        if getattr(backend, "last_processing_pipeline", None) is None:
            backend.init_processing_pipeline()
        pipeline = backend.last_processing_pipeline
        saved.append(
            _PristinePipeline(
                pipeline,
                tuple(_saved(item) for item in pipeline.items),
                tuple(_saved(item) for item in pipeline.postprocessing_items),
            )
        )
    return tuple(saved)


def _reset_backends(config: ToolchainConfig, pristine: tuple[_PristinePipeline, ...]) -> None:
    """Put back what the last rule changed: the items its pipelines applied (pySigma lists
    them in ``applied``), the one that was running when it stopped (an error, the budget),
    and the postprocessing items. Checking all ~300 objects every rule would cost about 1 ms.
    """
    backends = _toolchain(config).backends.values()
    for backend, saved in zip(backends, pristine, strict=True):
        pipeline = getattr(backend, "last_processing_pipeline", None)
        if pipeline is not saved.pipeline:  # rebuilt by someone: restore everything
            touched: Iterator[tuple[_Saved, ...]] = iter(saved.items)
        else:
            applied = getattr(pipeline, "applied", [])
            running = saved.items[len(applied) : len(applied) + 1]
            done = (s for s, flag in zip(saved.items, applied, strict=False) if flag)
            touched = itertools.chain(done, running)
        for group in itertools.chain(touched, saved.postprocessing):
            for thing, attributes in group:
                current: dict[str, Any] = thing.__dict__
                if len(current) != len(attributes) or not all(
                    map(operator.is_, current.values(), attributes.values())
                ):
                    current.clear()
                    current.update(attributes)


def _needs_pool(workers: int, count: int, budget: float | None) -> bool:
    """Whether to compile in worker processes: for speed, or because only a worker's main
    thread can bound a rule's time when this thread cannot (e.g. a checker run in a thread)."""
    if workers > 1 and count >= _INLINE_BELOW:
        return True
    return bool(budget) and count > 0 and not can_bound_here()


class CompileJob:
    """Rules being compiled, in a process pool or inline; ``results()`` waits for them.

    Started before the document checks so both cores work while the main process checks.
    """

    def __init__(
        self,
        config: ToolchainConfig,
        items: Sequence[tuple[int, int, Any]],
        workers: int,
        rule_timeout: float | None = DEFAULT_RULE_TIMEOUT,
    ) -> None:
        self._config = config
        self._items = list(items)
        self._budget = rule_timeout
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future[list[RuleOutcome]]] = []
        # Built now, in this process: a bad --attack-data stops the run before any check, and
        # forked workers inherit the toolchain (and its pristine state, see _pristine_state).
        _toolchain(config)
        _pristine_state(config)
        ready = _READY.pop((config, workers), None)
        if _needs_pool(workers, len(self._items), rule_timeout):
            self._pool = ready or _new_pool(workers)
            size = max(16, min(_CHUNK_MOST, math.ceil(len(self._items) / (workers * 4))))
            for start in range(0, len(self._items), size):
                chunk = self._items[start : start + size]
                future = self._pool.submit(_compile_chunk, config, chunk, rule_timeout)
                self._futures.append(future)
        elif ready is not None:  # started early, not needed after all (a few rules)
            ready.shutdown()
            gc.unfreeze()

    def results(self) -> Iterator[RuleOutcome]:
        """Every rule's outcome, in submission order, each chunk as soon as it is done (so the
        compile checks and the progress bars move while the workers go on)."""
        if self._pool is None:
            yield from _compile_chunk(self._config, self._items, self._budget)
            return
        try:
            # Each chunk let go once handed out: the main process never holds every outcome.
            pending, self._futures = collections.deque(self._futures), []
            while pending:
                yield from pending.popleft().result()
        finally:
            self._pool.shutdown(cancel_futures=True)  # interrupted: run no further chunk
            gc.unfreeze()


#: Worker pools started by :func:`start_workers`, waiting for their :class:`CompileJob`.
_READY: dict[tuple[ToolchainConfig, int], ProcessPoolExecutor] = {}


def start_workers(config: ToolchainConfig, workers: int) -> None:
    """Fork the compile workers of a coming :class:`CompileJob` now, before the rules are
    loaded: workers forked later share every loaded document with the parent, and the parent
    touches each one again (pickling it for them), so each page of documents ends up held
    twice (by the parent, and by the workers). A job that needs no pool shuts it down."""
    if workers < 2 or (config, workers) in _READY:
        return
    _toolchain(config)
    _pristine_state(config)
    _READY[(config, workers)] = pool = _new_pool(workers)
    pool.submit(int).result()  # under fork, the first task forks every worker


def discard_workers() -> None:
    """Stop the pools :func:`start_workers` started that no :class:`CompileJob` took."""
    while _READY:
        _READY.popitem()[1].shutdown()
        gc.unfreeze()


def _new_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes; under fork (where available) they are forked on the
    first submit, inheriting the imported pySigma and this process's toolchain.

    The heap is frozen (``gc.freeze``) when they fork, until they are done
    (:meth:`CompileJob.results`): a garbage collection writes to the header of every object
    it examines, which would copy every inherited page into each worker, and every page the
    parent shares with them into the parent."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    gc.collect()
    gc.freeze()
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)
