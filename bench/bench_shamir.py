"""Verify and combine for sets of n = 5, 50 and 255 shards.

For each n and two thresholds (3, and a majority n//2+1) it prints the time to: prove the set
consistent (`fit_polynomial`), locate one bad shard without commitments, check every shard
against the commitments (batched) and one shard alone, and combine a quorum.
Run: .venv/bin/python bench/bench_shamir.py
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable

from custody.commitments import commit, find_bad_shards, verify_shard
from custody.errors import InconsistentSetError
from custody.field import N
from custody.shamir import combine, fit_polynomial, split
from custody.shards import Shard


def seconds(action: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def locate_one_bad(shards: tuple[Shard, ...], threshold: int) -> None:
    try:
        fit_polynomial(shards, threshold)
    except InconsistentSetError as error:
        if len(error.bad_ids) != 1:
            raise
    else:
        raise RuntimeError("the bad shard was not found")


def measure(n: int, t: int, rng: random.Random) -> list[float | None]:
    polynomial, shards = split(1 + rng.randrange(N - 1), t, n, random_below=rng.randrange)
    commitments = commit(polynomial, [s.id for s in shards])
    bad = dataclasses.replace(shards[0], value=shards[0].value ^ 1)
    with_bad = (bad, *shards[1:])
    return [
        seconds(lambda: fit_polynomial(shards, t)),
        seconds(lambda: locate_one_bad(with_bad, t), repeat=1) if n >= t + 2 else None,
        seconds(lambda: find_bad_shards(shards, commitments)),
        seconds(lambda: verify_shard(shards[-1], commitments)),
        seconds(lambda: combine(shards[:t])),
    ]


def main() -> None:
    rng = random.Random(7)
    print(
        f"{'n':>4} {'t':>4}  {'consistency':>12} {'locate 1 bad':>13} "
        f"{'commitments':>12} {'1 shard':>9} {'combine':>9}"
    )
    for n in (5, 50, 255):
        for t in sorted({3, n // 2 + 1}):
            cells = [
                f"{x * 1000:10.1f}ms" if x is not None else f"{'n/a':>12}"
                for x in measure(n, t, rng)
            ]
            print(
                f"{n:>4} {t:>4}  {cells[0]:>12} {cells[1]:>13} {cells[2]:>12} "
                f"{cells[3]:>9} {cells[4]:>9}"
            )


if __name__ == "__main__":
    main()
