"""Which documented statement each check enforces, and how much its findings weigh.

One row per registered check: the vendor's statement in our own words (``docs/contract.md``
has the contract), the severity of its findings in a plain run, and with ``--strict`` (which
adds the mock's own choices where the vendor is silent, e.g. a 400 for a bad value). The
registry attaches the row to each check (:attr:`conformance.registry.CheckSpec.statement`);
``soc-conformance checks`` prints the table and the README publishes it (a test keeps the two
equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

FAILURE: Final = "failure"
WARNING: Final = "warning"


@dataclass(frozen=True)
class Statement:
    """A documented statement and the weight of a check's findings by default / ``--strict``."""

    text: str
    default: str = FAILURE
    strict: str = FAILURE


_S = Statement
#: Every built-in check's statement, by check name.
STATEMENTS: Final = MappingProxyType(
    {
        # -- rule format, one document at a time
        "documents_are_mappings": _S(
            "Each document of the body is one rule (a mapping)",
            "failure; warning: an empty document after the last ---",
            "failure; warning: an empty document after the last ---",
        ),
        "no_duplicate_keys": _S("Each rule is loadable YAML (a key appears once per mapping)"),
        "no_action_documents": _S("Each document is a complete rule (no action: documents)"),
        "required_fields_present": _S(
            "A rule has title, id, logsource and detection with a condition"
        ),
        "top_level_keys_are_known": _S(
            "(Sigma's specification: top-level keys are Sigma's; a typo drops what it holds)",
            WARNING,
            WARNING,
        ),
        "detection_condition_is_valid": _S(
            "A rule's condition parses and names only selections its detection defines"
        ),
        "documented_fields_present": _S(
            "A rule has the sample's status, description, references, author, date, level"
        ),
        "enumerations_are_valid": _S("status and level hold Sigma's values"),
        "date_is_iso_day": _S("date is the day the IOC was added, YYYY-MM-DD"),
        "date_is_a_sigma_date": _S(
            "(Sigma's specification, --profile sigma: date and modified are YYYY-MM-DD days)",
            "failure; warning: YYYY/MM/DD, which pySigma also reads",
            "failure; warning: YYYY/MM/DD, which pySigma also reads",
        ),
        "id_is_uuid": _S("A rule id is a UUID"),
        "id_is_uuid_v4": _S(
            "A rule id is a random UUID (opt-in, --uuid-v4: the vendor derives ids)",
            "failure (only with --uuid-v4)",
            "failure (only with --uuid-v4)",
        ),
        "detection_value_is_literal_ioc": _S(
            "The detection value is the IOC itself: valid, not defanged, wildcards escaped"
        ),
        "hash_label_matches_the_value": _S(
            "A rule can match its IOC: a Hashes label names the algorithm of its value"
        ),
        "detection_can_match_its_ioc": _S(
            "A rule can match its IOC: no modifier encodes or compares the value, the condition "
            "does not negate it"
        ),
        "logsource_matches_type": _S(
            "Each IOC type has its documented logsource category and detection field"
        ),
        "attack_tags_are_well_formed": _S("Tags carry ATT&CK tactics and techniques, well formed"),
        # -- a whole body
        "body_is_utf8_yaml": _S(
            "The answer is UTF-8 multi-document YAML, safe to load",
            "failure; warning: a byte order mark or similar oddity",
            "failure; warning: a byte order mark or similar oddity",
        ),
        "rule_ids_are_unique": _S("Ids are unique within an answer (rules mode: across its files)"),
        "one_rule_per_ioc": _S("One rule per IOC"),
        "titles_are_distinct": _S(
            "(SigmaHQ convention, not the vendor's: titles distinct)", WARNING, WARNING
        ),
        # -- the toolchain
        "pysigma_parses_rule": _S("Every rule is deployable: pySigma parses it"),
        "rules_compile_on_required_targets": _S(
            "Every rule compiles (sigma convert) on the required targets"
        ),
        "rules_compile_on_advisory_targets": _S(
            "Rules compile on the advisory targets (SIEMs the vendor names)", WARNING, WARNING
        ),
        "pysigma_validators_pass": _S(
            "(SigmaHQ conventions: pySigma's validators)",
            WARNING,
            "failure for high-severity issues; warning below",
        ),
        # -- authentication
        "missing_key_is_401_missing_api_key": _S("No key: 401 missing_api_key in the envelope"),
        "unknown_key_is_401_invalid_api_key": _S(
            "An unknown or malformed key: 401 invalid_api_key in the envelope"
        ),
        "expired_key_is_401_expired_api_key": _S(
            "An expired key: 401 expired_api_key in the envelope (needs --expired-key)"
        ),
        "free_key_is_403_on_sigma": _S(
            "The Sigma endpoint is Pro only: a Free key gets 403 (needs --free-key)",
            "failure; warning: JSON media type and req_ prefix of the 403 body",
        ),
        "both_key_headers_are_accepted": _S(
            "The key goes in Authorization: Bearer or X-API-Key",
            "failure; warning: api_key= in the query refused",
        ),
        "error_bodies_are_the_envelope": _S(
            "Errors are the JSON envelope error.code/message/request_id, never echoing a key",
            "failure for 401s; warning: 400 and 404 bodies, JSON media type, req_ prefix",
        ),
        # -- rate limits
        "rate_limit_headers_are_coherent": _S(
            "X-RateLimit-Limit/Remaining/Reset are integers; Reset is Unix seconds"
        ),
        "rate_limit_headers_on_every_response": _S(
            "Every response carries X-RateLimit-* (authenticated 4xx included)",
            "failure; warning: 401s and unknown paths",
        ),
        "over_the_limit_is_429_rate_limit_exceeded": _S(
            "Over the limit: 429 rate_limit_exceeded in the envelope, with X-RateLimit-*; "
            "once Reset has passed the key works again (needs --free-key or --probe-rate-limit)",
            "failure; warning: Remaining not 0 on the 429, JSON media type",
        ),
        # -- the answer
        "media_type_is_yaml": _S("Rules come as application/yaml (or text/yaml)"),
        "invalid_values_are_never_5xx": _S(
            "A bad parameter value is the client's error, never a 5xx",
            "failure for a 5xx; warning: not a 400 with the envelope (the mock's choice)",
        ),
        "unknown_parameters_are_ignored": _S("Parameters the docs do not name change nothing"),
        "extra_types_are_accepted": _S(
            "type=mitre-attack, mitre_attack and sha512 are accepted (other pages list them)"
        ),
        "empty_result_is_empty_body": _S("No match: 200 and no rule (no null document)"),
        # -- filters
        "type_filter_selects_only_its_type": _S("type=T gives exactly the IOCs of type T"),
        "confidence_filter_selects_only_its_level": _S(
            "confidence=C gives exactly the rules whose level is C"
        ),
        "industry_filter_selects_a_subset": _S(
            "industry=I narrows the feed, for each of the 16 CISA sector slugs",
            "failure; warning: a sector slug the vendor never shows refused",
        ),
        "industry_filter_narrows_the_feed": _S(
            "industry=I gives the IOCs of sector I (by membership where records name sectors; "
            "else not every sector the whole feed)"
        ),
        "combined_filters_give_the_intersection": _S("Filters combine as an intersection"),
        "limit_caps_the_count": _S(
            "limit=N returns at most N rules (default 100)",
            "failure; warning: fewer than N although more match",
        ),
        "limit_gives_a_prefix": _S("limit=N is the first N rules of the same query"),
        "since_is_monotonic": _S("A later since never adds a rule"),
        "since_is_strict": _S(
            "since=S gives the IOCs added after S, strictly, read as the server's own answers show",
            "failure; warning: an IOC added at or before S but updated since, where the server "
            "reads 'or updated'",
        ),
        "since_with_an_offset_is_the_same_instant": _S(
            "since is ISO 8601: with an offset, a 400 or the same rules as the instant in Z"
        ),
        # -- identity and stability
        "identical_calls_give_identical_results": _S(
            "The same query gives the same rules, in the same order"
        ),
        "rule_ids_are_stable_across_calls": _S("An IOC keeps its rule id from call to call"),
        "rule_ids_are_stable_across_filters": _S("An IOC's rule id is the same under any filters"),
        "sigma_rules_match_the_ioc_list": _S(
            "The Sigma rules for filters F are the IOCs /api/v1/iocs lists for F"
        ),
        # -- clients
        "sends_the_key_in_a_header": _S(
            "A client sends its key in Authorization: Bearer or X-API-Key",
            "failure; warning: api_key= in the URL",
            "failure; warning: api_key= in the URL",
        ),
        "sends_only_documented_parameters": _S(
            "A client sends documented parameters with valid values"
        ),
        "refused_key_is_not_retried": _S(
            "After a 401 or 403 a client stops (two requests at most)"
        ),
        "fails_loudly_when_it_cannot_sync": _S(
            "A client that cannot sync exits non-zero with a message"
        ),
        "succeeds_when_the_feed_is_served": _S("A client fetches served rules and exits 0"),
        "completes_within_the_timeout": _S("A client run ends before the timeout"),
        "waits_for_rate_limit_reset": _S("After a 429 a client waits for X-RateLimit-Reset"),
        "stays_within_the_rate_limit": _S(
            "After X-RateLimit-Remaining: 0 a client waits for X-RateLimit-Reset"
        ),
        "retries_server_errors": _S("A client retries 5xx answers, resets and cut bodies"),
        "bounds_its_retries": _S("A client gives up after ten attempts in a row"),
        "backs_off_between_retries": _S("A client's retries wait longer and longer"),
        "fetches_nothing_twice": _S("Incremental runs (since=) fetch no rule twice"),
        "leaves_no_partial_or_corrupt_file": _S("A client never leaves a partial rules file"),
        "writes_exactly_the_served_rules": _S(
            "After a successful run the file holds the served rules, as served",
            "failure; warning: the same rules re-serialised",
            "failure; warning: the same rules re-serialised",
        ),
        "misses_nothing_across_runs": _S("Incremental runs miss no rule of the feed"),
    }
)


def statement_of(name: str) -> Statement:
    """The row for a check (a check nobody described yet says so, rather than hiding)."""
    return STATEMENTS.get(name) or Statement("(no statement recorded for this check)")
