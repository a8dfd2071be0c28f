"""pytest plugin (entry point ``pytest11``): run the server conformance suite inside pytest.

Options: every option of ``soc-conformance server``, prefixed (``--socdefenders-base-url``,
``--socdefenders-api-key``, ``--socdefenders-check``, ...), each with its ``SOCDEFENDERS_*``
environment variable as fallback (``pytest --help`` lists them).

Fixtures: ``socdefenders_server_config`` (a :class:`~conformance.server.ServerConfig`) and
``socdefenders_conformance`` (the :class:`~conformance.results.RunResult` of one run per
session). One pytest item per check, so pytest's own ``--junitxml`` lists every check::

    # test_vendor.py
    from conformance.pytest_plugin import test_socdefenders_check  # noqa: F401

Heavy modules (the checks, Hypothesis, pySigma) are imported inside fixtures and hooks only.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conformance.results import RunResult
    from conformance.server.config import ServerConfig


class SocDefendersWarning(UserWarning):
    """A check ended with warnings only (undocumented expectations, advisory targets)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``--socdefenders-*`` options: server mode's own (one table,
    ``conformance.server.config.OPTIONS``), each spelled as on its command line with the
    ``socdefenders-`` prefix: ``--socdefenders-base-url``, ``--socdefenders-check``..."""
    from conformance.server.config import OPTIONS

    group = parser.getgroup("socdefenders", "SOC Defenders conformance suite")
    for option in OPTIONS:
        flag = "--socdefenders-" + option.flag.removeprefix("--")
        dest = f"socdefenders_{option.name}"
        text = f"{option.help} [{option.variable}]"
        if option.kind is bool:
            group.addoption(flag, dest=dest, action="store_true", default=False, help=text)
        elif option.kind is list:
            group.addoption(flag, dest=dest, action="append", default=[], help=text)
        else:
            group.addoption(flag, dest=dest, type=option.kind, default=None, help=text)


def _options(config: pytest.Config) -> dict[str, Any]:
    from conformance.server.config import OPTIONS

    values = {o.name: config.getoption(f"socdefenders_{o.name}") for o in OPTIONS}
    for option in OPTIONS:
        if option.kind is list:
            values[option.name] = tuple(
                part.strip()
                for given in values[option.name]
                for part in given.split(",")
                if part.strip()
            )
    return values


@pytest.fixture(scope="session")
def socdefenders_server_config(request: pytest.FixtureRequest) -> ServerConfig:
    """The run's configuration; skips when no base URL is given by option or environment."""
    from conformance.findings import UsageError
    from conformance.server.config import ServerConfig

    options = _options(request.config)
    if not options["base_url"] and not os.environ.get("SOCDEFENDERS_BASE_URL"):
        pytest.skip("no server to check: give --socdefenders-base-url or SOCDEFENDERS_BASE_URL")
    try:
        return ServerConfig.from_sources(options, os.environ)
    except UsageError as exc:
        raise pytest.UsageError(f"socdefenders: {exc}") from None


@pytest.fixture(scope="session")
def socdefenders_conformance(socdefenders_server_config: ServerConfig) -> RunResult:
    """One run of the suite for the whole session (every check item reads it)."""
    from conformance.server.run import run_server

    return run_server(socdefenders_server_config)


def pytest_report_header(config: pytest.Config) -> str | None:
    """Show the seed in pytest's header when one is given."""
    seed = config.getoption("socdefenders_seed", default=None)
    return f"socdefenders: --socdefenders-seed {seed}" if seed is not None else None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``socdefenders_check`` with every check's name (imported lazily here)."""
    if "socdefenders_check" not in metafunc.fixturenames:
        return
    from conformance.rules.run import check_names
    from conformance.server.run import load_server_checks

    names = [spec.name for spec in load_server_checks()] + check_names()
    metafunc.parametrize("socdefenders_check", names, ids=names)


def assert_check_passed(result: RunResult, name: str) -> None:
    """Pass, fail (with the findings), skip or warn, as check ``name`` did in ``result``."""
    from conformance.results import Status

    if result.harness_error is not None:
        pytest.fail(f"could not test: {result.harness_error}", pytrace=False)
    found = [c for c in result.checks if c.name == name]
    if not found:
        pytest.skip(f"{name} was not selected in this run")
    check = found[0]
    status = check.status(strict=result.strict)
    from conformance.report import finding_lines

    text = "\n".join(
        line for f in check.findings[:5] for line in finding_lines(f, strict=result.strict)
    )
    if status is Status.SKIPPED:
        pytest.skip(check.skip_reason or "skipped")
    if status is Status.FAILED:
        pytest.fail(f"{name}: {check.description}\n{text}", pytrace=False)
    if status is Status.WARNING:
        warnings.warn(SocDefendersWarning(f"{name}: {text}"), stacklevel=2)


def test_socdefenders_check(socdefenders_conformance: RunResult, socdefenders_check: str) -> None:
    """One conformance check as a pytest item (import this into a test module to use it)."""
    assert_check_passed(socdefenders_conformance, socdefenders_check)
