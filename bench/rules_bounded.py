"""Benchmark: the rules checker's bounded costs (issue 9): peak memory, and one 10 MB rule.

(a) Peak memory of ``soc-conformance rules`` (every check, the four default targets, two
    workers, JSON report) on 20,000 rules (half the test builders' vendor rules, half
    SigmaHQ's general rules cycled with fresh ids), against the same run on 2,000 rules side by side
    (memory must not grow with the number of rules). The figure is the peak, over the run, of
    the **whole process tree's** proportional set size (PSS: a page shared by the parent and
    its forked workers counts once), sampled from ``/proc/<pid>/smaps_rollup`` every 0.1 s;
    the tree's summed RSS (shared pages counted in every process: pessimistic) is printed
    too. Target: under 1 GiB.
(b) One hostile rule of 10 MB (285,000 values, made on the fly) plus one ordinary rule: the
    run must end within the rule's budget (``--rule-timeout``, default 30 s) plus the time to
    read and check a 10 MB file, the rule reported as too expensive to judge, the ordinary
    rule compiled. Target: the run's wall time under the budget + 30 s.

    .venv/bin/python bench/rules_bounded.py [--rules 20000] [--small 2000] [--rounds 1]
        [--big-values 285000] [--only memory|big]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import BIN, Result, alternate, describe, median, report  # noqa: E402
from conformance.rules.toolchain import DEFAULT_RULE_TIMEOUT  # noqa: E402
from tests.conformance.big_rules import BIG_RULE_VALUES, big_rule  # noqa: E402
from tests.conformance.rule_samples import body, many_rules, sample_rule  # noqa: E402

MIB = 1024 * 1024
ARCHIVE = ROOT / "bench" / "data" / "sigmahq" / "rules.tar.xz"
_ID_LINE = re.compile(r"^id: .*$", re.MULTILINE)


def _tree(root: int) -> list[int]:
    """``root`` and every live descendant (children read from /proc, recursively)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    todo += [int(c) for c in handle.read().split()]
        except OSError:
            continue
    return pids


def _memory(pids: list[int]) -> tuple[int, int]:
    """Summed PSS and RSS (bytes) of ``pids`` (gone processes count 0)."""
    pss = rss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return pss, rss


#: The last :func:`run_checker`'s peak PSS (MiB) of the main process alone and of its workers
#: alone (each peak on its own: they need not fall at the same moment).
LAST_SPLIT: dict[str, float] = {}


def run_checker(args: list[str]) -> tuple[float, float, float, str]:
    """Run the checker with ``args``; return seconds, peak tree PSS and RSS (MiB), output.
    The main process's and the workers' own peaks are left in :data:`LAST_SPLIT`."""
    command = [
        str(BIN / "python"),
        "-c",
        "from conformance.commands.rules import rules_command;rules_command()",
        *args,
    ]
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        peak_pss = peak_rss = peak_main = peak_workers = 0
        while process.poll() is None:
            tree = _tree(process.pid)
            pss, rss = _memory(tree)
            main = _memory(tree[:1])[0]
            peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
            peak_main, peak_workers = max(peak_main, main), max(peak_workers, pss - main)
            time.sleep(0.1)
        LAST_SPLIT.update(main=peak_main / MIB, workers=peak_workers / MIB)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    if process.returncode not in (0, 1):
        sys.exit(f"the checker exited {process.returncode}:\n{output[-3000:]}")
    return seconds, peak_pss / MIB, peak_rss / MIB, output


def sigmahq_rules() -> list[str]:
    """SigmaHQ's rules (``bench/data/sigmahq``), one text each, sorted by path."""
    texts = {}
    # In archive order: a compressed tar seeks backwards by decompressing from the start.
    with tarfile.open(ARCHIVE) as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".yml"):
                handle = archive.extractfile(member)
                assert handle is not None
                texts[member.name] = handle.read().decode("utf-8").strip() + "\n"
    return [texts[name] for name in sorted(texts)]


