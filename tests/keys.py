"""The mock's demo keys, as every test names them.

One source: :data:`mockserver.testing.DEMO_KEYS` (``tests/mockserver/test_testing.py`` holds it
equal to what the mock serves). A test that needs a key's literal text (a shell line, a URL)
builds it from these.
"""

from __future__ import annotations

from typing import Final

from mockserver.testing import DEMO_KEYS

PRO_KEY: Final = DEMO_KEYS["pro"]
FREE_KEY: Final = DEMO_KEYS["free"]
EXPIRED_KEY: Final = DEMO_KEYS["expired"]
REVOKED_KEY: Final = DEMO_KEYS["revoked"]
