#!/usr/bin/env python3
"""Sync SOC Defenders Sigma rules into a local file: the vendor's cron workflow, done carefully.

Environment:
    SOCDEFENDERS_BASE_URL    default https://socdefenders.ai
    SOCDEFENDERS_API_KEY     required (sent as ``Authorization: Bearer``; never printed)
    SOCDEFENDERS_RULES_FILE  where the rules live (default ./socdefenders_rules.yml)
    SOCDEFENDERS_STATE_FILE  default: the rules file + ``.state.json``

Each run fetches only what is new (``since`` = the state's watermark), appends it to the rules
file (deduplicated by rule id), checks the result with ``soc-conformance rules`` (``--no-check``
skips it) and optionally compiles it with ``sigma convert -t splunk -p sysmon`` (``--compile``),
then replaces the file atomically (temp file + ``os.replace``) and only then saves the state.
A failure at any step leaves the previous file and state untouched.

Watermark: a rule's ``date`` only gives the day, so ``since`` cannot come from the rules. Nor is
it the client's clock: the server's clock may differ (a mock's clock does). After fetching the
rules, the run lists the same window on ``/api/v1/iocs`` and takes the newest ``first_seen``
among the IOCs it received rules for; everything up to it was served, everything after it is
left for the next run (``since`` is strictly after). A rule is matched to its IOC by what the
documentation guarantees, the IOC's value as the rule's detection value (Sigma escapes undone;
a hash may carry its algorithm, ``MD5=...``), never by assuming a rule id is an IOC id.
``limit`` is the Pro maximum (10,000); a full page means there may be more, so the run asks
again with ``since`` = that watermark (IOCs added in the very same second across a page
boundary would be skipped: a documented limit of paging by ``since`` alone).

Exit codes: 0 synced, 2 bad configuration, 3 key refused (401/403, never retried),
4 server or network kept failing, 5 the served rules failed validation.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PAGE_LIMIT = 10_000
FILTERS = ("type", "confidence", "industry")
EXIT_CONFIG, EXIT_AUTH, EXIT_UNAVAILABLE, EXIT_INVALID = 2, 3, 4, 5


class SyncError(Exception):
    """A run that must stop: ``code`` is the exit code, the message says why."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def redact(key: str) -> str:
    """Show a key as ``sk_live_…abcd``."""
    return "sk_live_…" + key[-4:] if len(key) > 12 else "sk_live_…"


@dataclass
class Client:
    """HTTP with the vendor's rules: Bearer key, wait for X-RateLimit-Reset, bounded retries."""

    base_url: str
    api_key: str
    retries: int = 4
    backoff: float = 0.5
    max_wait: float = 120.0
    timeout: float = 60.0
    requests_made: int = field(default=0, init=False)
    last_headers: Any = field(default=None, init=False)  # those of the last 200
    _not_before: float = field(default=0.0, init=False)

    def get(self, path: str, params: dict[str, str]) -> tuple[bytes, str]:
        """GET ``path``; return (body, content type) of a 200, or raise SyncError."""
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        failures = 0
        while True:
            self._respect_reset()
            request = urllib.request.Request(  # noqa: S310 - the base URL is http(s)
                url,
                headers={
                    "Authorization": f"Bearer {self.api_key}",
                    "Accept": "application/yaml, application/json",
                    "User-Agent": "socdefenders-sync-example/1",
                },
            )
            self.requests_made += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    self._note_limits(response.headers)
                    body = response.read()  # raises IncompleteRead if the body is cut short
                    self.last_headers = response.headers
                    return body, str(response.headers.get("Content-Type", ""))
            except urllib.error.HTTPError as error:
                self._note_limits(error.headers)
                detail = _error_text(error)
                if error.code in (401, 403):
                    raise SyncError(
                        f"key {redact(self.api_key)} refused: {detail}", EXIT_AUTH
                    ) from None
                if error.code == 429:
                    failures += 1
                    self._wait_for_reset(error.headers, detail, failures)
                    continue
                if error.code < 500:
                    raise SyncError(f"request rejected: {detail}", EXIT_CONFIG) from None
                reason = detail
            except (http.client.HTTPException, urllib.error.URLError, OSError) as error:
                reason = f"{type(error).__name__}: {error}"
            failures += 1
            if failures > self.retries:
                raise SyncError(f"giving up after {failures} attempts: {reason}", EXIT_UNAVAILABLE)
            delay = min(self.backoff * 2 ** (failures - 1), 30.0)
            print(
                f"attempt {failures} failed ({reason}); retrying in {delay:.1f}s", file=sys.stderr
            )
            time.sleep(delay)

    def _note_limits(self, headers: Any) -> None:
        """Remember when the window resets if no request is left in it."""
        if headers is not None and headers.get("X-RateLimit-Remaining") == "0":
            self._not_before = _reset_time(headers)

    def _respect_reset(self) -> None:
        wait = self._not_before - time.time()
        if wait > 0:
            if wait > self.max_wait:
                raise SyncError(f"rate limited for {wait:.0f}s, over --max-wait", EXIT_UNAVAILABLE)
            print(f"rate limit used up; waiting {wait:.1f}s for X-RateLimit-Reset", file=sys.stderr)
            time.sleep(wait)

    def _wait_for_reset(self, headers: Any, detail: str, failures: int) -> None:
        if failures > self.retries + 2:
            raise SyncError(
                f"still rate limited after {failures} waits: {detail}", EXIT_UNAVAILABLE
            )
        self._not_before = max(_reset_time(headers), time.time() + 1.0)


