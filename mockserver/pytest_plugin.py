"""pytest plugin (entry point ``pytest11``): fixtures for testing SOC Defenders clients.

- ``socdefenders_mock``: the mock in-process; every ``requests`` call to
  ``https://socdefenders.ai/api/v1/...`` is answered by the Flask app with no socket
  (:func:`mockserver.testing.mock_socdefenders`). It needs the ``[testing]`` extra
  (``responses``); without it, a test using it fails with one line naming the extra.
- ``socdefenders_live``: the real server on a free loopback port in a thread, for clients
  that do not use ``requests`` (:func:`mockserver.testing.live_socdefenders`); its base URL is
  ``socdefenders_live.base_url``. An exception raised in the app fails the test.

Both build the app from ``socdefenders_config`` (default: the committed fixtures and demo
keys) and ``socdefenders_faults`` (default: faults off); override either fixture in a
``conftest.py`` to change them. Nothing heavy is imported until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mockserver.config import MockConfig
    from mockserver.faults import FaultSettings
    from mockserver.testing import InProcessMock, LiveMock


@pytest.fixture
def socdefenders_config() -> MockConfig | None:
    """The mock's configuration (``None``: defaults). Override to use other fixtures or keys."""
    return None


@pytest.fixture
def socdefenders_faults() -> FaultSettings | None:
    """Fault settings for both fixtures (``None``: off). Override to test the bad days."""
    return None


@pytest.fixture
def socdefenders_mock(
    socdefenders_config: MockConfig | None, socdefenders_faults: FaultSettings | None
) -> Iterator[InProcessMock]:
    """The mock in-process: ``requests`` calls to the API are answered with no socket.

    Needs the ``[testing]`` extra; without it the test fails with one line saying so.
    """
    from mockserver.testing import TESTING_EXTRA_MISSING, mock_socdefenders, require_responses

    try:
        require_responses()
        missing = False
    except ModuleNotFoundError:
        missing = True
    if missing:  # outside the except block: no "During handling of the above exception"
        pytest.fail(f"socdefenders_mock: {TESTING_EXTRA_MISSING}", pytrace=False)
    with mock_socdefenders(socdefenders_config, faults=socdefenders_faults) as mock:
        yield mock


@pytest.fixture
def socdefenders_live(
    socdefenders_config: MockConfig | None, socdefenders_faults: FaultSettings | None
) -> Iterator[LiveMock]:
    """The mock on a loopback port in a thread; ``.base_url`` is where to point a client."""
    from mockserver.testing import live_socdefenders

    with live_socdefenders(socdefenders_config, faults=socdefenders_faults) as live:
        yield live
