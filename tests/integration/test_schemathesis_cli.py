"""Schemathesis' own command line against a loopback mock, with the shipped hooks module.

What the README tells a user to run: ``SCHEMATHESIS_HOOKS=mockserver.schemathesis_hooks
schemathesis run http://127.0.0.1:8000/openapi.json -H 'Authorization: Bearer ...'``. Each
run is bounded (few examples, no coverage phase, a fixed seed) to stay within seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.config import MockConfig
from mockserver.faults import FaultSettings
from mockserver.testing import LiveMock, live_socdefenders

ROOT = Path(__file__).resolve().parents[2]
SIGMA = "/api/v1/iocs/sigma"


def _schemathesis() -> str:
    beside = Path(sys.executable).with_name("schemathesis")
    found = str(beside) if beside.is_file() else shutil.which("schemathesis")
    if found is None:
        pytest.skip("the schemathesis command is not installed")
    return found


def run(live: LiveMock, tmp_path: Path, *, hooks: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["NO_COLOR"] = "1"
    if hooks:
        env["SCHEMATHESIS_HOOKS"] = "mockserver.schemathesis_hooks"
    command = [
        _schemathesis(), "run", f"{live.base_url}/openapi.json",
        "-H", "Authorization: Bearer sk_live_demo_pro",
        "--include-path", SIGMA, "--phases", "examples,fuzzing",
        "--max-examples", "4", "--seed", "1", "--request-timeout", "10",
    ]  # fmt: skip
    # In tmp_path: whatever Schemathesis or Hypothesis writes stays out of the checkout.
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def live() -> Iterator[LiveMock]:
    with live_socdefenders(MockConfig()) as server:
        yield server


def test_schemathesis_passes_with_the_hooks(live: LiveMock, tmp_path: Path) -> None:
    result = run(live, tmp_path, hooks=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
    sigma_answers = [r for r in live.requests if r.path == SIGMA and r.status == 200]
    assert sigma_answers, "Schemathesis never got a Sigma body to deserialize"


def test_without_the_hooks_every_operation_is_skipped(live: LiveMock, tmp_path: Path) -> None:
    # The reason the hooks exist: if this starts passing, Schemathesis learnt multi-document
    # YAML and the README's advice can be simplified.
    result = run(live, tmp_path, hooks=False)
    assert result.returncode != 0
    assert "ComposerError" in result.stdout + result.stderr


def test_the_hooks_still_fail_a_broken_body(tmp_path: Path) -> None:
    # Planted defect: an unparseable document in the middle of every Sigma answer.
    faults = FaultSettings.from_options(["invalid-yaml"])
    with live_socdefenders(MockConfig(), faults=faults) as broken:
        result = run(broken, tmp_path, hooks=True)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "No issues found" not in result.stdout
