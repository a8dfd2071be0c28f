"""A deterministic synthetic IOC dataset: Faker and ``random.Random`` seeded with one seed.

Same seed, count and reference instant ⇒ the same records in the same order, so the written
file is byte-identical (with the same Faker release: its word lists are part of the output,
which is why ``meta.faker_version`` is recorded).

Safety: every IP address comes from the documentation and benchmarking ranges and every host
name and e-mail domain from reserved names, so a rule deployed by mistake never matches real
infrastructure. The dataset covers every (type, confidence) pair, all 16 industries, IOCs with no
and with several industries, ATT&CK techniques, and the hard values listed in ``HARD_URLS``.

Long because the hard cases it plants (odd URLs, every type and confidence pair, sector
mixes) are data written out in full, on purpose, so a reviewer sees them.
"""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any, Final

from faker import Faker

from mockserver.model import (
    CONFIDENCES,
    INDUSTRIES,
    IOC,
    IOC_TYPES,
    format_instant,
    normalise_value,
)

#: Bump when the algorithm changes what a seed produces.
GENERATOR_VERSION: Final = "1"
#: The default reference instant ("now") of generated datasets.
REFERENCE_NOW: Final = datetime(2026, 11, 1, tzinfo=UTC)
#: IOCs are added within this window before the reference instant.
SPREAD: Final = timedelta(days=365)

IPV4_NETWORKS: Final = tuple(
    ipaddress.IPv4Network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15")
)
IPV6_NETWORK: Final = ipaddress.IPv6Network("2001:db8::/32")
#: Reserved names (RFC 2606 / RFC 6761) under which every generated host lives.
RESERVED_SUFFIXES: Final = (
    "example",
    "test",
    "invalid",
    "example.com",
    "example.net",
    "example.org",
)

#: URL values chosen to break naive escaping and quoting; all present in every dataset.
HARD_URLS: Final = (
    "http://files.example.com/download.php?id=42&token=a1b2",
    "https://cdn.example.net/assets/*.js",
    "http://share.example.org/path\\to\\payload.exe",
    'http://quotes.example/it\'s/"quoted"',
    "https://portal.example.com/login#fragment",
    "http://api.example.net/v1?q=key: value",
    "https://bücher.example/angebot?id=1",
    "https://xn--bcher-kva.example/angebot",
    "http://пример.test/путь?запрос=1",
    "https://例え.test/パス?検索=テスト",
    "http://198.51.100.7:8080/gate.php?bot=1",
    "http://[2001:db8::5]/c2/beacon",
    "https://mixed.example.com/a*b?c\\d'e\"f#g: h",
    "http://percent.example/%2e%2e/%3f%2a",
    "http://trailing.example/path?",
    "https://emoji.example/🚀?x=🦄",
    "http://yaml.example/- [a, b] {c: d} & *alias !tag %x @y `z`",
    "http://doc.example/--- ... ---",
    "https://wild.example.org/??**\\\\",
)
HARD_EMAILS: Final = (
    "invoice+payment@mail.example.com",
    "o'brien+urgent@example.org",
    "first.last+tag+more@billing.example",
)

FEEDS: Final = (
    "SOC Defenders Core",
    "SOC Defenders Honeypots",
    "Partner Exchange",
    "OSINT Aggregate",
    "Phishing Watch",
)
TAGS: Final = (
    "apt",
    "botnet",
    "cobalt-strike",
    "credential-theft",
    "cryptominer",
    "infostealer",
    "loader",
    "phishing-kit",
    "ransomware",
    "scanner",
)
MALWARE_FAMILIES: Final = ("AgentTesla", "Emotet", "IcedID", "Qakbot", "RedLine", "Sliver")

