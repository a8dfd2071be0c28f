"""Loopback upstreams for record, replay and diff: the mock on a dataset of another seed, with
or without planted format differences a real vendor could have.

``PLANTED`` names each difference; ``planted_upstream`` serves all of them at once:

- ``domain_field``: domain rules match ``query`` instead of ``QueryName``;
- ``since_by_day``: ``since`` is read at day resolution (the whole day of ``since`` is in);
- ``url_tags``: URL rules carry ``attack.initial-access`` instead of command-and-control;
- ``error_code``: a bad parameter value is 400 ``bad_request``, not ``invalid_parameter``;
- ``reset_ms``: ``X-RateLimit-Reset`` is in milliseconds.

and, on request (``MORE_PLANTS``): ``other_ids`` (every rule id another UUID),
``text_yaml`` (``Content-Type: text/yaml``), ``no_match_404`` (no match is a 404, not an
empty 200).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from flask import Flask
from werkzeug.wrappers import Request, Response

from mockserver.app import create_app
from mockserver.config import MockConfig, apply_rate_limits
from mockserver.fixtures import Dataset, parse_dataset
from mockserver.generate import generate_meta, generate_records
from tests.conformance.planted import (
    Planted,
    documents,
    is_rules,
    query_of,
    rule_id,
    set_query,
    with_rule_id,
)

SEED: Final = 424242
COUNT: Final = 150
#: A Pro key only the upstreams know (the recording must never write it).
SECRET_KEY: Final = "sk_live_" + "Zq7" * 10 + "9xYw"
PLANTED: Final = ("domain_field", "since_by_day", "url_tags", "error_code", "reset_ms")
#: More differences, one for each remaining diff check (not part of the default upstream).
MORE_PLANTS: Final = ("other_ids", "text_yaml", "no_match_404")


@cache
def upstream_dataset() -> Dataset:
    """A small dataset of another seed than the committed fixtures."""
    document = {"meta": generate_meta(SEED, COUNT), "iocs": generate_records(SEED, COUNT)}
    return parse_dataset(json.loads(json.dumps(document)), origin="upstream")


def keys_file(directory: Path) -> Path:
    """A keys file naming :data:`SECRET_KEY` as an active Pro key."""
    path = directory / "upstream-keys.json"
    path.write_text(json.dumps({"keys": [{"key": SECRET_KEY, "tier": "pro", "status": "active"}]}))
    return path


def mock_app(
    directory: Path, dataset: Dataset | None = None, *, rate_limit: str | None = None
) -> Flask:
    """The unmodified mock over ``dataset`` (default: the upstream's), accepting the secret key;
    ``rate_limit`` (``pro=4/second``) replaces the tiers' limits."""
    config = MockConfig(keys=keys_file(directory))
    if rate_limit is not None:
        config = replace(config, tiers=apply_rate_limits(config.tiers, [rate_limit]))
    return create_app(config, dataset=dataset or upstream_dataset())


def _since_by_day(environ: dict[str, Any]) -> None:
    if environ.get("PATH_INFO", "").startswith("/api/v1/iocs"):
        query = query_of(environ)
        since = query.get("since", "")
        try:
            datetime.fromisoformat(since)
        except ValueError:
            return  # not a time: the mock's own 400
        query["since"] = since[:10] + "T00:00:00Z"
        set_query(environ, query)


def _document(doc: str, plants: frozenset[str]) -> str:
    if "domain_field" in plants:
        doc = doc.replace("\n    QueryName: ", "\n    query: ")
    if "url_tags" in plants and "\n  category: proxy\n" in doc:
        doc = doc.replace("\n  - attack.command-and-control\n", "\n  - attack.initial-access\n")
    if "other_ids" in plants:
        doc = with_rule_id(doc, str(uuid.uuid5(uuid.NAMESPACE_DNS, rule_id(doc))))
    return doc


def _response(plants: frozenset[str], echo_key: bool) -> Callable[[Request, Response], Response]:
    def rewrite(request: Request, response: Response) -> Response:
        if is_rules(request, response) and plants & {"domain_field", "url_tags", "other_ids"}:
            docs = documents(response)
            if docs:  # the mock's own layout: documents joined by ---, none before the first
                response.set_data("---\n".join(_document(d, plants) for d in docs).encode())
        if "text_yaml" in plants and is_rules(request, response):
            response.headers["Content-Type"] = "text/yaml; charset=utf-8"
        if "no_match_404" in plants and is_rules(request, response) and not response.get_data():
            response.status_code = 404
            response.headers["Content-Type"] = "application/json"
            response.set_data(
                b'{"error": {"code": "not_found", "message": "no match", "request_id": "req_1"}}'
            )
        if "error_code" in plants and response.status_code == 400:
            response.set_data(response.get_data().replace(b'"invalid_parameter"', b'"bad_request"'))
        if "reset_ms" in plants and "X-RateLimit-Reset" in response.headers:
            response.headers["X-RateLimit-Reset"] = str(
                int(response.headers["X-RateLimit-Reset"]) * 1000
            )
        if echo_key:  # a careless upstream that echoes the caller's credentials back
            response.headers["X-Debug-Auth"] = request.headers.get("Authorization", "")
            if response.status_code == 400:
                response.set_data(
                    response.get_data() + request.headers.get("Authorization", "").encode()
                )
        return response

    return rewrite


def planted_upstream(
    directory: Path,
    plants: tuple[str, ...] = PLANTED,
    *,
    echo_key: bool = False,
    rate_limit: str | None = None,
) -> Flask:
    """The mock over the upstream dataset with the ``plants`` differences in front of it."""
    app = mock_app(directory, rate_limit=rate_limit)
    chosen = frozenset(plants)
    app.wsgi_app = Planted(  # type: ignore[method-assign]
        app.wsgi_app,
        request=_since_by_day if "since_by_day" in chosen else None,
        response=_response(chosen, echo_key),
    )
    return app