def corpus(count: int) -> list[str]:
    """``count`` rules: half the test builders' vendor rules, half SigmaHQ's general rules
    cycled (each copy with its own id). The general rules are the ones that exercise the
    backends' error paths (issue 9's growing Kusto message came from them)."""
    general = sigmahq_rules()
    texts = list(many_rules(count // 2))
    for number in range(count - len(texts)):
        text = general[number % len(general)]
        fresh = uuid.uuid5(uuid.NAMESPACE_URL, f"bench-copy-{number}")
        texts.append(_ID_LINE.sub(f"id: {fresh}", text, count=1))
    return texts


def memory(rules: int, small: int, rounds: int, tmp: Path) -> None:
    """(a) peak memory at ``rules`` rules, alternated with ``small`` rules for scale."""
    print(f"(a) peak memory, {rules} rules vs {small} rules, four targets, two workers")
    files = {}
    for count in (rules, small):
        files[count] = tmp / f"rules-{count}.yml"
        files[count].write_bytes(body(*corpus(count)))
    rss: dict[int, list[float]] = {rules: [], small: []}

    def measure(count: int) -> float:
        report_path = tmp / f"report-{count}.json"
        seconds, pss, tree_rss, _ = run_checker(
            [str(files[count]), "--workers", "2", "--json", str(report_path)]
        )
        findings = sum(len(c["findings"]) for c in json.loads(report_path.read_text())["checks"])
        print(
            f"  {count} rules: {seconds:.1f} s, peak tree PSS {pss:.0f} MiB"
            f" (summed RSS {tree_rss:.0f} MiB; peaks: main process {LAST_SPLIT['main']:.0f} MiB,"
            f" workers together {LAST_SPLIT['workers']:.0f} MiB), {findings} findings",
            flush=True,
        )
        rss[count].append(tree_rss)
        return pss

    big, few = alternate(lambda: measure(rules), lambda: measure(small), rounds)
    describe(f"{rules} rules, peak PSS", big, "MiB")
    describe(f"{small} rules, peak PSS", few, "MiB")
    report(Result(f"checker_{rules}_rules_peak_pss", median(big), "MiB", "<", 1024))
    report(Result(f"checker_{rules}_rules_peak_rss_sum", median(rss[rules]), "MiB"))
    report(Result(f"checker_{rules}_vs_{small}_rules_memory", median(big) / median(few), "x"))


def big(values: int, tmp: Path) -> None:
    """(b) one 10 MB rule within its budget."""
    path = tmp / "big.yml"
    path.write_text(big_rule(values) + "---\n" + sample_rule("ipv4"))
    size = path.stat().st_size / 1e6
    print(f"(b) one rule of {size:.1f} MB ({values} values) + one ordinary rule, default budget")
    seconds, pss, _, output = run_checker([str(path), "--workers", "2"])
    stopped = "too expensive to judge" in output
    compiled = "1/1 ok" in output
    print(
        f"  wall {seconds:.1f} s (budget {DEFAULT_RULE_TIMEOUT:g} s), peak tree PSS {pss:.0f} MiB;"
        f" reported as too expensive: {stopped}; the ordinary rule compiled: {compiled}"
    )
    for line in output.splitlines():
        if "too expensive to judge" in line:
            print("  " + line.strip()[:200])
            break
    if not (stopped and compiled):
        print("  UNEXPECTED: see the output above")
    report(Result("checker_10mb_rule_wall", seconds, "s", "<", DEFAULT_RULE_TIMEOUT + 30))


def main() -> None:
    """Run the chosen parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=20_000)
    parser.add_argument("--small", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--big-values", type=int, default=BIG_RULE_VALUES)
    parser.add_argument("--only", choices=("memory", "big"))
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "memory"):
            memory(args.rules, args.small, args.rounds, Path(tmp))
        if args.only in (None, "big"):
            big(args.big_values, Path(tmp))


if __name__ == "__main__":
    main()
