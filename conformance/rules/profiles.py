"""Profiles of the rule checks: the vendor's one-IOC-per-rule feed, or any Sigma corpus.

``socdefenders`` (the default) is every check, the vendor's format included: one literal IOC
per rule, the documented logsource and field for its type, the documented metadata; its compile
matrix has a row per IOC type. ``sigma`` keeps the checks that hold for any Sigma rule (YAML,
schema, ids, tags, condition, pySigma's validators, compiling) and groups the compile matrix by
logsource (``product/category/service``), since general rules have no IOC type.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance import contract
from conformance.findings import UsageError


@dataclass(frozen=True)
class Profile:
    """What a profile checks and how it groups the compile matrix."""

    name: str
    description: str
    #: Checks of the vendor's IOC format, left out of this profile.
    excluded_checks: frozenset[str]
    #: What a compile-matrix row is: ``type`` (IOC type) or ``logsource``.
    matrix_rows: str
    #: Validators this profile leaves out on top of those needing downloaded data.
    excluded_validators: frozenset[str]
    #: The targets compiled for when ``--targets`` is not given, and which of them are required.
    targets: tuple[str, ...] = contract.DEFAULT_TARGETS
    required_targets: tuple[str, ...] = contract.REQUIRED_TARGETS


#: Checks that only make sense for the vendor's one-IOC-per-rule format.
IOC_FORMAT_CHECKS = frozenset(
    {
        "detection_value_is_literal_ioc",
        "logsource_matches_type",
        "one_rule_per_ioc",
        "documented_fields_present",
        "hash_label_matches_the_value",
        "detection_can_match_its_ioc",
    }
)
#: pySigma validators of file names (a server response has none) and those this suite checks
#: itself, so one defect is one finding (``identifier_uniqueness`` is ``rule_ids_are_unique``,
#: ``duplicate_title`` is ``titles_are_distinct``, ``sigmahq_unknown_field`` is
#: ``top_level_keys_are_known``).
_NOT_PER_RULE = frozenset(
    {
        "duplicate_filename",
        "filename_length",
        "sigmahq_filename_convention",
        "sigmahq_filename_prefix",
        "sigmahq_correlation_filename_prefix",
        "identifier_uniqueness",
        "duplicate_title",
        "sigmahq_unknown_field",
    }
)

PROFILES = {
    "socdefenders": Profile(
        name="socdefenders",
        description="the SOC Defenders feed: generic Sigma checks plus the IOC format",
        # The vendor documents YYYY-MM-DD: date_is_iso_day holds it to that.
        excluded_checks=frozenset({"date_is_a_sigma_date"}),
        matrix_rows="type",
        # An IOC with * or ? must be escaped to match literally: escaped_wildcard contradicts
        # the contract.
        excluded_validators=_NOT_PER_RULE | {"escaped_wildcard"},
    ),
    "sigma": Profile(
        name="sigma",
        description="any Sigma corpus: generic checks only, matrix by logsource",
        # Dates as Sigma reads them: the older YYYY/MM/DD is a warning (date_is_a_sigma_date).
        excluded_checks=IOC_FORMAT_CHECKS | {"date_is_iso_day"},
        matrix_rows="logsource",
        excluded_validators=_NOT_PER_RULE,
        # The SIEM-neutral pair: both pipelines leave non-Windows logsources as they are. Kusto
        # and QRadar need a table or a device type per logsource: opt in with --targets or
        # --advisory-targets.
        targets=("splunk+sysmon", "lucene+ecs_windows"),
        required_targets=("splunk+sysmon",),
    ),
}


def profile_named(name: str) -> Profile:
    """The profile of that name; an unknown name is a usage error listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise UsageError(f"unknown profile {name!r}; known profiles: {known}") from None


def target_roles(
    profile: Profile,
    *,
    targets: tuple[str, ...] = (),
    required: tuple[str, ...] = (),
    advisory: tuple[str, ...] = (),
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The targets to compile for and the required ones, from the profile and the options.

    ``targets`` (``--targets``) replaces the profile's list; the profile's required targets
    stay required when listed. ``required`` (``--required-targets``) and ``advisory``
    (``--advisory-targets``) set a target's role, adding it to the list when missing. A target
    named both ways is a usage error.
    """
    both = sorted(set(required) & set(advisory))
    if both:
        raise UsageError(f"target(s) both required and advisory: {', '.join(both)}")
    chosen = targets or profile.targets
    roles = [t for t in profile.required_targets if t in chosen]
    roles += [t for t in required if t not in roles]
    all_targets = tuple(dict.fromkeys(chosen + required + advisory))
    return all_targets, tuple(t for t in roles if t not in advisory)


def logsource_row(data: object) -> str:
    """A rule's logsource as a matrix row: ``product/category/service``, ``-`` where absent."""
    logsource = data.get("logsource") if isinstance(data, dict) else None
    if not isinstance(logsource, dict):
        return "no logsource"
    parts = [logsource.get(k) for k in ("product", "category", "service")]
    return "/".join(str(p) if p not in (None, "") else "-" for p in parts)
