"""One build measured in a child process of its own, and what bench.py measures around it.

    python benchmarks/measure.py RESULTS OUT JOBS BOOTSTRAP   # one build; prints JSON

Each build runs in a fresh process: ``RUSAGE_CHILDREN`` reports the maximum over all children
ever waited for, so only a new process measures one build's peak RSS.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# A child starts and ends as the command line's process does, without its argument parsing:
# the command's own imports first (its classes made from the stored code), and what the build
# made left to the exit (``cli.script``). Neither loads numpy or the build stack.
import reportgen.cli  # noqa: E402, F401
from reportgen import collector  # noqa: E402
from reportgen.settings import BuildOptions  # noqa: E402

DEFAULTS = BuildOptions()


# --- the child: one build, measured from inside ----------------------------------------------


def _stop_worker_server() -> None:
    """End the build's worker server (multiprocessing's forkserver), which waits for the workers
    it forked: only then do they count in this process's RUSAGE_CHILDREN (private API: the
    standard library has no public way to stop it)."""
    import multiprocessing.forkserver

    stop = getattr(multiprocessing.forkserver._forkserver, "_stop", None)
    if stop is not None:
        stop()


def child(results: str, out: str, jobs: int, bootstrap: int) -> None:
    """Run one build and print its time and the peak RSS of this process and its workers."""
    started = time.perf_counter()
    from reportgen.build import build

    imported = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF)
    options = BuildOptions(results=Path(results), out=Path(out), jobs=jobs, bootstrap=bootstrap)
    result = build(options)
    seconds = time.perf_counter() - imported
    _stop_worker_server()  # its workers' peak RSS and CPU reach RUSAGE_CHILDREN once it has ended
    after = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own, workers = after.ru_maxrss, children.ru_maxrss
    report = {
        "seconds": seconds,
        "imports": imported - started,
        # the build's CPU in every process: this one's since its imports, the server's and workers'
        "cpu_seconds": _cpu(after) - _cpu(before) + _cpu(children),
        "rss_kb": max(own, workers),
        "main_rss_kb": own,
        "worker_rss_kb": workers,
        "up_to_date": result.up_to_date,
        "rebuilt": result.rebuilt,
        "runs": result.runs,
        "failed": len(result.failed_runs),
    }
    print(orjson.dumps(report).decode())


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Measured:
    seconds: float
    wall: float
    imports: float
    cpu: float  # CPU-seconds of the build in all its processes
    rss_mb: float
    main_mb: float
    worker_mb: float
    data: dict[str, Any]


def run_build(results: Path, out: Path, jobs: int, bootstrap: int = DEFAULTS.bootstrap) -> Measured:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, str(results), str(out), str(jobs), str(bootstrap)],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    data = orjson.loads(proc.stdout.strip().splitlines()[-1])
    return Measured(
        data["seconds"],
        wall,
        data["imports"],
        data["cpu_seconds"],
        data["rss_kb"] / 1024,
        data["main_rss_kb"] / 1024,
        data["worker_rss_kb"] / 1024,
        data,
    )


# --- the parent ------------------------------------------------------------------------------


def results_files(results: Path) -> list[Path]:
    from reportgen.discover import discover

    tree, _ = discover(results)
    return [results / ref.source for ref in tree.runs]


def parse_seconds(results: Path) -> tuple[float, int, int]:
    """Best of three: read and orjson-parse every results file (what any build must do)."""
    files = results_files(results)
    best = float("inf")
    size = 0
    for _ in range(3):
        started = time.perf_counter()
        size = 0
        for path in files:
            content = path.read_bytes()
            size += len(content)
            orjson.loads(content)
        best = min(best, time.perf_counter() - started)
    return best, len(files), size


def parse_process_seconds(results: Path) -> float:
    """Best of three: a whole Python process that only reads and orjson-parses every results
    file (start-up included, as in the no-op's whole-process time)."""
    files = [str(path) for path in results_files(results)]
    script = "import sys, orjson\nfor p in sys.argv[1:]:\n    orjson.loads(open(p, 'rb').read())"
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", script, *files], check=True)
        best = min(best, time.perf_counter() - started)
    return best


def replicated_tree(results: Path, out: Path, copies: int) -> Path:
    """A tree shaped like ``results`` with every run directory (one holding a results.json)
    there ``copies`` times, beside itself as ``<run>_copy<k>``: the real tree's kinds, sizes and
    numbers of sequences, at ``copies`` times its runs."""
    shutil.copytree(results, out)
    runs = sorted({f.parent for f in out.rglob("results.json")})
    for run in runs:
        for k in range(1, copies):
            shutil.copytree(run, run.parent / f"{run.name}_copy{k}")
    return out


def change_one_run(results: Path) -> str:
    """Change one published number of one run (ΔH_true at its first η), keeping it valid."""
    from reportgen.discover import discover

    tree, _ = discover(results)
    for ref in tree.runs[len(tree.runs) // 2 :] + tree.runs:
        path = results / ref.source
        data = orjson.loads(path.read_bytes())
        entries = (data.get("true") or {}).get("entries") if isinstance(data, dict) else None
        if entries and isinstance(entries[0].get("delta_h_true"), float):
            entries[0]["delta_h_true"] *= 1.01
            path.write_bytes(orjson.dumps(data))
            return ref.id
        sweep = data.get("sweep") if isinstance(data, dict) else None
        if sweep and isinstance(sweep[0].get("deltaH_true"), float):
            sweep[0]["deltaH_true"] *= 1.01
            path.write_bytes(orjson.dumps(data))
            return ref.id
    raise SystemExit("no run with a number to change")


def largest_pages(out: Path) -> tuple[tuple[str, int] | None, tuple[str, int], int]:
    """(largest 2048-sequence 5-η run page, largest run page overall, shared bundle bytes)."""
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    target: tuple[str, int] | None = None
    overall = ("", 0)
    for run in manifest["runs"]:
        page = out / run["page"]
        size = page.stat().st_size
        summary = orjson.loads((out / run["summary"]).read_bytes())
        if size > overall[1]:
            overall = (run["id"], size)
        shaped = summary.get("batch_size") == 2048 and len(summary.get("etas") or ()) == 5
        if shaped and (target is None or size > target[1]):
            target = (run["id"], size)
    bundle = sum(p.stat().st_size for p in (out / "assets").iterdir())
    return target, overall, bundle


def widest_directory(out: Path) -> tuple[str, int]:
    widest = ("", 0)
    for directory, dirs, files in os.walk(out):
        entries = len(dirs) + len(files)
        if entries > widest[1]:
            widest = (os.path.relpath(directory, out), entries)
    return widest


def staging_seconds(out: Path) -> tuple[float, float]:
    """The file work of staging the site ``out`` alone, in seconds: afresh (every directory made
    again beside it and every file linked into the copy), then into the copy as a spare (the
    copy listed, and each of its files checked to be the site's own: ``reportgen.swap``). The
    site is listed before the clock starts: a build knows its files and never lists them."""
    from reportgen.removal import remove_tree
    from reportgen.swap import Spare

    copy = out.with_name(out.name + ".swap-floor")
    listed = [
        (os.path.normpath(os.path.join(copy, os.path.relpath(directory, out))), directory, files)
        for directory, _, files in os.walk(out)
    ]
    start = time.perf_counter()
    for target, directory, files in listed:
        os.mkdir(target)
        for name in files:
            os.link(os.path.join(directory, name), os.path.join(target, name))
    afresh = time.perf_counter() - start
    start = time.perf_counter()
    spare = Spare(copy)
    for key in list(spare.files):
        assert spare.holds(key, os.stat(os.path.join(out, key))), key
    as_spare = time.perf_counter() - start
    remove_tree(copy)
    return afresh, as_spare


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    collector.leave_to_exit()
