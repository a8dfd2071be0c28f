"""Server mode: judge a live endpoint over HTTP (config, the checks' context, transport, run).

``ServerConfig`` and ``run_server`` stay importable from here, where they lived before the
package was split (kept for one release; new code imports the modules).
"""

from conformance.server.config import ServerConfig
from conformance.server.run import run_server

__all__ = ["ServerConfig", "run_server"]
