"""WSGI middleware that plants one defect in front of the real mock, for the server-check tests.

``Planted(app, request=..., response=...)`` rewrites the request (its query string or headers)
before the mock sees it, and/or the response after; helpers split and join YAML bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from werkzeug.wrappers import Request, Response

from conformance.documents import split_documents

RequestRewrite = Callable[[dict[str, Any]], None]
ResponseRewrite = Callable[[Request, Response], Response]


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


def query_of(environ: dict[str, Any]) -> dict[str, str]:
    """The request's query parameters (last value wins)."""
    return dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))


def set_query(environ: dict[str, Any], query: dict[str, str]) -> None:
    """Replace the request's query string."""
    environ["QUERY_STRING"] = urlencode(query)


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
    return request.path == "/api/v1/iocs/sigma"
