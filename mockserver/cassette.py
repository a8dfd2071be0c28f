"""Recorded exchanges in VCR.py's cassette format (YAML, version 1), written and read here.

Why VCR.py's format and not WireMock's mappings: the project is Python, and a VCR cassette is
read as it is by vcrpy and pytest-recording (``@pytest.mark.vcr``), so a team can replay the
recorded feed in its own tests without this package. WireMock would need a JVM (or its Python
wrapper) and splits every body into a file of its own.

The layout (what vcrpy's ``serialize.deserialize`` expects)::

    interactions:
    - request: {body: null, headers: {Accept: [...]}, method: GET, uri: http://host/path?query}
      response:
        body: {string: "<the body, text; !!binary when it is not UTF-8>"}
        headers: {Content-Type: [application/yaml; charset=utf-8], X-RateLimit-Reset: [...]}
        status: {code: 200, message: OK}
    version: 1

The body is kept as the client received it (after undoing any Content-Encoding, so the header is
dropped and Content-Length set to the stored length). Keys never enter a cassette: the request's
key headers and ``api_key`` parameter are removed and any echo of the key in a response is
replaced by its redacted form (:func:`strip_key`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

import yaml

from mockserver.errors import FixtureError, redact_key

CASSETTE_FILE = "cassette.yaml"
# libyaml's safe loader and dumper where PyYAML has them: ten times the pure-Python speed.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
#: Request headers that carry a key; they are never written.
KEY_HEADERS = frozenset({"authorization", "x-api-key"})
#: The query parameter a key may travel in.
KEY_PARAMETER = "api_key"
#: Response headers that describe the transfer rather than the answer; not replayed as recorded.
HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length"}
)


@dataclass(frozen=True, slots=True)
class Interaction:
    """One request (key removed) and the answer it got."""

    method: str
    uri: str
    request_headers: tuple[tuple[str, str], ...]
    status: int
    response_headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def path(self) -> str:
        """The URI's path."""
        return urlsplit(self.uri).path

    def match_key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """What a replayed request must equal: method, path and its parameters in any order."""
        return request_key(self.method, self.path, parse_qsl(urlsplit(self.uri).query, True))

    def header(self, name: str) -> str | None:
        """A response header's (first) value, by case-insensitive name."""
        return next((v for k, v in self.response_headers if k.lower() == name.lower()), None)


def request_key(
    method: str, path: str, params: Iterable[tuple[str, str]]
) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """A request's identity for replay: the key parameter is not part of it."""
    kept = tuple(sorted((k, v) for k, v in params if k != KEY_PARAMETER))
    return method.upper(), path, kept


def key_forms(key: str) -> tuple[str, ...]:
    """The spellings a key can take on the wire (raw, URL-encoded), longest first."""
    return tuple(sorted({key, quote(key, safe=""), quote_plus(key)}, key=len, reverse=True))


def strip_key(text: str, key: str | None) -> str:
    """``text`` with every spelling of ``key`` replaced by its redacted form."""
    if not key:
        return text
    for form in key_forms(key):
        text = text.replace(form, redact_key(key))
    return text


def strip_key_bytes(body: bytes, key: str | None) -> bytes:
    """Like :func:`strip_key` for a body of bytes (works whatever the body's encoding)."""
    if not key:
        return body
    for form in key_forms(key):
        body = body.replace(form.encode(), redact_key(key).encode())
    return body


def uri_without_key(url: str, params: Sequence[tuple[str, str]]) -> str:
    """``url`` (no query) with ``params`` minus the key parameter as its query string."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in params if k != KEY_PARAMETER]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))


def _headers_dict(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name, []).append(value)
    return out


def _to_dict(interaction: Interaction) -> dict[str, Any]:
    try:
        body: str | bytes = interaction.body.decode("utf-8")
    except UnicodeDecodeError:
        body = interaction.body  # written as !!binary, as vcrpy does
    try:
        message = HTTPStatus(interaction.status).phrase
    except ValueError:
        message = ""
    return {
        "request": {
            "body": None,
            "headers": _headers_dict(interaction.request_headers),
            "method": interaction.method,
            "uri": interaction.uri,
        },
        "response": {
            "body": {"string": body},
            "headers": _headers_dict(interaction.response_headers),
            "status": {"code": interaction.status, "message": message},
        },
    }


def dump_cassette(interactions: Sequence[Interaction]) -> str:
    """The cassette's YAML text."""
    document = {"interactions": [_to_dict(i) for i in interactions], "version": 1}
    return yaml.dump(document, Dumper=_DUMPER, allow_unicode=True, sort_keys=True, width=1_000_000)


def _pairs(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise FixtureError(f"{where}: headers must be a mapping")
    out: list[tuple[str, str]] = []
    for name, values in raw.items():
        for value in values if isinstance(values, list) else [values]:
            out.append((str(name), str(value)))
    return tuple(out)


def load_cassette(path: Path) -> list[Interaction]:
    """Read a VCR cassette; a file that is not one is a FixtureError with one clear line."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
    except OSError as exc:
        raise FixtureError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FixtureError(f"{path} is not a YAML cassette: {str(exc).splitlines()[0]}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("interactions"), list):
        raise FixtureError(f"{path}: not a VCR cassette (no 'interactions' list)")
    if document.get("version") != 1:
        raise FixtureError(f"{path}: VCR cassette version {document.get('version')!r}, not 1")
    out: list[Interaction] = []
    for index, item in enumerate(document["interactions"]):
        where = f"{path}: interactions[{index}]"
        try:
            request, response = item["request"], item["response"]
            body = response["body"]["string"]
            out.append(
                Interaction(
                    method=str(request["method"]).upper(),
                    uri=str(request["uri"]),
                    request_headers=_pairs(request.get("headers"), where),
                    status=int(response["status"]["code"]),
                    response_headers=_pairs(response.get("headers"), where),
                    body=body if isinstance(body, bytes) else str(body).encode("utf-8"),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FixtureError(f"{where} is malformed: {exc!r}") from exc
    return out
