"""docs/siem-compile.md: every command it shows runs, verbatim, on rules the mock serves."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from mockserver.liveserver import LiveServer
from tests.keys import PRO_KEY

DOC = Path(__file__).resolve().parents[2] / "docs" / "siem-compile.md"
BIN = Path(sys.executable).parent


def _commands(program: str) -> list[list[str]]:
    """The doc's ``.venv/bin/<program> ...`` lines, in its ``sh`` blocks, as argument lists."""
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    lines = [line for block in blocks for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith(f".venv/bin/{program} ")]


def _run(argv: list[str], rules: Path) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / Path(argv[0]).name)] + [
        str(rules) if a == "rules.yml" else a for a in argv[1:]
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def rules(mock_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    response = requests.get(
        mock_server.url + "/api/v1/iocs/sigma",
        params={"limit": "300"},
        headers={"Authorization": f"Bearer {PRO_KEY}"},
        timeout=30,
    )
    assert response.status_code == 200
    types = {doc["title"] for doc in yaml.safe_load_all(response.content)}
    assert len(types) >= 7  # domain, email and cve rules among them: the -s cases
    path = tmp_path_factory.mktemp("siem") / "rules.yml"
    path.write_bytes(response.content)
    return path


def test_the_doc_shows_one_command_per_vendor_siem() -> None:
    targets = [argv[argv.index("-t") + 1] for argv in _commands("sigma")]
    assert targets == ["splunk", "lucene", "kusto", "qradar-aql-community"]


@pytest.mark.slow
@pytest.mark.xdist_group("sigma_cli")
@pytest.mark.parametrize("argv", _commands("sigma"), ids=lambda a: a[a.index("-t") + 1])
def test_each_sigma_convert_command_runs(argv: list[str], rules: Path) -> None:
    done = _run(argv, rules)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip()
    if "-s" in argv:
        # The doc says -s is needed there: without it the first unsupported rule stops it.
        assert _run([a for a in argv if a != "-s"], rules).returncode != 0


@pytest.mark.slow
@pytest.mark.xdist_group("sigma_cli")
def test_the_soc_conformance_commands_run_as_described(rules: Path) -> None:
    with_aliases, sentinel_required = _commands("soc-conformance")
    done = _run([*with_aliases, "--workers", "1"], rules)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    for label in (
        "splunk=splunk+sysmon (required)",
        "elastic=lucene+ecs_windows (required)",
        "sentinel=kusto+sentinel_asim",
        "qradar=qradar-aql-community+qradar-aql-fields",
    ):
        assert label in done.stdout
    done = _run([*sentinel_required, "--workers", "1"], rules)
    assert done.returncode == 1
    assert "sentinel=kusto+sentinel_asim (required)" in done.stdout
