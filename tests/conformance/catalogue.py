"""The catalogue of apps broken on purpose: the real mock with one defect each, and the check
that must catch it (the proof that the conformance suite bites).

Each :class:`BrokenApp` wraps the mock's WSGI app in one rewrite (``tests.conformance.planted``).
Rule defects change every rule of one IOC type the same way, so a defect is as stable as a
real server's would be. The other half of the proof, the mock changed in ways the contract
allows, is ``tests.conformance.variations``.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from werkzeug.wrappers import Request, Response

from conformance import contract
from tests.conformance.planted import (
    EXPIRED,
    FREE,
    PRO,
    Reselected,
    WSGIApp,
    documents,
    each_answer,
    each_error,
    each_rules_answer,
    is_sigma,
    per_body,
    per_call,
    per_document,
    per_query,
    query_of,
    raw_body,
    replace_text,
    respond,
    rule_id,
    send,
    set_header,
    set_query,
    sub,
    swap_bearer,
    with_documents,
    with_rule_id,
)

FILTERS = ("type", "confidence", "industry", "since")
Kind = Literal["rule", "collection", "filter", "auth", "protocol"]
KINDS: tuple[Kind, ...] = ("rule", "collection", "filter", "auth", "protocol")


@dataclass(frozen=True)
class BrokenApp:
    """The mock with one defect (``make`` wraps its WSGI app) and the check that must fail.

    ``strict``: the check fails only under ``--strict`` (the expectation is undocumented).
    ``gap``: why no check can catch the defect yet; the test is then ``xfail(strict=True)``, so
    the gap stays visible and a fix that closes it turns the run red until the mark goes.
    ``examples``: Hypothesis examples for the check; relations that only a rare draw exposes
    get more, so the verdict does not hang on one lucky seed.
    """

    name: str
    kind: Kind
    check: str
    make: Callable[[WSGIApp], WSGIApp]
    doc: str
    strict: bool = False
    gap: str | None = None
    examples: int = 25


# -- rule and collection defects ----------------------------------------------------------------

_IPV4 = r"(DestinationIp: ')(\d+\.\d+\.\d+)\.(\d+)'"
_ACTION = "action: global\nlogsource:\n  product: windows\n"


def _domain_as_ip(doc: str) -> str:
    return doc.replace("category: dns_query", "category: network_connection").replace(
        "QueryName:", "DestinationIp:"
    )


def _first_id_twice(docs: list[str]) -> list[str]:
    if len(docs) < 2:
        return docs
    return [docs[0], with_rule_id(docs[1], rule_id(docs[0])), *docs[2:]]


def _first_ioc_twice(docs: list[str]) -> list[str]:
    if not docs:
        return docs
    twin = with_rule_id(docs[0], str(uuid.uuid5(uuid.NAMESPACE_URL, rule_id(docs[0]))))
    return [docs[0], twin, *docs[1:]]


def _null_after_first(docs: list[str]) -> list[str]:
    return [*docs[:1], "null\n", *docs[1:]] if docs else docs


RULE_DEFECTS = [
    BrokenApp("defanged IPv4 value", "rule", "detection_value_is_literal_ioc",
              per_document(sub(_IPV4, r"\1\2[.]\3'")), "IPv4 rules match 203.0.113[.]42"),
    BrokenApp("unescaped ? in URL", "rule", "detection_value_is_literal_ioc",
              per_document(sub(r"\\\?", "?", only="c-uri:")), "URL rules' ? is a wildcard"),
    BrokenApp("IPv4 octet above 255", "rule", "detection_value_is_literal_ioc",
              per_document(sub(r"(DestinationIp: ')\d+\.(\d+\.\d+\.\d+')", r"\g<1>300.\2")),
              "IPv4 rules hold an address no host has"),
    BrokenApp("id is not a UUID", "rule", "id_is_uuid",
              per_document(lambda d: with_rule_id(d, "SOCD-" + rule_id(d).replace("-", "")[:12])),
              "ids are the vendor's own scheme, not UUIDs"),
    BrokenApp("level is not a Sigma level", "rule", "enumerations_are_valid",
              per_document(sub(r"^level: high$", "level: severe")), "high rules say level: severe"),
    BrokenApp("status is not a Sigma status", "rule", "enumerations_are_valid",
              per_document(sub(r"^status: experimental$", "status: beta")), "status: beta"),
    BrokenApp("date is not YYYY-MM-DD", "rule", "date_is_iso_day",
              per_document(sub(r"^date: (\d{4})-(\d\d)-(\d\d)$", r"date: \1/\2/\3")),
              "dates written 2025/11/02"),
    BrokenApp("detection without condition", "rule", "required_fields_present",
              per_document(sub(r"^  condition: .*\n", "")), "no detection.condition"),
    BrokenApp("no description", "rule", "documented_fields_present",
              per_document(sub(r"^description: .*\n", "")), "the description is gone"),
    BrokenApp("domain under network_connection/DestinationIp", "rule", "logsource_matches_type",
              per_document(_domain_as_ip),
              "domain rules use the IP mapping"),
    BrokenApp("malformed ATT&CK tag", "rule", "attack_tags_are_well_formed",
              per_document(sub(r"^  - attack\.t(\d)", r"  - attack.T\1")), "tags upper-case"),
    BrokenApp("action: global document", "rule", "no_action_documents",
              per_body(lambda docs: [_ACTION, *docs] if docs else docs),
              "a collection action merged into every later rule by pySigma"),
    BrokenApp("duplicate key", "rule", "no_duplicate_keys",
              per_document(sub(r"^(status: .*\n)", r"\1\1", only="DestinationIp: '2")),
              "IPv6 rules say status twice"),
    BrokenApp("!!python/object tag", "rule", "body_is_utf8_yaml",
              per_document(sub(r"^author: .*$", "author: !!python/object/apply:os.getcwd []",
                         only="category: email")), "email rules carry a Python tag"),
    BrokenApp("YAML alias", "rule", "body_is_utf8_yaml",
              per_document(sub(r"^fields:\n((?:  - .*\n)+)falsepositives:\n(?:  - .*\n)+",
                         "fields: &f\n\\1falsepositives: *f\n", only="c-uri:")),
              "URL rules reuse a list through an anchor and alias"),
    BrokenApp("unknown value modifier", "rule", "pysigma_parses_rule",
              per_document(sub(r"Hashes\|contains:", "Hashes|containz:", only="SHA1=")),
              "SHA1 rules use a modifier pySigma does not know"),
    BrokenApp("condition names a missing selection", "rule", "rules_compile_on_required_targets",
              per_document(sub(r"^  condition: selection$", "  condition: selection and filter",
                         only="MD5=")), "MD5 rules parse but convert on no backend"),
    BrokenApp("dangling detection", "rule", "pysigma_validators_pass",
              per_document(sub(r"^  condition: selection$",
                               "  filter:\n    Image: 'x.exe'\n  condition: selection",
                               only="SHA256=")),
              "SHA256 rules define a selection no condition uses (pySigma: high)", strict=True),
    BrokenApp("SHA1 value under the SHA256 label", "rule", "hash_label_matches_the_value",
              per_document(sub(r"SHA1=", "SHA256=")),
              "Hashes|contains: 'SHA256=<40 hex digits>' never matches Sysmon's SHA256 slot"),
    BrokenApp("IPv4 value under |base64", "rule", "detection_can_match_its_ioc",
              per_document(sub(r"DestinationIp: '", "DestinationIp|base64: '",
                               only="DestinationIp: '2")),
              "IPv4 rules look for the address's base64 encoding"),
    BrokenApp("condition negated", "rule", "detection_can_match_its_ioc",
              per_document(sub(r"^  condition: selection$", "  condition: not selection",
                               only="QueryName:")),
              "domain rules match every DNS query but the IOC's"),
    BrokenApp("body is not UTF-8", "collection", "body_is_utf8_yaml",
              respond(raw_body(lambda b: b"# caf\xe9 feed\n" + b)),
              "a Latin-1 comment byte"),
    BrokenApp("duplicate id within a response", "collection", "rule_ids_are_unique",
              per_body(_first_id_twice), "the second rule takes the first one's id"),
    BrokenApp("same IOC twice in a response", "collection", "one_rule_per_ioc",
              per_body(_first_ioc_twice), "the first IOC has a second rule"),
    BrokenApp("null document between rules", "collection", "documents_are_mappings",
              per_body(_null_after_first), "an empty document after the first rule"),
]  # fmt: skip


def _shuffled(rng: random.Random, docs: list[str], request: Request) -> list[str]:
    rng.shuffle(docs)
    return docs


def _random_ids(rng: random.Random, docs: list[str], request: Request) -> list[str]:
    return [with_rule_id(d, str(uuid.UUID(int=rng.getrandbits(128), version=4))) for d in docs]


def _ids_by_filter(rng: random.Random, docs: list[str], request: Request) -> list[str]:
    salt = request.args.get("type")
    if salt is None:
        return docs
    return [with_rule_id(d, str(uuid.uuid5(uuid.NAMESPACE_URL, rule_id(d) + salt))) for d in docs]


COLLECTION_DEFECTS = [
    BrokenApp("order shuffled per call", "collection", "identical_calls_give_identical_results",
              respond(per_call(_shuffled)), "no stable order"),
    BrokenApp("random ids per call", "collection", "rule_ids_are_stable_across_calls",
              respond(per_call(_random_ids)), "uuid4 on every call"),
    BrokenApp("ids depend on the type filter", "collection", "rule_ids_are_stable_across_filters",
              respond(per_call(_ids_by_filter)), "ids salted by type="),
]  # fmt: skip


# -- filter defects ------------------------------------------------------------------------------


def _drop_type_url(query: dict[str, str]) -> None:
    if query.get("type") == "url":
        del query["type"]


def _drop_since_with_industry(query: dict[str, str]) -> None:
    if "industry" in query:
        query.pop("since", None)


def _limit_plus_one(query: dict[str, str]) -> None:
    if "limit" in query and query["limit"].isdigit():
        query["limit"] = str(int(query["limit"]) + 1)


def _since_earlier(shift: Callable[[datetime], timedelta]) -> Callable[[dict[str, str]], None]:
    def change(query: dict[str, str]) -> None:
        if "since" in query:
            try:
                moment = datetime.fromisoformat(query["since"].replace("Z", "+00:00"))
            except ValueError:
                return
            query["since"] = (moment - shift(moment)).isoformat().replace("+00:00", "Z")

    return change


def _odd_day_shift(moment: datetime) -> timedelta:
    return timedelta(days=200) if moment.day % 2 else timedelta(0)


def _drop_last_with(
    *names: str, at_least: int = 1, first: bool = False
) -> Callable[[Request, Response], Response]:
    """Lose the last (or ``first``) rule when the query holds ``at_least`` of ``names``."""

    def rewrite(request: Request, response: Response) -> Response:
        docs = documents(response)
        hits = len(set(request.args) & set(names))
        if is_sigma(request) and hits >= at_least and len(docs) > 1:
            return with_documents(response, docs[1:] if first else docs[:-1])
        return response

    return rewrite


def _ignored(name: str, *paths: str) -> Callable[[WSGIApp], WSGIApp]:
    """A plant dropping the parameter ``name`` from requests for ``paths``."""

    def rewrite(environ: dict[str, Any]) -> None:
        if environ.get("PATH_INFO") in paths:
            set_query(environ, {k: v for k, v in query_of(environ).items() if k != name})

    return send(rewrite)


_BOTH = (contract.SIGMA_PATH, contract.IOCS_PATH)


def _offset_ignored(query: dict[str, str]) -> None:
    since = query.get("since", "")
    if re.search(r"[+-]\d\d:\d\d$", since):
        query["since"] = since[:-6] + "Z"


def _no_industries(request: Request, response: Response) -> Response:
    if request.path == contract.IOCS_PATH and response.status_code == 200:
        payload = json.loads(response.get_data())
        for record in payload["data"]:
            record.pop("industries", None)
        response.set_data(json.dumps(payload).encode())
    return response


def _industry_ignored_unlabelled(app: WSGIApp) -> WSGIApp:
    return respond(_no_industries)(_ignored("industry", *_BOTH)(app))


def _iocs_drop_one(request: Request, response: Response) -> Response:
    if request.path == contract.IOCS_PATH and response.status_code == 200:
        payload = json.loads(response.get_data())
        if len(payload["data"]) > 1:
            payload["data"] = payload["data"][1:]
            payload["meta"]["total"] -= 1
            response.set_data(json.dumps(payload).encode())
    return response


FILTER_DEFECTS = [
    BrokenApp("type=url ignored", "filter", "type_filter_selects_only_its_type",
              per_query(_drop_type_url), "type=url answers every type"),
    BrokenApp("confidence loses a rule", "filter", "confidence_filter_selects_only_its_level",
              respond(_drop_last_with("confidence")), "one rule short"),
    BrokenApp("industry drops since", "filter", "industry_filter_selects_a_subset",
              per_query(_drop_since_with_industry), "industry=... forgets since="),
    BrokenApp("combined filters lose a rule", "filter", "combined_filters_give_the_intersection",
              respond(_drop_last_with(*FILTERS, at_least=2, first=True)),
              "two filters together lose the last rule"),
    BrokenApp("limit off by one", "filter", "limit_caps_the_count",
              per_query(_limit_plus_one), "limit=N gives N+1"),
    BrokenApp("limit takes the tail", "filter", "limit_gives_a_prefix",
              lambda a: Reselected(a, lambda whole, n: whole[len(whole) - n :]),
              "limit=N gives the last N rules"),
    BrokenApp("since is inclusive", "filter", "since_is_strict",
              per_query(_since_earlier(lambda m: timedelta(seconds=1))),
              "an IOC added at since= is returned (nothing added earlier: it reads 'added')"),
    BrokenApp("since offset ignored", "filter", "since_with_an_offset_is_the_same_instant",
              per_query(_offset_ignored), "since=...+14:00 is read as if it said Z"),
    BrokenApp("since jumps back on odd days", "filter", "since_is_monotonic",
              per_query(_since_earlier(_odd_day_shift)), "odd days read 200 days earlier"),
    BrokenApp("since ignored", "filter", "since_is_strict", _ignored("since", *_BOTH),
              "both endpoints answer as if since= were absent (the cron job gets everything)"),
    BrokenApp("industry ignored on Sigma only", "filter", "sigma_rules_match_the_ioc_list",
              _ignored("industry", contract.SIGMA_PATH), "/api/v1/iocs filters, Sigma does not"),
    BrokenApp("industry ignored on both endpoints", "filter", "industry_filter_narrows_the_feed",
              _ignored("industry", *_BOTH), "industry= changes nothing anywhere"),
    BrokenApp("industry ignored, no sector data", "filter", "industry_filter_narrows_the_feed",
              _industry_ignored_unlabelled,
              "industry= changes nothing and no record names its sectors (every sector: all)"),
    BrokenApp("IOC list misses an IOC", "filter", "sigma_rules_match_the_ioc_list",
              respond(_iocs_drop_one), "/api/v1/iocs lists one IOC less"),
]  # fmt: skip


# -- auth and protocol defects -------------------------------------------------------------------


def _drop_x_api_key(environ: dict[str, Any]) -> None:
    environ.pop("HTTP_X_API_KEY", None)


def _missing_is_403(request: Request, response: Response) -> None:
    if "missing_api_key" in response.get_data(as_text=True):
        response.status_code = 403


def _no_request_id(request: Request, response: Response) -> None:
    payload = json.loads(response.get_data())
    payload["error"].pop("request_id", None)
    response.set_data(json.dumps(payload).encode())


def _echo_key(request: Request, response: Response) -> None:
    payload = json.loads(response.get_data())
    payload["error"]["message"] += f" (you sent {request.headers.get('X-API-Key', '')})"
    response.set_data(json.dumps(payload).encode())


def _malformed_key_500(request: Request, response: Response) -> None:
    sent = request.headers.get("X-API-Key")
    if sent is not None and not sent.startswith(contract.API_KEY_PREFIX):
        response.status_code = 500


def _plain_text(request: Request, response: Response) -> None:
    response.set_data(b"Unauthorized\n")
    response.content_type = "text/plain"


def _no_remaining(response: Response) -> None:
    response.headers.pop("X-RateLimit-Remaining", None)


def _bad_value_200(request: Request, response: Response) -> None:
    if is_sigma(request):
        response.status_code = 200
        response.set_data(b"")
        response.content_type = "application/yaml"


def _extra_type_is_bad(query: dict[str, str]) -> None:
    if query.get("type") in contract.EXTRA_TYPES:
        query["type"] = "bogus"


def _unknown_param_is_bad(query: dict[str, str]) -> None:
    if set(query) - {*contract.SIGMA_PARAMETERS, "api_key"}:
        query["type"] = "bogus"


def _empty_is_null(response: Response) -> None:
    if not response.get_data().strip():
        response.set_data(b"null\n")


_ERRORS = range(400, 600)

AUTH_DEFECTS = [
    BrokenApp("missing key gives 403", "auth", "missing_key_is_401_missing_api_key",
              respond(each_error(_missing_is_403)), "403 for no key"),
    BrokenApp("401 without request_id", "auth", "missing_key_is_401_missing_api_key",
              respond(each_error(_no_request_id)), "the envelope lacks request_id"),
    BrokenApp("unknown key has another code", "auth", "unknown_key_is_401_invalid_api_key",
              respond(each_error(replace_text("invalid_api_key", "unauthorized"))),
              "code 'unauthorized'"),
    BrokenApp("malformed key gives 500", "auth", "unknown_key_is_401_invalid_api_key",
              respond(each_error(_malformed_key_500)), "a key without sk_live_ crashes"),
    BrokenApp("expired key reads as invalid", "auth", "expired_key_is_401_expired_api_key",
              respond(each_error(replace_text("expired_api_key", "invalid_api_key"))),
              "code invalid_api_key"),
    BrokenApp("expired key still works", "auth", "expired_key_is_401_expired_api_key",
              send(swap_bearer(EXPIRED, PRO)), "an expired key gets rules"),
    BrokenApp("free key gets rules", "auth", "free_key_is_403_on_sigma",
              send(swap_bearer(FREE, PRO)), "no tier check"),
    BrokenApp("X-API-Key ignored", "auth", "both_key_headers_are_accepted",
              send(_drop_x_api_key), "only Bearer is read"),
    BrokenApp("401 echoes the key", "auth", "error_bodies_are_the_envelope",
              respond(each_error(_echo_key)), "the message quotes X-API-Key"),
]  # fmt: skip


def _drop_rate_headers(request: Request, response: Response) -> None:
    for name in contract.RATE_LIMIT_HEADERS:
        response.headers.pop(name, None)


def _reset_in_the_past(request: Request, response: Response) -> None:
    response.headers["X-RateLimit-Reset"] = str(int(time.time()) - 300)


def _never_429(request: Request, response: Response) -> None:
    response.status_code = 403
    response.set_data(response.get_data().replace(b"rate_limit_exceeded", b"insufficient_tier"))


PROTOCOL_DEFECTS = [
    BrokenApp("plain-text errors", "protocol", "error_bodies_are_the_envelope",
              respond(each_error(_plain_text, _ERRORS)), "text/plain error bodies"),
    BrokenApp("no X-RateLimit-Remaining", "protocol", "rate_limit_headers_are_coherent",
              respond(each_answer(_no_remaining)),
              "the header is gone"),
    BrokenApp("remaining never decreases", "protocol", "rate_limit_headers_are_coherent",
              respond(each_answer(set_header("X-RateLimit-Remaining", lambda v: "900"))),
              "always 900"),
    BrokenApp("reset in milliseconds", "protocol", "rate_limit_headers_are_coherent",
              respond(each_answer(set_header("X-RateLimit-Reset", lambda v: v + "000"))),
              "not Unix seconds"),
    BrokenApp("rules as text/plain", "protocol", "media_type_is_yaml",
              respond(each_rules_answer(lambda r: setattr(r, "content_type", "text/plain"))),
              "text/plain"),
    BrokenApp("bad value gives 500", "protocol", "invalid_values_are_never_5xx",
              respond(each_error(lambda q, r: setattr(r, "status_code", 500), (400,))),
              "500, not 400"),
    BrokenApp("bad value silently ignored", "protocol", "invalid_values_are_never_5xx",
              respond(each_error(_bad_value_200, (400,))),
              "200 and no rules for type=bogus (400 is the mock's choice)", strict=True),
    BrokenApp("unknown parameter rejected", "protocol", "unknown_parameters_are_ignored",
              per_query(_unknown_param_is_bad), "an unknown parameter turns into a 400"),
    BrokenApp("extra types rejected", "protocol", "extra_types_are_accepted",
              per_query(_extra_type_is_bad), "type=sha512 is a 400"),
    BrokenApp("no X-RateLimit-* on a 400", "protocol", "rate_limit_headers_on_every_response",
              respond(each_error(_drop_rate_headers, (400,))),
              "an authenticated bad-value answer without the headers"),
    BrokenApp("no X-RateLimit-* on the Free key's 403", "protocol",
              "rate_limit_headers_on_every_response",
              respond(each_error(_drop_rate_headers, (403,))), "the 403 without the headers"),
    BrokenApp("429 with another code", "protocol", "over_the_limit_is_429_rate_limit_exceeded",
              respond(each_error(replace_text("rate_limit_exceeded", "too_many_requests"),
                                 (429,))), "code too_many_requests"),
    BrokenApp("429 without X-RateLimit-*", "protocol", "over_the_limit_is_429_rate_limit_exceeded",
              respond(each_error(_drop_rate_headers, (429,))), "no Reset to wait for"),
    BrokenApp("429 Reset in the past", "protocol", "over_the_limit_is_429_rate_limit_exceeded",
              respond(each_error(_reset_in_the_past, (429,))), "Reset five minutes ago"),
    BrokenApp("over the limit is a 403", "protocol", "over_the_limit_is_429_rate_limit_exceeded",
              respond(each_error(_never_429, (429,))), "the limit bites, as a 403"),
    BrokenApp("empty answer is null", "protocol", "empty_result_is_empty_body",
              respond(each_rules_answer(_empty_is_null)), "a query matching nothing says null"),
]  # fmt: skip

#: Every broken app, by kind.
CATALOGUE: tuple[BrokenApp, ...] = (
    *RULE_DEFECTS,
    *COLLECTION_DEFECTS,
    *FILTER_DEFECTS,
    *AUTH_DEFECTS,
    *PROTOCOL_DEFECTS,
)
