"""The quick test run (`scripts/test -m unit`) as it is against as it was, in one run.

    .venv/bin/python bench/unit_run.py [--repeat 1]

  as it was   one process, argon2 at the service's default cost (DOCSVC_TEST_DEFAULT_PASSWORD_COST=1)
  cheap hash  one process, the tests' cheapest argon2 cost (tests/conftest.py)
  as it is    the cheapest cost, pytest-xdist over every core (`-n auto`, what scripts/test adds)

Each is a fresh `python -m pytest -m unit -q` and reports wall seconds and the CPU seconds of the
processes it started (so a busy machine shows in the wall time, not the CPU time). Nothing asserts.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUNS = [
    ("as it was", ["-p", "no:xdist"], {"DOCSVC_TEST_DEFAULT_PASSWORD_COST": "1"}),
    ("cheap hash", ["-p", "no:xdist"], {}),
    ("as it is", ["-n", "auto"], {}),
]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    cpu, wall = children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "unit", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
    summary = (done.stdout.strip().splitlines() or ["?"])[-1]
    return time.perf_counter() - wall, children_cpu() - cpu, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    options = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in RUNS}
    for _ in range(options.repeat):
        for name, args, env in RUNS:
            wall, cpu, summary = run(args, env)
            results[name].append((wall, cpu))
            print(f"{name:11} wall {wall:6.1f} s  cpu {cpu:6.1f} s  ({summary})", flush=True)
    base_wall = min(w for w, _ in results["as it was"])
    base_cpu = min(c for _, c in results["as it was"])
    for name, values in results.items():
        wall, cpu = min(w for w, _ in values), min(c for _, c in values)
        print(f"{name:11} best wall {wall:6.1f} s ({wall / base_wall:.2f}× as it was), "
              f"cpu {cpu:6.1f} s ({cpu / base_cpu:.2f}×)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
