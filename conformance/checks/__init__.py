"""The built-in checks of rules: importing this package registers them in the registry.

- :mod:`conformance.checks.document`: one YAML document (``RuleDocument``) at a time;
- :mod:`conformance.checks.collection`: a whole body (``RuleSet``);
- :mod:`conformance.checks.compile`: each parsed rule on each compile target, and pySigma's
  validators.
"""

from conformance.checks import collection, compile, document, matching

__all__ = ["collection", "compile", "document", "matching"]
