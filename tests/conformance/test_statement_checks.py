"""The statements issue 8 §3 made failures by default, each judged over a loopback socket
against the real mock (which passes them with ``--strict``) and against a planted defect."""

from __future__ import annotations

import pytest
from werkzeug.wrappers import Request, Response

from conformance.results import Status
from conformance.server.config import ServerConfig
from tests.conformance.catalogue import _drop_rate_headers
from tests.conformance.planted import check_server as run
from tests.conformance.planted import each_error, respond, served
from tests.conformance.rule_samples import GOOD_VALUES, body, failed_checks, sample_rule
from tests.keys import PRO_KEY

NEW_SERVER_CHECKS = (
    "rate_limit_headers_on_every_response",
    "over_the_limit_is_429_rate_limit_exceeded",
    "since_with_an_offset_is_the_same_instant",
    "since_is_strict",
    "industry_filter_narrows_the_feed",
)


def test_the_mock_passes_every_new_check_with_strict() -> None:
    with served(lambda app: app) as url:
        result = run(url, include=NEW_SERVER_CHECKS, strict=True)
    assert result.harness_error is None
    statuses = {c.name: c.status(strict=True) for c in result.checks if c.scope == "server"}
    assert statuses == dict.fromkeys(NEW_SERVER_CHECKS, Status.PASSED), [
        (c.name, c.skip_reason, c.findings[:1]) for c in result.checks
    ]


def test_a_401_without_the_headers_is_a_warning_and_a_failure_with_strict() -> None:
    plant = respond(each_error(_drop_rate_headers, (401,)))
    name = "rate_limit_headers_on_every_response"
    with served(plant) as url:
        plain = run(url, include=(name,))
        strict = run(url, include=(name,), strict=True)
    (check,) = [c for c in plain.checks if c.name == name]
    assert check.status(strict=False) is Status.WARNING
    assert plain.exit_code() == 0
    assert "HTTP 401 for no key" in check.findings[0].message
    (check,) = [c for c in strict.checks if c.name == name]
    assert check.status(strict=True) is Status.FAILED


def test_the_429_probe_is_skipped_with_its_reason_without_a_free_key() -> None:
    from conformance.server.run import run_server

    name = "over_the_limit_is_429_rate_limit_exceeded"
    with served(lambda app: app) as url:
        config = ServerConfig(base_url=url, api_key=PRO_KEY, include=(name,), seed=1)
        result = run_server(config)
    (check,) = [c for c in result.checks if c.name == name]
    assert check.status(strict=False) is Status.SKIPPED
    assert "--free-key" in (check.skip_reason or "")
    assert "--probe-rate-limit" in (check.skip_reason or "")


def test_the_429_probe_with_the_pro_key_is_bounded_by_the_budget() -> None:
    from conformance.server.run import run_server

    name = "over_the_limit_is_429_rate_limit_exceeded"
    with served(lambda app: app) as url:
        config = ServerConfig(
            base_url=url,
            api_key=PRO_KEY,
            include=(name,),
            seed=1,
            probe_rate_limit=True,
            max_requests=50,
        )
        result = run_server(config)
    (check,) = [c for c in result.checks if c.name == name]
    assert check.status(strict=False) is Status.SKIPPED
    assert "requests" in (check.skip_reason or "")
    assert result.requests_made <= 3  # the preflight and one look at Remaining


def _offset_refused(request: Request, response: Response) -> Response:
    since = request.args.get("since", "")
    if since.endswith(("+14:00", "-12:00")):
        return Response(
            b'{"error": {"code": "invalid_parameter", "message": "offsets", "request_id": "r"}}',
            status=400,
            content_type="application/json",
        )
    return response


def test_an_offset_refused_with_400_is_allowed() -> None:
    name = "since_with_an_offset_is_the_same_instant"
    with served(respond(_offset_refused)) as url:
        result = run(url, include=(name,), strict=True)
    (check,) = [c for c in result.checks if c.name == name]
    assert check.status(strict=True) is Status.PASSED


