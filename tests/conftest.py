"""Test-wide settings: Hypothesis profiles (``HYPOTHESIS_PROFILE=ci`` is set by ``.ci/run``)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI: derandomized, so a red run is the same red run on a rerun; no deadline (shared machines).
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
