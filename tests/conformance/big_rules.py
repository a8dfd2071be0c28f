"""A hostile rule made on the fly: one selection with very many values (issue 9's 10 MB rule).

Shared by the budget tests (a small one with a tiny ``--rule-timeout``) and the benchmark
(``bench/rules_bounded.py``: the full 10 MB, about 285,000 values).
"""

from __future__ import annotations

import uuid

#: The size of the rule issue 9 measured: 10 MB, 285,000 values.
BIG_RULE_VALUES = 285_000


def big_rule(values: int, *, title: str = "Very Large Command Line Rule") -> str:
    """A valid Sigma rule whose one selection lists ``values`` distinct command-line strings
    (34 bytes a line: 285,000 values make 9.7 MB)."""
    rule_id = uuid.uuid5(uuid.NAMESPACE_URL, f"big-rule-{values}")
    lines = [
        f"title: {title}",
        f"id: {rule_id}",
        "status: experimental",
        f"description: One selection with {values} values, to bound a rule's cost.",
        "author: soc-conformance tests",
        "date: 2026-12-03",
        "tags:",
        "    - attack.execution",
        "    - attack.t1059",
        "logsource:",
        "    category: process_creation",
        "    product: windows",
        "detection:",
        "    selection:",
        "        CommandLine|contains:",
    ]
    lines += [f"            - 'run-{i:06d}.exe /q'" for i in range(values)]
    lines += ["    condition: selection", "falsepositives:", "    - Unknown", "level: high", ""]
    return "\n".join(lines)
