"""The public Hypothesis strategies build what they promise and validate their arguments eagerly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis.errors import InvalidArgument

from conformance import contract
from conformance.strategies import (
    invalid_parameter_values,
    sigma_queries,
    since_values,
)


@given(sigma_queries(types=("ipv4", "url"), max_limit=50))
def test_valid_queries_hold_only_documented_values(query: dict[str, str]) -> None:
    assert set(query) <= set(contract.SIGMA_PARAMETERS)
    assert query.get("type", "ipv4") in ("ipv4", "url")
    assert query.get("confidence", "low") in contract.CONFIDENCES
    assert query.get("industry", "energy") in contract.INDUSTRIES
    assert 1 <= int(query.get("limit", "1")) <= 50
    if "since" in query:
        assert query["since"].endswith("Z")
        datetime.fromisoformat(query["since"].replace("Z", "+00:00"))


@given(sigma_queries(valid=False))
def test_invalid_queries_hold_at_least_one_bad_value(query: dict[str, str]) -> None:
    allowed = {
        "type": set(contract.ALL_TYPES),
        "confidence": set(contract.CONFIDENCES),
        "industry": set(contract.INDUSTRIES) | set(contract.INDUSTRY_ALIASES),
    }
    bad = [
        name
        for name, value in query.items()
        if (name in allowed and value not in allowed[name])
        or (name == "limit" and not (value.isdigit() and int(value) >= 1))
        or (name == "since" and not _is_since(value))
    ]
    assert bad, query


def _is_since(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@settings(max_examples=50)
@given(since_values(days=[date(2026, 1, 10), date(2026, 3, 1)]))
def test_since_values_stay_around_the_given_days(since: str) -> None:
    day = datetime.fromisoformat(since.replace("Z", "+00:00")).date()
    around = {date(2026, 1, 9), date(2026, 1, 10), date(2026, 1, 11)}
    around |= {date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2)}
    assert day in around


@given(invalid_parameter_values(parameters=("confidence",)))
def test_invalid_values_name_their_parameter(pair: tuple[str, str]) -> None:
    assert pair[0] == "confidence"
    assert pair[1] not in contract.CONFIDENCES


@pytest.mark.parametrize(
    "build",
    [
        lambda: sigma_queries(types=("ipv5",)),
        lambda: sigma_queries(types="ipv4"),
        lambda: sigma_queries(valid="yes"),
        lambda: since_values(min_value=datetime(2026, 1, 1)),
        lambda: since_values(days=[]),
        lambda: invalid_parameter_values(parameters=("colour",)),
    ],
)
def test_bad_arguments_fail_when_the_strategy_is_built(build: object) -> None:
    with pytest.raises(InvalidArgument):
        build()  # type: ignore[operator]


def test_since_values_reject_a_reversed_range() -> None:
    with pytest.raises(InvalidArgument):
        since_values(
            min_value=datetime(2026, 2, 1, tzinfo=UTC), max_value=datetime(2026, 1, 1, tzinfo=UTC)
        )


def test_a_seeded_draw_does_not_depend_on_what_else_is_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--seed N`` repeats a run: Hypothesis' pool of constants harvested from imported
    modules (a user's conftest, a plugin) must not change the queries drawn."""
    import importlib
    from datetime import date

    from conformance.diff.queries import draw

    days = [date(2026, 11, d) for d in (1, 5, 9, 20)]
    before = draw(days, 40, seed=3)
    # A local module full of constants of every kind, as a user's test module might be.
    lines = [f"S{i} = 'type-{i}'\nN{i} = {100 + i * 571}\nF{i} = {i / 7}" for i in range(150)]
    (tmp_path / "lots_of_constants.py").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("lots_of_constants")
    assert draw(days, 40, seed=3) == before
