"""``--attack-data PATH``: the ATT&CK validators judge tags offline, from a local STIX file.

``data/attack-mini.json`` is a hand-written STIX 2.1 bundle holding only what pySigma 1.5.1's
loader reads (``sigma/data/mitre_attack.py``, ``_load_mitre_attack_data``): ``objects[]``
with ``type``; ``external_references[]`` entries whose ``source_name`` is ``mitre-attack``
(their ``external_id`` is the key); ``x_mitre_shortname`` on ``x-mitre-tactic``; ``name`` and
``kill_chain_phases[]`` (``kill_chain_name`` ``mitre-attack``, ``phase_name``) on
``attack-pattern``; ``x_mitre_version`` on ``x-mitre-collection``. Two tactics
(command-and-control, execution) and three techniques (T1071, T1071.001, T1204).

pySigma keeps its ATT&CK data in a diskcache under ``~/.cache/pysigma/mitre_attack``, a path
it computes once at import from ``Path.home()``; ``set_url`` clears whichever cache is
current. The fixture points that default path at a fake user cache holding different data
(only T9999 known), so a run that read or cleared the user's cache fails these tests.
"""

from __future__ import annotations

import atexit
import json
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import diskcache
import pytest
from click.testing import CliRunner

from conformance.commands.rules import rules_command
from conformance.findings import Finding, UsageError
from conformance.rules import toolchain as compile_module
from conformance.rules.documents import parse_body
from conformance.rules.run import RuleCheckOptions, check_rulesets
from tests.conformance.rule_samples import body, distinct_value, sample_rule

ATTACK_MINI = Path(__file__).parent / "data" / "attack-mini.json"
FAST = ["--targets", "splunk+sysmon", "--workers", "1", "--check", "pysigma_validators_pass"]
ATTACK_VALIDATORS = {"attacktag", "sigmahq_tags_techniques_without_tactics"}

#: What the fake user cache holds: another world, where only T9999 exists.
_USER_DATA = {
    "mitre_attack_version": "user-own",
    "mitre_attack_tactics": {"TA0099": "elsewhere"},
    "mitre_attack_techniques": {"T9999": "Only In The User's Cache"},
    "mitre_attack_techniques_tactics_mapping": {"T9999": ["elsewhere"]},
    "mitre_attack_intrusion_sets": {},
    "mitre_attack_software": {},
    "mitre_attack_datasources": {},
    "mitre_attack_mitigations": {},
}

#: Known technique with its tactic; unknown technique; known technique without its tactic.
_TAGGED = (
    ("ipv4", ("attack.command-and-control", "attack.t1071")),
    ("domain", ("attack.command-and-control", "attack.t9999")),
    ("md5", ("attack.t1204",)),
    ("url", ("attack.command-and-control", "attack.t1071.001")),
)


@dataclass
class Sandbox:
    """A home, a user cache, a temporary directory and a log of network attempts."""

    user_cache: Path
    private_root: Path
    network: list[str] = field(default_factory=list)
    exit_handlers: list[Callable[[], object]] = field(default_factory=list)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """pySigma's ATT&CK state as in a fresh process, sockets refused, HOME and /tmp private."""
    from sigma.data import mitre_attack

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    user_cache = home / ".cache" / "pysigma" / "mitre_attack"
    with diskcache.Cache(str(user_cache)) as cache:
        cache.set("mitre_attack_data", _USER_DATA)
    # pySigma computed its default from the real HOME when first imported: aim it at ours.
    monkeypatch.setattr(mitre_attack, "_DEFAULT_CACHE_DIR", user_cache)
    for name in ("_cache", "_custom_url", "_custom_cache_dir"):
        monkeypatch.setattr(mitre_attack, name, None)
    private_root = tmp_path / "tmp"
    private_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_root))
    box = Sandbox(user_cache, private_root)

    def refuse(*args: object, **kwargs: object) -> None:
        box.network.append(repr(args[:2]))
        raise OSError("network access refused by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(
        atexit, "register", lambda f, *a, **k: box.exit_handlers.append(lambda: f(*a, **k))
    )
    # A toolchain cached by an earlier test would skip loading the file in this one.
    compile_module._toolchain.cache_clear()
    yield box
    compile_module._toolchain.cache_clear()
    if mitre_attack._cache is not None:
        mitre_attack._cache.close()
    for handler in box.exit_handlers:
        handler()


def _user_cache_intact(box: Sandbox) -> bool:
    with diskcache.Cache(str(box.user_cache)) as cache:
        return bool(cache.get("mitre_attack_data") == _USER_DATA and len(cache) == 1)


def _validator_findings(raw: bytes, attack_data: str | None, workers: int = 1) -> list[Finding]:
    options = RuleCheckOptions(
        include=("pysigma_validators_pass",),
        targets=("splunk+sysmon",),
        required_targets=("splunk+sysmon",),
        attack_data=attack_data,
        workers=workers,
    )
    (result,), _ = check_rulesets([parse_body(raw, source="attack.yml")], options)
    return result.findings


def _by_document(findings: list[Finding]) -> dict[int, set[str]]:
    """The ATT&CK validators' findings per document index."""
    out: dict[int, set[str]] = {}
    for f in findings:
        assert "crashed" not in f.message, f.message
        if f.received in ATTACK_VALIDATORS:
            index = f.reproduction.document_index
            assert index is not None
            out.setdefault(index, set()).add(f.received)
    return out


