"""Server mode: judge a live endpoint. Its configuration, the context checks receive, the run.

Precedence of settings (one place, :meth:`ServerConfig.from_sources`): command-line option,
then environment variable (``SOCDEFENDERS_*``), then default. The seed is random when not
given and always reported, so any run can be repeated exactly with ``--seed``.
"""

from __future__ import annotations

import contextlib
import importlib
import random
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from conformance import contract
from conformance.exchanges import Fetched, IocList, query_key
from conformance.findings import CheckFailure, Finding, HarnessError, SkipCheck, UsageError
from conformance.redaction import Scrubber
from conformance.registry import REGISTRY, CheckSpec
from conformance.results import CheckResult, RunResult
from conformance.transport import Credentials, ResponseFailure, Transport, TransportConfig

if TYPE_CHECKING:
    import requests

    from conformance.documents import RuleSet

#: The modules holding the server checks; importing them registers the checks.
SERVER_CHECK_MODULES = (
    "conformance.checks.protocol",
    "conformance.checks.filters",
    "conformance.checks.since",
    "conformance.checks.stability",
    "conformance.checks.crossendpoint",
)
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
}
_LISTS = {"targets", "required_targets", "include", "exclude"}
_INTS = {"max_requests", "seed", "max_examples", "max_body_bytes"}
_FLOATS = {"timeout", "max_rate_wait"}


@dataclass(frozen=True)
class ServerConfig:
    """Everything one server run needs; keys never appear in its repr."""

    base_url: str
    api_key: str = field(repr=False)
    free_key: str | None = field(default=None, repr=False)
    expired_key: str | None = field(default=None, repr=False)
    targets: tuple[str, ...] = contract.DEFAULT_TARGETS
    required_targets: tuple[str, ...] = ()
    strict: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_requests: int = 600
    seed: int = 0
    max_examples: int = 12
    timeout: float = 30.0  # read timeout; the whole response gets twice this
    max_body_bytes: int = 64 * 1024 * 1024
    max_rate_wait: float = 90.0

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
    if name == "strict":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    try:
        if name in _INTS:
            return int(raw)
        if name in _FLOATS:
            return float(raw)
    except ValueError:
        raise UsageError(f"{ENVIRONMENT[name]}={raw!r} is not a number") from None
    return raw


