#!/usr/bin/env python3
"""A deliberately naive SOC Defenders client: what NOT to do. The client mode must catch it.

Its defects, on purpose:

- the key goes in the URL (``api_key=``), where proxies and logs keep it;
- no ``since``: every run fetches (and overwrites with) the whole feed;
- the body is streamed straight into the rules file, so a cut or reset connection leaves a
  partial file, and invalid YAML, an ``action: global`` document or a duplicate id are kept;
- a 429 or a 5xx is not an error to it: the JSON error body is written as if it were rules,
  with no wait and no retry, and the run "succeeds" (exit 0);
- on 401 it retries at once, in a tight loop, many times.

Same environment as ``sync_rules.py``: SOCDEFENDERS_BASE_URL, SOCDEFENDERS_API_KEY,
SOCDEFENDERS_RULES_FILE.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.parse
import urllib.request

HAMMER = 20


def main() -> int:
    """Fetch everything and write it, whatever happens."""
    base_url = os.environ.get("SOCDEFENDERS_BASE_URL", "https://socdefenders.ai").rstrip("/")
    key = os.environ.get("SOCDEFENDERS_API_KEY", "")
    rules_file = os.environ.get("SOCDEFENDERS_RULES_FILE", "socdefenders_rules.yml")
    url = f"{base_url}/api/v1/iocs/sigma?" + urllib.parse.urlencode({"api_key": key})
    for _attempt in range(HAMMER):
        try:
            response = urllib.request.urlopen(url, timeout=30)  # noqa: S310
        except urllib.error.HTTPError as error:
            if error.code == 401:
                continue  # try again, right now
            response = error  # 429, 5xx...: its body is "the rules"
        except OSError as error:
            print(f"network error: {error}")
            return 0
        with open(rules_file, "wb") as out:  # truncates the old file before anything arrived
            try:
                while chunk := response.read(4096):
                    out.write(chunk)
            except Exception as error:  # noqa: BLE001 - naive on purpose
                print(f"download interrupted: {error}")
        return 0
    print("the key was refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
