"""``soc-mock serve`` (as the README starts it) against WireMock serving the very same bytes.

Both servers run side by side on loopback; ``wrk`` drives each in turn, the order swapped every
round, and the medians of requests per second are compared (mock / WireMock):

- the 100-rule answer at concurrency 1 and 16 (targets >= 1.0x and >= 0.8x);
- the 10,000-rule answer at concurrency 1 (target >= 1.5x);
- a cold mix: 200 distinct queries in turn (``limit=101..300``: more than the mock's body
  cache holds, so every answer is built), concurrency 1 (reported).

WireMock is the standalone jar the npm package ``wiremock`` bundles, installed here at run time
(``npm install --prefix bench/out/wiremock wiremock``), started with its request journal and
logging off, and warmed up (JIT) before measuring. Each WireMock stub answers one exact URL with
the mock's own body, fetched first and checked byte for byte against WireMock's answer.

Needs ``wrk`` (Debian: ``apt-get install -y wrk``), ``java`` and ``npm``; without one of them it
prints one line saying so and exits 0 (nothing measured).

    .venv/bin/python bench/mock_vs_wiremock.py [--rounds 3] [--seconds 3] [--mock-arg=--workers=1]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import BIN, PRO_KEY, ROOT, UNLIMITED, Result, alternate, describe, median, report
from common import write_fixture as generate_fixture

OUT = ROOT / "bench" / "out"
AUTH = f"Authorization: Bearer {PRO_KEY}"
COLD = [f"/api/v1/iocs/sigma?limit={n}" for n in range(101, 301)]
_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def missing_tools() -> str | None:
    """One line naming what is missing, or None."""
    for tool, hint in (("wrk", "apt-get install -y wrk"), ("java", "a JRE 11+"), ("npm", "npm")):
        if shutil.which(tool) is None:
            return f"SKIPPED mock_vs_wiremock: {tool} not found (install {hint})"
    return None


def wiremock_jar() -> Path | None:
    folder = OUT / "wiremock"
    jars = sorted(folder.glob("node_modules/wiremock/**/wiremock-standalone-*.jar"))
    if not jars:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "install", "--prefix", str(folder), "wiremock"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(f"npm install wiremock failed: {done.stderr.strip()[-300:]}")
        jars = sorted(folder.glob("node_modules/wiremock/**/wiremock-standalone-*.jar"))
    return jars[-1] if jars else None


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {PRO_KEY}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return bytes(response.read())


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited {process.returncode}")
        try:
            fetch(url)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {seconds} s")


def wrk(url: str, paths: list[str], connections: int, seconds: float, work: Path) -> float:
    """Requests per second of one wrk run over ``paths`` (in turn, per connection)."""
    script = work / "paths.lua"
    script.write_text(
        "local paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
        "local i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\nend\n',
        encoding="utf-8",
    )
    threads = 1 if connections == 1 else 2
    duration = f"-d{max(1, round(seconds))}s"
    command = ["wrk", f"-t{threads}", f"-c{connections}", duration, "-H", AUTH]
    command += ["-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors against {url}:\n{output}")
    found = _RPS.search(output)
    assert found, output
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--mock-arg",
        action="append",
        default=[],
        help="an extra `soc-mock serve` argument, repeatable (e.g. --mock-arg=--workers=1)",
    )
    args = parser.parse_args()
    if missing := missing_tools():
        print(missing)
        return
    jar = wiremock_jar()
    if jar is None:
        print("SKIPPED mock_vs_wiremock: the npm package wiremock (its jar) is not available")
        return
    with tempfile.TemporaryDirectory(prefix="bench-wiremock-") as tmp:
        work = Path(tmp)
        fixture = work / "iocs.json"
        generate_fixture(fixture, 12_000)
        mock_port, wm_port = free_port(), free_port()
        mock_url, wm_url = f"http://127.0.0.1:{mock_port}", f"http://127.0.0.1:{wm_port}"
        log = (work / "soc-mock.log").open("wb")
        # As the README starts it (access log on), with limits no benchmark request can hit.
        mock = subprocess.Popen(
            [str(BIN / "soc-mock"), "serve", "--port", str(mock_port), "--fixtures", str(fixture),
             "--rate-limit", UNLIMITED, *args.mock_arg],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wiremock: subprocess.Popen[bytes] | None = None
        try:
            wait_for(mock_url + "/api/v1/iocs/sigma?limit=1", mock)
            cases = {
                "100": ["/api/v1/iocs/sigma?limit=100"],
                "10000": ["/api/v1/iocs/sigma?limit=10000"],
                "cold": COLD,
            }
            root = work / "wiremock"
            (root / "mappings").mkdir(parents=True)
            (root / "__files").mkdir()
            bodies: dict[str, bytes] = {}
            for number, path in enumerate(sorted({p for ps in cases.values() for p in ps})):
                bodies[path] = fetch(mock_url + path)
                (root / "__files" / f"{number}.yml").write_bytes(bodies[path])
                stub = {
                    "request": {"method": "GET", "url": path},
                    "response": {
                        "status": 200,
                        "bodyFileName": f"{number}.yml",
                        "headers": {"Content-Type": "application/yaml; charset=utf-8"},
                    },
                }
                (root / "mappings" / f"{number}.json").write_text(json.dumps(stub))
            wiremock = subprocess.Popen(
                ["java", "-jar", str(jar), "--port", str(wm_port), "--bind-address", "127.0.0.1",
                 "--root-dir", str(root), "--disable-banner", "--no-request-journal",
                 "--disable-request-logging"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            wait_for(wm_url + cases["100"][0], wiremock)
            for path, body in bodies.items():
                assert fetch(wm_url + path) == body, f"WireMock's answer differs for {path}"
            small, large = bodies[cases["100"][0]], bodies[cases["10000"][0]]
            print(f"bodies checked identical: {len(bodies)} (100 rules: {len(small):,} bytes, "
                  f"10,000 rules: {len(large):,} bytes)")  # fmt: skip
            for paths in cases.values():  # warm-up: WireMock's JIT, the mock's caches
                for url in (wm_url, mock_url):
                    wrk(url, paths, 16, 2, work)
            measured = [
                ("100_rules_c1", "100", 1, 1.0),
                ("100_rules_c16", "100", 16, 0.8),
                ("10000_rules_c1", "10000", 1, 1.5),
                ("cold_200_queries_c1", "cold", 1, None),
            ]
            for name, case, connections, target in measured:
                paths = cases[case]
                ours, theirs = alternate(
                    lambda p=paths, c=connections: wrk(mock_url, p, c, args.seconds, work),
                    lambda p=paths, c=connections: wrk(wm_url, p, c, args.seconds, work),
                    args.rounds,
                )
                print(f"{name}:")
                describe("soc-mock serve", ours, "req/s")
                describe("WireMock", theirs, "req/s")
                ratio = median(ours) / median(theirs)
                print(f"  ratio of medians: {ratio:.2f}x", flush=True)
                report(
                    Result(f"mock_vs_wiremock_{name}", ratio, "x", ">=", target)
                    if target is not None
                    else Result(f"mock_vs_wiremock_{name}", ratio, "x")
                )
        finally:
            for process in (mock, wiremock):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)
            log.close()


if __name__ == "__main__":
    sys.exit(main())
