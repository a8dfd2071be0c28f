"""The OpenAPI document: valid OpenAPI, served, and Schemathesis finds no contradiction."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from flask import Flask
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.core import media_types
from schemathesis.openapi.checks import RejectedPositiveData

from mockserver.app import create_app
from mockserver.config import DEFAULT_TIERS, MockConfig, apply_rate_limits
from mockserver.fixtures import dump_dataset
from mockserver.generate import generate_meta, generate_records
from mockserver.model import CONFIDENCES, INDUSTRIES, IOC_TYPES
from mockserver.openapi import IOCS_PATH, OPENAPI_PATH, SIGMA_PATH, build_openapi, register_openapi
from tests.keys import PRO_KEY

PRO = {"Authorization": f"Bearer {PRO_KEY}"}
EXAMPLES = 60  # per operation and mode: 2 operations x 2 modes x 60 = a few hundred requests


# The Sigma body is a stream of YAML documents, which OpenAPI describes as a string: teach
# Schemathesis (whose YAML deserializer expects one document) to check each document is a
# mapping and then validate the text. Registration is process-wide; only this module uses it.
@schemathesis.deserializer(*media_types.YAML_MEDIA_TYPES)
def _multi_document_yaml(_ctx: Any, response: Any) -> str:
    text = response.content.decode("utf-8")
    documents = list(yaml.safe_load_all(text))
    if not all(isinstance(document, dict) for document in documents):
        raise ValueError("a YAML document in the body is not a mapping")
    return str(text)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    path: Path = tmp_path_factory.mktemp("fixtures") / "iocs.json"
    path.write_text(dump_dataset(generate_meta(5, 150), generate_records(5, 150)))
    # A high limit: this test is about the schema, not about being rate limited.
    tiers = apply_rate_limits(DEFAULT_TIERS, ["pro=1000000/minute"])
    flask_app = create_app(MockConfig(fixtures=path, tiers=tiers))
    register_openapi(flask_app)
    return flask_app


def test_document_is_valid_openapi() -> None:
    validate(build_openapi())
    validate(build_openapi("http://127.0.0.1:8000"))


def test_document_lists_the_mock_vocabulary() -> None:
    document = build_openapi()
    parameters = {p["name"]: p for p in document["paths"][SIGMA_PATH]["get"]["parameters"]}
    assert set(parameters) == {"type", "since", "confidence", "industry", "limit"}
    assert set(IOC_TYPES) | {"mitre_attack"} == set(parameters["type"]["schema"]["enum"])
    assert set(parameters["confidence"]["schema"]["enum"]) == set(CONFIDENCES)
    assert set(INDUSTRIES) | {"finance"} == set(parameters["industry"]["schema"]["enum"])
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    assert schemes["apiKeyQuery"] == {"type": "apiKey", "in": "query", "name": "api_key"}
    responses = document["paths"][SIGMA_PATH]["get"]["responses"]
    assert {"200", "400", "401", "403", "429", "500", "502", "503"} == set(responses)
    assert set(responses["200"]["headers"]) == {
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    }


def test_document_is_served_without_a_key(app: Flask) -> None:
    register_openapi(app)  # a second registration is harmless
    response = app.test_client().get(OPENAPI_PATH)
    assert response.status_code == 200
    assert response.get_json() == build_openapi()


def run_schemathesis(schema: Any, path: str, mode: Any, examples: int = EXAMPLES) -> None:
    operation = schema[path]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(headers=PRO)

    check()


@pytest.mark.parametrize("path", [SIGMA_PATH, IOCS_PATH])
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_schemathesis_finds_no_contradiction(app: Flask, path: str, mode: str) -> None:
    schema = schemathesis.openapi.from_wsgi(OPENAPI_PATH, app)
    run_schemathesis(schema, path, schemathesis.GenerationMode(mode))


def test_schemathesis_catches_a_wrong_document(app: Flask) -> None:
    # The harness bites: a document that allows a confidence the mock refuses is caught.
    document = copy.deepcopy(build_openapi())
    for parameter in document["paths"][SIGMA_PATH]["get"]["parameters"]:
        if parameter["name"] == "confidence":
            parameter["schema"]["enum"] = ["critical"]
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    with pytest.raises(BaseExceptionGroup) as raised:
        run_schemathesis(schema, SIGMA_PATH, schemathesis.GenerationMode.POSITIVE, examples=30)
    assert raised.group_contains(RejectedPositiveData)
