"""pySigma's validators in the vendor-feed profile, offline by default."""

from __future__ import annotations

import socket

import pytest

from conformance.results import Status
from conformance.rules.documents import parse_body
from conformance.rules.run import RuleCheckOptions, check_rulesets
from conformance.rules.validators import NEEDS_ATTACK_DATA, NEEDS_OTHER_DATA, offline_validators
from tests.conformance.rule_samples import GOOD_VALUES, body, sample_rule


def _validate(raw: bytes, **options: object):  # type: ignore[no-untyped-def]
    opts = RuleCheckOptions(include=("pysigma_validators_pass",), workers=1, **options)  # type: ignore[arg-type]
    (result,), _ = check_rulesets([parse_body(raw, source="x")], opts)
    return result


def test_default_profile_excludes_data_hungry_validators() -> None:
    names = set(offline_validators())
    assert not names & (NEEDS_ATTACK_DATA | NEEDS_OTHER_DATA)
    assert "escaped_wildcard" not in names
    assert "dangling_detection" in names
    assert "sigmahq_fields_existence" in names
    assert "attacktag" in offline_validators(attack_data="/some/enterprise-attack.json")


def test_default_path_makes_no_network_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    tags = ["attack.command-and-control", "attack.t1071.001", "d3fend.d3-na"]
    raw = body(*(sample_rule(t, tags=tags) for t in GOOD_VALUES))
    result = _validate(raw)
    assert result.status(strict=True) is not Status.FAILED
    assert not any("crashed" in f.message for f in result.findings)


def test_vendor_format_gives_warnings_only() -> None:
    result = _validate(body(sample_rule("ipv4"), sample_rule("url")))
    assert result.status(strict=True) is Status.WARNING
    assert {f.received for f in result.findings} == {"sigmahq_fields_existence"}


def test_high_severity_issue_fails_under_strict_and_warns_otherwise() -> None:
    # "them" with a single detection, and an all-of-them condition: pySigma flags it high.
    dangling = sample_rule().replace(
        "  condition: selection\n", "  unused:\n    Image: x.exe\n  condition: selection\n"
    )
    result = _validate(body(dangling))
    # SigmaHQ conventions are not the vendor's documentation: fatal only with --strict.
    assert result.status(strict=True) is Status.FAILED
    assert result.status(strict=False) is Status.WARNING
    assert any(f.received == "dangling_detection" for f in result.findings)


def test_no_validators_switch_drops_the_check() -> None:
    opts = RuleCheckOptions(validators=False, workers=1, include=("pysigma_validators_pass",))
    results, _ = check_rulesets([parse_body(body(sample_rule()), source="x")], opts)
    assert results == []
