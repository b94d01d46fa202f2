"""CLI start-up: `custody --help` against `python3 -c pass`, in the same run.

Prints the median of repeated runs of each, and their ratio (goal: within 2x).
Run: .venv/bin/python bench/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_seconds(command: list[str], runs: int) -> float:
    # Bytecode caching on, as on an installed appliance (some shells here turn it off), and
    # one untimed run first so that the cache is written.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    custody = str(Path(sys.executable).parent / "custody")
    baseline = median_seconds([sys.executable, "-c", "pass"], runs)
    help_time = median_seconds([custody, "--help"], runs)
    version_time = median_seconds([custody, "--version"], runs)
    print(f"python3 -c pass      {baseline * 1000:7.1f} ms (median of {runs})")
    print(f"custody --help       {help_time * 1000:7.1f} ms  ({help_time / baseline:.2f}x)")
    print(f"custody --version    {version_time * 1000:7.1f} ms  ({version_time / baseline:.2f}x)")
    print("goal: custody --help within 2.00x of python3 -c pass")


if __name__ == "__main__":
    main()
