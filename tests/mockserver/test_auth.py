"""Keys: where a request's key is found, and which 401 each kind of key gets."""

from __future__ import annotations

import pytest

from mockserver.auth import KeyRing, presented_key
from mockserver.errors import ConfigError, ExpiredAPIKey, InvalidAPIKey, MissingAPIKey
from mockserver.fixtures import load_key_records
from tests.keys import EXPIRED_KEY, FREE_KEY, PRO_KEY, REVOKED_KEY

RING = KeyRing.from_records(load_key_records(), tiers=["pro", "free"])


@pytest.mark.parametrize(
    ("headers", "args", "expected"),
    [
        ({"Authorization": "Bearer sk_live_a"}, {}, "sk_live_a"),
        ({"Authorization": "bearer  sk_live_a "}, {}, "sk_live_a"),
        ({"X-API-Key": "sk_live_b"}, {}, "sk_live_b"),
        ({}, {"api_key": ["sk_live_c"]}, "sk_live_c"),
        ({"Authorization": "Bearer sk_live_a", "X-API-Key": "sk_live_b"}, {}, "sk_live_a"),
        ({"X-API-Key": "sk_live_b"}, {"api_key": ["sk_live_c"]}, "sk_live_b"),
        ({}, {}, None),
        ({"Authorization": "  "}, {}, None),
    ],
)
def test_presented_key(
    headers: dict[str, str], args: dict[str, list[str]], expected: str | None
) -> None:
    assert presented_key(headers, args) == expected


def test_non_bearer_authorization_is_invalid() -> None:
    with pytest.raises(InvalidAPIKey):
        RING.authenticate(presented_key({"Authorization": "Basic c2tfbGl2ZQ=="}, {}))


def test_demo_keys() -> None:
    assert RING.authenticate(PRO_KEY).tier == "pro"
    assert RING.authenticate(FREE_KEY).tier == "free"
    with pytest.raises(ExpiredAPIKey):
        RING.authenticate(EXPIRED_KEY)
    with pytest.raises(InvalidAPIKey):
        RING.authenticate(REVOKED_KEY)
    for bad in (
        "sk_live_unknown",
        "sk_test_demo_pro",
        "sk_live_demo_pro ",
        "sk_live_",
        "x" * 10_000,
    ):
        with pytest.raises(InvalidAPIKey):
            RING.authenticate(bad)
    for missing in (None, ""):
        with pytest.raises(MissingAPIKey):
            RING.authenticate(missing)


def test_key_repr_and_fingerprint_hide_the_secret() -> None:
    key = RING.authenticate(PRO_KEY)
    assert "demo_pro" not in repr(key)
    assert "sk_live_…_pro" in repr(key)
    assert "demo" not in key.fingerprint


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"key": "nope", "tier": "pro"}, "sk_live_"),
        ({"key": "sk_live_x1", "tier": "gold"}, "tier"),
        ({"key": "sk_live_x1", "tier": "pro", "status": "paused"}, "status"),
    ],
)
def test_bad_key_records(record: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        KeyRing.from_records([record], tiers=["pro", "free"])
