"""Benchmark: the mock's Sigma endpoint against static answers of the same server.

(a) A 10,000-rule response from ``/api/v1/iocs/sigma?limit=10000`` against the very same bytes
    served by a bench-only static route registered on the same app instance (target: at most
    1.5x the static time).
(b) 100-rule requests per second against a hello-world route of the same server (target: at
    least 0.7x its rate).

The app runs under werkzeug's threaded server in a child process, on a loopback port, built
from a generated 12,000-IOC fixture (over 10,000 have rules); the client is ``requests``.
A and B alternate (single requests for (a), blocks of requests for (b)); medians compared.

    .venv/bin/python bench/mock_throughput.py [--pairs 41] [--rounds 15] [--requests 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.common import (
    PRO_KEY,
    UNLIMITED,
    Result,
    alternate,
    child_server,
    describe,
    median,
    report,
    write_fixture,
)

if TYPE_CHECKING:
    from flask import Flask

SIGMA = "/api/v1/iocs/sigma"
STATIC = "/bench/static-10000"
HELLO = "/bench/hello"
FIXTURE_IOCS = 12_000


def build_app(fixture: Path, *, body_cache: bool = True) -> Flask:
    """The mock from ``fixture`` plus two bench-only routes (never part of the product).

    ``body_cache=False`` gives the store an empty-sized body cache, so every answer is built
    afresh: the cold path, which a fixed query repeated with a fixed clock never takes.
    """
    from flask import Response

    from mockserver.app import EXTENSION, create_app
    from mockserver.config import MockConfig, apply_rate_limits
    from mockserver.render import YAML_MEDIA_TYPE
    from mockserver.store import BodyCache, IOCStore

    config = MockConfig(fixtures=fixture)
    config = replace(config, tiers=apply_rate_limits(config.tiers, [UNLIMITED]))
    app = create_app(config)
    if not body_cache:
        current = app.extensions[EXTENSION]
        cold = IOCStore(current.dataset.iocs, body_cache=BodyCache(max_entries=0))
        app.extensions[EXTENSION] = replace(current, store=cold)
    body: list[bytes] = []  # filled below: routes must exist before the app's first request

    def static() -> Response:
        return Response(body[0], content_type=YAML_MEDIA_TYPE)

    def hello() -> Response:
        return Response(b"Hello, World!", content_type="text/plain")

    app.add_url_rule(STATIC, "bench_static", static)
    app.add_url_rule(HELLO, "bench_hello", hello)
    with app.test_client() as client:
        body.append(client.get(f"{SIGMA}?limit=10000", headers={"X-API-Key": PRO_KEY}).get_data())
    return app


def _fetch(session: requests.Session, url: str, headers: dict[str, str]) -> bytes:
    response = session.get(url, headers=headers, timeout=60)
    response.raise_for_status()
    return response.content


def _cold_ratio(fixture: Path, pairs: int, auth: dict[str, str]) -> float:
    """(a) again with the body cache off: every 10,000-rule answer built from the index."""
    with (
        child_server(lambda: build_app(fixture, body_cache=False)) as url,
        requests.Session() as session,
    ):
        session.trust_env = False
        assert _fetch(session, f"{url}{SIGMA}?limit=10000", auth) == _fetch(
            session, url + STATIC, {}
        ), "the static route must serve the very same bytes"

        def timed(path: str, headers: dict[str, str]) -> float:
            start = time.perf_counter()
            _fetch(session, url + path, headers)
            return time.perf_counter() - start

        mock, served = alternate(
            lambda: timed(f"{SIGMA}?limit=10000", auth), lambda: timed(STATIC, {}), pairs
        )
    print("(a, cold) the same with the body cache off:", flush=True)
    describe("mock  /api/v1/iocs/sigma?limit=10000", mock)
    describe("static same bytes", served)
    ratio = median(mock) / median(served)
    print(f"    ratio mock/static, cold: {ratio:.3f} (target <= 1.5)", flush=True)
    return ratio


def main() -> None:
    """Run (a) and (b) and print their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=41, help="(a): alternating request pairs")
    parser.add_argument("--rounds", type=int, default=15, help="(b): alternating rate samples")
    parser.add_argument("--requests", type=int, default=100, help="(b): requests per sample")
    args = parser.parse_args()
    auth = {"Authorization": f"Bearer {PRO_KEY}"}
    with tempfile.TemporaryDirectory() as tmp:
        fixture = Path(tmp) / "iocs-12000.json"
        write_fixture(fixture, FIXTURE_IOCS)
        with child_server(lambda: build_app(fixture)) as url, requests.Session() as session:
            session.trust_env = False
            big = _fetch(session, f"{url}{SIGMA}?limit=10000", auth)
            static = _fetch(session, url + STATIC, {})
            rules = big.count(b"\ntitle: ") + big.startswith(b"title: ")
            assert big == static, "the static route must serve the very same bytes"
            print(
                f"(a) 10,000-rule response: {len(big) / 2**20:.1f} MiB, {rules} rules", flush=True
            )

            def timed(path: str, headers: dict[str, str]) -> float:
                start = time.perf_counter()
                _fetch(session, url + path, headers)
                return time.perf_counter() - start

            # One request each, alternating, many pairs: the machine's drift hits both sides.
            mock, served = alternate(
                lambda: timed(f"{SIGMA}?limit=10000", auth), lambda: timed(STATIC, {}), args.pairs
            )
            describe("mock  /api/v1/iocs/sigma?limit=10000", mock)
            describe("static same bytes", served)
            ratio_a = median(mock) / median(served)
            print(f"    ratio mock/static: {ratio_a:.3f} (target <= 1.5)", flush=True)

            def rate(path: str, headers: dict[str, str]) -> float:
                start = time.perf_counter()
                for _ in range(args.requests):
                    _fetch(session, url + path, headers)
                return float(args.requests) / (time.perf_counter() - start)

            hundred, hello = alternate(
                lambda: rate(f"{SIGMA}?limit=100", auth), lambda: rate(HELLO, {}), args.rounds
            )
            print("(b) requests per second, one client, sequential:", flush=True)
            describe("mock  /api/v1/iocs/sigma?limit=100", hundred, "req/s")
            describe("hello world", hello, "req/s")
            ratio_b = median(hundred) / median(hello)
            print(f"    ratio 100-rule/hello: {ratio_b:.3f} (target >= 0.7)", flush=True)
        ratio_cold = _cold_ratio(fixture, args.pairs, auth)
    report(Result("mock_10000_rules_vs_static", ratio_a, "x", "<=", 1.5))
    report(Result("mock_10000_rules_vs_static_cold", ratio_cold, "x", "<=", 1.5))
    report(Result("mock_100_rule_rps_vs_hello", ratio_b, "x", ">=", 0.7))


if __name__ == "__main__":
    main()
