"""Server mode: judge a live endpoint over HTTP (config, the checks' context, transport, run).

``ServerConfig`` and ``run_server`` stay importable from here, where they lived before the
package was split (kept for one release; new code imports the modules). They load on first
use, so importing ``conformance.server.config`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServerConfig", "run_server"]


def __getattr__(name: str) -> Any:
    if name == "ServerConfig":
        from conformance.server.config import ServerConfig

        return ServerConfig
    if name == "run_server":
        from conformance.server.run import run_server

        return run_server
    raise AttributeError(f"module 'conformance.server' has no attribute {name!r}")
