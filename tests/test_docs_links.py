"""The README and docs work from a clone: every link resolves inside the repository (none
leaves it for the web), nothing points at the team's notes outside it, and the README's first
section stays two commands long."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THIRD_PARTY = ROOT / "bench" / "data"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _markdown_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:  # not a git checkout (an unpacked sdist): walk the tree
        return [p for p in ROOT.rglob("*.md") if ".venv" not in p.parts]
    return [ROOT / name for name in listed.stdout.split()]


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    anchors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title)
            anchors.add(title.replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_stay_in_the_repository_and_resolve(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "shared/" not in text  # the team's notes are not part of a clone
    for target in LINK.findall(text):
        # Nothing of ours links outside the repository: a clone must be all a user needs. A
        # third party's file kept verbatim (SigmaHQ's licence, bench/data/) keeps its links.
        if THIRD_PARTY not in path.parents:
            assert not re.match(r"[a-z]+://", target), f"{target} links outside the repository"
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve()
        assert resolved.is_relative_to(ROOT), f"{target} leaves the repository"
        assert resolved.exists(), f"{target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{target}: no such heading"


def test_no_mention_of_the_notes_outside_the_repository() -> None:
    for name in ("ARCHITECTURE.md", "README.md", "pyproject.toml", "conformance/contract.py"):
        assert "../shared" not in (ROOT / name).read_text(encoding="utf-8"), name


def test_the_readme_starts_with_exactly_two_set_up_commands() -> None:
    first = (ROOT / "README.md").read_text(encoding="utf-8").split("\n---\n")[0]
    blocks = re.findall(r"```sh\n(.*?)```", first, flags=re.DOTALL)
    commands = [line.split("#")[0].strip() for b in blocks for line in b.splitlines()]
    assert [c for c in commands if c] == ["make serve", "make test"]
