"""The pytest plugin: options, fixtures, one item per check, pytest's own --junitxml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockserver.app import create_app
from mockserver.liveserver import LiveServer
from tests.conformance.fake_servers import serve_wsgi
from tests.conformance.planted import Planted
from tests.keys import PRO_KEY

pytest_plugins = ["pytester"]

PRO = PRO_KEY
USER_TESTS = """
from conformance.pytest_plugin import test_socdefenders_check  # noqa: F401

def test_the_fixture_gives_the_run(socdefenders_conformance):
    assert socdefenders_conformance.mode == "server"
"""


@pytest.fixture
def mock_url() -> Iterator[str]:
    with LiveServer(create_app()) as server:
        yield server.url


def test_without_a_base_url_every_item_is_skipped(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOCDEFENDERS_BASE_URL", raising=False)
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_inprocess("-q")
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) > 20
    assert "passed" not in outcomes
    assert "failed" not in outcomes


def test_each_check_is_an_item_in_pytests_junit_xml(
    pytester: pytest.Pytester, mock_url: str
) -> None:
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_inprocess(
        "-q",
        f"--socdefenders-base-url={mock_url}",
        f"--socdefenders-api-key={PRO}",
        "--socdefenders-check=missing_key_is_401_missing_api_key",
        "--socdefenders-check=unknown_key_is_401_invalid_api_key",
        "--socdefenders-seed=4",
        "--junitxml=junit.xml",
    )
    result.assert_outcomes(passed=3, skipped=result.parseoutcomes()["skipped"])
    junit = (pytester.path / "junit.xml").read_text()
    assert "test_socdefenders_check[missing_key_is_401_missing_api_key]" in junit
    assert "test_socdefenders_check[since_is_strict]" in junit  # present, skipped: not selected
    assert PRO not in junit


def test_a_broken_server_fails_the_item_of_its_check(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_rate_headers(request, response):  # type: ignore[no-untyped-def]
        response.headers.pop("X-RateLimit-Remaining", None)
        return response

    with serve_wsgi(Planted(create_app(), response=no_rate_headers)) as url:
        monkeypatch.setenv("SOCDEFENDERS_BASE_URL", url)  # the environment works as well
        monkeypatch.setenv("SOCDEFENDERS_API_KEY", PRO)
        pytester.makepyfile(USER_TESTS)
        result = pytester.runpytest_inprocess(
            "-q", "--socdefenders-check=rate_limit_headers_are_coherent", "--socdefenders-seed=4"
        )
    result.assert_outcomes(failed=1, passed=1, skipped=result.parseoutcomes()["skipped"])
    result.stdout.fnmatch_lines(["*X-RateLimit-Remaining is missing*", "*reproduce: curl*"])
    assert PRO not in result.stdout.str()


def test_the_plugin_module_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, conformance.pytest_plugin;"
        "heavy = [m for m in ('hypothesis', 'sigma', 'requests', 'conformance.server.run') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_command_and_the_pytest_plugin_offer_the_same_server_options(
    pytester: pytest.Pytester,
) -> None:
    """One option table: each option is on ``soc-conformance server`` and, prefixed, in pytest."""
    from conformance.commands.server import server_command
    from conformance.server.config import OPTIONS

    flags = {opt for param in server_command.params for opt in getattr(param, "opts", [])}
    pytest_help = pytester.runpytest("--help").stdout.str()
    for option in OPTIONS:
        assert option.flag in flags, option.name
        assert "--socdefenders-" + option.flag.removeprefix("--") in pytest_help, option.name
        assert option.variable in pytest_help, option.name
