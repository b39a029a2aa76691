"""Peak memory of builds of growing scale trees: what grows per run, and where 100,000 runs lands.

    python benchmarks/memory_curve.py [--runs 1000,2000,5000] [--jobs N] [--keep DIR]

For each size, a cold build and then a rebuild after one changed run, each in a child process
of its own (``measure.py``), while this process samples the PSS of the child and every process
below it (its workers, the worker server) from ``/proc/<pid>/smaps_rollup`` every 0.1 s: the
peak of that sum is the "PSS over all processes" the memory target is stated in. The main
process's own peak RSS comes from the child's ``getrusage``. The slope between the smallest
and the largest tree (MB per 1,000 runs) gives the straight-line estimate at 100,000 runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from measure import DEFAULTS, change_one_run

ROOT = Path(__file__).resolve().parents[1]
MEASURE = Path(__file__).resolve().parent / "measure.py"
TARGET_RUNS = 100_000
TARGET_PSS_MB = 1024.0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            continue
    return found


def _tree_pss_kb(root: int) -> int:
    """Summed PSS of ``root`` and every process below it (0 for those already gone)."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += _children(pid)
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


@dataclass(frozen=True)
class Peak:
    seconds: float
    pss_mb: float  # peak summed PSS of the build's processes
    main_mb: float  # peak RSS of the main process


def measured_build(results: Path, out: Path, jobs: int) -> Peak:
    command = [sys.executable, str(MEASURE), str(results), str(out), str(jobs)]
    command.append(str(DEFAULTS.bootstrap))
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_pss_kb(child.pid))
        time.sleep(0.1)
    stdout, _ = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"build failed: {command}")
    data = orjson.loads(stdout.strip().splitlines()[-1])
    return Peak(data["seconds"], peak / 1024, data["main_rss_kb"] / 1024)


def memory_curve(sizes: list[int], work: Path, jobs: int) -> list[tuple[int, Peak, Peak]]:
    from reportgen.demo import scale_tree

    points = []
    for runs in sizes:
        results = scale_tree(work / f"mem-{runs}-results", seed=0, runs=runs)
        out = work / f"mem-{runs}-site"
        cold = measured_build(results, out, jobs)
        change_one_run(results)
        one = measured_build(results, out, jobs)
        points.append((runs, cold, one))
        print(
            f"  [memory {runs:,}] cold {cold.seconds:.0f} s, peak PSS {cold.pss_mb:.0f} MB "
            f"(main RSS {cold.main_mb:.0f} MB); one change {one.seconds:.1f} s, peak PSS "
            f"{one.pss_mb:.0f} MB (main RSS {one.main_mb:.0f} MB)",
            flush=True,
        )
        shutil.rmtree(results)
        shutil.rmtree(out)
    return points


def curve_text(points: list[tuple[int, Peak, Peak]]) -> str:
    lines = [
        "Memory curve (scale trees; peak PSS summed over all processes, main process peak RSS)",
        f"{'runs':>8}  {'cold PSS':>9}  {'cold main':>9}  "
        f"{'1-change PSS':>12}  {'1-change main':>13}",
    ]
    for runs, cold, one in points:
        lines.append(
            f"{runs:>8,}  {cold.pss_mb:>6.0f} MB  {cold.main_mb:>6.0f} MB  {one.pss_mb:>9.0f} MB"
            f"  {one.main_mb:>10.0f} MB"
        )
    if len(points) > 1:
        (n0, c0, o0), (n1, c1, o1) = points[0], points[-1]
        for label, a, b in (("cold", c0, c1), ("one change", o0, o1)):
            slope = (b.pss_mb - a.pss_mb) / (n1 - n0)  # MB per run
            main = (b.main_mb - a.main_mb) / (n1 - n0)
            at_target = b.pss_mb + slope * (TARGET_RUNS - n1)
            verdict = "PASS" if at_target <= TARGET_PSS_MB else "MISS"
            lines.append(
                f"{label}: {1000 * slope:.1f} MB PSS per 1,000 runs (main process "
                f"{1000 * main:.1f} MB); straight line at {TARGET_RUNS:,} runs: "
                f"{at_target:,.0f} MB (target ≤ {TARGET_PSS_MB:,.0f} MB: {verdict})"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="1000,2000,5000", help="tree sizes, comma-separated")
    parser.add_argument("--jobs", type=int, default=DEFAULTS.jobs)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="reportgen-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        sizes = [int(v) for v in args.runs.split(",") if v.strip()]
        print(curve_text(memory_curve(sizes, work, args.jobs)))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
