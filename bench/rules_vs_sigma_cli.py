"""Benchmark: ``soc-conformance rules`` vs ``sigma convert`` once per target, side by side.

Generates a 2,000-rule file from the test builders (distinct values, all nine types), then
alternates, ``--repeat`` times: the checker (all checks, the four default targets, both cores)
and ``sigma convert -t <backend> -p <pipeline>`` for each of the same four targets. Prints the
medians and the ratio (target: at most 1/3). ``sigma convert`` stops at the first rule it
cannot convert, so it runs with ``-s`` (skip unsupported) to convert the whole file like the
checker does; it still reports no per-rule result.

    .venv/bin/python bench/rules_vs_sigma_cli.py [--rules 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance.contract import DEFAULT_TARGETS  # noqa: E402
from tests.conformance.rule_samples import body, many_rules  # noqa: E402

BIN = Path(sys.executable).parent


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: the checker's warnings-free verdict "failures"
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    return elapsed


def main() -> None:
    """Run the comparison and print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rules_file = Path(tmp) / "rules.yml"
        rules_file.write_bytes(body(*many_rules(args.rules)))
        checker = [
            str(BIN / "python"),
            "-c",
            "from conformance.commands.rules import rules_command;rules_command()",
            str(rules_file),
            "--workers",
            str(args.workers),
            "--json",
            str(Path(tmp) / "report.json"),
        ]
        sigma_cli = [
            [
                str(BIN / "sigma"),
                "convert",
                "-s",
                "-t",
                backend,
                "-p",
                pipeline,
                "-o",
                str(Path(tmp) / f"{backend}.out"),
                str(rules_file),
            ]
            for backend, _, pipeline in (t.partition("+") for t in DEFAULT_TARGETS)
        ]
        ours: list[float] = []
        theirs: list[float] = []
        for run in range(args.repeat):
            # Alternate the order so neither side always runs on a warm (or cold) cache.
            if run % 2 == 0:
                ours.append(_timed(checker))
                theirs.append(sum(_timed(c) for c in sigma_cli))
            else:
                theirs.append(sum(_timed(c) for c in sigma_cli))
                ours.append(_timed(checker))
            print(
                f"run {run + 1}: soc-conformance rules {ours[-1]:.2f} s | "
                f"sigma convert x{len(sigma_cli)} {theirs[-1]:.2f} s"
            )
    mine, cli = statistics.median(ours), statistics.median(theirs)
    print(f"\n{args.rules} rules, {len(DEFAULT_TARGETS)} targets ({', '.join(DEFAULT_TARGETS)})")
    print(f"soc-conformance rules (all checks, {args.workers} workers): median {mine:.2f} s")
    print(f"sigma convert, once per target:             median {cli:.2f} s")
    print(f"ratio: {mine / cli:.3f} (target <= 0.333) -> {'OK' if mine <= cli / 3 else 'MISSED'}")


if __name__ == "__main__":
    main()