def _reset_time(headers: Any) -> float:
    """X-RateLimit-Reset (Unix seconds) plus a margin for clock skew; now + 1s if absent."""
    try:
        return float(headers.get("X-RateLimit-Reset")) + 0.5
    except (TypeError, ValueError):
        return time.time() + 1.0


def _error_text(error: urllib.error.HTTPError) -> str:
    try:
        envelope = json.loads(error.read())["error"]
        return f"HTTP {error.code} {envelope['code']}: {envelope['message']}"
    except (ValueError, KeyError, TypeError, OSError, http.client.HTTPException):
        return f"HTTP {error.code}"


def parse_rules(body: bytes) -> list[tuple[str, str]]:
    """Split a Sigma body into (id, document text); refuse anything a SIEM should not get."""
    try:
        text = body.decode("utf-8-sig").replace("\r\n", "\n")  # a BOM and CRLF are valid YAML
        documents = list(yaml.safe_load_all(text))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise SyncError(f"the served body is not valid YAML: {error}", EXIT_INVALID) from None
    texts = [t for t in _split_documents(text) if t.strip()]
    documents = [d for d in documents if d is not None]
    if len(texts) != len(documents):
        raise SyncError("could not match YAML documents to their text", EXIT_INVALID)
    rules: dict[str, str] = {}
    for document, source in zip(documents, texts, strict=True):
        if not isinstance(document, dict) or "action" in document or "id" not in document:
            raise SyncError(f"not a plain Sigma rule: {source[:80]!r}", EXIT_INVALID)
        rule_id = str(document["id"])
        if rules.get(rule_id, source) != source:
            raise SyncError(f"two different rules share id {rule_id}", EXIT_INVALID)
        rules[rule_id] = source
    return list(rules.items())


def _split_documents(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.rstrip() == "---":
            parts.append("".join(current))
            current = []
        else:
            current.append(line)
    parts.append("".join(current))
    return [p if p.endswith("\n") else p + "\n" for p in parts]


def fetch_new_rules(
    client: Client, since: str | None, filters: dict[str, str]
) -> tuple[list[tuple[str, str]], str | None]:
    """All rules added after ``since``, and the watermark to pass next time."""
    collected: dict[str, str] = {}
    watermark = since
    while True:
        params = dict(filters, limit=str(PAGE_LIMIT))
        if watermark:
            params["since"] = watermark
        body, _ = client.get("/api/v1/iocs/sigma", params)
        page = parse_rules(body)
        if not page:
            return list(collected.items()), watermark
        collected.update((rid, text) for rid, text in page if rid not in collected)
        newest = newest_first_seen(client, [text for _, text in page], params)
        if newest is None or newest == watermark:
            raise SyncError(
                "cannot tell how far the served rules go (their IOCs are not listed)", EXIT_INVALID
            )
        watermark = newest
        if len(page) < PAGE_LIMIT:
            return list(collected.items()), watermark


def detection_values(rule_text: str) -> set[str]:
    """The literal values a rule detects (lower-cased, Sigma escapes undone).

    ``MD5=abc...`` (a hash rule's ``Hashes|contains`` value) also yields ``abc...``.
    """
    detection = (yaml.safe_load(rule_text) or {}).get("detection") or {}
    values: set[str] = set()
    pending: list[Any] = [v for k, v in detection.items() if k != "condition"]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, (str, int)):
            text = re.sub(r"\\([*?\\])", r"\1", str(item)).lower()
            values.add(text)
            if re.fullmatch(r"[a-z0-9]+=[0-9a-f]+", text):
                values.add(text.split("=", 1)[1])
    return values


