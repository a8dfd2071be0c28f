"""Faults: the registry, spec parsing, body rewrites, and the middleware on the real app."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from typing import Any

import pytest
import requests
import yaml
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from mockserver.app import create_app
from mockserver.config import MockConfig
from mockserver.errors import ConfigError
from mockserver.faults import (
    FAULTS,
    MAX_DELAY_SECONDS,
    FaultMiddleware,
    FaultSettings,
    FaultSpec,
    FaultSpecError,
    describe_faults,
    install_faults,
    parse_fault_spec,
    rewrite_body,
    split_documents,
    truncation_point,
)
from mockserver.fixtures import dump_dataset
from mockserver.generate import generate_meta, generate_records
from mockserver.liveserver import LiveServer
from tests.keys import PRO_KEY

PRO = {"Authorization": f"Bearer {PRO_KEY}"}
SIGMA = "/api/v1/iocs/sigma?limit=7"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> MockConfig:
    path = tmp_path_factory.mktemp("fixtures") / "iocs.json"
    path.write_text(dump_dataset(generate_meta(11, 150), generate_records(11, 150)))
    return MockConfig(fixtures=path)


class Recorder:
    """Stands in for time.sleep and time.time so every delay is seen, none is waited."""

    def __init__(self, now: float = 1_800_000_000.25) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def clock(self) -> float:
        return self.now


def faulty_app(
    config: MockConfig, specs: list[str] | None = None, *, enabled: bool = True, seed: int = 0
) -> tuple[Flask, Recorder]:
    app = create_app(config)
    recorder = Recorder()
    settings = FaultSettings.from_options(specs or [], enabled=enabled, seed=seed)
    # create_app installed the (disabled) layer: reconfigure it, never stack a second one.
    install_faults(app, settings, sleep=recorder.sleep, clock=recorder.clock)
    return app, recorder


def get(app: Flask, path: str = SIGMA, fault: str | None = None, **kwargs: Any) -> Any:
    headers = dict(PRO)
    if fault is not None:
        headers["X-Mock-Fault"] = fault
    return app.test_client().get(path, headers=headers, **kwargs)


def error_code(response: Any) -> str:
    body = json.loads(response.get_data())
    assert set(body["error"]) >= {"code", "message", "request_id"}
    assert body["error"]["request_id"].startswith("req_")
    return str(body["error"]["code"])


# --- registry and specs -------------------------------------------------------------------


def test_registry_has_every_fault_the_issue_names() -> None:
    expected = {
        "429-burst", "500", "502", "503", "latency", "jitter", "dribble", "truncate", "reset",
        "invalid-yaml", "duplicate-id", "action-global", "bom-crlf", "empty-200",
    }  # fmt: skip
    assert set(FAULTS) == expected


def test_describe_faults_gives_one_line_per_fault() -> None:
    lines = describe_faults()
    assert len(lines) == len(FAULTS)
    for line, name in zip(lines, FAULTS, strict=True):
        assert line.split()[0] == name
        assert "\n" not in line
        assert len(line.split(maxsplit=1)[1]) > 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("503", FaultSpec("503")),
        ("429-burst:0.3", FaultSpec("429-burst", rate=0.3)),
        ("latency:200ms", FaultSpec("latency", seconds=0.2)),
        ("jitter:1.5s:0.5", FaultSpec("jitter", rate=0.5, seconds=1.5)),
        ("503:max=2", FaultSpec("503", max_times=2)),
    ],
)
def test_parse_fault_spec(text: str, expected: FaultSpec) -> None:
    assert parse_fault_spec(text) == expected


@pytest.mark.parametrize("text", ["nope", "503:1.5", "503:-0.1", "503:200ms", "latency:fast", ""])
def test_parse_fault_spec_rejects_bad_specs(text: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_fault_spec(text)


@given(
    name=st.sampled_from(sorted(FAULTS)),
    rate=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    millis=st.integers(min_value=0, max_value=int(MAX_DELAY_SECONDS * 1000)),
    max_times=st.none() | st.integers(min_value=0, max_value=9),
)
def test_spec_text_round_trips(name: str, rate: float, millis: int, max_times: int | None) -> None:
    seconds = millis / 1000 if FAULTS[name].max_seconds is not None else None
    spec = FaultSpec(name, rate=rate, seconds=seconds, max_times=max_times)
    assert parse_fault_spec(str(spec)) == spec
    assert 0 <= spec.duration <= (FAULTS[name].max_seconds or 0)


@pytest.mark.parametrize(
    ("text", "limit"), [("latency:13s", "10s"), ("jitter:10001ms", "10s"), ("dribble:31s", "30s"),
                        ("429-burst:61s", "60s")],
)  # fmt: skip
def test_durations_over_the_cap_are_refused_not_capped(text: str, limit: str) -> None:
    with pytest.raises(FaultSpecError, match=f"at most {limit}"):
        parse_fault_spec(text)
    assert parse_fault_spec(text.split(":")[0] + ":" + limit).seconds == float(limit[:-1])


# --- body rewrites (pure) -----------------------------------------------------------------

BODY = b"".join(
    f"title: rule {i}\nid: 00000000-0000-0000-0000-00000000000{i}\nlevel: high\n".encode()
    + (b"---\n" if i < 4 else b"")
    for i in range(5)
)


def ids(body: bytes) -> list[str]:
    return [d["id"] for d in yaml.safe_load_all(body.decode("utf-8-sig")) if d and "id" in d]


def test_duplicate_id_repeats_one_document() -> None:
    served = ids(rewrite_body("duplicate-id", BODY))
    assert len(served) == 6
    assert len(set(served)) == 5


def test_invalid_yaml_breaks_the_middle_of_the_body() -> None:
    broken = rewrite_body("invalid-yaml", BODY)
    with pytest.raises(yaml.YAMLError):
        list(yaml.safe_load_all(broken))
    # The documents before the bad one still parse: a client must not keep them as a file.
    assert broken.startswith(b"title: rule 0\n")


def test_action_global_comes_first() -> None:
    documents = list(yaml.safe_load_all(rewrite_body("action-global", BODY)))
    assert documents[0]["action"] == "global"
    assert [d["id"] for d in documents[1:]] == ids(BODY)


def test_bom_crlf_keeps_the_rules() -> None:
    body = rewrite_body("bom-crlf", BODY)
    assert body.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in body
    assert body.count(b"\n") == body.count(b"\r\n")
    assert ids(body) == ids(BODY)


def test_empty_200_has_no_body() -> None:
    assert rewrite_body("empty-200", BODY) == b""


@given(count=st.integers(min_value=1, max_value=12), extra=st.text(min_size=0, max_size=30))
def test_truncation_cuts_inside_the_body(count: int, extra: str) -> None:
    value = json.dumps(extra)  # a double-quoted YAML scalar, possibly non-ASCII
    body = "---\n".join(f"title: {value}\nid: r{i}\n" for i in range(count)).encode()
    cut = truncation_point(body)
    assert 0 < cut < len(body)
    assert len(split_documents(body)) == count


# --- the middleware on the real app -------------------------------------------------------


def test_faults_off_answers_unchanged_and_refuses_the_header(config: MockConfig) -> None:
    plain = create_app(config).test_client().get(SIGMA, headers=PRO)
    app, _ = faulty_app(config, enabled=False)
    assert get(app).get_data() == plain.get_data()
    refused = get(app, fault="503")
    assert refused.status_code == 403
    assert error_code(refused) == "fault_injection_refused"


def test_header_is_refused_from_a_non_loopback_client(config: MockConfig) -> None:
    app, _ = faulty_app(config)
    refused = get(app, fault="503", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert refused.status_code == 403
    assert error_code(refused) == "fault_injection_refused"


def test_unknown_fault_header_is_a_400(config: MockConfig) -> None:
    app, _ = faulty_app(config)
    for bad in ("meteor", "latency:13s"):
        response = get(app, fault=bad)
        assert response.status_code == 400
        assert error_code(response) == "invalid_parameter"
        error = json.loads(response.get_data())["error"]
        assert error["details"]["header"] == "X-Mock-Fault"
        assert error["message"].startswith("Invalid value for header 'X-Mock-Fault'")
        assert "query parameter" not in json.dumps(error)


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("500", 500, "internal_error"),
        ("502", 502, "bad_gateway"),
        ("503", 503, "service_unavailable"),
    ],
)
def test_server_errors_come_in_the_envelope(
    config: MockConfig, fault: str, status: int, code: str
) -> None:
    app, _ = faulty_app(config)
    response = get(app, fault=fault)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert error_code(response) == code


def test_auth_errors_are_not_masked_by_faults(config: MockConfig) -> None:
    app, _ = faulty_app(config, ["503"])
    response = app.test_client().get(SIGMA)
    assert response.status_code == 401
    assert error_code(response) == "missing_api_key"


def test_faults_leave_other_paths_alone(config: MockConfig) -> None:
    app, _ = faulty_app(config, ["503"])
    assert app.test_client().get("/healthz").status_code == 200


def test_429_burst_lasts_until_reset(config: MockConfig) -> None:
    app, clock = faulty_app(config)
    first = get(app, fault="429-burst:3s")
    assert first.status_code == 429
    assert error_code(first) == "rate_limit_exceeded"
    reset = int(first.headers["X-RateLimit-Reset"])
    assert reset == math.ceil(clock.now + 3)
    assert first.headers["X-RateLimit-Remaining"] == "0"
    assert first.headers["X-RateLimit-Limit"] == "1000"  # the Pro key's per-minute limit
    clock.now = reset - 0.5
    assert get(app).status_code == 429  # no header: still inside the burst
    clock.now = reset
    assert get(app).status_code == 200


def test_latency_sleeps_its_duration(config: MockConfig) -> None:
    app, recorder = faulty_app(config)
    assert get(app, fault="latency").status_code == 200
    assert get(app, fault="latency:1500ms").status_code == 200
    assert get(app, fault="latency:10s").status_code == 200
    assert get(app, fault="latency:3600s").status_code == 400  # refused, never slept
    assert recorder.sleeps == [0.2, 1.5, MAX_DELAY_SECONDS]


def test_jitter_is_bounded_and_reproducible(config: MockConfig) -> None:
    runs = []
    for _ in range(2):
        app, recorder = faulty_app(config, ["jitter:2s"], seed=5)
        for _ in range(6):
            assert get(app).status_code == 200
        runs.append(recorder.sleeps)
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 6
    assert all(0 <= s <= 2 for s in runs[0])


def test_rates_are_reproducible_given_a_seed(config: MockConfig) -> None:
    def statuses(seed: int) -> list[int]:
        app, _ = faulty_app(config, ["503:0.5"], seed=seed)
        return [get(app).status_code for _ in range(24)]

    first = statuses(1)
    assert first == statuses(1)
    assert set(first) == {200, 503}
    assert first != statuses(2)


def test_max_times_bounds_a_fault(config: MockConfig) -> None:
    app, _ = faulty_app(config, ["503:max=2"])
    assert [get(app).status_code for _ in range(4)] == [503, 503, 200, 200]
    middleware = app.wsgi_app
    assert isinstance(middleware, FaultMiddleware)
    assert [(e.request, e.fault) for e in middleware.events()] == [(1, "503"), (2, "503")]


def test_yaml_faults_do_not_touch_the_json_endpoint(config: MockConfig) -> None:
    app, _ = faulty_app(config, ["duplicate-id", "invalid-yaml"])
    response = get(app, "/api/v1/iocs?limit=3")
    assert response.status_code == 200
    assert len(response.get_json()["data"]) == 3


@pytest.mark.parametrize("fault", ["duplicate-id", "invalid-yaml", "action-global", "bom-crlf"])
def test_body_faults_on_the_real_body(config: MockConfig, fault: str) -> None:
    plain = create_app(config).test_client().get(SIGMA, headers=PRO).get_data()
    app, _ = faulty_app(config)
    response = get(app, fault=fault)
    body = response.get_data()
    assert body == rewrite_body(fault, plain)
    assert int(response.headers["Content-Length"]) == len(body)


def test_empty_200_keeps_status_and_headers(config: MockConfig) -> None:
    app, _ = faulty_app(config)
    response = get(app, fault="empty-200")
    assert response.status_code == 200
    assert response.get_data() == b""
    assert response.headers["Content-Type"].startswith("application/yaml")
    assert "X-RateLimit-Remaining" in response.headers


def test_install_twice_reconfigures_instead_of_wrapping(config: MockConfig) -> None:
    app = create_app(config)
    first = install_faults(app, FaultSettings())
    second = install_faults(app, FaultSettings(enabled=True))
    assert first is second
    assert app.wsgi_app is first
    assert get(app, fault="503").status_code == 503


# --- over a real loopback socket ----------------------------------------------------------


@pytest.fixture(scope="module")
def live(config: MockConfig) -> Any:
    app = create_app(config)
    install_faults(app, FaultSettings(enabled=True))
    with LiveServer(app) as server:
        yield server


def fetch(url: str, fault: str | None = None) -> requests.Response:
    headers = dict(PRO)
    if fault:
        headers["X-Mock-Fault"] = fault
    return requests.get(url + SIGMA, headers=headers, timeout=30)


def test_truncate_promises_more_than_it_sends(live: LiveServer) -> None:
    whole = fetch(live.url).content
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        fetch(live.url, "truncate")
    # urllib sees the same short read.
    request = urllib.request.Request(live.url + SIGMA, headers={**PRO, "X-Mock-Fault": "truncate"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert int(response.headers["Content-Length"]) == len(whole)
        with pytest.raises(Exception, match="IncompleteRead") as raised:
            response.read()
    partial = raised.value.args[0]
    assert 0 < len(partial) < len(whole)
    assert whole.startswith(partial)


def test_reset_resets_the_connection(live: LiveServer) -> None:
    with pytest.raises(requests.exceptions.ConnectionError) as raised:
        fetch(live.url, "reset")
    assert "reset" in str(raised.value).lower()
    # The server survives it.
    assert fetch(live.url).status_code == 200


def test_dribble_delivers_the_whole_body(live: LiveServer) -> None:
    whole = fetch(live.url).content
    assert fetch(live.url, "dribble:100ms").content == whole


def test_urllib_sees_the_429_envelope(config: MockConfig) -> None:
    # Its own server: the burst would rate-limit the other tests' requests.
    app = create_app(config)
    install_faults(app, FaultSettings(enabled=True))
    with LiveServer(app) as server:
        url = server.url + SIGMA
        request = urllib.request.Request(url, headers={**PRO, "X-Mock-Fault": "429-burst:1s"})
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=30)
    assert raised.value.code == 429
    assert raised.value.headers["X-RateLimit-Remaining"] == "0"


def test_config_builds_fault_settings_with_precedence() -> None:
    assert MockConfig.from_sources({}, {}).faults == FaultSettings()
    env = {"SOCMOCK_FAULTS": "503:0.5,truncate:max=1", "SOCMOCK_FAULT_SEED": "7"}
    from_env = MockConfig.from_sources({}, env).faults
    assert [str(s) for s in from_env.specs] == ["503:0.5", "truncate:max=1"]
    assert (from_env.enabled, from_env.seed) == (True, 7)
    cli = MockConfig.from_sources({"fault": ("reset",), "fault_seed": 1}, env).faults
    assert ([s.name for s in cli.specs], cli.seed) == (["reset"], 1)  # the CLI list wins whole
    header_only = MockConfig.from_sources({"faults_enabled": True}, {}).faults
    assert (header_only.enabled, header_only.specs) == (True, ())
    assert MockConfig.from_sources({"faults_enabled": False}, env).faults == FaultSettings()
    off = dict(env, SOCMOCK_FAULTS_ENABLED="off")
    assert MockConfig.from_sources({}, off).faults == FaultSettings()
    assert MockConfig.from_sources({}, {"SOCMOCK_FAULTS_ENABLED": "1"}).faults.enabled


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({"fault": ("nope",)}, {}, "unknown fault"),
        ({}, {"SOCMOCK_FAULTS": "503:2"}, "not in"),
        ({"fault": ("503",), "faults_enabled": False}, {}, "contradicts"),
        ({}, {"SOCMOCK_FAULT_SEED": "abc"}, "seed"),
    ],
)
def test_config_rejects_bad_fault_settings(
    options: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        MockConfig.from_sources(options, env)
