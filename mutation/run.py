"""``make mutation``: mutmut over the pure core, one module at a time against its own tests.

Each module listed under ``[tool.socdefenders.mutation.modules]`` in ``pyproject.toml`` gets
a private copy of the checkout in ``build/mutation/<module>/`` whose ``[tool.mutmut]`` mutates
that module only and selects its own test files, and mutmut runs there with one child (the
machine is shared). Survivors listed in ``mutation/equivalents.toml`` with a reason count as
killed, but only while the mutant is still the same change (name *and* mutated line): when the
code moves, the entry goes stale and the survivor shows as new.

    .venv/bin/python mutation/run.py [MODULE ...] [--again] [--goal 90]

``--again`` keeps each module's work directory, copies the current sources and tests over it
and re-runs only the mutants that were not killed last time (quick, while closing gaps).
Exit status: 0 when every module scores at least ``--goal`` percent, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
EQUIVALENTS = ROOT / "mutation" / "equivalents.toml"
MUTMUT = Path(sys.executable).with_name("mutmut")
#: What a work directory needs: the packages, the tests and the fixtures some tests load.
COPIED = ("mockserver", "conformance", "tests", "fixtures")
IGNORED = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc")
KILLED = frozenset({"killed", "timeout", "caught by type check", "segfault"})
_RESULT = re.compile(r"^\s+(?P<name>\S+): (?P<status>.+)$")


@dataclass
class Score:
    """One module's outcome."""

    module: str
    statuses: dict[str, str]
    equivalent: set[str] = field(default_factory=set)
    #: Survivors that are not listed (or whose listing went stale): name → mutated lines.
    new: dict[str, str] = field(default_factory=dict)

    @property
    def killed(self) -> int:
        return sum(status in KILLED for status in self.statuses.values())

    @property
    def counted(self) -> int:
        return sum(status != "skipped" for status in self.statuses.values())

    @property
    def percent(self) -> float:
        good = self.killed + len(self.equivalent)
        return 100.0 * good / self.counted if self.counted else 100.0

    def row(self) -> str:
        not_killed = self.counted - self.killed - len(self.equivalent)
        return (
            f"| `{self.module}` | {self.counted} | {self.killed} | {len(self.equivalent)} "
            f"| {not_killed} | {self.percent:.1f}% |"
        )


def load_modules() -> dict[str, list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    modules: dict[str, list[str]] = config["tool"]["socdefenders"]["mutation"]["modules"]
    return modules


def load_equivalents() -> dict[str, dict[str, str]]:
    """Listed equivalent mutants: name → {"change": mutated line(s), "reason": why}."""
    if not EQUIVALENTS.is_file():
        return {}
    entries: list[dict[str, str]] = tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8")).get(
        "equivalent", []
    )
    listed = {}
    for entry in entries:
        if not entry.get("reason", "").strip():
            sys.exit(f"mutation/equivalents.toml: {entry.get('mutant')} has no reason")
        listed[entry["mutant"]] = entry
    return listed


def slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def prepare(module: str, tests: list[str], work: Path, *, again: bool) -> None:
    """Copy the checkout into ``work`` with a ``[tool.mutmut]`` for this module alone."""
    if not again and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        # copy2 keeps mtimes: mutmut re-mutates only the sources that changed since.
        # (mutmut's also_copy then refreshes tests/ and fixtures/ inside mutants/.)
        shutil.copytree(ROOT / name, work / name, ignore=IGNORED, dirs_exist_ok=True)
    undecorate_checks(work / module)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    # Replace the whole [tool.mutmut] table (up to the next table header).
    base = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[)", "", text)
    table = tomllib.loads(text)["tool"]["mutmut"]
    table.update(only_mutate=[module], pytest_add_cli_args_test_selection=tests)
    lines = ["[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    (work / "pyproject.toml").write_text(base + "\n" + "\n".join(lines) + "\n", encoding="utf-8")


_REGISTERED = re.compile(r"^@check\((?P<scope>[^)]*)\)\n(?P<def>def (?P<name>\w+)\()", re.M)


def undecorate_checks(path: Path) -> None:
    """Register the copy's ``@check`` functions after the fact: mutmut skips decorated ones."""
    text = path.read_text(encoding="utf-8")
    checks = [(m["scope"], m["name"]) for m in _REGISTERED.finditer(text)]
    if checks:
        lines = [f"check({scope})({name})" for scope, name in checks]
        text = _REGISTERED.sub(r"\g<def>", text) + "\n\n" + "\n".join(lines) + "\n"
        path.write_text(text, encoding="utf-8")


def mutmut(work: Path, *args: str, log: Path | None = None) -> str:
    env = {**os.environ, "HYPOTHESIS_PROFILE": "ci"}  # derandomized: the same run twice
    if log is None:
        done = subprocess.run(  # noqa: S603 - our own venv's mutmut
            [str(MUTMUT), *args], cwd=work, env=env, capture_output=True, text=True, check=False
        )
        return done.stdout
    with log.open("a", encoding="utf-8") as out:
        subprocess.run(  # noqa: S603
            [str(MUTMUT), *args], cwd=work, env=env, stdout=out, stderr=out, check=False
        )
    return ""


def statuses(work: Path) -> dict[str, str]:
    found = {}
    for line in mutmut(work, "results", "--all", "true").splitlines():
        match = _RESULT.match(line)
        if match:
            found[match["name"]] = match["status"].strip()
    return found


# One process for every survivor's diff (a `mutmut show` each would start mutmut each time).
_DIFFS = """
import json, sys
from pathlib import Path
from mutmut.mutation.diff_apply import get_diff_for_mutant
module, names = sys.argv[1], json.loads(sys.stdin.read())
print(json.dumps({name: get_diff_for_mutant(name, path=Path(module)) for name in names}))
"""


def changes_of(work: Path, module: str, names: list[str]) -> dict[str, str]:
    """The mutated line(s) of each mutant, from its diff, stripped and joined."""
    if not names:
        return {}
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _DIFFS, module],
        cwd=work,
        input=json.dumps(names),
        capture_output=True,
        text=True,
        check=True,
    )
    diffs: dict[str, str] = json.loads(done.stdout)
    return {
        name: " / ".join(
            line[1:].strip()
            for line in diff.splitlines()
            if line.startswith("+") and not line.startswith("+++")
        )
        for name, diff in diffs.items()
    }


def run_module(module: str, tests: list[str], listed: dict[str, Any], *, again: bool) -> Score:
    work = WORK / slug(module)
    before = statuses(work) if again and (work / "mutants").exists() else {}
    prepare(module, tests, work, again=again)
    log = WORK / f"{slug(module)}.log"
    log.unlink(missing_ok=True)
    retry = [name for name, status in before.items() if status not in KILLED]
    if not (again and before and not retry):  # (nothing left to kill: nothing to run)
        mutmut(work, "run", "--max-children", "1", *retry, log=log)
    score = Score(module, statuses(work))
    if not score.statuses:
        sys.exit(f"{module}: mutmut produced no results; see {log}")
    left = [n for n, status in score.statuses.items() if status not in KILLED | {"skipped"}]
    changes = changes_of(work, module, left)
    for name in left:
        status, change = score.statuses[name], changes[name]
        entry = listed.get(name)
        if status == "survived" and entry and entry.get("change", "").strip() == change:
            score.equivalent.add(name)
        else:
            score.new[name] = f"{status}: {change}"
    return score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="paths as in pyproject.toml (default: all)")
    parser.add_argument("--again", action="store_true", help="re-run last run's survivors only")
    parser.add_argument("--goal", type=float, default=90.0, help="minimum score, percent")
    args = parser.parse_args(argv)
    modules = load_modules()
    unknown = [m for m in args.modules if m not in modules]
    if unknown:
        print(f"not in [tool.socdefenders.mutation.modules]: {', '.join(unknown)}")
        return 2
    listed = load_equivalents()
    scores = []
    for module in args.modules or list(modules):
        print(f"mutating {module} against {' '.join(modules[module])} ...", flush=True)
        score = run_module(module, modules[module], listed, again=args.again)
        scores.append(score)
        print(score.row(), flush=True)
        for name, change in sorted(score.new.items()):
            print(f"    new {name}  {change}")
    names = {name for score in scores for name in score.statuses}
    stale = [
        name
        for name in listed
        if any(name.startswith(slug(s.module) + ".") for s in scores)
        and not any(name in s.equivalent for s in scores)
    ]
    table = [
        "| module | mutants | killed | listed equivalent | not killed | score |",
        "|---|---:|---:|---:|---:|---:|",
        *(score.row() for score in scores),
    ]
    print("\n" + "\n".join(table))
    for name in stale:
        state = "gone" if name not in names else "no longer the listed survivor"
        print(f"stale entry in mutation/equivalents.toml: {name} ({state})")
    (WORK / "report.md").write_text("\n".join(table) + "\n", encoding="utf-8")
    return 0 if all(score.percent >= args.goal for score in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
