"""What one app holds between requests: the :class:`MockState` in ``app.extensions``.

Built once by :func:`build_state` when the app is created; the views, the admin routes and
the request journal reach it through :func:`state`. Its own module so that ``app`` and
``admin`` both import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from mockserver.auth import KeyRing
from mockserver.clock import Clock, MovingClock, parse_clock
from mockserver.config import MockConfig
from mockserver.fixtures import Dataset, load_dataset, load_key_records
from mockserver.journal import RequestJournal
from mockserver.ratelimit import RateLimiter
from mockserver.store import IOCStore

if TYPE_CHECKING:
    from flask import Flask

#: The ``app.extensions`` key the state lives under.
EXTENSION: Final = "socmock"


@dataclass(frozen=True)
class MockState:
    """What the views need, built once per app."""

    config: MockConfig
    store: IOCStore
    keys: KeyRing
    limiter: RateLimiter
    clock: Clock
    dataset: Dataset
    journal: RequestJournal


def load_keys(config: MockConfig) -> KeyRing:
    """The demo keys plus those of ``config.keys``; a later key replaces an equal earlier one."""
    tier_names = [tier.name for tier in config.tiers]
    keys = KeyRing.from_records(load_key_records(), tiers=tier_names).keys
    if config.keys is not None:
        # Checked on its own, so an error names the record's index in the user's file.
        extra = KeyRing.from_records(
            load_key_records(config.keys), tiers=tier_names, origin=str(config.keys)
        )
        keys += extra.keys
    return KeyRing(keys)


def build_state(
    config: MockConfig, *, dataset: Dataset | None = None, clock: Clock | None = None
) -> MockState:
    """Load fixtures and keys and build the store, limiter and clock ``config`` describes."""
    dataset = dataset if dataset is not None else load_dataset(config.fixtures)
    chosen = clock if clock is not None else parse_clock(config.now, dataset.meta.now)
    if config.clock_moves and not isinstance(chosen, MovingClock):
        chosen = MovingClock(chosen, config.clock_step)
    return MockState(
        config=config,
        store=IOCStore(dataset.iocs),
        keys=load_keys(config),
        limiter=RateLimiter(
            config.tiers, config.rate_limit_storage, anonymous=config.anonymous_rate_limits
        ),
        clock=chosen,
        dataset=dataset,
        journal=RequestJournal(config.journal_size),
    )


def state_of(app: Flask) -> MockState:
    """The MockState of ``app``."""
    result: MockState = app.extensions[EXTENSION]
    return result


def state() -> MockState:
    """The current app's MockState (inside a request or app context)."""
    from flask import current_app

    return state_of(current_app)
