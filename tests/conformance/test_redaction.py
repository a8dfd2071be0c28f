"""Keys are masked the same way everywhere, and never survive a scrub."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from conformance.redaction import Scrubber, redact_key
from tests.keys import PRO_KEY


def test_a_live_key_keeps_its_prefix_and_last_four() -> None:
    assert redact_key("sk_live_0123456789abcdefWXYZ") == "sk_live_…WXYZ"


def test_a_short_key_is_fully_masked() -> None:
    assert redact_key(PRO_KEY) == "sk_live_…"
    assert redact_key("sk_live_") == "sk_live_…"


def test_an_odd_key_is_fully_masked() -> None:
    assert redact_key("hunter2-but-much-longer-than-that") == "…"
    assert redact_key("") == "…"


def test_scrub_replaces_raw_and_url_encoded_keys() -> None:
    key = "sk_live_abc+def/ghi=jklmnop"
    text = f"Bearer {key} and ?api_key={quote(key, safe='')}"
    scrubbed = Scrubber.of([key]).scrub(text)
    assert key not in scrubbed
    assert quote(key, safe="") not in scrubbed
    assert scrubbed.count(redact_key(key)) == 2


def test_a_key_containing_another_is_scrubbed_whole() -> None:
    short, long = "sk_live_aaaaaaaaaaaaaaaa", "sk_live_aaaaaaaaaaaaaaaa_extended"
    scrubbed = Scrubber.of([short, long, None]).scrub(f"{long} {short}")
    assert scrubbed == f"{redact_key(long)} {redact_key(short)}"


@given(
    secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=0, max_size=40),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_no_key_survives_a_scrub(secret: str, before: str, after: str) -> None:
    key = "sk_live_" + secret
    scrubbed = Scrubber.of([key]).scrub(before + key + after)
    masked = redact_key(key)
    # What is left of the key is at most its last four characters.
    assert key not in scrubbed or len(key) <= len(masked)
    assert len(secret) < 12 or secret[:-4] not in scrubbed.replace(before, "").replace(after, "")
