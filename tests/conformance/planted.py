"""WSGI middleware that plants one change in front of the real mock: a defect, or a conformant
variation.

``Planted(app, request=..., response=...)`` rewrites the request (its query string or headers)
before the mock sees it, and/or the response after. The helpers below build the rewrites the
catalogue (``tests/conformance/catalogue.py``) is made of: per-document and per-body text
transforms of Sigma answers, a re-selection that re-orders or re-cuts the whole answer while
keeping the mock's own verdict on the query, and a guard that makes a crashing rewrite visible
instead of letting it pass for a server defect.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import random
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from werkzeug.wrappers import Request, Response

from conformance.rules.documents import split_documents
from mockserver.config import MockConfig
from tests.keys import EXPIRED_KEY, FREE_KEY, PRO_KEY

if TYPE_CHECKING:
    from conformance.results import RunResult
    from mockserver.fixtures import Dataset

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
RequestRewrite = Callable[[dict[str, Any]], None]
ResponseRewrite = Callable[[Request, Response], Response]
SIGMA_PATH = "/api/v1/iocs/sigma"
IOCS_PATH = "/api/v1/iocs"
#: The Pro maximum: asking for it gives the whole selection, which a re-selection re-cuts.
WHOLE = "10000"


class Planted:
    """A WSGI app: the wrapped app with one request and/or response rewrite."""

    def __init__(
        self,
        app: Any,
        *,
        request: RequestRewrite | None = None,
        response: ResponseRewrite | None = None,
    ) -> None:
        self.app, self.rewrite_request, self.rewrite_response = app, request, response

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if self.rewrite_request is not None:
            self.rewrite_request(environ)
        request = Request(environ)
        response = Response.from_app(self.app, environ)
        if self.rewrite_response is not None:
            response = self.rewrite_response(request, response)
        return response(environ, start_response)


class Reselected:
    """A WSGI app that answers a Sigma query with ``pick(whole, n)``: ``whole`` is every rule
    the query selects (asked again with the Pro maximum ``limit``), ``n`` the number of rules
    the mock gave for the query as asked.

    The mock keeps judging the query itself (status, errors, rate-limit headers, the default
    and clamped ``limit``), so only the choice and order of the rules changes: another order
    that ``limit`` still cuts as a prefix, or a cut that is not a prefix.
    """

    def __init__(self, app: Any, pick: Callable[[list[str], int], list[str]]) -> None:
        self.app, self.pick = app, pick

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        whole_environ = dict(environ)  # copied before the mock reads anything from it
        response = Response.from_app(self.app, environ)
        if environ.get("PATH_INFO") == SIGMA_PATH and response.status_code == 200:
            set_query(whole_environ, {**query_of(whole_environ), "limit": WHOLE})
            whole = documents(Response.from_app(self.app, whole_environ))
            response = with_documents(response, self.pick(whole, len(documents(response))))
        return response(environ, start_response)


class Guard:
    """A WSGI app recording any exception its wrapped app (a planted rewrite) raises.

    A rewrite that crashes gives a 500 that a check would report as the server's defect: the
    test asserts ``errors`` is empty, so such a harness bug can never pass for a caught defect.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            return list(self.app(environ, start_response))
        except Exception as exc:
            with self._lock:
                self.errors.append(exc)
            raise


def query_of(environ: dict[str, Any]) -> dict[str, str]:
    """The request's query parameters (last value wins)."""
    return dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))


def set_query(environ: dict[str, Any], query: dict[str, str]) -> None:
    """Replace the request's query string."""
    environ["QUERY_STRING"] = urlencode(query)


def rewrite_query(change: Callable[[dict[str, str]], None]) -> RequestRewrite:
    """A request rewrite applying ``change`` to the query of Sigma requests."""

    def rewrite(environ: dict[str, Any]) -> None:
        if environ.get("PATH_INFO") == SIGMA_PATH:
            query = query_of(environ)
            change(query)
            set_query(environ, query)

    return rewrite


