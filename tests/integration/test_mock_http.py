"""The mock over a real loopback socket: auth, tiers, errors, rate limits, the CLI server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import yaml

from mockserver.config import MockConfig, apply_rate_limits
from mockserver.liveserver import LiveServer
from tests.keys import EXPIRED_KEY, FREE_KEY, PRO_KEY, REVOKED_KEY

SIGMA = "/api/v1/iocs/sigma"
IOCS = "/api/v1/iocs"
PRO = {"Authorization": f"Bearer {PRO_KEY}"}
FREE = {"Authorization": f"Bearer {FREE_KEY}"}


def assert_envelope(response: requests.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert {"code", "message", "request_id"} <= set(error) <= {
        "code", "message", "request_id", "details",
    }  # fmt: skip
    assert code is None or error["code"] == code
    assert re.fullmatch(r"req_[0-9a-f]+", error["request_id"])
    assert "sk_live_demo" not in response.text


def test_readme_flow_pro_key_gets_rules(mock_server: LiveServer) -> None:
    response = requests.get(
        mock_server.url + SIGMA,
        params={"type": "ipv4", "confidence": "high"},
        headers=PRO,
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/yaml; charset=utf-8"
    rules = list(yaml.safe_load_all(response.content))
    assert 0 < len(rules) <= 100
    assert {r["level"] for r in rules} == {"high"}
    assert len({r["id"] for r in rules}) == len(rules)
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response.headers[header].isdigit()


def test_same_call_same_bytes(mock_server: LiveServer) -> None:
    url = mock_server.url + SIGMA + "?industry=finance&limit=50"
    first = requests.get(url, headers=PRO, timeout=10).content
    assert first == requests.get(url, headers=PRO, timeout=10).content


def test_free_key_gets_403_on_sigma_and_data_on_iocs(mock_server: LiveServer) -> None:
    assert_envelope(
        requests.get(mock_server.url + SIGMA, headers=FREE, timeout=10), 403, "insufficient_tier"
    )
    listing = requests.get(mock_server.url + IOCS, headers=FREE, timeout=10)
    assert listing.status_code == 200
    assert listing.json()["meta"]["limit"] == 100


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", SIGMA, {}, 401),
        ("GET", SIGMA, {"X-API-Key": "sk_live_wrong"}, 401),
        ("GET", SIGMA, {"X-API-Key": EXPIRED_KEY}, 401),
        ("GET", SIGMA, {"X-API-Key": REVOKED_KEY}, 401),
        ("GET", IOCS, {}, 401),
        ("GET", SIGMA + "?type=bogus", PRO, 400),
        ("GET", SIGMA + "?since=not-a-date", PRO, 400),
        ("GET", SIGMA + "?limit=-1", PRO, 400),
        ("GET", SIGMA + "?confidence=", PRO, 400),
        ("GET", IOCS + "?offset=x", PRO, 400),
        ("GET", IOCS + "?category=zzz", PRO, 400),
        ("GET", "/api/v1/unknown", PRO, 404),
        ("GET", "/", {}, 404),
        ("POST", SIGMA, PRO, 405),
        ("DELETE", IOCS, PRO, 405),
    ],
)
def test_every_4xx_body_is_the_envelope(
    mock_server: LiveServer, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    assert_envelope(
        requests.request(method, mock_server.url + path, headers=headers, timeout=10), status
    )


def test_rate_limit_429_over_the_socket(
    mock_server_factory: Callable[[MockConfig], LiveServer],
) -> None:
    tiers = apply_rate_limits(MockConfig().tiers, ["pro=3/minute;100/day"])
    server = mock_server_factory(MockConfig(tiers=tiers))
    responses = [
        requests.get(server.url + SIGMA + "?limit=1", headers=PRO, timeout=10) for _ in range(4)
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert_envelope(responses[-1], 429, "rate_limit_exceeded")
    assert int(responses[-1].headers["X-RateLimit-Reset"]) >= int(
        responses[0].headers["X-RateLimit-Reset"]
    )


def test_soc_mock_serve_end_to_end(tmp_path: Path) -> None:
    """`soc-mock serve` prints its keys and a curl line that works."""
    command = [
        sys.executable,
        "-c",
        "from mockserver.cli import main; main()",
        "serve",
        "--port",
        "0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl+C" in line:
                break
        text = "".join(lines)
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", text)
        assert match, text
        assert PRO_KEY in text
        assert FREE_KEY in text
        url = re.search(r"'(http://[^']+/api/v1/iocs/sigma\?[^']+)'", text)
        assert url, text
        response = requests.get(url.group(1), headers=PRO, timeout=10)
        assert response.status_code == 200
        assert len(list(yaml.safe_load_all(response.content))) == 10
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
