"""Conformance suite for Sigma rule feeds: a server, client or file in, a verdict out."""

from conformance.findings import (
    CheckFailure,
    ConformanceError,
    Finding,
    HarnessError,
    Reproduction,
    Severity,
    SkipCheck,
    UsageError,
)

__all__ = [
    "CheckFailure",
    "ConformanceError",
    "Finding",
    "HarnessError",
    "Reproduction",
    "Severity",
    "SkipCheck",
    "UsageError",
]