def documents(response: Response) -> list[str]:
    """A YAML body's documents, as text."""
    text = response.get_data(as_text=True)
    return [doc for doc, trailing in split_documents(text) if not trailing]


def with_documents(response: Response, docs: list[str]) -> Response:
    """The response with its body replaced by ``docs`` joined as multi-document YAML."""
    body = "".join("---\n" + (d if d.endswith("\n") else d + "\n") for d in docs)
    response.set_data(body.encode())
    return response


def is_sigma(request: Request) -> bool:
    """Whether the request is for the Sigma endpoint."""
    return request.path == SIGMA_PATH


def is_rules(request: Request, response: Response) -> bool:
    """Whether the response is a 200 answer of the Sigma endpoint (a body of rules)."""
    return is_sigma(request) and response.status_code == 200


def each_document(change: Callable[[str], str]) -> ResponseRewrite:
    """A response rewrite applying ``change`` to every document of every Sigma answer.

    ``change`` sees one document's text and must be a function of it alone, so that an IOC's
    rule reads the same in every answer (the defect is stable, as a real server's would be).
    """

    def rewrite(request: Request, response: Response) -> Response:
        if not is_rules(request, response):
            return response
        return with_documents(response, [change(d) for d in documents(response)])

    return rewrite


def each_body(change: Callable[[list[str]], list[str]]) -> ResponseRewrite:
    """A response rewrite applying ``change`` to the document list of every Sigma answer."""

    def rewrite(request: Request, response: Response) -> Response:
        if not is_rules(request, response):
            return response
        return with_documents(response, change(documents(response)))

    return rewrite


def raw_body(change: Callable[[bytes], bytes]) -> ResponseRewrite:
    """A response rewrite applying ``change`` to the bytes of every Sigma answer (even empty)."""

    def rewrite(request: Request, response: Response) -> Response:
        if is_rules(request, response):
            response.set_data(change(response.get_data()))
        return response

    return rewrite


def content_type(value: str) -> ResponseRewrite:
    """A response rewrite serving every Sigma answer with the ``Content-Type`` ``value``."""

    def rewrite(request: Request, response: Response) -> Response:
        if is_rules(request, response):
            response.headers["Content-Type"] = value
        return response

    return rewrite


def each_answer(change: Callable[[Response], None]) -> ResponseRewrite:
    """A response rewrite applying ``change`` to every answer, whatever its path or status."""

    def rewrite(request: Request, response: Response) -> Response:
        change(response)
        return response

    return rewrite


def each_rules_answer(change: Callable[[Response], None]) -> ResponseRewrite:
    """A response rewrite applying ``change`` to every 200 answer of the Sigma endpoint."""

    def rewrite(request: Request, response: Response) -> Response:
        if is_rules(request, response):
            change(response)
        return response

    return rewrite


def each_error(
    change: Callable[[Request, Response], None], statuses: Iterable[int] = (401,)
) -> ResponseRewrite:
    """A response rewrite applying ``change`` to every answer with one of ``statuses``."""
    wanted = frozenset(statuses)

    def rewrite(request: Request, response: Response) -> Response:
        if response.status_code in wanted:
            change(request, response)
        return response

    return rewrite


def per_call(change: Callable[[random.Random, list[str], Request], list[str]]) -> ResponseRewrite:
    """A rewrite of Sigma answers whose randomness differs on every call (an unstable app)."""
    calls = itertools.count()

    def rewrite(request: Request, response: Response) -> Response:
        if not is_rules(request, response):
            return response
        rng = random.Random(next(calls))
        return with_documents(response, change(rng, documents(response), request))

    return rewrite


def replace_text(old: str, new: str) -> Callable[[Request, Response], None]:
    """A change replacing ``old`` by ``new`` in a response's body."""

    def change(request: Request, response: Response) -> None:
        response.set_data(response.get_data(as_text=True).replace(old, new))

    return change


