"""``soc-mock record``: a bounded, polite crawl of an upstream feed into a replayable directory.

What it writes (``-o DIR``)::

    DIR/iocs.json      the IOC dataset, served by ``soc-mock serve --fixtures DIR/iocs.json``
    DIR/cassette.yaml  every answer it got, verbatim, as a VCR.py cassette (mockserver.cassette)

The dataset comes from ``/api/v1/iocs`` (paged) where the key may use it, else it is derived
from the unfiltered rules (:mod:`mockserver.importer`), with industries learned from one query
per sector. Then a fixed list of Sigma queries (every type, every confidence, every sector, a
few ``since`` days, two bad values for the error format) is recorded, as far as the budget goes.

Polite to a paid API, with the checker's transport rules (written again here against
``requests``: the mock never imports the checker): a request budget, connect/read timeouts, a
deadline and a size cap per answer, a cap on all bytes, waiting for ``X-RateLimit-Reset`` when
``Remaining`` reaches 0 (Unix seconds, milliseconds or seconds-from-now, whichever the value
is), and a 429 waited out and retried (the retried answer is what the cassette keeps). The key
is sent in ``Authorization: Bearer`` and never written: see :mod:`mockserver.cassette`.

One module because the crawl is one bounded loop (budget, deadline, size caps, waiting for
resets) whose parts only make sense together; the cassette format is :mod:`mockserver.cassette`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from mockserver.cassette import (
    CASSETTE_FILE,
    HOP_HEADERS,
    Interaction,
    dump_cassette,
    strip_key,
    strip_key_bytes,
    uri_without_key,
)
from mockserver.errors import MockServerError
from mockserver.fixtures import IOCS_FILE, dump_dataset
from mockserver.importer import import_rules, rule_dates, rule_ids
from mockserver.model import CONFIDENCES, INDUSTRIES, IOC, SIGMA_TYPES, InvalidIOCError

if TYPE_CHECKING:
    import requests

SIGMA_PATH: Final = "/api/v1/iocs/sigma"
IOCS_PATH: Final = "/api/v1/iocs"
#: The Pro maximum: one request gives the whole (look-back) feed.
WHOLE: Final = "10000"
_CHUNK: Final = 64 * 1024


class RecordingError(MockServerError):
    """The recording cannot go on (upstream unreachable, key refused, rate limited too long)."""


class BudgetSpent(RecordingError):
    """The request budget is spent; what was recorded so far is still written."""


@dataclass(frozen=True)
class RecordLimits:
    """The crawl's bounds."""

    max_requests: int = 200
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    deadline: float = 60.0
    max_body_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    max_rate_wait: float = 90.0
    max_429_retries: int = 3


def reset_instant(value: int, now: float) -> float:
    """An ``X-RateLimit-Reset`` value as a Unix time: milliseconds and deltas are recognised."""
    if value > 100_000_000_000:  # milliseconds since the epoch (year 5138 in seconds)
        return value / 1000
    if value < 1_000_000_000:  # before 2001 as seconds: it counts seconds from now
        return now + value
    return float(value)


def _as_int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