_CATEGORY_BY_TYPE: Final = {
    "ipv4": ("c2", "botnet", "scanner"),
    "ipv6": ("c2", "botnet", "scanner"),
    "domain": ("c2", "phishing", "malware"),
    "url": ("phishing", "malware", "exploit"),
    "md5": ("malware",),
    "sha1": ("malware",),
    "sha256": ("malware",),
    "sha512": ("malware",),
    "cve": ("exploit",),
    "email": ("phishing", "spam"),
    "mitre-attack": ("c2", "malware", "exploit"),
}
_TECHNIQUES_BY_TYPE: Final = {
    "ipv4": ("T1071", "T1071.001", "T1095", "T1571", "T1090.002"),
    "ipv6": ("T1071", "T1071.001", "T1095", "T1571"),
    "domain": ("T1071.004", "T1568", "T1568.002", "T1583.001"),
    "url": ("T1189", "T1566.002", "T1105", "T1204.001"),
    "md5": ("T1204.002", "T1059.001", "T1027", "T1055"),
    "sha1": ("T1204.002", "T1059.003", "T1027", "T1547.001"),
    "sha256": ("T1204.002", "T1059.001", "T1486", "T1055.012"),
    "sha512": ("T1204.002", "T1027"),
    "cve": ("T1190", "T1203", "T1068", "T1210"),
    "email": ("T1566.001", "T1566.002", "T1598.003"),
    "mitre-attack": (),
}
#: Relative frequency of each type in the random part of a dataset.
_TYPE_WEIGHTS: Final = {
    "ipv4": 18,
    "ipv6": 6,
    "domain": 18,
    "url": 18,
    "md5": 6,
    "sha1": 5,
    "sha256": 12,
    "cve": 6,
    "email": 8,
    "sha512": 1,
    "mitre-attack": 1,
}
_HASH_BITS: Final = {"md5": 128, "sha1": 160, "sha256": 256, "sha512": 512}
_ATTACK_IDS: Final = tuple(
    sorted({t for techniques in _TECHNIQUES_BY_TYPE.values() for t in techniques})
)