def set_header(name: str, value: Callable[[str], str]) -> Callable[[Response], None]:
    """A change replacing the header ``name``, where present, by ``value(old value)``."""

    def change(response: Response) -> None:
        if name in response.headers:
            response.headers[name] = value(response.headers[name])

    return change


def swap_bearer(old: str, new: str) -> RequestRewrite:
    """A request rewrite presenting the key ``new`` wherever ``Bearer old`` was sent."""

    def rewrite(environ: dict[str, Any]) -> None:
        if environ.get("HTTP_AUTHORIZATION") == f"Bearer {old}":
            environ["HTTP_AUTHORIZATION"] = f"Bearer {new}"

    return rewrite


_ID = re.compile(r"^id: (\S+)\r?$", re.MULTILINE)
_TOP_KEY = re.compile(r"^(?=[^\s#-])", re.MULTILINE)
_CHILD_KEY = re.compile(r"^(?=  [^\s#-])", re.MULTILINE)


def rule_id(doc: str) -> str:
    """A rule document's ``id`` as written ("" when it has none)."""
    match = _ID.search(doc)
    return match.group(1) if match else ""


def with_rule_id(doc: str, new_id: str) -> str:
    """The rule document with its ``id`` replaced by ``new_id``."""
    return _ID.sub(f"id: {new_id}", doc, count=1)


def _reversed_blocks(text: str, starts: re.Pattern[str]) -> str:
    """The text with its blocks (each beginning where ``starts`` matches) in reverse order."""
    cuts = [m.start() for m in starts.finditer(text)]
    if len(cuts) < 2 or cuts[0] != 0:
        return text
    blocks = [text[a:b] for a, b in itertools.pairwise([*cuts, len(text)])]
    return "".join(reversed(blocks))


def keys_reversed(doc: str) -> str:
    """A block-style document with its top-level keys, and their mapping keys, reversed.

    Works on the text, so every value keeps its exact spelling and quoting: only the order of
    keys changes (a list's items keep theirs).
    """
    top = [m.start() for m in _TOP_KEY.finditer(doc)]
    blocks = [doc[a:b] for a, b in itertools.pairwise([*top, len(doc)])]
    out = []
    for block in blocks:
        head, _, body = block.partition("\n")
        out.append(head + "\n" + _reversed_blocks(body, _CHILD_KEY))
    return "".join(reversed(out))


def gzipped(request: Request, response: Response) -> Response:
    """A response rewrite compressing the body for a client that accepts gzip."""
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response.set_data(gzip.compress(response.get_data(), mtime=0))
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
    return response


def chunked(response: Response) -> None:
    """A change send the body in 4 KiB pieces with no ``Content-Length`` (chunked)."""
    data = response.get_data()
    # A generator, not a list: werkzeug sets Content-Length itself for a sequence.
    response.response = (data[i : i + 4096] for i in range(0, len(data), 4096))
    response.headers.pop("Content-Length", None)


Plant = Callable[[WSGIApp], WSGIApp]


def respond(rewrite: ResponseRewrite) -> Plant:
    """A plant: the app behind ``Planted`` with the response rewrite ``rewrite``."""
    return lambda app: Planted(app, response=rewrite)


def iocs_answer(status: int) -> Plant:
    """A plant: ``/api/v1/iocs`` answers ``status`` with an error body (the list unusable)."""

    def rewrite(request: Request, response: Response) -> Response:
        if request.path == IOCS_PATH:
            return Response(b'{"error": {"code": "not_found"}}', status=status)
        return response

    return respond(rewrite)


def per_record(change: Callable[[dict[str, Any]], None]) -> Plant:
    """A plant applying ``change`` to every record a 200 from ``/api/v1/iocs`` holds."""

    def rewrite(request: Request, response: Response) -> Response:
        if request.path == IOCS_PATH and response.status_code == 200:
            payload = json.loads(response.get_data())
            for record in payload["data"]:
                change(record)
            response.set_data(json.dumps(payload).encode())
        return response

    return respond(rewrite)


