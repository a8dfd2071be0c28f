"""Moving-window counts, in one process (``MemoryWindows``) and shared (``SharedWindows``).

Both are held against a plain model of the documented rule (a request counts until the end of
its slot is a whole window ago; a window admits a request only while it holds fewer than its
limit) on the same clock, request by request, headers included.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mockserver.sharedwindows import SharedWindows
from mockserver.windows import SLOTS, SWEEP_EVERY, MemoryWindows, Window, WindowStats

Store = MemoryWindows | SharedWindows


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_000.0005) -> None:
        # Half a millisecond off every slot boundary: the model and the stores never have to
        # agree on an instant that float rounding could put on either side of a boundary.
        self.now = start

    def __call__(self) -> float:
        return self.now


class Model:
    """The rule, written plainly: every request kept with the instant it leaves each window."""

    def __init__(self) -> None:
        self.leaves: dict[tuple[str, int], list[float]] = {}

    def hit(self, bucket: str, windows: list[Window], now: float) -> tuple[bool, list[float]]:
        live = [self._live(bucket, i, w, now) for i, w in enumerate(windows)]
        allowed = all(len(kept) < w.amount for kept, w in zip(live, windows, strict=True))
        if allowed:
            for i, w in enumerate(windows):
                end_of_slot = (math.floor(now / w.slot_seconds) + 1) * w.slot_seconds
                self.leaves.setdefault((bucket, i), []).append(end_of_slot + w.seconds)
        live = [self._live(bucket, i, w, now) for i, w in enumerate(windows)]
        resets = [
            min(kept) if kept else now + w.seconds for kept, w in zip(live, windows, strict=True)
        ]
        return allowed, resets

    def _live(self, bucket: str, index: int, window: Window, now: float) -> list[float]:
        kept = [t for t in self.leaves.get((bucket, index), []) if t > now + 1e-9]
        self.leaves[(bucket, index)] = kept
        return kept


def _stores(tmp: Path, clock: FakeClock) -> Iterator[tuple[str, Store]]:
    yield "memory", MemoryWindows(clock)
    yield "shared", SharedWindows(tmp / "counts.sqlite", clock)


WINDOWS = [Window(3, 1.0), Window(5, 60.0)]
# Steps in milliseconds: many inside one slot, some across slots, some past whole windows.
steps = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), st.integers(min_value=0, max_value=1_500)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(steps)
@example([("a", 0)] * 4 + [("a", 1_000), ("a", 1)])  # the 4th refused; freed 1 s + 1 slot on
@example([("a", 0)] * 6 + [("b", 0)])  # another bucket keeps its own budget
def test_both_stores_follow_the_rule_request_by_request(
    tmp_path_factory: pytest.TempPathFactory, requests: list[tuple[str, int]]
) -> None:
    clock = FakeClock()
    stores = dict(_stores(tmp_path_factory.mktemp("w"), clock))
    model = Model()
    for bucket, step in requests:
        clock.now += step / 1000
        expected, resets = model.hit(bucket, WINDOWS, clock.now)
        for name, store in stores.items():
            allowed, stats = store.hit(("pro", bucket), WINDOWS)
            assert allowed == expected, (name, bucket, clock.now)
            assert [s.reset for s in stats] == pytest.approx(resets, abs=1e-6), name
            live = [len(model._live(bucket, i, w, clock.now)) for i, w in enumerate(WINDOWS)]
            assert [s.remaining for s in stats] == [
                w.amount - n for w, n in zip(WINDOWS, live, strict=True)
            ], name
            assert store.stats(("pro", bucket), WINDOWS) == stats, name


@pytest.mark.parametrize("kind", ["memory", "shared"])
def test_a_request_leaves_at_the_end_of_its_slot_never_before(tmp_path: Path, kind: str) -> None:
    clock = FakeClock(1_800_000_000.0004)  # early in a 6 ms slot
    store = dict(_stores(tmp_path, clock))[kind]
    window = [Window(1, 60.0)]
    assert store.hit(("k", "x"), window)[0]
    clock.now += 60.0  # a whole window later, but the slot's end is not yet a window ago
    assert not store.hit(("k", "x"), window)[0]
    clock.now = 1_800_000_000 + window[0].slot_seconds + 60.0 + 1e-5
    allowed, stats = store.hit(("k", "x"), window)
    assert allowed
    assert stats == [WindowStats(remaining=0, reset=pytest.approx(clock.now + 60, abs=0.007))]


def test_slots_are_a_window_over_slots_and_at_least_a_millisecond() -> None:
    assert Window(10, 60.0).slot_seconds == pytest.approx(60.0 / SLOTS)
    assert Window(10, 1.0).slot_seconds == 0.001
    assert Window(10, 86_400.0).slot_seconds == pytest.approx(8.64)


def test_memory_holds_slots_not_requests() -> None:
    clock = FakeClock()
    store = MemoryWindows(clock)
    window = [Window(10**9, 60.0)]
    for _ in range(50_000):  # all in one slot
        store.hit(("k", "x"), window)
    counts = store._counts[("k", "x", 0)]
    assert (counts.total, len(counts.slots)) == (50_000, 1)


@pytest.mark.parametrize("kind", ["memory", "shared"])
def test_idle_buckets_are_forgotten(tmp_path: Path, kind: str) -> None:
    clock = FakeClock()
    store = dict(_stores(tmp_path, clock))[kind]
    window = [Window(10**9, 1.0)]
    for n in range(SWEEP_EVERY - 1):
        store.hit(("anonymous", f"10.0.{n // 250}.{n % 250}"), window)
    clock.now += 5.0
    store.hit(("anonymous", "last"), window)  # the sweep runs on this hit
    assert (len(store) if isinstance(store, MemoryWindows) else store.buckets()) == 1


def _race(hit: Callable[[], bool], threads: int, each: int) -> int:
    allowed = [0] * threads
    start = threading.Barrier(threads)

    def run(slot: int) -> None:
        start.wait()
        allowed[slot] = sum(hit() for _ in range(each))

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    return sum(allowed)


@pytest.mark.parametrize("kind", ["memory", "shared"])
def test_racing_threads_never_exceed_the_limit(tmp_path: Path, kind: str) -> None:
    store = dict(_stores(tmp_path, FakeClock()))[kind]
    window = [Window(100, 60.0), Window(1000, 3600.0)]
    assert _race(lambda: store.hit(("k", "x"), window)[0], threads=8, each=40) == 100


def test_racing_processes_share_one_count(tmp_path: Path) -> None:
    path = tmp_path / "counts.sqlite"
    store = SharedWindows(path)
    window = [Window(60, 60.0)]
    store.close()
    children = []
    for _ in range(4):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(read)
            got = sum(store.hit(("k", "x"), window)[0] for _ in range(40))
            os.write(write, str(got).encode())
            os._exit(0)
        os.close(write)
        children.append((pid, read))
    total = 0
    for pid, read in children:
        total += int(os.read(read, 32) or b"0")
        os.close(read)
        os.waitpid(pid, 0)
    assert total == 60  # 160 tried from 4 processes: exactly the window's 60 let through
    assert store.stats(("k", "x"), window)[0].remaining == 0


def test_a_failed_hit_gives_the_other_processes_their_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from mockserver import sharedwindows

    monkeypatch.setattr(sharedwindows, "BUSY_TIMEOUT_SECONDS", 0.05)
    path = tmp_path / "counts.sqlite"
    failing = SharedWindows(path, FakeClock())
    intruder = sqlite3.connect(path, isolation_level=None)
    intruder.execute("BEGIN IMMEDIATE")  # a writer the turn-taking does not know about
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        failing.hit(("k", "x"), [Window(1, 60.0)])
    intruder.execute("ROLLBACK")
    intruder.close()
    other = SharedWindows(path, FakeClock())  # its own descriptor: a flock left held blocks it
    result: list[bool] = []
    worker = threading.Thread(
        target=lambda: result.append(other.hit(("k", "x"), [Window(1, 60.0)])[0]), daemon=True
    )
    worker.start()
    worker.join(timeout=10)
    assert result == [True]  # not blocked, and the failed hit counted nothing
    assert failing.hit(("k", "x"), [Window(1, 60.0)])[0] is False  # one shared count
