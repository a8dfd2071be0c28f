"""Hypothesis fuzzing of every query parameter and header of the mock, through Flask's client.

Whatever arrives, the mock answers below 500; every error is the JSON envelope; no configured
key (demo or not) comes back in a body or a header, however the request carried it. The
examples are split over several tests (a few thousand in all) so each stays within seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from mockserver.app import create_app
from mockserver.config import MockConfig, apply_rate_limits
from mockserver.faults import (
    FAULTS,
    FaultSettings,
    FaultSpecError,
    install_faults,
    parse_fault_spec,
)
from mockserver.model import CONFIDENCES, INDUSTRIES, IOC_TYPES
from tests.keys import EXPIRED_KEY, FREE_KEY, PRO_KEY, REVOKED_KEY

#: Keys configured on top of the demo keys: one per status and tier, none of them public.
SECRET_KEYS = {
    "sk_live_FuzzPro_7c1e0b9a4f3d2e18": ("pro", "active"),
    "sk_live_FuzzFree_5b2d8e1f0a9c3b47": ("free", "active"),
    "sk_live_FuzzExpired_0e4f6a2c8d1b9e35": ("pro", "expired"),
    "sk_live_FuzzRevoked_9a8b7c6d5e4f3a21": ("pro", "revoked"),
}
DEMO_KEYS = (
    PRO_KEY,
    FREE_KEY,
    EXPIRED_KEY,
    REVOKED_KEY,
)
ALL_KEYS = (*SECRET_KEYS, *DEMO_KEYS)
UNLIMITED = "pro=100000000/minute;1000000000/day,free=100000000/minute;1000000000/day"
PARAMETERS = ("type", "since", "confidence", "industry", "limit", "offset", "category", "api_key")
PATHS = ("/api/v1/iocs/sigma", "/api/v1/iocs", "/healthz")
ENVELOPE_FIELDS = {"code", "message", "request_id"}
FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- the apps --------------------------------------------------------------------------------


def _config(tmp: Path) -> MockConfig:
    keys = tmp / "keys.json"
    records = [{"key": k, "tier": t, "status": s} for k, (t, s) in SECRET_KEYS.items()]
    keys.write_text(json.dumps({"keys": records}), encoding="utf-8")
    config = MockConfig(keys=keys)
    return replace(config, tiers=apply_rate_limits(config.tiers, [UNLIMITED]))


@pytest.fixture(scope="module")
def plain_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The mock as ``soc-mock serve`` builds it, with extra keys and no rate-limit pressure."""
    return create_app(_config(tmp_path_factory.mktemp("fuzz")))


