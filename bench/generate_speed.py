"""Benchmark: generating 100,000 IOCs (``soc-mock generate``'s work) against bare Faker.

A: ``generate_records`` + ``dump_dataset`` for ``--count`` IOCs (unique, normalised values from
reserved ranges, techniques, industries, the serialised file), as ``soc-mock generate`` does.
B: the floor any Faker-based generator pays: one seeded Faker value per IOC, in the same
type mix, plus one timestamp each, nothing else. A and B alternate; medians, per-IOC cost and
the ratio A/B are printed (no target: the figure is reported).

    .venv/bin/python bench/generate_speed.py [--rounds 3] [--count 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SEED, Result, alternate, describe, median, report


def ours(count: int) -> float:
    """Seconds to generate and serialise ``count`` IOCs the way ``soc-mock generate`` does."""
    from mockserver.fixtures import dump_dataset
    from mockserver.generate import REFERENCE_NOW, generate_meta, generate_records

    start = time.perf_counter()
    records = generate_records(SEED, count, REFERENCE_NOW)
    dump_dataset(generate_meta(SEED, count, REFERENCE_NOW), records)
    return time.perf_counter() - start


def faker_floor(count: int) -> float:
    """Seconds for bare seeded Faker to make one value and one timestamp per IOC."""
    from faker import Faker

    start = time.perf_counter()
    fake = Faker()
    fake.seed_instance(SEED)
    makers: list[Callable[[], str]] = [
        fake.ipv4, fake.ipv6, fake.domain_name, fake.url, fake.md5,
        fake.sha1, fake.sha256, fake.email, fake.ipv4, fake.url,
    ]  # fmt: skip
    values = [
        (makers[n % len(makers)](), fake.date_time_between("-365d", "now")) for n in range(count)
    ]
    assert len(values) == count
    return time.perf_counter() - start


def main() -> None:
    """Alternate both, print the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    a, b = alternate(lambda: ours(args.count), lambda: faker_floor(args.count), args.rounds)
    print(f"generating {args.count} IOCs:", flush=True)
    describe("soc-mock generate (records + file text)", a)
    describe("bare Faker, one value + one date per IOC", b)
    per_ioc = median(a) / args.count * 1e6
    ratio = median(a) / median(b)
    print(f"    {per_ioc:.0f} µs per IOC; ratio to bare Faker: {ratio:.2f}", flush=True)
    report(Result(f"generate_{args.count}_iocs", median(a), "s"))
    report(Result("generate_per_ioc", per_ioc, "us"))
    report(Result("generate_vs_bare_faker", ratio, "x"))


if __name__ == "__main__":
    main()
