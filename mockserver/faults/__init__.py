"""Faults for testing clients on the bad days: a registry of named faults and a WSGI middleware.

Faults are off by default. They are chosen per run (``soc-mock serve --fault NAME[:ARG...]``,
parsed by :func:`parse_fault_spec`) or per request with the header ``X-Mock-Fault: NAME[:ARG...]``,
which is honoured only when faults are enabled and the client is on a loopback address (a 403
envelope otherwise). ``ARG`` is a rate in [0, 1] (``503:0.3``), a duration (``latency:200ms``,
``429-burst:3s``) or a cap on how many times the fault fires (``503:max=2``).

``catalogue`` holds the named faults and the parsing of specs, ``rewrites`` the pure body
rewrites, ``middleware`` the WSGI layer, ``connections`` the socket the ``reset`` fault
resets; every public name is re-exported here.
"""

from __future__ import annotations

from mockserver.faults.catalogue import (
    API_PREFIX,
    DRIBBLE_PIECES,
    FAULT_HEADER,
    FAULTS,
    MAX_BURST_SECONDS,
    MAX_DELAY_SECONDS,
    MAX_DRIBBLE_SECONDS,
    Fault,
    FaultSettings,
    FaultSpec,
    FaultSpecError,
    Stage,
    describe_faults,
    parse_fault_spec,
)
from mockserver.faults.connections import abort_connection
from mockserver.faults.middleware import (
    FaultEvent,
    FaultMiddleware,
    Reply,
    error_reply,
    install_faults,
    is_loopback_address,
)
from mockserver.faults.rewrites import rewrite_body, split_documents, truncation_point

__all__ = [
    "API_PREFIX",
    "DRIBBLE_PIECES",
    "FAULTS",
    "FAULT_HEADER",
    "MAX_BURST_SECONDS",
    "MAX_DELAY_SECONDS",
    "MAX_DRIBBLE_SECONDS",
    "Fault",
    "FaultEvent",
    "FaultMiddleware",
    "FaultSettings",
    "FaultSpec",
    "FaultSpecError",
    "Reply",
    "Stage",
    "abort_connection",
    "describe_faults",
    "error_reply",
    "install_faults",
    "is_loopback_address",
    "parse_fault_spec",
    "rewrite_body",
    "split_documents",
    "truncation_point",
]