@dataclass
class ServerContext:
    """What a server check receives: the config, the transport and a per-run response cache.

    Responses are cached by (endpoint, query, key, style) so that relations between responses
    cost one request per distinct query; ``fresh=True`` bypasses the cache for checks about
    repeated calls.
    """

    config: ServerConfig
    transport: Transport
    _cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        """The run's seed."""
        return self.config.seed

    def rng(self, purpose: str) -> random.Random:
        """A generator seeded by the run's seed and ``purpose``: repeatable, independent."""
        return random.Random(f"{self.seed}:{purpose}")  # noqa: S311 - test data, not secrets

    @property
    def pro(self) -> Credentials:
        """The main (Pro) key, sent the recommended way."""
        return Credentials(self.config.api_key)

    def sigma(
        self,
        query: Mapping[str, str],
        *,
        credentials: Credentials | None = None,
        fresh: bool = False,
        documented: bool = True,
    ) -> Fetched:
        """The Sigma endpoint's answer to ``query`` (a 200 is demanded: a valid query).

        ``documented=False`` when the query's validity is the mock's choice rather than the
        vendor's word (e.g. a sector slug the vendor never shows).
        """
        creds = credentials or self.pro
        key = ("sigma", query_key(query), creds.key, creds.style)
        if not fresh and key in self._cache:
            cached: Fetched = self._cache[key]
            return cached
        response = self.transport.get(contract.SIGMA_PATH, query, credentials=creds)
        fetched = Fetched.of(response)
        if response.status != 200:
            raise CheckFailure(
                Finding(
                    "",
                    f"a valid query got HTTP {response.status}, not 200",
                    received=f"HTTP {response.status}: {response.exchange.body_excerpt[:300]}",
                    expected="200 with Sigma rules",
                    documented=documented,
                ).with_reproduction(curl=response.exchange.curl(), seed=self.seed)
            )
        self._cache[key] = fetched
        return fetched

    def universe(self) -> Fetched:
        """Every rule the key can see: no filter, ``limit`` at the Pro maximum."""
        return self.sigma({"limit": str(contract.PRO.max_results)})

    def iocs(self, query: Mapping[str, str]) -> IocList:
        """The JSON sibling's list for ``query``; SkipCheck when it does not answer usefully."""
        key = ("iocs", query_key(query), self.config.api_key)
        if key not in self._cache:
            response = self.transport.get(contract.IOCS_PATH, query, credentials=self.pro)
            self._cache[key] = IocList.of(response)
        listing: IocList = self._cache[key]
        if listing.unavailable is not None:
            raise SkipCheck(f"{contract.IOCS_PATH} is not usable here: {listing.unavailable}")
        return listing

    def fetched(self) -> list[Fetched]:
        """Every Sigma response cached so far (for the rule checks)."""
        return [v for k, v in self._cache.items() if k[0] == "sigma"]

    def explore(self, strategy: Any, test: Callable[[Any], None]) -> None:
        """Run ``test`` on values drawn from ``strategy`` (Hypothesis, seeded by the run).

        Shrinking is off: each shrink step would be new requests to a possibly paid API, and
        the first counterexample, with its curl line, is already a reproduction.
        """
        from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
        from hypothesis.errors import Unsatisfiable

        @seed(self.seed)
        @settings(
            max_examples=self.config.max_examples,
            database=None,
            deadline=None,
            derandomize=False,
            phases=(Phase.explicit, Phase.generate),
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            print_blob=False,
        )
        @given(strategy)
        def property_holds(value: Any) -> None:
            test(value)

        try:
            property_holds()
        except Unsatisfiable:
            raise SkipCheck("no generated query could be checked on this target") from None


def load_server_checks() -> list[CheckSpec]:
    """Import the server check modules (registering them) and return the server checks."""
    for module in SERVER_CHECK_MODULES:
        importlib.import_module(module)
    return REGISTRY.all("server")


def run_server(
    config: ServerConfig,
    *,
    transport: Transport | None = None,
    session: requests.Session | None = None,
) -> RunResult:
    """Run the selected server checks, then the rule checks on the rules fetched.

    ``session`` (or a whole ``transport``) lets tests route requests anywhere, e.g. through a
    WSGI adapter into an app in-process. Keys never leave this function unredacted.
    """
    from conformance.rules_runner import RuleCheckOptions, check_rulesets

    scrubber = config.scrubber()
    if transport is None:
        transport = Transport(config.transport_config(), scrubber, session=session)
    specs = selected(config, load_server_checks())
    options = RuleCheckOptions(
        include=config.include,
        exclude=config.exclude,
        targets=config.targets,
        required_targets=config.required(),
        strict=config.strict,
    )
    ctx = ServerContext(config, transport)
    result = RunResult("server", config.base_url, config.seed, config.strict)
    try:
        probe(ctx)
        for position, spec in enumerate(specs):
            try:
                result.checks.append(run_check(spec, ctx))
            except HarnessError as exc:
                result.harness_error = str(exc)
                result.checks += [_not_run(s, str(exc)) for s in specs[position:]]
                break
        if result.harness_error is None:
            _fetch_quietly(ctx)  # usually cached already: the filter checks start from it
            rule_results, result.matrix = check_rulesets(rules_to_check(ctx), options)
            result.checks += rule_results
    except HarnessError as exc:
        result.harness_error = str(exc)
    result.requests_made = transport.requests_made
    return scrub_result(result, scrubber)