@pytest.mark.parametrize(("ioc_type", "label"), [("sha1", "SHA256"), ("sha256", "MD5")])
def test_a_hash_under_another_algorithms_label_fails_only_that_check(
    ioc_type: str, label: str
) -> None:
    rule = sample_rule(ioc_type).replace(f"{ioc_type.upper()}=", f"{label}=")
    assert failed_checks(body(rule)) == {"hash_label_matches_the_value"}


@pytest.mark.parametrize("ioc_type", ["md5", "sha1", "sha256"])
def test_hashes_under_their_own_label_pass(ioc_type: str) -> None:
    assert failed_checks(body(sample_rule(ioc_type))) == set()
    assert GOOD_VALUES[ioc_type]


def test_probe_rate_limit_comes_from_the_environment() -> None:
    env = {"SOCDEFENDERS_PROBE_RATE_LIMIT": "1"}
    options = {"base_url": "http://127.0.0.1:9", "api_key": "sk_live_x"}
    assert ServerConfig.from_sources(options, env).probe_rate_limit
    assert not ServerConfig.from_sources(options, {}).probe_rate_limit


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("DestinationIp: '", "DestinationIp|base64: '"),
        ("DestinationIp: '", "DestinationIp|utf16le|base64offset|contains: '"),
        ("  condition: selection\n", "  condition: not selection\n"),
    ],
)
def test_a_rule_that_cannot_match_its_ioc_fails_only_that_check(old: str, new: str) -> None:
    rule = sample_rule("ipv4")
    assert old in rule
    assert failed_checks(body(rule.replace(old, new))) == {"detection_can_match_its_ioc"}


def test_contains_startswith_and_endswith_still_match() -> None:
    for modifier in ("contains", "startswith", "endswith"):
        rule = sample_rule("ipv4").replace("DestinationIp: '", f"DestinationIp|{modifier}: '")
        assert "detection_can_match_its_ioc" not in failed_checks(body(rule)), modifier


def test_probe_rate_limit_trips_the_pro_key_within_what_remaining_says() -> None:
    from conformance.server.run import run_server
    from mockserver.app import create_app
    from mockserver.config import MockConfig
    from mockserver.liveserver import LiveServer
    from tests.conformance.planted import feed

    name = "over_the_limit_is_429_rate_limit_exceeded"
    config = MockConfig.from_sources({"rate_limit": ["pro=15/2second;1000/day"]})
    with LiveServer(create_app(config, dataset=feed())) as server:
        result = run_server(
            ServerConfig(
                base_url=server.url,
                api_key=PRO_KEY,
                include=(name,),
                seed=1,
                probe_rate_limit=True,
                max_requests=100,
            )
        )
    (check,) = [c for c in result.checks if c.name == name]
    assert check.status(strict=True) is Status.PASSED, (check.skip_reason, check.findings)
    # 15 requests spend the window, the 429, one more after the reset (and the run's preflight).
    assert 17 <= result.requests_made <= 19


@pytest.mark.parametrize(
    ("record", "sectors"),
    [
        ({"industries": ["energy"]}, {"energy"}),
        ({"industries": []}, set()),  # named, and empty: in no sector
        ({"context": {"sector": "finance"}}, {"financial-services"}),  # the alias, nested
        ({"verticals": ["water", "dams"]}, {"water", "dams"}),  # any name: a list of slugs
        ({"tags": ["botnet"], "context": {"note": "energy"}}, None),  # neither says sectors
    ],
)
def test_sector_data_is_found_under_any_field(record: dict[str, object], sectors: object) -> None:
    from conformance.checks.filters import _sectors_in

    assert _sectors_in(record) == sectors


def test_the_server_command_offers_probe_rate_limit() -> None:
    from click.testing import CliRunner

    from conformance.cli import main

    output = CliRunner().invoke(main, ["server", "--help"]).output
    assert "--probe-rate-limit" in output