@dataclass
class Recorder:
    """Sends GETs to the upstream within the limits and keeps each answer as an Interaction."""

    base_url: str
    key: str = field(repr=False)
    limits: RecordLimits = field(default_factory=RecordLimits)
    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    interactions: list[Interaction] = field(default_factory=list)
    requests_made: int = 0
    bytes_received: int = 0
    waited: float = 0.0
    _remaining: int | None = None
    _reset: float | None = None

    def __post_init__(self) -> None:
        if self.session is None:
            try:
                import requests
            except ImportError as exc:  # the base install is the mock alone
                raise RecordingError(
                    "recording needs requests: pip install 'socdefenders-mock[record]'"
                ) from exc
            self.session = requests.Session()
        self.session.trust_env = False  # no surprise proxy between us and the upstream

    @property
    def budget_left(self) -> int:
        """Requests the budget still allows."""
        return self.limits.max_requests - self.requests_made

    def get(self, path: str, params: Sequence[tuple[str, str]]) -> Interaction:
        """GET and record; waits out rate limits and retries a 429."""
        for _ in range(self.limits.max_429_retries + 1):
            if self._remaining is not None and self._remaining <= 0:
                self._wait_until(self._reset)
            answer = self._send(path, params)
            self._remember(answer)
            if answer.status != 429:
                self.interactions.append(answer)
                return answer
            self._wait_until(self._reset)
        raise RecordingError(f"still rate limited (429) after {self.limits.max_429_retries} tries")

    def _remember(self, answer: Interaction) -> None:
        remaining = _as_int(answer.header("X-RateLimit-Remaining"))
        reset = _as_int(answer.header("X-RateLimit-Reset"))
        self._remaining = 0 if answer.status == 429 else remaining
        self._reset = reset_instant(reset, self.clock()) if reset is not None else None

    def _wait_until(self, reset: float | None) -> None:
        wait = 1.0 if reset is None else reset - self.clock() + 0.5
        if wait > self.limits.max_rate_wait:
            raise RecordingError(
                f"rate limited for {wait:.0f} s, more than --max-rate-wait "
                f"({self.limits.max_rate_wait:.0f} s)"
            )
        if wait > 0:
            self.waited += wait
            self.sleep(wait)
        self._remaining = None  # the window has rolled: trust the next answer's headers

    def _send(self, path: str, params: Sequence[tuple[str, str]]) -> Interaction:
        import requests

        if self.requests_made >= self.limits.max_requests:
            raise BudgetSpent(f"the request budget of {self.limits.max_requests} is spent")
        self.requests_made += 1
        url = self.base_url.rstrip("/") + path
        headers = {"Accept": "application/yaml, application/json;q=0.9, */*;q=0.1"}
        assert self.session is not None
        started = time.monotonic()
        try:
            raw = self.session.get(
                url,
                params=list(params),
                headers={**headers, "Authorization": f"Bearer {self.key}"},
                timeout=(self.limits.connect_timeout, self.limits.read_timeout),
                stream=True,
                allow_redirects=False,
            )
            try:
                body = self._read(raw, started)
            finally:
                raw.close()
        except requests.RequestException as exc:
            detail = strip_key(f"{type(exc).__name__}: {exc}", self.key)[:300]
            raise RecordingError(f"GET {url}: no response: {detail}") from None
        kept = [
            (name, strip_key(value, self.key))
            for name, value in raw.headers.items()
            if name.lower() not in HOP_HEADERS
        ]
        body = strip_key_bytes(body, self.key)
        kept.append(("Content-Length", str(len(body))))
        return Interaction(
            method="GET",
            uri=uri_without_key(url, list(params)),
            request_headers=tuple(headers.items()),
            status=raw.status_code,
            response_headers=tuple(kept),
            body=body,
        )

    def _read(self, raw: requests.Response, started: float) -> bytes:
        limit = self.limits.max_body_bytes
        declared = _as_int(raw.headers.get("Content-Length"))
        if declared is not None and declared > limit:
            raise RecordingError(f"answer too large: Content-Length {declared}, limit {limit}")
        chunks: list[bytes] = []
        size = 0
        while chunk := raw.raw.read1(_CHUNK, decode_content=True):  # read1: the deadline holds
            size += len(chunk)
            self.bytes_received += len(chunk)
            if size > limit:
                raise RecordingError(f"answer too large: more than {limit} bytes")
            if self.bytes_received > self.limits.max_total_bytes:
                raise RecordingError(f"more than {self.limits.max_total_bytes} bytes in all")
            if time.monotonic() - started > self.limits.deadline:
                raise RecordingError(f"answer incomplete after {self.limits.deadline:.0f} s")
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass
class RecordingSummary:
    """What a recording wrote, for the command's report."""

    requests: int
    interactions: int
    iocs: int
    dataset_source: str
    stopped: str | None = None
    skipped: list[str] = field(default_factory=list)


def _json_records(recorder: Recorder) -> tuple[list[dict[str, Any]], str | None] | None:
    """Every IOC record ``/api/v1/iocs`` lists for the key, and its ``meta.now``; None when
    the key may not use it (or the upstream has no such endpoint)."""
    records: list[dict[str, Any]] = []
    offset, now = 0, None
    while True:
        answer = recorder.get(IOCS_PATH, [("limit", WHOLE), ("offset", str(offset))])
        if answer.status != 200:
            return None if offset == 0 else (records, now)
        try:
            page = json.loads(answer.body)
            data = page["data"]
            now = page.get("meta", {}).get("now", now)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None if offset == 0 else (records, now)
        if not isinstance(data, list) or not data:
            return records, now
        records += [r for r in data if isinstance(r, dict)]
        offset += len(data)
        total = page.get("meta", {}).get("total")
        if isinstance(total, int) and offset >= total:
            return records, now