def _fetch_quietly(ctx: ServerContext) -> None:
    """Fetch the whole feed for the rule checks when no server check did (errors are moot)."""
    # On failure the rule checks judge whatever was fetched; the server checks said why.
    with contextlib.suppress(CheckFailure, ResponseFailure):
        ctx.universe()


def rules_to_check(ctx: ServerContext) -> list[RuleSet]:
    """The fetched bodies worth the rule checks: each one adding a document not seen yet.

    The whole feed comes first, so the filtered samples, mostly subsets of it, add nothing
    and each rule is parsed and compiled once.
    """
    seen: set[str] = set()
    chosen: list[RuleSet] = []
    for fetched in sorted(ctx.fetched(), key=lambda f: -f.count()):
        texts = {d.text for d in fetched.rules.documents if not d.trailing}
        if fetched.rules.error is not None or not texts <= seen:
            chosen.append(fetched.rules)
            seen |= texts
    return chosen


def _not_run(spec: CheckSpec, reason: str) -> CheckResult:
    result = CheckResult(spec.name, spec.scope, spec.description)
    result.skip_reason = f"not run: {reason}"
    return result


def probe(ctx: ServerContext) -> None:
    """Make sure the target answers at all; HarnessError (exit 3) when it does not."""
    try:
        ctx.transport.get(contract.SIGMA_PATH, {"limit": "1"}, credentials=ctx.pro)
    except ResponseFailure as exc:
        raise HarnessError(
            f"could not test {ctx.config.base_url}: {exc.message} (request: {exc.exchange.curl()})"
        ) from None


def run_check(spec: CheckSpec, ctx: ServerContext) -> CheckResult:
    """One server check: its findings, or why it was skipped; HarnessError passes through."""
    result = CheckResult(spec.name, spec.scope, spec.description)
    try:
        result.findings.extend(spec.run(ctx))
    except CheckFailure as failure:
        result.findings.append(failure.finding)
    except SkipCheck as skip:
        result.skip_reason = skip.reason
    except ResponseFailure as exc:
        result.findings.append(
            Finding(
                spec.name,
                f"no usable response: {exc.message}",
                received=exc.message,
                expected="a complete HTTP response within the run's time and size limits",
            ).with_reproduction(curl=exc.exchange.curl())
        )
    result.findings = [_stamp(f, spec.name, ctx.seed) for f in result.findings]
    return result


def _stamp(finding: Finding, name: str, seed: int) -> Finding:
    """Name the check and the seed on a finding."""
    stamped = replace(finding, check=name)
    return stamped.with_reproduction(seed=seed) if stamped.reproduction.seed is None else stamped


def scrub_result(result: RunResult, scrubber: Scrubber) -> RunResult:
    """The same result with every key removed from every text it holds."""
    for check_result in result.checks:
        check_result.findings = [_scrub_finding(f, scrubber) for f in check_result.findings]
        if check_result.skip_reason is not None:
            check_result.skip_reason = scrubber.scrub(check_result.skip_reason)
    result.harness_error = scrubber.scrub_optional(result.harness_error)
    result.subject = scrubber.scrub(result.subject)
    return result


def _scrub_finding(finding: Finding, scrubber: Scrubber) -> Finding:
    repro = finding.reproduction
    return replace(
        finding,
        message=scrubber.scrub(finding.message),
        received=scrubber.scrub_optional(finding.received),
        expected=scrubber.scrub_optional(finding.expected),
        reproduction=replace(
            repro,
            curl=scrubber.scrub_optional(repro.curl),
            document=scrubber.scrub_optional(repro.document),
            source=scrubber.scrub_optional(repro.source),
        ),
    )


def selected(config: ServerConfig, specs: Iterable[CheckSpec]) -> list[CheckSpec]:
    """The server checks ``--check`` / ``--exclude`` leave (names of any scope are valid)."""
    chosen = REGISTRY.select(
        scopes=("document", "collection", "compile", "server"),
        include=config.include,
        exclude=config.exclude,
    )
    names = {c.name for c in chosen}
    return [s for s in specs if s.name in names]
