"""Benchmark: the mock's peak memory and start-up time with a 100,000-IOC fixture file.

``soc-mock serve --fixtures <100,000 IOCs>`` is started (targets: peak RSS under 500 MiB,
start-up under 5 s), timed from launch until its first successful Sigma request, then made
to answer a 10,000-rule Sigma request and a 10,000-record JSON page (the heaviest answers, so
their memory counts), then stopped. Its peak RSS is the process's own ``wait4`` figure. The
committed 2,000-IOC fixture is measured alternately in the same run, for scale.

    .venv/bin/python bench/mock_memory.py [--rounds 3] [--count 100000]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.common import (
    BIN,
    PRO_KEY,
    UNLIMITED,
    Measured,
    Result,
    alternate,
    describe,
    measure_server,
    median,
    report,
    write_fixture,
)

AUTH = {"Authorization": f"Bearer {PRO_KEY}"}


def _url(output: str) -> str | None:
    found = re.search(r"on (http://127\.0\.0\.1:\d+)", output)
    return found.group(1) if found else None


def _probe(output: str) -> bool:
    """True once the server answered a Sigma request."""
    url = _url(output)
    if url is None:
        return False
    try:
        answer = requests.get(f"{url}/api/v1/iocs/sigma?limit=1", headers=AUTH, timeout=5)
    except requests.RequestException:
        return False
    return answer.status_code == 200


def _load(output: str) -> None:
    """The heaviest answers: 10,000 rules, then a 10,000-record JSON page."""
    url = _url(output)
    for path in ("/api/v1/iocs/sigma?limit=10000", "/api/v1/iocs?limit=10000"):
        answer = requests.get(f"{url}{path}", headers=AUTH, timeout=120)
        answer.raise_for_status()


def measure(fixture: Path | None, workdir: Path) -> Measured:
    """Start, probe, load and stop one ``soc-mock serve``."""
    command = [sys.executable, "-u", str(BIN / "soc-mock"), "serve", "--port", "0"]
    # One worker: the peak RSS read is one process's. On a machine with more than two CPUs the
    # default forks more, each sharing the parent's fixture pages until it writes them.
    command += ["--workers", "1", "--no-access-log", "--rate-limit", UNLIMITED]
    if fixture is not None:
        command += ["--fixtures", str(fixture)]
    return measure_server(command, _probe, _load, workdir)


def main() -> None:
    """Measure both fixtures alternately and print the figures against the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        fixture = workdir / f"iocs-{args.count}.json"
        started = time.perf_counter()
        write_fixture(fixture, args.count)
        size = fixture.stat().st_size / 2**20
        print(f"fixture: {args.count} IOCs, {size:.1f} MiB, generated in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        big: list[Measured] = []
        small: list[Measured] = []

        def run_big() -> float:
            big.append(measure(fixture, workdir))
            return big[-1].startup_seconds

        def run_small() -> float:
            small.append(measure(None, workdir))
            return small[-1].startup_seconds

        alternate(run_big, run_small, args.rounds)
    print(f"soc-mock serve with {args.count} IOCs:", flush=True)
    describe("start-up to first good answer", [m.startup_seconds for m in big])
    describe("peak RSS", [m.max_rss_mib for m in big], "MiB")
    print("soc-mock serve with the committed 2,000 IOCs:", flush=True)
    describe("start-up to first good answer", [m.startup_seconds for m in small])
    describe("peak RSS", [m.max_rss_mib for m in small], "MiB")
    report(Result("mock_100k_peak_rss", max(m.max_rss_mib for m in big), "MiB", "<", 500))
    report(Result("mock_100k_startup", median([m.startup_seconds for m in big]), "s", "<", 5))


if __name__ == "__main__":
    main()
