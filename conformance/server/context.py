"""What a server check receives: the config, the transport and a per-run response cache."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance import contract
from conformance.findings import CheckFailure, Finding, SkipCheck
from conformance.server.config import ServerConfig
from conformance.server.responses import Fetched, IocList, query_key
from conformance.server.transport import Credentials, Transport


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

        from conformance.strategies import repeatable_draws

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
            with repeatable_draws():
                property_holds()
        except Unsatisfiable:
            raise SkipCheck("no generated query could be checked on this target") from None
