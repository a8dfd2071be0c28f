"""Benchmark: ``soc-conformance rules --profile sigma`` on SigmaHQ's 3,141 general rules
against ``sigma check`` plus ``sigma convert`` once per target, side by side.

The rules are SigmaHQ's own (``bench/data/sigmahq/rules.tar.xz``, DRL 1.1, see the README
there), unpacked into a temporary directory: the benchmark runs offline. Each round runs
both sides, the order swapped every round:

- ours: ``soc-conformance rules --profile sigma --targets <the four defaults> --workers 2
  --json report.json`` on every ``*.yml`` file of the tree;
- theirs: ``sigma check`` on the tree, without the validators our run leaves out (those
  needing downloaded data, file-name ones, collection-wide ones: the same set both sides
  run), then ``sigma convert -s -t <backend> -p <pipeline>`` on the tree for each of the same
  four targets. ``sigma convert`` stops at the first rule a backend rejects with an error
  that ``-s`` does not skip (Kusto and QRadar do on SigmaHQ's rules): its time then counts
  only up to there, which flatters sigma-cli; the script says so when it happens.

Target: ours at most 0.5x theirs (medians). ``--profile sigma`` comes with issue 9's profile
work: on a branch without it, the script says so and runs the default profile with the
vendor-format checks excluded instead (the closest equivalent: the same generic checks).

    .venv/bin/python bench/rules_sigmahq.py [--rounds 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import BIN, Result, alternate, describe, median, report  # noqa: E402
from conformance.contract import DEFAULT_TARGETS  # noqa: E402
from conformance.rules.validators import (  # noqa: E402
    NEEDS_ATTACK_DATA,
    NEEDS_OTHER_DATA,
    NOT_FOR_FEEDS,
)

ARCHIVE = ROOT / "bench" / "data" / "sigmahq" / "rules.tar.xz"
#: The vendor-format checks ``--profile sigma`` leaves out (the fallback excludes them).
VENDOR_CHECKS = (
    "detection_value_is_literal_ioc",
    "logsource_matches_type",
    "one_rule_per_ioc",
    "documented_fields_present",
)


def _rules_command() -> list[str]:
    return [str(BIN / "soc-conformance"), "rules"]


def profile_args() -> list[str]:
    """``--profile sigma`` when this branch has it; otherwise the fallback, announced."""
    shown = subprocess.run([*_rules_command(), "--help"], capture_output=True, text=True)
    if "--profile" in shown.stdout:
        print("checker: --profile sigma", flush=True)
        return ["--profile", "sigma"]
    print(
        "FALLBACK: this branch's `soc-conformance rules` has no --profile; running the default"
        f" profile with the vendor-format checks excluded ({', '.join(VENDOR_CHECKS)})",
        flush=True,
    )
    return ["--exclude", ",".join(VENDOR_CHECKS)]


def _timed(command: list[str], label: str) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"{label} exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}")
    # The checker's verdict is its last line on stdout; sigma convert's abort message is the
    # last line of its stderr (after its progress).
    stream = done.stderr if label == "sigma convert" and done.returncode else done.stdout
    return seconds, done.returncode, (stream.strip().splitlines() or ["(no output)"])[-1]


def main() -> None:
    """Unpack the rules, run both sides in alternation, print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with tarfile.open(ARCHIVE) as archive:
            archive.extractall(tmp, filter="data")
        tree = tmp / "rules"
        files = sorted(str(p) for p in tree.rglob("*.yml"))
        print(f"{len(files)} SigmaHQ rules, targets: {', '.join(DEFAULT_TARGETS)}", flush=True)
        ours_command = [
            *_rules_command(),
            *files,
            *profile_args(),
            "--targets",
            ",".join(DEFAULT_TARGETS),
            "--workers",
            str(args.workers),
            "--json",
            str(tmp / "report.json"),
        ]
        excluded = sorted(NEEDS_ATTACK_DATA | NEEDS_OTHER_DATA | NOT_FOR_FEEDS)
        check = [str(BIN / "sigma"), "check", *(f"--exclude={n}" for n in excluded), str(tree)]
        converts = [
            [
                str(BIN / "sigma"),
                "convert",
                "-s",
                "-t",
                backend,
                "-p",
                pipeline,
                "-o",
                out,
                str(tree),
            ]
            for backend, _, pipeline in (t.partition("+") for t in DEFAULT_TARGETS)
            for out in [str(tmp / f"{backend}.out")]
        ]

        def ours() -> float:
            seconds, code, verdict = _timed(ours_command, "soc-conformance rules")
            print(f"  soc-conformance rules: {seconds:.1f} s (exit {code}; {verdict})", flush=True)
            return seconds

        def theirs() -> float:
            seconds, _, _ = _timed(check, "sigma check")
            parts = [f"check {seconds:.1f} s"]
            for command in converts:
                spent, code, last = _timed(command, "sigma convert")
                seconds += spent
                aborted = f" ABORTED: {last[:200]}" if code else ""
                parts.append(f"convert -t {command[4]} {spent:.1f} s{aborted}")
            print(f"  sigma-cli: {seconds:.1f} s ({'; '.join(parts)})", flush=True)
            return seconds

        mine, cli = alternate(ours, theirs, args.rounds)
    describe("soc-conformance rules", mine)
    describe("sigma check + sigma convert x4", cli)
    report(Result("checker_sigmahq_3141_vs_sigma_cli", median(mine) / median(cli), "x", "<=", 0.5))


if __name__ == "__main__":
    main()
