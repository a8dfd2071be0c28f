"""The queries a diff sends to both sides: seeded Hypothesis draws, or a cassette's requests.

Drawn queries are valid filter combinations (``since`` on and around the days the feeds'
rules carry, where day-resolution differences live; ``limit`` sometimes) and, one time in
three, a combination with one bad value, so error answers are compared too. The list depends
only on the seed and the days, so both sides get the same queries in the same order.

``--queries-from`` takes the Sigma requests of a VCR cassette (``soc-mock record`` writes
one): today's answers against last month's, query for query.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from conformance import contract
from conformance.findings import UsageError
from conformance.strategies import format_since

Query = dict[str, str]
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: The survey query each side answers first: the whole feed, for the days to draw ``since`` on.
WHOLE: Query = {"limit": contract.WHOLE_FEED_LIMIT}


def strategy(days: list[date]) -> Any:
    """Filter combinations over ``days``: one or two filters at a time (more filters on a
    small feed mostly select nothing), ``since`` in a third of them, one in three invalid."""
    from hypothesis import strategies as st

    from conformance.strategies import confidences, industries, ioc_types, limits, since_values
    from conformance.strategies import sigma_queries as sigma_query_strategy

    values: dict[str, Any] = {
        "type": ioc_types(),
        "confidence": confidences(),
        "industry": industries(),
        "limit": st.one_of(st.just(contract.WHOLE_FEED_LIMIT), limits(max_value=50).map(str)),
    }
    names = st.lists(st.sampled_from(sorted(values)), unique=True, max_size=2)
    combos = names.flatmap(lambda chosen: st.fixed_dictionaries({n: values[n] for n in chosen}))
    invalid = sigma_query_strategy(valid=False, include_since=False, include_industry=False)
    if not days:
        return st.one_of(combos, combos, invalid)
    since = since_values(days=days)
    with_since = st.fixed_dictionaries(
        {"since": since}, optional={"type": values["type"], "limit": values["limit"]}
    )
    return st.one_of(combos, with_since, invalid)


def past_the_newest(days: list[date]) -> Query:
    """A query no rule may answer: ``since`` the midnight after the newest rule's day (every rule
    was added before it). It is where a server that answers "nothing" oddly (a 404, ``null``)
    shows it, and where "added or updated after" differs from "added after"."""
    after = datetime.combine(max(days) + timedelta(days=1), datetime.min.time(), UTC)
    return {"since": format_since(after)}


def draw(days: list[date], count: int, seed: int) -> list[Query]:
    """``count`` distinct queries (fewer if Hypothesis runs out), the same for the same seed."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed

    from conformance.strategies import repeatable_draws

    drawn: list[Query] = []
    seen: set[tuple[tuple[str, str], ...]] = set()

    @hypothesis_seed(seed)
    @settings(
        max_examples=max(1, count * 2),
        database=None,
        deadline=None,
        derandomize=False,  # the run's --seed decides, whatever profile is loaded
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    @given(strategy(days))
    def collect(query: Query) -> None:
        key = tuple(sorted(query.items()))
        if key not in seen and len(drawn) < count:
            seen.add(key)
            drawn.append(dict(query))

    with repeatable_draws():
        collect()
    return drawn


def from_cassette(path: Path) -> list[Query]:
    """The Sigma requests of a VCR cassette, in order, without repeats (the key parameter
    dropped); the survey query comes first when recorded."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"--queries-from {path}: not a readable YAML cassette ({exc})") from None
    interactions = document.get("interactions") if isinstance(document, dict) else None
    if not isinstance(interactions, list):
        raise UsageError(f"--queries-from {path}: not a VCR cassette (no 'interactions' list)")
    out: list[Query] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for item in interactions:
        try:
            parts = urlsplit(str(item["request"]["uri"]))
        except (KeyError, TypeError):
            continue
        if parts.path.rstrip("/") != contract.SIGMA_PATH:
            continue
        query = {k: v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "api_key"}
        key = tuple(sorted(query.items()))
        if key not in seen:
            seen.add(key)
            out.append(query)
    if not out:
        raise UsageError(f"--queries-from {path}: the cassette records no {contract.SIGMA_PATH}")
    return out
