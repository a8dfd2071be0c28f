"""Keeping API keys out of everything the checker prints, writes or raises.

A key is shown as its prefix, an ellipsis and its last four characters (``sk_live_…abcd``):
enough for a reader to tell two keys apart, never enough to use one. Keys too short or too odd
to leave anything safe are masked completely.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

#: A key's visible prefix: two lower-case words and their underscores (``sk_live_``, ``sk_test_``).
_PREFIX = re.compile(r"^[a-z]{2,8}_[a-z]{2,8}_")
#: The secret part must be at least this long before its last four characters are shown, so
#: that at most a third of it is ever visible.
_MIN_SECRET_FOR_TAIL = 12
ELLIPSIS = "…"


def redact_key(key: str) -> str:
    """Return ``key`` masked for display: ``sk_live_…abcd``.

    The recognised prefix is kept, then an ellipsis, then the last four characters when the
    secret part is long enough; otherwise (short keys, keys without the ``xx_yyyy_`` shape)
    nothing of the secret is shown.
    """
    match = _PREFIX.match(key)
    if match is None:
        return ELLIPSIS
    prefix = match.group(0)
    secret = key[len(prefix) :]
    if len(secret) < _MIN_SECRET_FOR_TAIL:
        return prefix + ELLIPSIS
    return prefix + ELLIPSIS + secret[-4:]


@dataclass(frozen=True)
class Scrubber:
    """Removes every known key, in the forms it may travel in, from any text.

    Keys are replaced longest first, so a key that contains another is never half-redacted;
    the URL-encoded forms cover a key sent as the ``api_key`` query parameter.
    """

    keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, keys: Iterable[str | None]) -> Scrubber:
        """A scrubber for the given keys (``None`` and empty ones are ignored)."""
        unique = {k for k in keys if k}
        return cls(tuple(sorted(unique, key=len, reverse=True)))

    def scrub(self, text: str) -> str:
        """``text`` with every known key (raw or URL-encoded) replaced by its redacted form."""
        for key in self.keys:
            masked = redact_key(key)
            for form in _forms(key):
                if form in text:
                    text = text.replace(form, masked)
        return text

    def scrub_optional(self, text: str | None) -> str | None:
        """Like :meth:`scrub`, passing ``None`` through."""
        return None if text is None else self.scrub(text)


def _forms(key: str) -> tuple[str, ...]:
    """The spellings a key can take on the wire or in a URL, longest first."""
    forms = {key, quote(key, safe=""), quote_plus(key)}
    return tuple(sorted(forms, key=len, reverse=True))
