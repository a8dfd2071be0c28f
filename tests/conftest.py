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

# Reports wrap to 100 columns off a terminal, so a long temporary path could split a phrase a
# test looks for over two lines, on one worker and not another. Tests of wrapping give their
# width; everything else reads unwrapped reports (``COLUMNS`` is what the report honours).
os.environ.setdefault("COLUMNS", "250")
