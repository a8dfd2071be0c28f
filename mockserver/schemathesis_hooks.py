"""Schemathesis hooks for the SOC Defenders API (the mock or the real service).

The Sigma endpoint answers a *stream* of YAML documents (one rule per IOC, separated by
``---``), which its OpenAPI document describes as a string. Schemathesis' own YAML
deserializer expects a single document and stops with ``yaml.composer.ComposerError``, so
every operation is skipped. Name this module when running Schemathesis' command line::

    SCHEMATHESIS_HOOKS=mockserver.schemathesis_hooks schemathesis run \\
        http://127.0.0.1:8000/openapi.json -H 'Authorization: Bearer sk_live_demo_pro'

It registers a deserializer for the YAML media types that safe-loads every document, fails
the response if one is not a mapping (a Sigma rule always is), and hands Schemathesis the text
to validate against the schema's ``string``. Importing it needs Schemathesis (not a
dependency of this package: install it where you run it).
"""

from __future__ import annotations

from typing import Any

import schemathesis
import yaml
from schemathesis.core import media_types


@schemathesis.deserializer(*media_types.YAML_MEDIA_TYPES)
def multi_document_yaml(_ctx: Any, response: Any) -> str:
    """The body's text, once every YAML document in it has loaded as a mapping."""
    text = bytes(response.content).decode("utf-8")
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        # A ValueError is what Schemathesis reports as a failed response, not a crash.
        raise ValueError(f"the body is not valid multi-document YAML: {exc}") from None
    for index, document in enumerate(documents, start=1):
        if not isinstance(document, dict):
            raise ValueError(f"YAML document {index} of the body is not a mapping")
    return text
