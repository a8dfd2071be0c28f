"""pySigma's validators in a profile fit for vendor feeds, run offline by default.

Excluded by default (docs/toolchain.md, verified in pySigma 1.5.1 and pySigma-validators-sigmahq
0.21.0): the validators that download reference data (ATT&CK, D3FEND, the SigmaHQ taxonomy)
and fail offline; ``attacktag`` and ``sigmahq_tags_techniques_without_tactics`` come back
when the user gives a local ATT&CK file (``sigma.data.mitre_attack.set_url(path)``).
Also excluded: validators of file names (a response has none), collection-wide ones this
suite checks itself (``identifier_uniqueness`` → ``rule_ids_are_unique``, ``duplicate_title``
→ ``titles_are_distinct``), and ``escaped_wildcard``, which contradicts the contract (an IOC
with ``*`` or ``?`` must be escaped to match literally).
"""

from __future__ import annotations

from conformance.rules.toolchain import installed_plugins

#: Validators that need downloaded data.
NEEDS_ATTACK_DATA = frozenset({"attacktag", "sigmahq_tags_techniques_without_tactics"})
NEEDS_OTHER_DATA = frozenset(
    {
        "d3_fendtag",
        "sigmahq_category_event_id",
        "sigmahq_category_windows_provider_name",
        "sigmahq_fieldname_cast",
        "sigmahq_invalid_fieldname",
        "sigmahq_logsource_unknown",
        "sigmahq_redundant_field",
    }
)
#: Validators that make no sense for a feed, or that another check covers.
NOT_FOR_FEEDS = frozenset(
    {
        "duplicate_filename",
        "filename_length",
        "sigmahq_filename_convention",
        "sigmahq_filename_prefix",
        "sigmahq_correlation_filename_prefix",
        "identifier_uniqueness",
        "duplicate_title",
        "escaped_wildcard",
    }
)
#: Reported as warnings whatever pySigma's severity: the vendor's documented format has them.
WARNING_VALIDATORS = frozenset({"sigmahq_fields_existence", "duplicate_title"})
#: pySigma severities that fail the run; lower ones are warnings.
FAILING_SEVERITIES = frozenset({"high", "critical"})


def offline_validators(
    *, attack_data: str | None = None, not_for_profile: frozenset[str] = NOT_FOR_FEEDS
) -> tuple[str, ...]:
    """The identifiers of the installed validators a profile runs, sorted (``not_for_profile``:
    those the profile leaves out, see ``conformance.rules.profiles``)."""
    installed = installed_plugins().validators
    return tuple(
        sorted(
            name
            for name in installed
            if name not in not_for_profile and runs_offline(name, attack_data=attack_data)
        )
    )


def runs_offline(name: str, *, attack_data: str | None = None) -> bool:
    """Whether a validator can run with no network (with ``--attack-data``: the ATT&CK ones)."""
    if name in NEEDS_OTHER_DATA:
        return False
    return attack_data is not None or name not in NEEDS_ATTACK_DATA
