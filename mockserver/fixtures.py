"""The fixture dataset on disk: locating, loading and writing ``iocs.json`` and ``keys.json``.

File layout (one IOC per line, so that a regenerated file diffs line by line)::

    {"meta": {"seed": 20261129, "count": 2000, "now": "2026-11-01T00:00:00Z", ...},
     "iocs": [
      {"id": ..., "type": "ipv4", "value": "203.0.113.42", ...},
      ...
     ]}

``meta.now`` is the reference instant the IOCs were generated around: the mock's clock
defaults to it, so output is reproducible. A wheel carries the committed files as
``mockserver/_fixtures``; a source checkout has them in ``fixtures/`` beside the package.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from mockserver.errors import FixtureError
from mockserver.model import IOC, InvalidIOCError, parse_instant

IOCS_FILE = "iocs.json"
KEYS_FILE = "keys.json"


@dataclass(frozen=True, slots=True)
class DatasetMeta:
    """Provenance of a dataset: how to regenerate it and its reference instant."""

    seed: int | None
    count: int
    now: datetime
    generator_version: str
    extra: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Dataset:
    """The IOCs the mock serves, normalised, with their provenance."""

    meta: DatasetMeta
    iocs: tuple[IOC, ...]


def locate(name: str) -> Path:
    """Return the path of a committed fixture file (``iocs.json`` or ``keys.json``).

    Looks first in the installed package (``mockserver/_fixtures``, put there by the wheel
    build), then in the source checkout's ``fixtures/`` directory.
    """
    packaged = resources.files("mockserver").joinpath("_fixtures", name)
    if packaged.is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / "fixtures" / name
    if checkout.is_file():
        return checkout
    raise FixtureError(
        f"fixture file {name!r} not found in the installed package (mockserver/_fixtures) "
        f"nor in {checkout.parent}; pass --fixtures PATH or run `soc-mock generate`"
    )


def _read_json(path: Path) -> Any:
    if path.is_dir():
        raise FixtureError(f"cannot read {path}: it is a directory; expected a JSON file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FixtureError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FixtureError(f"{path} is not UTF-8 JSON: {exc}") from exc


def parse_dataset(document: Any, *, origin: str = "<dataset>") -> Dataset:
    """Build a Dataset from the decoded JSON document, normalising and validating every IOC."""
    if not isinstance(document, dict) or not isinstance(document.get("iocs"), list):
        raise FixtureError(f"{origin}: expected an object with an 'iocs' list")
    raw_meta = document.get("meta") or {}
    if not isinstance(raw_meta, dict):
        raise FixtureError(f"{origin}: 'meta' must be an object")
    iocs: list[IOC] = []
    seen: dict[str, int] = {}
    for index, record in enumerate(document["iocs"]):
        if not isinstance(record, dict):
            raise FixtureError(f"{origin}: iocs[{index}]: expected an object, got {record!r:.60}")
        try:
            ioc = IOC.from_json(record)
        except InvalidIOCError as exc:
            where = f"iocs[{index}].{exc.field}" if exc.field else f"iocs[{index}]"
            raise FixtureError(f"{origin}: {where}: {exc}") from None
        if ioc.id in seen:
            raise FixtureError(
                f"{origin}: iocs[{index}] repeats iocs[{seen[ioc.id]}] ({ioc.type} {ioc.value!r})"
            )
        seen[ioc.id] = index
        iocs.append(ioc)
    try:
        now = (
            parse_instant(str(raw_meta["now"]))
            if "now" in raw_meta
            else max((ioc.added for ioc in iocs), default=None)
        )
    except InvalidIOCError as exc:
        raise FixtureError(f"{origin}: meta.now: {exc}") from exc
    if now is None:
        raise FixtureError(f"{origin}: an empty dataset needs meta.now")
    known = {"seed", "count", "now", "generator_version"}
    seed = raw_meta.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise FixtureError(f"{origin}: meta.seed: expected an integer, got {seed!r:.60}")
    meta = DatasetMeta(
        seed=seed,
        count=len(iocs),
        now=now,
        generator_version=str(raw_meta.get("generator_version", "")),
        extra={k: v for k, v in raw_meta.items() if k not in known},
    )
    return Dataset(meta=meta, iocs=tuple(iocs))


def load_dataset(path: Path | None = None) -> Dataset:
    """Load a dataset file (default: the committed ``iocs.json``)."""
    resolved = path if path is not None else locate(IOCS_FILE)
    return parse_dataset(_read_json(resolved), origin=str(resolved))


def dump_dataset(meta: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> str:
    """Serialise a dataset deterministically: same input, same text, byte for byte."""
    head = json.dumps(dict(meta), ensure_ascii=False, separators=(", ", ": "))
    lines = [json.dumps(dict(r), ensure_ascii=False, separators=(", ", ": ")) for r in records]
    body = ",\n  ".join(lines)
    return (
        f'{{"meta": {head},\n "iocs": [\n  {body}\n ]}}\n'
        if lines
        else (f'{{"meta": {head},\n "iocs": []}}\n')
    )


def load_key_records(path: Path | None = None) -> list[Mapping[str, Any]]:
    """Return the raw key records of a keys file (default: the committed demo keys)."""
    resolved = path if path is not None else locate(KEYS_FILE)
    document = _read_json(resolved)
    records = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise FixtureError(f"{resolved}: expected an object with a 'keys' list of objects")
    return records