def chain(*plants: Plant) -> Plant:
    """One plant made of ``plants``, the first innermost (nearest the app)."""

    def plant(app: WSGIApp) -> WSGIApp:
        for one in plants:
            app = one(app)
        return app

    return plant


def send(rewrite: RequestRewrite) -> Plant:
    """A plant: the app behind ``Planted`` with the request rewrite ``rewrite``."""
    return lambda app: Planted(app, request=rewrite)


def per_document(change: Callable[[str], str]) -> Plant:
    """A plant applying ``change`` to every document of every Sigma answer."""
    return respond(each_document(change))


def per_body(change: Callable[[list[str]], list[str]]) -> Plant:
    """A plant applying ``change`` to the document list of every Sigma answer."""
    return respond(each_body(change))


def per_query(change: Callable[[dict[str, str]], None]) -> Plant:
    """A plant applying ``change`` to the query of every Sigma request."""
    return send(rewrite_query(change))


def sub(pattern: str, replacement: str, *, only: str = "") -> Callable[[str], str]:
    """A document change: ``re.sub`` (multi-line) on documents holding ``only`` (all if "")."""
    compiled = re.compile(pattern, re.MULTILINE)
    return lambda doc: compiled.sub(replacement, doc) if only in doc else doc


#: The demo keys the mock's committed fixtures hold.
PRO, FREE, EXPIRED = PRO_KEY, FREE_KEY, EXPIRED_KEY


@functools.cache
def feed() -> Dataset:
    """Every tenth IOC of the committed fixtures: 200 IOCs, every type, level and day still
    there.

    A tenth of the feed keeps each full run of the suite (which fetches and parses the whole
    feed many times over, and compiles it) to a few seconds, and changes nothing the defects
    and variations are about; the whole feed is judged by ``test_server_e2e.py``.
    """
    from mockserver.fixtures import Dataset, load_dataset

    dataset = load_dataset()
    return Dataset(dataset.meta, dataset.iocs[::10])


#: The mock with the Free tier's documented 10 requests a window of 2 seconds instead of a
#: minute: the 429 check trips the Free key and waits for its reset, which then takes seconds.
FAST_FREE_WINDOW = MockConfig.from_sources({"rate_limit": ["free=10/2second;1000/day"]})


@contextmanager
def served(plant: Plant) -> Iterator[str]:
    """Serve the real mock behind ``plant`` on a loopback port; yields the base URL.

    Planted the Flask way (``app.wsgi_app`` wrapped), so the live server still re-raises the
    mock's own errors when it stops; a rewrite that raised fails the block too.
    """
    from mockserver.app import create_app
    from mockserver.liveserver import LiveServer

    app = create_app(FAST_FREE_WINDOW, dataset=feed())
    guard = Guard(plant(app.wsgi_app))
    app.wsgi_app = guard  # type: ignore[method-assign]
    with LiveServer(app) as server:
        yield server.url
    assert not guard.errors, f"the planted rewrite itself failed: {guard.errors[0]!r}"


def check_server(
    url: str,
    *,
    include: tuple[str, ...] = (),
    strict: bool = False,
    seed: int = 7,
    max_examples: int = 10,
) -> RunResult:
    """Run the conformance suite on ``url`` (the required targets only, all three keys), the
    way the catalogue's tests do: a fixed seed, small Hypothesis budgets, bounded requests."""
    from conformance import contract
    from conformance.server.config import ServerConfig
    from conformance.server.run import run_server

    config = ServerConfig(
        base_url=url,
        api_key=PRO,
        free_key=FREE,
        expired_key=EXPIRED,
        targets=contract.REQUIRED_TARGETS,
        strict=strict,
        include=include,
        seed=seed,
        max_examples=max_examples,
        max_requests=600,
        timeout=20,
    )
    return run_server(config)
