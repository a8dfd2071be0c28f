"""Offline mock of the SOC Defenders ``GET /api/v1/iocs/sigma`` endpoint, from seeded fixtures.

``create_app(MockConfig(...))`` builds the Flask app; ``LiveServer`` runs it on a loopback
port in a thread. Importing the package loads neither Flask nor the fixtures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockserver.config import MockConfig, Tier
from mockserver.errors import APIError, ConfigError, FixtureError, MockServerError

if TYPE_CHECKING:
    from mockserver.app import create_app
    from mockserver.liveserver import LiveServer

__all__ = [
    "APIError",
    "ConfigError",
    "FixtureError",
    "LiveServer",
    "MockConfig",
    "MockServerError",
    "Tier",
    "create_app",
]


def __getattr__(name: str) -> Any:
    # Flask and werkzeug are imported only when the app or the server is asked for.
    if name == "create_app":
        from mockserver.app import create_app

        return create_app
    if name == "LiveServer":
        from mockserver.liveserver import LiveServer

        return LiveServer
    raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