def _normalised(records: list[dict[str, Any]], skipped: list[str]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for index, record in enumerate(records):
        try:
            ioc = IOC.from_json({k: v for k, v in record.items() if k != "id"})
        except InvalidIOCError as exc:
            skipped.append(f"/api/v1/iocs record {index}: {exc}")
            continue
        out.setdefault(ioc.id, ioc.to_json())
    return sorted(out.values(), key=lambda r: (r["first_seen"], r["id"]))


def _since_days(body: bytes) -> list[str]:
    """Four ``since`` values spread over the days the rules carry."""
    days = sorted(set(rule_dates(body.decode("utf-8", errors="replace"))))
    if not days:
        return []
    picks = sorted({days[len(days) * q // 5] for q in range(1, 5)})
    return [f"{day}T12:00:00Z" for day in picks]


def sigma_queries(since: Sequence[str]) -> list[list[tuple[str, str]]]:
    """The Sigma queries a recording makes after the unfiltered one, most useful first."""
    queries: list[list[tuple[str, str]]] = [[]]  # the default (limit 100)
    queries += [[("type", t), ("limit", WHOLE)] for t in SIGMA_TYPES]
    queries += [[("confidence", c), ("limit", WHOLE)] for c in CONFIDENCES]
    queries += [[("since", s), ("limit", WHOLE)] for s in since]
    queries += [[("type", "not-a-type")], [("limit", "0")]]  # the error format
    queries += [[("industry", i), ("limit", WHOLE)] for i in INDUSTRIES]
    return queries


def record(
    upstream: str,
    key: str,
    out_dir: Path,
    *,
    limits: RecordLimits | None = None,
    recorder: Recorder | None = None,
) -> RecordingSummary:
    """Crawl ``upstream`` with ``key`` and write ``out_dir/iocs.json`` and the cassette."""
    parts = urlsplit(upstream)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RecordingError(f"--upstream {upstream!r} is not an http(s) URL")
    rec = recorder or Recorder(upstream, key, limits or RecordLimits())
    started = datetime.now(UTC).replace(microsecond=0)
    skipped: list[str] = []
    stopped: str | None = None
    json_result = None
    whole: Interaction | None = None
    by_industry: dict[str, list[str]] = {}
    try:
        whole = rec.get(SIGMA_PATH, [("limit", WHOLE)])
        if whole.status in (401, 403):
            raise RecordingError(
                f"the upstream refused the key on {SIGMA_PATH}: {whole.status} "
                f"{whole.body[:200].decode('utf-8', errors='replace')}"
            )
        json_result = _json_records(rec)
        for params in sigma_queries(_since_days(whole.body if whole.status == 200 else b"")):
            answer = rec.get(SIGMA_PATH, params)
            if answer.status == 200 and params and params[0][0] == "industry":
                for rule_id in rule_ids(answer.body.decode("utf-8", errors="replace")):
                    by_industry.setdefault(rule_id, []).append(params[0][1])
    except BudgetSpent as exc:
        stopped = f"{exc}; the recording is partial (raise --max-requests)"
    except RecordingError as exc:
        if whole is None or not rec.interactions or "refused the key" in str(exc):
            raise
        stopped = f"{exc}; the recording is partial"
    if json_result is not None:
        records, now = _normalised(json_result[0], skipped), json_result[1]
        source = IOCS_PATH
    else:
        imported = import_rules(
            whole.body.decode("utf-8", errors="replace") if whole else "", by_industry
        )
        records, now = imported.records, None
        skipped += imported.skipped
        source = f"{SIGMA_PATH} rules"
    meta = {
        "now": now or started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": strip_key(f"recorded from {upstream} ({source})", key),
        "recorded_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / IOCS_FILE).write_bytes(dump_dataset(meta, records).encode("utf-8"))
    (out_dir / CASSETTE_FILE).write_bytes(dump_cassette(rec.interactions).encode("utf-8"))
    return RecordingSummary(
        requests=rec.requests_made,
        interactions=len(rec.interactions),
        iocs=len(records),
        dataset_source=source,
        stopped=stopped,
        skipped=skipped,
    )