class _Generator:
    """One generation run: the seeded sources of randomness and the values used so far."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.now = now
        self.seen: set[tuple[str, str]] = set()

    def host(self) -> str:
        labels = [self.fake.domain_word() for _ in range(self.rng.choice((1, 1, 2)))]
        if self.rng.random() < 0.4:
            labels[-1] += "-" + self.fake.word()
        return ".".join([*labels, self.rng.choice(RESERVED_SUFFIXES)])

    def ipv4(self) -> str:
        network = self.rng.choice(IPV4_NETWORKS)
        return str(network.network_address + self.rng.randrange(1, network.num_addresses - 1))

    def ipv6(self) -> str:
        groups = [self.rng.getrandbits(16) for _ in range(6)]
        start = self.rng.randrange(6)
        for i in range(start, min(6, start + self.rng.randrange(1, 5))):
            groups[i] = 0  # runs of zero groups, so that the compressed form has a "::"
        value = (int(IPV6_NETWORK.network_address) >> 96 << 96) | sum(
            g << (16 * (5 - i)) for i, g in enumerate(groups)
        )
        return ipaddress.IPv6Address(value).compressed

    def url(self) -> str:
        scheme = self.rng.choice(("http", "https"))
        roll = self.rng.random()
        host = self.ipv4() if roll < 0.15 else self.host()
        port = f":{self.rng.choice((8080, 8443, 4444))}" if self.rng.random() < 0.1 else ""
        path = self.fake.uri_path(deep=self.rng.randint(1, 4))
        query = ""
        if self.rng.random() < 0.5:
            query = f"?{self.fake.word()}={self.rng.randint(1, 99999)}"
        return f"{scheme}://{host}{port}/{path}{query}"

    def long_url(self, length: int = 2000) -> str:
        url = f"https://long.{self.rng.choice(RESERVED_SUFFIXES)}/"
        url += "/".join(self.fake.words(nb=12)) + "?"
        while len(url) < length:
            url += f"{self.fake.word()}={self.rng.getrandbits(32):08x}&"
        return url[:length]

    def email(self) -> str:
        user = self.fake.user_name()
        if self.rng.random() < 0.3:
            user += "+" + self.fake.word()
        return f"{user}@{self.host()}"

    def value(self, ioc_type: str) -> str:
        if ioc_type in _HASH_BITS:
            digest = f"{self.rng.getrandbits(_HASH_BITS[ioc_type]):0{_HASH_BITS[ioc_type] // 4}x}"
            # Some feeds send upper-case digests: the loader must normalise them.
            return digest.upper() if self.rng.random() < 0.15 else digest
        if ioc_type == "cve":
            return f"CVE-{self.rng.randint(2015, 2026)}-{self.rng.randint(1000, 49999)}"
        if ioc_type == "mitre-attack":
            return self.rng.choice(_ATTACK_IDS)
        maker = {
            "ipv4": self.ipv4,
            "ipv6": self.ipv6,
            "domain": self.host,
            "url": self.url,
            "email": self.email,
        }
        return maker[ioc_type]()

    def unique_value(self, ioc_type: str) -> str | None:
        for _ in range(100):
            candidate = self.value(ioc_type)
            if self.claim(ioc_type, candidate):
                return candidate
        return None  # the type's value space is used up (only ATT&CK ids are that small)

    def claim(self, ioc_type: str, value: str) -> bool:
        key = (ioc_type, normalise_value(ioc_type, value))
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def record(
        self,
        ioc_type: str,
        value: str,
        *,
        confidence: str | None = None,
        industries: tuple[str, ...] | None = None,
        techniques: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        added = self.now - timedelta(seconds=rng.randrange(1, int(SPREAD.total_seconds())))
        last_seen = min(self.now, added + timedelta(seconds=rng.randrange(0, 60 * 86400)))
        if techniques is None:
            pool = _TECHNIQUES_BY_TYPE[ioc_type]
            count = rng.choice((0, 0, 1, 1, 2)) if pool else 0
            techniques = tuple(sorted(rng.sample(pool, count)))
        if industries is None:
            count = rng.choice((0, 1, 1, 2, 3, 4))
            industries = tuple(sorted(rng.sample(INDUSTRIES, count)))
        context = {
            "description": self.fake.sentence(nb_words=8),
            "country": self.fake.country_code(),
        }
        if rng.random() < 0.4:
            context["malware_family"] = rng.choice(MALWARE_FAMILIES)
        ioc = IOC(
            type=ioc_type,
            value=value,
            confidence=confidence or rng.choice(CONFIDENCES),
            added=added,
            last_seen=last_seen,
            feed_name=rng.choice(FEEDS),
            category=rng.choice(_CATEGORY_BY_TYPE[ioc_type]),
            tags=tuple(sorted(rng.sample(TAGS, rng.randint(0, 3)))),
            mitre_techniques=techniques,
            industries=industries,
            context=context,
        )
        record = ioc.to_json()
        record["value"] = value  # the raw spelling (e.g. an upper-case hash), normalised on load
        return record


def generate_records(seed: int, count: int, now: datetime = REFERENCE_NOW) -> list[dict[str, Any]]:
    """Return ``count`` IOC records (raw JSON form) sorted by (first_seen, id).

    The first records cover what every dataset must hold (each (type, confidence), each
    industry, the hard values); the rest are drawn at random. With ``count`` below that
    coverage set, the coverage set is cut short.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    gen = _Generator(seed, now)
    required: list[dict[str, Any]] = []
    # The vendor's sample IOC, with no technique, so its rule is the sample rule verbatim.
    gen.claim("ipv4", "203.0.113.42")
    required.append(gen.record("ipv4", "203.0.113.42", confidence="high", techniques=()))
    for ioc_type in IOC_TYPES:
        for confidence in CONFIDENCES:
            if (ioc_type, confidence) == ("ipv4", "high"):
                continue
            value = gen.unique_value(ioc_type)
            if value is not None:
                required.append(gen.record(ioc_type, value, confidence=confidence))
    for slug in INDUSTRIES:
        other = gen.rng.sample([s for s in INDUSTRIES if s != slug], gen.rng.randint(0, 2))
        value = gen.unique_value("domain")
        if value is not None:
            required.append(gen.record("domain", value, industries=tuple(sorted([slug, *other]))))
    for value in (*HARD_URLS, gen.long_url()):
        if gen.claim("url", value):
            required.append(gen.record("url", value))
    for value in HARD_EMAILS:
        if gen.claim("email", value):
            required.append(gen.record("email", value))
    records = required[:count]
    types = list(_TYPE_WEIGHTS)
    weights = [_TYPE_WEIGHTS[t] for t in types]
    while len(records) < count:
        ioc_type = gen.rng.choices(types, weights)[0]
        value = gen.unique_value(ioc_type)
        if value is not None:
            records.append(gen.record(ioc_type, value))
    records.sort(key=lambda r: (r["first_seen"], r["id"]))
    return records


def generate_meta(seed: int, count: int, now: datetime = REFERENCE_NOW) -> dict[str, Any]:
    """Return the ``meta`` object of a generated dataset."""
    return {
        "seed": seed,
        "count": count,
        "now": format_instant(now),
        "generator_version": GENERATOR_VERSION,
        "faker_version": version("faker"),
    }
