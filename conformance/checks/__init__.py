"""The built-in checks of rules: importing this package registers them in the registry.

- :mod:`conformance.checks.document`: one YAML document (``RuleDocument``) at a time;
- :mod:`conformance.checks.collection`: a whole body (``RuleSet``);
- :mod:`conformance.checks.compile`: each parsed rule on each compile target, and pySigma's
  validators.
"""

from conformance.checks import collection, compile, document, matching

#: The modules holding the server checks (imported by server mode; importing registers them).
SERVER_CHECK_MODULES = (
    "conformance.checks.protocol",
    "conformance.checks.ratelimit",
    "conformance.checks.filters",
    "conformance.checks.since",
    "conformance.checks.stability",
    "conformance.checks.crossendpoint",
)
#: The modules holding the client checks (imported by client mode).
CLIENT_CHECK_MODULES = ("conformance.checks.client_traffic", "conformance.checks.client_files")

__all__ = [
    "CLIENT_CHECK_MODULES",
    "SERVER_CHECK_MODULES",
    "collection",
    "compile",
    "document",
    "matching",
]
