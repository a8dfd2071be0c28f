"""Every rule the mock serves compiles with the real sigma-cli on the default targets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from mockserver.liveserver import LiveServer
from tests.keys import PRO_KEY

SIGMA_CLI = str(Path(sys.executable).with_name("sigma"))
TARGETS = [("splunk", "sysmon"), ("lucene", "ecs_windows")]


@pytest.fixture(scope="module")
def all_rules(
    mock_server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int]:
    response = requests.get(
        mock_server.url + "/api/v1/iocs/sigma",
        params={"limit": "10000"},
        headers={"Authorization": f"Bearer {PRO_KEY}"},
        timeout=30,
    )
    assert response.status_code == 200
    count = len(list(yaml.safe_load_all(response.content)))
    path = tmp_path_factory.mktemp("rules") / "all.yml"
    path.write_bytes(response.content)
    return path, count


@pytest.mark.slow
@pytest.mark.xdist_group("sigma_cli")
@pytest.mark.parametrize(("backend", "pipeline"), TARGETS)
def test_sigma_convert_compiles_every_served_rule(
    all_rules: tuple[Path, int], backend: str, pipeline: str
) -> None:
    path, count = all_rules
    assert count > 1900  # every fixture IOC of a type with rules
    result = subprocess.run(
        [SIGMA_CLI, "convert", "-t", backend, "-p", pipeline, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    queries = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(queries) == count
