"""Live mock servers on loopback ports for end-to-end tests (real sockets, real HTTP)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from mockserver.app import create_app
from mockserver.config import MockConfig
from mockserver.liveserver import LiveServer


@pytest.fixture(scope="session")
def mock_server() -> Iterator[LiveServer]:
    """The mock with its default configuration (committed fixtures, fixed clock)."""
    with LiveServer(create_app(MockConfig())) as server:
        yield server


@pytest.fixture
def mock_server_factory() -> Iterator[Callable[[MockConfig], LiveServer]]:
    """Start a mock with a given configuration; every server started is stopped afterwards."""
    with ExitStack() as stack:

        def start(config: MockConfig) -> LiveServer:
            return stack.enter_context(LiveServer(create_app(config)))

        yield start
