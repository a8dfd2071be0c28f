"""``make bench``: run every benchmark, print each one's output and then every ratio.

Each script also runs alone (``.venv/bin/python bench/<script>.py --help``). This runner
starts them one after another (never in parallel: they would measure each other), collects
their ``RESULT`` lines, and ends with one table of every figure against its target. The
checker benchmark (``rules_vs_sigma_cli.py``) prints its own format; its ratio line is read.

    .venv/bin/python bench/run_all.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Step:
    """One benchmark run: its script and arguments."""

    name: str
    script: str
    args: tuple[str, ...] = ()


STEPS = (
    Step("mock_throughput", "mock_throughput.py"),
    Step("mock_vs_wiremock", "mock_vs_wiremock.py"),
    Step("mock_memory", "mock_memory.py"),
    Step("generate_speed", "generate_speed.py"),
    Step("checker_2000", "rules_vs_sigma_cli.py", ("--rules", "2000", "--repeat", "3")),
    Step("checker_10000", "rules_vs_sigma_cli.py", ("--rules", "10000", "--repeat", "2")),
    Step("checker_sigmahq", "rules_sigmahq.py"),
    Step("checker_bounded", "rules_bounded.py"),
)
_RESULT = re.compile(r"^RESULT (\S+) (\S+) (\S+) (.*)$")
_CHECKER_RATIO = re.compile(r"^ratio: ([0-9.]+) \(target <= ([0-9.]+)\) -> (\w+)")


def run(step: Step) -> tuple[list[str], float, int]:
    """Run one step, echoing its output; return its summary rows, seconds and exit code."""
    print(f"\n=== {step.name}: {step.script} {' '.join(step.args)}", flush=True)
    started = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(BENCH / step.script), *step.args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    rows = []
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        line = line.strip()
        if found := _RESULT.match(line):
            name, value, unit, rest = found.groups()
            shown = "(reported, no target)" if rest.startswith("no-target") else rest[7:]
            rows.append(f"{name:<34} {value:>10} {unit:<4} {shown}")
        elif found := _CHECKER_RATIO.match(line):
            ratio, target, verdict = found.groups()
            met = "MET" if verdict == "OK" else "MISSED"
            rows.append(f"{step.name + '_vs_sigma_cli':<34} {ratio:>10} x    <= {target} {met}")
    code = process.wait()
    seconds = time.perf_counter() - started
    if code != 0:
        rows.append(f"{step.name:<34} {'FAILED':>10}      exit {code}")
    return rows, seconds, code


def main() -> None:
    """Run the chosen steps and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=[s.name for s in STEPS])
    args = parser.parse_args()
    chosen = [s for s in STEPS if not args.only or s.name in args.only]
    started = time.perf_counter()
    summary: list[str] = []
    timings: list[str] = []
    failed = False
    for step in chosen:
        rows, seconds, code = run(step)
        summary += rows
        timings.append(f"{step.name} {seconds:.0f} s")
        failed |= code != 0
    print(f"\n=== summary ({os.cpu_count()} cores; {', '.join(timings)})")
    print(f"{'figure':<34} {'value':>10} {'unit':<4} target / verdict")
    for row in summary:
        print(row)
    print(f"total {time.perf_counter() - started:.0f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
