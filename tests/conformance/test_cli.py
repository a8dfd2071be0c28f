"""``soc-conformance`` itself: --version, the missing-extra line, no ./.hypothesis left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conformance.cli import hypothesis_storage_directory, main
from mockserver.cli import main as mock_main

# A meta-path finder that makes the named top-level modules impossible to import, as in an
# environment where they were never installed.
_BLOCKER = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _Blocker())
"""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


@pytest.mark.parametrize(("command", "name"), [(main, "soc-conformance"), (mock_main, "soc-mock")])
def test_version(command: click.Command, name: str) -> None:
    result = CliRunner().invoke(command, ["--version"], prog_name=name)
    assert result.exit_code == 0
    assert result.output.startswith(f"{name}, version ")


def _run_without(
    blocked: set[str], args: list[str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_BLOCKER.format(blocked=sorted(blocked)))
    code = "import sys; from conformance.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_clean_env(PYTHONPATH=str(site)),
        timeout=120,
        check=False,
    )


def test_without_the_conformance_extra_one_line_and_exit_2(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("title: x\n")
    done = _run_without({"sigma"}, ["rules", str(rules)], tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "[conformance] extra (pysigma missing)" in lines[0]
    assert "pip install 'socdefenders-mock[conformance]'" in lines[0]


def test_every_missing_module_is_named(tmp_path: Path) -> None:
    done = _run_without({"sigma", "hypothesis"}, ["targets"], tmp_path)
    assert done.returncode == 2
    assert "(pysigma, hypothesis missing)" in done.stderr


def test_help_and_version_work_without_the_extra(tmp_path: Path) -> None:
    done = _run_without({"sigma", "hypothesis", "requests"}, ["--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "targets" in done.stdout


# Draws text with Hypothesis while a module of this checkout is loaded: Hypothesis then caches
# that module's constants in its storage directory (./.hypothesis unless told otherwise).
_PROBE = textwrap.dedent(
    """
    import sys
    from hypothesis import given, settings, strategies as st
    import conformance.target_aliases

    def probe():
        @settings(database=None, max_examples=100)
        @given(st.text(), st.integers())
        def draw(text, number):
            pass
        draw()

    if sys.argv[1] == "cli":
        from conformance.cli import main
        main.command("probe")(probe)
        main(["probe"], standalone_mode=False)
    else:
        probe()
    """
)


def _probe(how: str, cwd: Path, cache: Path) -> None:
    subprocess.run(
        [sys.executable, "-c", _PROBE, how],
        cwd=cwd,
        env=_clean_env(XDG_CACHE_HOME=str(cache)),
        timeout=120,
        check=True,
    )


def test_no_hypothesis_folder_in_the_current_directory(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    # Control: the same draws outside soc-conformance leave ./.hypothesis behind.
    (tmp_path / "bare").mkdir()
    _probe("bare", tmp_path / "bare", cache)
    assert (tmp_path / "bare" / ".hypothesis").is_dir()
    assert not cache.exists()

    (tmp_path / "run").mkdir()
    _probe("cli", tmp_path / "run", cache)
    assert list((tmp_path / "run").iterdir()) == []
    assert (cache / "soc-conformance" / "hypothesis" / "constants").is_dir()


def test_storage_directory_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert hypothesis_storage_directory() == Path("/somewhere/cache/soc-conformance/hypothesis")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert hypothesis_storage_directory() == Path.home() / ".cache/soc-conformance/hypothesis"


@pytest.mark.parametrize(
    ("program", "variable", "words", "expected"),
    [
        ("soc-conformance", "_SOC_CONFORMANCE_COMPLETE", "soc-conformance ta", "plain,targets"),
        ("soc-mock", "_SOC_MOCK_COMPLETE", "soc-mock se", "plain,serve"),
    ],
)
def test_shell_completion_as_the_readme_shows(
    program: str, variable: str, words: str, expected: str
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert f'eval "$({variable}=bash_source {program})"' in readme
    done = subprocess.run(
        [str(Path(sys.executable).with_name(program))],
        env=_clean_env(**{variable: "bash_complete", "COMP_WORDS": words, "COMP_CWORD": "1"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout.splitlines()


def test_the_storage_variable_is_set_for_the_command_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPOTHESIS_STORAGE_DIRECTORY", raising=False)
    seen = []

    @main.command("probe-env")
    def probe_env() -> None:
        seen.append(os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"))

    try:
        assert CliRunner().invoke(main, ["probe-env"]).exit_code == 0
    finally:
        main.commands.pop("probe-env")
    assert seen == [str(hypothesis_storage_directory())]
    assert "HYPOTHESIS_STORAGE_DIRECTORY" not in os.environ
    monkeypatch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", "/mine")
    main.command("probe-env")(probe_env.callback)
    try:
        assert CliRunner().invoke(main, ["probe-env"]).exit_code == 0
    finally:
        main.commands.pop("probe-env")
    assert seen[-1] == "/mine"
    assert os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] == "/mine"
