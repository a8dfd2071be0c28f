"""Each server check bites: one defect planted in front of the real mock, the named check fails.

The unmodified mock passing every one of these checks under --strict is test_server_e2e.py's
job (one run for all checks, cheaper than one per defect).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from conformance import contract
from conformance.results import CheckResult, Status
from conformance.server import ServerConfig, run_server
from mockserver.app import create_app
from tests.conformance.fake_servers import serve_wsgi
from tests.conformance.planted import (
    Planted,
    documents,
    is_sigma,
    query_of,
    set_query,
    with_documents,
)

PRO, FREE, EXPIRED = "sk_live_demo_pro", "sk_live_demo_free", "sk_live_demo_expired"
FILTERS = ("type", "confidence", "industry", "since")


def run_one(app: Any, name: str, *, strict: bool = False, seed: int = 7) -> CheckResult:
    """Run one server check against ``app`` on a loopback port."""
    with serve_wsgi(app) as url:
        config = ServerConfig(
            base_url=url,
            api_key=PRO,
            free_key=FREE,
            expired_key=EXPIRED,
            include=(name,),
            seed=seed,
            max_examples=10,
            strict=strict,
            timeout=20,
        )
        result = run_server(config)
    assert result.harness_error is None, result.harness_error
    (check,) = [c for c in result.checks if c.name == name]
    return check


# -- request rewrites -----------------------------------------------------------------------


def rewrite_query(change: Callable[[dict[str, str]], None]) -> Callable[[dict[str, Any]], None]:
    def rewrite(environ: dict[str, Any]) -> None:
        if environ.get("PATH_INFO") == contract.SIGMA_PATH:
            query = query_of(environ)
            change(query)
            set_query(environ, query)

    return rewrite


def _drop_type_url(query: dict[str, str]) -> None:
    if query.get("type") == "url":
        del query["type"]


def _drop_since_with_industry(query: dict[str, str]) -> None:
    if "industry" in query:
        query.pop("since", None)


def _limit_plus_one(query: dict[str, str]) -> None:
    if "limit" in query and query["limit"].isdigit():
        query["limit"] = str(int(query["limit"]) + 1)


def _shift_since(query: dict[str, str], shift: Callable[[datetime], timedelta]) -> None:
    if "since" in query:
        try:
            moment = datetime.fromisoformat(query["since"].replace("Z", "+00:00"))
        except ValueError:
            return
        query["since"] = (moment - shift(moment)).isoformat().replace("+00:00", "Z")


def _unknown_param_is_bad(query: dict[str, str]) -> None:
    if set(query) - set(contract.SIGMA_PARAMETERS):
        query["type"] = "bogus"


def _extra_type_is_bad(query: dict[str, str]) -> None:
    if query.get("type") in contract.EXTRA_TYPES:
        query["type"] = "bogus"


def free_key_allowed(environ: dict[str, Any]) -> None:
    if environ.get("HTTP_AUTHORIZATION") == f"Bearer {FREE}":
        environ["HTTP_AUTHORIZATION"] = f"Bearer {PRO}"


def x_api_key_ignored(environ: dict[str, Any]) -> None:
    environ.pop("HTTP_X_API_KEY", None)


# -- response rewrites ----------------------------------------------------------------------


def _with_code(code_from: str, code_to: str, status: int = 401) -> Callable[..., Response]:
    def rewrite(request: Request, response: Response) -> Response:
        if response.status_code == status and code_from in response.get_data(as_text=True):
            response.set_data(response.get_data(as_text=True).replace(code_from, code_to))
        return response

    return rewrite


def missing_key_403(request: Request, response: Response) -> Response:
    if "missing_api_key" in response.get_data(as_text=True):
        response.status_code = 403
    return response


def plain_text_errors(request: Request, response: Response) -> Response:
    if response.status_code >= 400:
        response.set_data(b"Unauthorized\n")
        response.content_type = "text/plain"
    return response


def no_remaining_header(request: Request, response: Response) -> Response:
    response.headers.pop("X-RateLimit-Remaining", None)
    return response


def remaining_never_decreases(request: Request, response: Response) -> Response:
    if "X-RateLimit-Remaining" in response.headers:
        response.headers["X-RateLimit-Remaining"] = "900"
    return response


def text_plain_rules(request: Request, response: Response) -> Response:
    if is_sigma(request) and response.status_code == 200:
        response.content_type = "text/plain"
    return response


def bad_value_500(request: Request, response: Response) -> Response:
    if response.status_code == 400:
        response.status_code = 500
    return response


def confidence_drops_a_rule(request: Request, response: Response) -> Response:
    docs = documents(response)
    if is_sigma(request) and "confidence" in request.args and len(docs) > 1:
        return with_documents(response, docs[:-1])
    return response


def combined_drops_a_rule(request: Request, response: Response) -> Response:
    docs = documents(response)
    if is_sigma(request) and len(set(request.args) & set(FILTERS)) >= 2 and len(docs) > 1:
        return with_documents(response, docs[1:])
    return response


def empty_is_null(request: Request, response: Response) -> Response:
    if is_sigma(request) and response.status_code == 200 and not response.get_data().strip():
        response.set_data(b"null\n")
    return response


def iocs_drop_one(request: Request, response: Response) -> Response:
    if request.path == contract.IOCS_PATH and response.status_code == 200:
        payload = json.loads(response.get_data())
        if len(payload["data"]) > 1:
            payload["data"] = payload["data"][1:]
            payload["meta"]["total"] -= 1
            response.set_data(json.dumps(payload).encode())
    return response


def limit_takes_the_tail() -> tuple[Callable[..., None], Callable[..., Response]]:
    asked: dict[int, int] = {}

    def request_rewrite(environ: dict[str, Any]) -> None:
        query = query_of(environ)
        if environ.get("PATH_INFO") == contract.SIGMA_PATH and query.get("limit", "").isdigit():
            asked[id(environ)] = int(query["limit"])
            query["limit"] = str(contract.PRO.max_results)
            set_query(environ, query)

    def response_rewrite(request: Request, response: Response) -> Response:
        limit = asked.pop(id(request.environ), None)
        if limit is None or limit == contract.PRO.max_results:
            return response
        return with_documents(response, documents(response)[-limit:])

    return request_rewrite, response_rewrite


def per_call(change: Callable[[random.Random, list[str], Request], list[str]]) -> Any:
    """A response rewrite whose randomness differs on every call (a deliberately unstable app)."""
    calls = itertools.count()

    def rewrite(request: Request, response: Response) -> Response:
        if not is_sigma(request) or response.status_code != 200:
            return response
        rng = random.Random(next(calls))
        return with_documents(response, change(rng, documents(response), request))

    return rewrite


def _shuffled(rng: random.Random, docs: list[str], request: Request) -> list[str]:
    rng.shuffle(docs)
    return docs


_ID = re.compile(r"^id: .*$", re.MULTILINE)


def _random_ids(rng: random.Random, docs: list[str], request: Request) -> list[str]:
    return [_ID.sub(f"id: {uuid.UUID(int=rng.getrandbits(128), version=4)}", d) for d in docs]


def _ids_by_filter(rng: random.Random, docs: list[str], request: Request) -> list[str]:
    if "type" not in request.args:
        return docs
    salt = request.args["type"]

    def salted(match: re.Match[str]) -> str:
        return f"id: {uuid.uuid5(uuid.NAMESPACE_URL, match.group(0) + salt)}"

    return [_ID.sub(salted, d) for d in docs]


# -- the defects ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Defect:
    """One planted defect and the check that must catch it."""

    name: str
    check: str
    plant: Callable[[Any], Any]
    strict: bool = False


def _odd_day_shift(moment: datetime) -> timedelta:
    return timedelta(days=200) if moment.day % 2 else timedelta(0)


def _tail_app(app: Any) -> Planted:
    request_rewrite, response_rewrite = limit_takes_the_tail()
    return Planted(app, request=request_rewrite, response=response_rewrite)


DEFECTS = [
    Defect("missing key gives 403", "missing_key_is_401_missing_api_key",
           lambda a: Planted(a, response=missing_key_403)),
    Defect("unknown key has another code", "unknown_key_is_401_invalid_api_key",
           lambda a: Planted(a, response=_with_code("invalid_api_key", "unauthorized"))),
    Defect("expired key reads as invalid", "expired_key_is_401_expired_api_key",
           lambda a: Planted(a, response=_with_code("expired_api_key", "invalid_api_key"))),
    Defect("free key gets rules", "free_key_is_403_on_sigma",
           lambda a: Planted(a, request=free_key_allowed)),
    Defect("X-API-Key ignored", "both_key_headers_are_accepted",
           lambda a: Planted(a, request=x_api_key_ignored)),
    Defect("plain-text errors", "error_bodies_are_the_envelope",
           lambda a: Planted(a, response=plain_text_errors)),
    Defect("no X-RateLimit-Remaining", "rate_limit_headers_are_coherent",
           lambda a: Planted(a, response=no_remaining_header)),
    Defect("remaining never decreases", "rate_limit_headers_are_coherent",
           lambda a: Planted(a, response=remaining_never_decreases)),
    Defect("rules as text/plain", "media_type_is_yaml",
           lambda a: Planted(a, response=text_plain_rules)),
    Defect("bad value gives 500", "invalid_values_are_never_5xx",
           lambda a: Planted(a, response=bad_value_500)),
    Defect("unknown parameter rejected", "unknown_parameters_are_ignored",
           lambda a: Planted(a, request=rewrite_query(_unknown_param_is_bad))),
    Defect("extra types rejected", "extra_types_are_accepted",
           lambda a: Planted(a, request=rewrite_query(_extra_type_is_bad))),
    Defect("type=url ignored", "type_filter_selects_only_its_type",
           lambda a: Planted(a, request=rewrite_query(_drop_type_url))),
    Defect("confidence loses a rule", "confidence_filter_selects_only_its_level",
           lambda a: Planted(a, response=confidence_drops_a_rule)),
    Defect("industry drops since", "industry_filter_selects_a_subset",
           lambda a: Planted(a, request=rewrite_query(_drop_since_with_industry))),
    Defect("combined filters lose a rule", "combined_filters_give_the_intersection",
           lambda a: Planted(a, response=combined_drops_a_rule)),
    Defect("limit off by one", "limit_caps_the_count",
           lambda a: Planted(a, request=rewrite_query(_limit_plus_one))),
    Defect("limit takes the tail", "limit_gives_a_prefix", _tail_app),
    Defect("since is inclusive", "since_is_strict",
           lambda a: Planted(a, request=rewrite_query(
               lambda q: _shift_since(q, lambda m: timedelta(seconds=1)))), strict=True),
    Defect("since jumps back on odd days", "since_is_monotonic",
           lambda a: Planted(a, request=rewrite_query(lambda q: _shift_since(q, _odd_day_shift)))),
    Defect("empty answer is null", "empty_result_is_empty_body",
           lambda a: Planted(a, response=empty_is_null)),
    Defect("order shuffled per call", "identical_calls_give_identical_results",
           lambda a: Planted(a, response=per_call(_shuffled))),
    Defect("random ids per call", "rule_ids_are_stable_across_calls",
           lambda a: Planted(a, response=per_call(_random_ids))),
    Defect("ids depend on the type filter", "rule_ids_are_stable_across_filters",
           lambda a: Planted(a, response=per_call(_ids_by_filter))),
    Defect("IOC list misses an IOC", "sigma_rules_match_the_ioc_list",
           lambda a: Planted(a, response=iocs_drop_one)),
]  # fmt: skip


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.name for d in DEFECTS])
def test_each_planted_defect_fails_its_check(defect: Defect) -> None:
    result = run_one(defect.plant(create_app()), defect.check, strict=defect.strict)
    assert result.status(strict=defect.strict) is Status.FAILED, (result.skip_reason, result)
    finding = result.findings[0]
    assert finding.check == defect.check
    assert finding.reproduction.seed == 7
    assert finding.reproduction.curl is None or PRO not in finding.reproduction.curl
