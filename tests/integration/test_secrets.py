"""Secrets and exposure: a known key never appears in anything the CLIs print or write.

``soc-mock serve`` runs with a configured (non-demo) key and its access log on, serves
requests carrying that key in every place a client may put it, and then ``soc-conformance
server`` judges it with that key, writing its JSON and JUnit XML reports. Every byte of
output is searched for the key, raw and percent-encoded: only the redacted ``sk_live_…abcd``
may appear. Also: keys are compared in constant time (every key, no early exit), the mock
binds loopback by default, and fault and admin controls refuse clients not on loopback.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from mockserver.app import create_app
from mockserver.auth import APIKey, KeyRing
from mockserver.config import MockConfig
from mockserver.faults import FaultSettings, install_faults
from tests.keys import FREE_KEY, PRO_KEY

BIN = Path(sys.executable).parent
SECRET = "sk_live_SecretsTest_5f1c9e2b7d4a8c60abcd"
REDACTED = "sk_live_…abcd"
UNLIMITED = "pro=100000000/minute;1000000000/day,free=100000000/minute;1000000000/day"


def forms(key: str) -> list[str]:
    """The spellings of a key worth searching for: raw, percent-encoded, JSON-escaped."""
    encoded_underscores = key.replace("_", "%5F")
    fully_encoded = "".join(f"%{byte:02X}" for byte in key.encode())
    return [key, encoded_underscores, fully_encoded, json.dumps(key)[1:-1]]


def assert_never_shown(where: str, text: str) -> None:
    """Fail if any spelling of SECRET is in ``text``."""
    for form in forms(SECRET):
        position = text.find(form)
        assert position < 0, (
            f"the key leaked in {where}: …{text[max(0, position - 80) : position + 60]!r}"
        )


def _keys_file(directory: Path) -> Path:
    path = directory / "keys.json"
    path.write_text(
        json.dumps({"keys": [{"key": SECRET, "tier": "pro", "status": "active"}]}),
        encoding="utf-8",
    )
    return path


@contextmanager
def soc_mock_serve(tmp: Path, *extra: str) -> Iterator[tuple[str, Path]]:
    """``soc-mock serve --port 0 ...`` with its access log; yields (base URL, log file)."""
    log = tmp / "soc-mock.log"
    command = [str(BIN / "soc-mock"), "serve", "--port", "0", "--keys", str(_keys_file(tmp))]
    command += ["--rate-limit", UNLIMITED, *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCMOCK_")}
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"on (http://\S+:\d+)", log.read_text(encoding="utf-8"))
            if found:
                yield found.group(1), log
                break
            if process.poll() is not None:
                pytest.fail(f"soc-mock serve exited {process.returncode}: {log.read_text()}")
            time.sleep(0.1)
        else:
            pytest.fail(f"soc-mock serve printed no URL: {log.read_text()}")
    finally:
        process.terminate()
        process.wait(timeout=20)


def _requests_carrying_the_key(base_url: str) -> None:
    """Send the key in every place a client may put it, right and wrong."""
    sigma = f"{base_url}/api/v1/iocs/sigma"
    with requests.Session() as session:
        session.trust_env = False
        sent = [
            session.get(
                sigma, params={"limit": "3"}, headers={"Authorization": f"Bearer {SECRET}"}
            ),
            session.get(sigma, params={"limit": "3"}, headers={"X-API-Key": SECRET}),
            session.get(sigma, params={"limit": "3", "api_key": SECRET}),
            session.get(f"{sigma}?limit=3&api_key={SECRET.replace('_', '%5F')}"),
            session.get(sigma, params={"type": SECRET}, headers={"X-API-Key": SECRET}),
            session.get(sigma, headers={"Authorization": f"Bearer {SECRET}x"}),
        ]
    statuses = [response.status_code for response in sent]
    assert statuses == [200, 200, 200, 200, 400, 401], statuses
    for response in sent:
        assert_never_shown(f"a response to {response.request.method}", response.text)
        assert_never_shown("response headers", str(dict(response.headers)))


@pytest.mark.slow
@pytest.mark.xdist_group("secrets")
def test_the_key_appears_in_no_log_or_report(tmp_path: Path) -> None:
    json_report, junit_report = tmp_path / "report.json", tmp_path / "report.xml"
    with soc_mock_serve(tmp_path) as (base_url, mock_log):
        assert base_url.startswith("http://127.0.0.1:"), base_url  # loopback by default
        _requests_carrying_the_key(base_url)
        command = [
            str(BIN / "soc-conformance"), "server",
            "--base-url", base_url,
            "--api-key", SECRET,
            "--free-key", FREE_KEY,
            "--max-examples", "3",
            "--targets", "splunk+sysmon",
            "--json", str(json_report),
            "--junitxml", str(junit_report),
        ]  # fmt: skip
        checker = subprocess.run(
            command,
            capture_output=True,
            timeout=300,
            check=False,
        )
    assert checker.returncode in (0, 1), checker.stderr.decode()[-2000:]
    keys_listing = subprocess.run(
        [str(BIN / "soc-mock"), "keys", "--keys", str(_keys_file(tmp_path))],
        capture_output=True,
        timeout=60,
        check=True,
    )
    outputs = {
        "soc-mock serve log": mock_log.read_text(encoding="utf-8"),
        "soc-conformance stdout": checker.stdout.decode(),
        "soc-conformance stderr": checker.stderr.decode(),
        "the JSON report": json_report.read_text(encoding="utf-8"),
        "the JUnit XML report": junit_report.read_text(encoding="utf-8"),
        "soc-mock keys": keys_listing.stdout.decode() + keys_listing.stderr.decode(),
    }
    for where, text in outputs.items():
        assert text.strip(), f"{where} is empty: the search would prove nothing"
        assert_never_shown(where, text)
    # The key was logged (the api_key parameter is in the access log), redacted:
    assert REDACTED in outputs["soc-mock serve log"], outputs["soc-mock serve log"][-2000:]
    assert REDACTED in outputs["soc-mock keys"], outputs["soc-mock keys"]


def _non_loopback_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.slow
@pytest.mark.xdist_group("secrets")
def test_the_mock_is_not_reachable_from_another_interface_by_default(tmp_path: Path) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    with soc_mock_serve(tmp_path, "--no-access-log") as (base_url, _log):
        port = int(base_url.rsplit(":", 1)[1])
        with socket.socket() as loopback:
            loopback.connect(("127.0.0.1", port))  # listening
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, port), timeout=5).close()


@pytest.mark.parametrize("path", [f"/{SECRET}", f"/api/v1/{SECRET}/sigma"])
def test_a_key_in_the_path_is_not_echoed(path: str) -> None:
    with create_app(MockConfig()).test_client() as client:
        response = client.get(path, headers={"X-API-Key": SECRET})
    assert response.status_code == 404
    assert_never_shown("a 404 answer", response.get_data(as_text=True))


# -- constant-time comparison ---------------------------------------------------------------


def test_key_lookup_compares_every_key_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """mockserver/auth.py: ``hmac.compare_digest`` against every key, whichever matches."""
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)  # auth.py calls hmac.compare_digest
    ring = KeyRing([APIKey(f"sk_live_ring_key_{n:02d}_0000", "pro") for n in range(10)])
    for candidate in ("sk_live_ring_key_00_0000", "sk_live_ring_key_09_0000", "sk_live_nope"):
        calls.clear()
        ring.lookup(candidate)
        assert len(calls) == 10, f"{len(calls)} comparisons for {candidate}: an early exit"
        assert {b for _, b in calls} == {candidate.encode()}


# -- admin and fault controls ----------------------------------------------------------------


@pytest.fixture(scope="module")
def fault_app() -> Any:
    """The mock with fault injection enabled (the only control the mock has)."""
    app = create_app(MockConfig())
    install_faults(app, FaultSettings(enabled=True))
    return app


def _fault_request(app: Any, remote: str, **headers: str) -> Any:
    with app.test_client() as client:
        return client.get(
            "/api/v1/iocs/sigma?limit=1",
            headers={"X-API-Key": PRO_KEY, "X-Mock-Fault": "500", **headers},
            environ_base={"REMOTE_ADDR": remote},
        )


@pytest.mark.parametrize("remote", ["203.0.113.9", "10.0.0.1", "2001:db8::5", "::ffff:10.0.0.1"])
def test_fault_controls_refuse_non_loopback_clients(fault_app: Any, remote: str) -> None:
    response = _fault_request(fault_app, remote)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "fault_injection_refused"


def test_a_forwarded_for_header_does_not_make_a_client_local(fault_app: Any) -> None:
    response = _fault_request(fault_app, "203.0.113.9", **{"X-Forwarded-For": "127.0.0.1"})
    assert response.status_code == 403


@pytest.mark.parametrize("remote", ["127.0.0.1", "127.8.9.10", "::1"])
def test_fault_controls_obey_loopback_clients(fault_app: Any, remote: str) -> None:
    """The control works from loopback, so the refusals above are refusals, not breakage."""
    response = _fault_request(fault_app, remote)
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"


@pytest.fixture(scope="module")
def admin_app() -> Any:
    """The mock with a moving clock, so that its ``/_admin/clock`` routes exist."""
    return create_app(MockConfig(moving_clock=True))


def _admin_request(app: Any, method: str, remote: str, **headers: str) -> Any:
    with app.test_client() as client:
        return client.open(
            "/_admin/clock",
            method=method,
            json={"advance": "1d"} if method == "POST" else None,
            headers=headers,
            environ_base={"REMOTE_ADDR": remote},
        )


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("remote", ["203.0.113.9", "10.0.0.1", "2001:db8::5", "::ffff:10.0.0.1"])
def test_admin_routes_refuse_non_loopback_clients(admin_app: Any, method: str, remote: str) -> None:
    before = _admin_request(admin_app, "GET", "127.0.0.1").get_json()["now"]
    response = _admin_request(admin_app, method, remote, **{"X-Forwarded-For": "127.0.0.1"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "admin_refused"
    assert _admin_request(admin_app, "GET", "127.0.0.1").get_json()["now"] == before


@pytest.mark.parametrize("remote", ["127.0.0.1", "::1"])
def test_admin_routes_obey_loopback_clients(admin_app: Any, remote: str) -> None:
    before = _admin_request(admin_app, "GET", remote).get_json()["now"]
    moved = _admin_request(admin_app, "POST", remote)
    assert moved.status_code == 200, moved.get_data(as_text=True)
    assert moved.get_json()["now"] != before
