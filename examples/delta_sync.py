#!/usr/bin/env python3
"""The vendor's cron recipe, done carefully: the rules file holds the latest delta.

The vendor documents a cron job that fetches ``since=<last run>`` and writes the answer to the
rules file (``curl ... -o rules.yml``), which is then pushed to the SIEM: after each run the
file holds exactly the rules that run fetched, and an empty file when nothing was new. This
client does that without the recipe's sharp edges:

- ``since`` is the **server's** clock, read just before the rules are fetched (``meta.now`` of
  ``GET /api/v1/iocs?limit=1``, else that answer's HTTP ``Date``), never this machine's clock:
  an IOC added at that instant is in this answer and not the next (``since`` is "after");
- the whole answer is read and parsed before anything is written (invalid YAML, an
  ``action: global`` document or two different rules under one id stop the run, exit 5);
- the file is written atomically (a temp file beside it, flushed, renamed over it), even when
  empty; then, and only then, the state (``since`` for the next run) is saved, so a failed run
  changes nothing and the next run asks for the same window again;
- HTTP is :class:`sync_rules.Client`'s: ``Authorization: Bearer``, waits for
  ``X-RateLimit-Reset``, bounded retries with backoff on 5xx and broken connections, a refused
  key stops the run at once (exit 3).

One answer holds at most ``limit`` = 10,000 rules; a full page means the window held more, and
the run stops (exit 5) rather than lose the rest: run it more often, or use ``sync_rules.py``,
which pages. Environment as for ``sync_rules.py``: SOCDEFENDERS_BASE_URL, SOCDEFENDERS_API_KEY,
SOCDEFENDERS_RULES_FILE, SOCDEFENDERS_STATE_FILE (default: the rules file + ``.state.json``).

Exit codes: 0 synced, 2 bad configuration, 3 key refused, 4 server or network kept failing,
5 the served rules were refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

from sync_rules import (
    EXIT_CONFIG,
    EXIT_INVALID,
    FILTERS,
    PAGE_LIMIT,
    Client,
    SyncError,
    parse_rules,
    write_atomically,
)


def server_now(client: Client) -> str:
    """The server's current instant as ``YYYY-MM-DDTHH:MM:SSZ`` (one request)."""
    body, _ = client.get("/api/v1/iocs", {"limit": "1"})
    try:
        now = json.loads(body).get("meta", {}).get("now")
    except (ValueError, AttributeError):
        now = None
    if isinstance(now, str) and now:
        return now
    date = client.last_headers.get("Date") if client.last_headers is not None else None
    try:
        return parsedate_to_datetime(str(date)).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        raise SyncError(
            "the server tells no time (no meta.now, no Date header)", EXIT_INVALID
        ) from None


def sync(args: argparse.Namespace) -> int:
    """One run: read the server's clock, fetch what is new, replace the file, save the state."""
    key = os.environ.get("SOCDEFENDERS_API_KEY", "")
    if not key:
        raise SyncError("SOCDEFENDERS_API_KEY is not set", EXIT_CONFIG)
    base_url = os.environ.get("SOCDEFENDERS_BASE_URL", "https://socdefenders.ai").rstrip("/")
    rules_path = Path(os.environ.get("SOCDEFENDERS_RULES_FILE", "socdefenders_rules.yml"))
    state_path = Path(os.environ.get("SOCDEFENDERS_STATE_FILE", f"{rules_path}.state.json"))
    state = json.loads(state_path.read_text()) if state_path.exists() else {}

    client = Client(
        base_url, key, retries=args.retries, backoff=args.backoff, max_wait=args.max_wait
    )
    now = server_now(client)
    params = dict(f.split("=", 1) for f in args.filter)
    params["limit"] = str(PAGE_LIMIT)
    if state.get("since"):
        params["since"] = state["since"]
    body, _ = client.get("/api/v1/iocs/sigma", params)
    rules = parse_rules(body)
    if len(rules) >= PAGE_LIMIT:
        raise SyncError(
            f"{len(rules)} new rules fill a whole page: there may be more; run more often "
            "or use sync_rules.py, which pages",
            EXIT_INVALID,
        )
    rules_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(rules_path, "---\n".join(text for _, text in rules))
    ran = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_atomically(
        state_path, json.dumps({"since": now, "last_run": ran, "rules": len(rules)}) + "\n"
    )
    print(
        f"{len(rules)} new rule(s) in {rules_path} "
        f"({client.requests_made} request(s); next since={now})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"a documented filter ({', '.join(FILTERS)})",
    )
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
        print(f"delta_sync: {error}", file=sys.stderr)
        return error.code


if __name__ == "__main__":
    sys.exit(main())