def test_attack_validators_judge_tags_from_the_local_file(sandbox: Sandbox) -> None:
    raw = body(*(sample_rule(t, tags=tags) for t, tags in _TAGGED))
    findings = _validator_findings(raw, str(ATTACK_MINI))
    assert _by_document(findings) == {
        1: {"attacktag"},  # t9999 is not in the file (it is in the user's cache: unused)
        2: {"sigmahq_tags_techniques_without_tactics"},  # t1204 is execution in the file
    }
    assert sandbox.network == []
    assert _user_cache_intact(sandbox)


def test_without_the_option_the_attack_validators_stay_off(sandbox: Sandbox) -> None:
    raw = body(*(sample_rule(t, tags=tags) for t, tags in _TAGGED))
    assert _by_document(_validator_findings(raw, None)) == {}
    assert sandbox.network == []
    assert list(sandbox.private_root.iterdir()) == []
    assert _user_cache_intact(sandbox)


def test_pysigma_uses_a_private_cache_that_is_removed_at_exit(sandbox: Sandbox) -> None:
    from sigma.data import mitre_attack

    _validator_findings(body(sample_rule(tags=("attack.t1071",))), str(ATTACK_MINI))
    (private,) = sandbox.private_root.iterdir()
    assert private.name.startswith("soc-conformance-attack-")
    assert mitre_attack._custom_cache_dir == private
    with diskcache.Cache(str(private)) as cache:
        assert cache.get("mitre_attack_data")["mitre_attack_version"] == "mini-1"
    assert _user_cache_intact(sandbox)
    assert mitre_attack._cache is not None
    mitre_attack._cache.close()
    for handler in sandbox.exit_handlers:
        handler()
    sandbox.exit_handlers.clear()
    assert not private.exists()


def test_forked_workers_see_the_file_too(sandbox: Sandbox) -> None:
    # 64 rules or more go to a process pool; workers are forked after the file is loaded.
    rules = [
        sample_rule("ipv4", distinct_value("ipv4", i), tags=("attack.t1071",)) for i in range(70)
    ]
    rules += [sample_rule("domain", tags=("attack.command-and-control", "attack.t9999"))]
    findings = _validator_findings(body(*rules), str(ATTACK_MINI), workers=2)
    expected = {i: {"sigmahq_tags_techniques_without_tactics"} for i in range(70)}
    assert _by_document(findings) == {**expected, 70: {"attacktag"}}
    assert sandbox.network == []
    assert _user_cache_intact(sandbox)


def test_cli_reports_the_unknown_technique(sandbox: Sandbox, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_bytes(body(*(sample_rule(t, tags=tags) for t, tags in _TAGGED)))
    report = tmp_path / "report.json"
    args = [str(rules), *FAST, "--attack-data", str(ATTACK_MINI), "--json", str(report)]
    result = CliRunner().invoke(rules_command, args)
    # Medium-severity validator issues are warnings: the run is conformant, with findings.
    assert result.exit_code == 0, result.output
    (check,) = json.loads(report.read_text())["checks"]
    flagged = {
        (f["reproduction"]["document_index"], f["received"])
        for f in check["findings"]
        if f["received"] in ATTACK_VALIDATORS
    }
    assert flagged == {(1, "attacktag"), (2, "sigmahq_tags_techniques_without_tactics")}
    assert sandbox.network == []
    assert _user_cache_intact(sandbox)


def _not_attack(tmp_path: Path) -> dict[str, Path]:
    files = {
        "yaml": body(sample_rule()),
        "binary": b"\xff\xfe\x00garbage",
        "list": b"[1, 2, 3]",
        "objects-not-a-list": b'{"type": "bundle", "objects": "nope"}',
        "tactic-without-shortname": json.dumps(
            {
                "objects": [
                    {
                        "type": "x-mitre-tactic",
                        "external_references": [
                            {"source_name": "mitre-attack", "external_id": "TA0002"}
                        ],
                    }
                ]
            }
        ).encode(),
        "empty-bundle": b'{"type": "bundle", "objects": []}',
        "deep": b"[" * 100_000 + b"]" * 100_000,
    }
    out = {}
    for name, content in files.items():
        out[name] = tmp_path / f"{name}.json"
        out[name].write_bytes(content)
    return out


@pytest.mark.parametrize(
    "kind",
    [
        "yaml",
        "binary",
        "list",
        "objects-not-a-list",
        "tactic-without-shortname",
        "empty-bundle",
        "deep",
    ],
)
def test_a_file_that_is_not_attack_json_is_a_usage_error(
    sandbox: Sandbox, tmp_path: Path, kind: str
) -> None:
    path = _not_attack(tmp_path)[kind]
    rules = tmp_path / "rules.yml"
    rules.write_bytes(body(sample_rule(tags=("attack.t1071",))))
    result = CliRunner().invoke(rules_command, [str(rules), *FAST, "--attack-data", str(path)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"usage error: --attack-data {path}" in result.output
    assert "ATT&CK" in result.output
    assert _user_cache_intact(sandbox)


def test_the_api_raises_the_usage_error_too(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not MITRE ATT&CK STIX JSON"):
        _validator_findings(body(sample_rule()), str(tmp_path / "missing.json"))


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_a_missing_file_is_a_usage_error(sandbox: Sandbox, tmp_path: Path, make: str) -> None:
    path = tmp_path / "enterprise-attack.json"
    if make == "directory":
        path.mkdir()
    rules = tmp_path / "rules.yml"
    rules.write_bytes(body(sample_rule()))
    result = CliRunner().invoke(rules_command, [str(rules), *FAST, "--attack-data", str(path)])
    assert result.exit_code == 2, result.output
    assert "--attack-data" in result.output
    assert "Traceback" not in result.output
    assert list(sandbox.private_root.iterdir()) == []