@pytest.fixture(scope="module")
def fault_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The same mock with the fault middleware installed and enabled."""
    app = create_app(_config(tmp_path_factory.mktemp("fuzz-faults")))
    install_faults(app, FaultSettings(enabled=True))
    return app


# -- what every answer must satisfy ---------------------------------------------------------


def check_answer(response: TestResponse, method: str = "GET") -> None:
    """No 5xx; errors in the envelope; no configured key anywhere in the answer."""
    body = response.get_data()
    assert response.status_code < 500, f"{response.status_code}: {body[:500]!r}"
    if response.status_code >= 400 and method != "HEAD":
        assert response.mimetype == "application/json", response.headers
        document = json.loads(body)
        assert set(document) == {"error"}, document
        error = document["error"]
        assert ENVELOPE_FIELDS <= error.keys() <= ENVELOPE_FIELDS | {"details"}, error
        assert all(isinstance(error[name], str) and error[name] for name in ENVELOPE_FIELDS)
        assert isinstance(error.get("details", {}), dict), error
    assert_no_key(body.decode("utf-8", errors="replace"), response.headers.items())


def assert_no_key(text: str, headers: Iterable[tuple[str, str]]) -> None:
    """Fail if any configured key appears in ``text`` or in a header."""
    shown = [f"{name}: {value}" for name, value in headers]
    for key in ALL_KEYS:
        assert key not in text, f"key …{key[-4:]} echoed in the body: {text[:300]!r}"
        leaked = [line for line in shown if key in line]
        assert not leaked, f"key …{key[-4:]} echoed in headers: {leaked}"


# -- strategies -----------------------------------------------------------------------------

#: Text a query string can carry (no surrogates: they have no UTF-8 form).
any_text = st.text(st.characters(codec="utf-8"), max_size=40)
#: What a header value can carry on the wire (latin-1, no control characters).
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60
)
keys = st.sampled_from(ALL_KEYS)
key_like = st.one_of(
    keys,
    keys.map(lambda k: k[:-1]),
    keys.map(lambda k: k + "x"),
    keys.map(str.upper),
    any_text.map(lambda s: "sk_live_" + s),
    keys.flatmap(lambda k: any_text.map(lambda s: s + k + s)),
)
instants = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.dates().map(str),
    st.sampled_from(["2026-02-30", "2026-13-01T00:00:00Z", "9999-12-31T23:59:59+14:00",
                     "0001-01-01", "2026-01-01T24:00:00Z", "2026-01-01 00:00:00 01:00"]),
)  # fmt: skip
integers = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["0", "1", "10000", "10001", "999999999999999999", "1e3", "0x10", " 5", ""]),
)
values_of: Mapping[str, st.SearchStrategy[str]] = {
    "type": st.one_of(st.sampled_from((*IOC_TYPES, "mitre_attack", "sha512", "IPV4")), any_text),
    "since": st.one_of(instants, any_text),
    "confidence": st.one_of(st.sampled_from((*CONFIDENCES, "HIGH", "")), any_text),
    "industry": st.one_of(st.sampled_from((*INDUSTRIES, "finance", "energy ")), any_text),
    "limit": st.one_of(integers, any_text),
    "offset": st.one_of(integers, any_text),
    "category": any_text,
    "api_key": key_like,
}


@st.composite
def queries(draw: st.DrawFn, *, keys_anywhere: bool) -> list[tuple[str, str]]:
    """Query pairs: known parameters (sometimes repeated), unknown ones, any values.

    With ``keys_anywhere`` a key may also ride in any parameter, known or not.
    """
    pairs: list[tuple[str, str]] = []
    for name in draw(st.lists(st.sampled_from(PARAMETERS), max_size=6)):
        value = draw(values_of[name])
        if keys_anywhere and draw(st.booleans()):
            value = draw(key_like)
        pairs.append((name, value))
    for name in draw(st.lists(any_text.filter(lambda n: n not in PARAMETERS), max_size=2)):
        pairs.append((name, draw(key_like if keys_anywhere else any_text)))
    return draw(st.permutations(pairs))


#: A key-like value that can travel in a header (HTTP has no line breaks in header values).
header_key_like = key_like.filter(lambda text: "\r" not in text and "\n" not in text)
authorizations = st.one_of(
    keys.map(lambda k: f"Bearer {k}"),
    header_key_like.map(lambda k: f"Bearer {k}"),
    header_key_like.map(lambda k: f"bearer   {k}  "),
    header_key_like.map(lambda k: f"Basic {k}"),
    header_key_like,
    header_text,
)


@st.composite
def header_sets(draw: st.DrawFn) -> dict[str, str]:
    """Request headers: the two key headers and a few others, any of them odd."""
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["Authorization"] = draw(authorizations)
    if draw(st.booleans()):
        headers["X-API-Key"] = draw(st.one_of(header_key_like, header_text))
    if draw(st.booleans()):
        headers["Accept"] = draw(
            st.one_of(st.sampled_from(["application/json", "*/*"]), header_text)
        )
    names = st.from_regex(r"\AX-[A-Za-z0-9-]{1,20}\Z")
    for name in draw(st.lists(names, max_size=2)):
        headers[name] = draw(st.one_of(header_key_like, header_text))
    return headers


def _get(app: Flask, path: str, query: Any, headers: Mapping[str, str], **kw: Any) -> TestResponse:
    with app.test_client() as client:
        return client.open(
            path, method=kw.pop("method", "GET"), query_string=query, headers=dict(headers), **kw
        )


# -- the fuzz tests -------------------------------------------------------------------------


@FUZZ
@given(
    path=st.sampled_from(PATHS[:2]),
    query=queries(keys_anywhere=False),
    headers=header_sets(),
)
def test_any_query_and_headers_on_the_endpoints(
    plain_app: Flask, path: str, query: list[tuple[str, str]], headers: dict[str, str]
) -> None:
    check_answer(_get(plain_app, path, query, headers))


@FUZZ
@given(
    path=st.sampled_from(PATHS[:2]),
    query=queries(keys_anywhere=False),
    key=keys,
)
def test_any_query_with_a_valid_key(
    plain_app: Flask, path: str, query: list[tuple[str, str]], key: str
) -> None:
    """The same values behind a key that authenticates, so the parser and store see them."""
    check_answer(_get(plain_app, path, query, {"Authorization": f"Bearer {key}"}))


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_QUERY_PIECES = [b"%", b"%zz", b"%ff", b"%c3%28", b"%00", b"&", b"=", b"+", b";", b"#"]
raw_queries = st.one_of(
    st.binary(max_size=120).filter(_is_utf8),
    any_text.map(str.encode),
    st.lists(
        st.one_of(st.sampled_from(_QUERY_PIECES), st.sampled_from(PARAMETERS).map(str.encode)),
        max_size=12,
    ).map(b"".join),
)


def _raw_get(app: Flask, path: str, raw: bytes, key: str) -> TestResponse:
    """GET with ``raw`` as the query string, as a WSGI server hands it over (latin-1 str)."""
    environ = {"QUERY_STRING": raw.decode("latin-1")}
    return _get(app, path, None, {"X-API-Key": key}, environ_overrides=environ)


@FUZZ
@given(raw=raw_queries, key=keys, path=st.sampled_from(PATHS))
def test_raw_query_string_bytes(plain_app: Flask, raw: bytes, key: str, path: str) -> None:
    """Any UTF-8 query string: bad percent-encoding (``%zz``, ``%ff``), NULs, lone ``&``."""
    check_answer(_raw_get(plain_app, path, raw, key))


@pytest.mark.parametrize("raw", [b"\xed", b"type=\xff", b"limit=1&since=\xe9t\xe9"])
@pytest.mark.parametrize("path", PATHS[:2])
def test_raw_non_utf8_query_string_is_a_400(plain_app: Flask, raw: bytes, path: str) -> None:
    response = _raw_get(plain_app, path, raw, PRO_KEY)
    check_answer(response)
    assert response.status_code == 400


@FUZZ
@given(
    path=st.one_of(st.sampled_from(PATHS), any_text.map(lambda s: "/" + s.lstrip("/"))),
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    headers=header_sets(),
)
def test_any_path_and_method(
    plain_app: Flask, path: str, method: str, headers: dict[str, str]
) -> None:
    check_answer(_get(plain_app, path, None, headers, method=method), method)


def _is_valid_fault(text: str) -> bool:
    try:
        parse_fault_spec(text)
    except FaultSpecError:
        return False
    return True


@settings(FUZZ, max_examples=300)
@given(
    fault=st.one_of(
        header_text,
        st.sampled_from(list(FAULTS)).flatmap(lambda n: header_text.map(lambda a: f"{n}:{a}")),
    ).filter(lambda text: not _is_valid_fault(text)),
    key=keys,
    remote=st.sampled_from(["127.0.0.1", "::1", "192.0.2.7", "2001:db8::1", "not-an-ip", ""]),
)
def test_fault_header_with_faults_enabled(
    fault_app: Flask, fault: str, key: str, remote: str
) -> None:
    """A malformed ``X-Mock-Fault`` (or one from afar) is a 4xx envelope, never a fault."""
    headers = {"Authorization": f"Bearer {key}", "X-Mock-Fault": fault}
    environ = {"REMOTE_ADDR": remote}
    response = _get(fault_app, PATHS[0], [("limit", "5")], headers, environ_base=environ)
    check_answer(response)
    assert response.status_code in (400, 403), response.status_code


@pytest.mark.parametrize("key", [next(iter(SECRET_KEYS)), PRO_KEY])
def test_a_key_sent_as_the_fault_header_is_not_echoed(fault_app: Flask, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}", "X-Mock-Fault": key}
    response = _get(fault_app, PATHS[0], [("limit", "5")], headers)
    assert response.status_code == 400
    check_answer(response)


@settings(FUZZ, max_examples=300)
@given(query=queries(keys_anywhere=True), key=keys)
def test_a_key_in_any_parameter_is_never_echoed_by_the_sigma_endpoint(
    plain_app: Flask, query: list[tuple[str, str]], key: str
) -> None:
    """Keys in any parameter, known or not, valid or not: never in a Sigma answer or error."""
    check_answer(_get(plain_app, PATHS[0], query, {"Authorization": f"Bearer {key}"}))


@pytest.mark.parametrize("parameter", ["apikey", "API_KEY", "key", "token"])
def test_a_key_in_a_mistyped_parameter_is_not_echoed_in_links(
    plain_app: Flask, parameter: str
) -> None:
    secret = next(iter(SECRET_KEYS))
    query = [(parameter, secret), ("limit", "1")]
    check_answer(_get(plain_app, PATHS[1], query, {"Authorization": f"Bearer {secret}"}))