def newest_first_seen(client: Client, rules: list[str], params: dict[str, str]) -> str | None:
    """The newest ``first_seen`` among the IOCs of ``rules`` on /api/v1/iocs, same window."""
    by_value: dict[str, list[int]] = {}
    for index, text in enumerate(rules):
        for value in detection_values(text):
            by_value.setdefault(value, []).append(index)
    unmatched = set(range(len(rules)))
    newest: str | None = None
    offset = 0
    while unmatched:
        body, _ = client.get("/api/v1/iocs", dict(params, offset=str(offset)))
        try:
            listing = json.loads(body)
            data = listing["data"]
            listed = [(str(i["value"]).lower(), str(i["first_seen"])) for i in data]
        except (ValueError, KeyError, TypeError) as error:
            raise SyncError(f"/api/v1/iocs answered no IOC list: {error}", EXIT_INVALID) from None
        for value, first_seen in listed:
            matched = unmatched.intersection(by_value.get(value, ()))
            if matched:
                unmatched -= matched
                # ISO 8601 UTC strings of one format sort as the instants they name.
                newest = first_seen if newest is None else max(newest, first_seen)
        offset += len(data)
        if not data or not listing.get("links", {}).get("next"):
            break
    if unmatched and newest is not None:
        print(
            f"warning: {len(unmatched)} rule(s) matched no listed IOC; the watermark comes "
            "from the others",
            file=sys.stderr,
        )
    return newest


def run_tool(command: list[str], what: str) -> None:
    """Run a checker; any failure stops the sync before the file is replaced."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise SyncError(
            f"{what} failed (exit {result.returncode}):\n" + "\n".join(tail), EXIT_INVALID
        )


def tool(name: str) -> str:
    """Find a console script on PATH or next to this Python (a virtualenv's bin)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise SyncError(f"{name} not found (install it, or pass --no-check)", EXIT_CONFIG)
    return found


def write_atomically(path: Path, data: str) -> None:
    """Write to a temp file beside ``path``, flush it to disk, then rename over ``path``."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def sync(args: argparse.Namespace) -> int:
    """One run: fetch, merge, check, compile, replace, save state."""
    key = os.environ.get("SOCDEFENDERS_API_KEY", "")
    if not key:
        raise SyncError("SOCDEFENDERS_API_KEY is not set", EXIT_CONFIG)
    base_url = os.environ.get("SOCDEFENDERS_BASE_URL", "https://socdefenders.ai").rstrip("/")
    rules_path = Path(os.environ.get("SOCDEFENDERS_RULES_FILE", "socdefenders_rules.yml"))
    state_path = Path(os.environ.get("SOCDEFENDERS_STATE_FILE", f"{rules_path}.state.json"))
    state = json.loads(state_path.read_text()) if state_path.exists() and not args.full else {}
    existing = parse_rules(rules_path.read_bytes()) if rules_path.exists() and not args.full else []

    client = Client(
        base_url, key, retries=args.retries, backoff=args.backoff, max_wait=args.max_wait
    )
    filters = dict(f.split("=", 1) for f in args.filter)
    new, watermark = fetch_new_rules(client, state.get("since"), filters)
    known = {rid for rid, _ in existing}
    added = [(rid, text) for rid, text in new if rid not in known]
    merged = "---\n".join(text for _, text in existing + added)

    if added or not rules_path.exists():
        rules_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            candidate = Path(scratch) / "rules.yml"
            candidate.write_text(merged, encoding="utf-8")
            if merged and not args.no_check:
                run_tool(
                    [tool("soc-conformance"), "rules", *args.check_arg, str(candidate)],
                    "soc-conformance rules",
                )
            if merged and args.compile:
                run_tool(
                    [tool("sigma"), "convert", "-t", "splunk", "-p", "sysmon", str(candidate)],
                    "sigma convert",
                )
        write_atomically(rules_path, merged)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_atomically(
        state_path,
        json.dumps({"since": watermark, "last_run": now, "rules": len(existing) + len(added)})
        + "\n",
    )
    print(
        f"{len(added)} new rule(s), {len(existing) + len(added)} in {rules_path} "
        f"({client.requests_made} request(s); next since={watermark})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-check", action="store_true", help="skip soc-conformance rules")
    parser.add_argument("--check-arg", action="append", default=[], help="extra argument for it")
    parser.add_argument("--compile", action="store_true", help="sigma convert -t splunk -p sysmon")
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"a documented filter ({', '.join(FILTERS)})",
    )
    parser.add_argument("--full", action="store_true", help="ignore the state; fetch everything")
    parser.add_argument("--retries", type=int, default=4, help="retries on 5xx and network errors")
    parser.add_argument("--backoff", type=float, default=0.5, help="first retry delay (doubles)")
    parser.add_argument("--max-wait", type=float, default=120.0, help="longest 429 wait (s)")
    args = parser.parse_args(argv)
    bad = [f for f in args.filter if f.split("=", 1)[0] not in FILTERS or "=" not in f]
    if bad:
        parser.error(f"--filter must be NAME=VALUE with NAME in {', '.join(FILTERS)}: {bad}")
    try:
        return sync(args)
    except SyncError as error:
        print(f"sync_rules: {error}", file=sys.stderr)
        return error.code


if __name__ == "__main__":
    sys.exit(main())
