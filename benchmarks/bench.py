"""Build time and memory of reportgen as ratios measured in one run (not a timed test).

    python benchmarks/bench.py [--runs 50] [--repeat 3] [--scale 10,100,1000,10000] [--scale10]
                               [--jobs N] [--no-shared] [--shared-copies K] [--keep DIR]
                               [--json FILE] [--no-figures] [--memory-curve 1000,2000]

For a synthetic tree shaped like the real one (``reportgen.demo.bench_tree``: E = 256/512/2048
sequences, 2–8 η per run) and, when present, ``../shared/data/results`` as it is and with each of
its run directories ``--shared-copies`` times (default 5: a real-shaped tree of 50+ runs), it
measures:

* parse: reading and ``orjson``-parsing every results file of the tree (best of three), in
  process and as a whole process of its own (start-up included, like the no-op's process time);
* cold build: empty OUT and build cache; the per-install caches (the Vega bundle, compiled
  templates, chart specs) warm from one throwaway build first, as on any machine after one build;
  its CPU-seconds in all its processes, spread evenly over the cores it may use, ÷ the parse
  (the ratio a build whose cores never waited would reach), and the share of the cores it kept
  busy;
* no-op rebuild (best of three), a rebuild after one changed run, and after a later change of
  that run (staged into the site the first change replaced, as nightly builds are);
* peak RSS of a build, main process and workers (each build in a fresh subprocess, since
  ``RUSAGE_CHILDREN`` reports the maximum over all children ever waited for);
* with ``--scale10``, the peak RSS of a cold build of a tree ten times larger;
* the largest run page of 2048 sequences and 5 η, and the shared asset bundle;
* the scale curve (``--scale``): cold builds of small-run trees (``reportgen.demo.scale_tree``)
  of 10 … 10,000 runs, generated on the fly: time per run, no-op and one-changed-run time,
  peak RSS, index page size and the most entries in any directory of the site, with the
  largest tree's targets, and the one-change ratios of every tree of 1,000 runs or more beside
  their floors: the no-op build and the staging's file work alone (``measure.staging_seconds``:
  every directory of the site made and every file linked in a copy for the first change after
  a cold build; that copy listed and its files checked as the replaced site kept beside OUT,
  ``.OUT.spare``, for a later change);
* the bootstrap's cost: the cold build of the synthetic tree (default ``--bootstrap 2000``)
  against one with ``--bootstrap 0`` (delta-method SEs only);
* the figure export: a cold ``--figures svg,png,pdf`` build of the sample tree
  (``reportgen.demo.generate_sample_tree``) against the same cold build without figures, and
  the share of the cores it kept busy (``--no-figures`` skips it).

Timings on a shared machine are noisy: ``--repeat N`` measures the cold / no-op / one-change
sequence N times on fresh copies and reports each ratio's median with its range.

``--json FILE`` also writes every measure, the scale curve, the settings and the library versions
as JSON; ``benchmarks/perf_table.py`` renders that into ``docs/performance.md``.

Build times are those of ``reportgen.build.build()`` inside the child process (``measure.py``),
the same kind of in-process time as the parse time; each child's wall time including interpreter
start-up and imports is shown beside it. A child starts and ends as the command line's process
does (its imports, its exit), without parsing arguments. Builds use ``-j`` = all cores unless
``--jobs`` says otherwise.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import importlib.metadata
import os
import platform
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import perf_table
from measure import (
    Measured,
    change_one_run,
    largest_pages,
    parse_process_seconds,
    parse_seconds,
    replicated_tree,
    run_build,
    staging_seconds,
    widest_directory,
)
from memory_curve import curve_text, memory_curve

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared/data/results"
sys.path.insert(0, str(ROOT))

from reportgen.settings import BuildOptions  # noqa: E402  (light: no numpy, no build stack)
from reportgen.swap import spare_directory  # noqa: E402

TARGET_COLD = 10.0  # cold build ÷ in-process read+parse
TARGET_NOOP = 1.0  # no-op rebuild, whole process ÷ read+parse in-process and as a process
TARGET_ONE = 0.25  # one changed run ÷ cold build, on the bench and shared trees
TARGET_ONE_SCALE = 0.05  # the same at 1,000 runs and more
TARGET_FIGURES = 8.0  # cold --figures svg,png,pdf ÷ the same cold build without figures
TARGET_RSS_MB = 400.0
TARGET_RSS_SCALE = 1.3
TARGET_PAGE_MB = 2.0
TARGET_PER_RUN = 1.2  # time per run of the largest scale tree ÷ that of the 100-run tree
TARGET_INDEX_MB = 2.0
SCALE_DEFAULT = "10,100,1000,10000"
SHARED_COPIES = 5  # ../shared at 11 runs; five copies of each make a real-shaped tree of 50+
TARGET_BOOTSTRAP = 1.3  # cold build with the default bootstrap ÷ cold build without it
DEFAULTS = BuildOptions()  # reportgen's own defaults (bootstrap resamples, -j all cores)


@dataclass
class Row:
    name: str
    measured: str
    target: str
    ok: bool | None

    @property
    def verdict(self) -> str:
        return "—" if self.ok is None else "PASS" if self.ok else "MISS"


@dataclass(frozen=True)
class Sequence3:
    """One cold / no-op / one-changed-run sequence on one copy of a tree."""

    parse: float
    parse_process: float
    cold: Measured
    noop: Measured
    one: Measured
    changed: str
    later: Measured  # that run changed again: staged into the replaced site

    @property
    def cold_ratio(self) -> float:
        return self.cold.seconds / self.parse

    @property
    def noop_ratio(self) -> float:
        return self.noop.wall / self.parse  # whole process: start-up and imports included

    @property
    def noop_process_ratio(self) -> float:
        return self.noop.wall / self.parse_process  # both whole processes

    @property
    def one_ratio(self) -> float:
        return self.one.seconds / self.cold.seconds

    @property
    def later_ratio(self) -> float:
        return self.later.seconds / self.cold.seconds

    def cpu_ratio(self, cores: int) -> float:
        """The cold build's CPU spread evenly over ``cores`` ÷ parse: the cold ratio a build
        whose cores never wait would reach."""
        return self.cold.cpu / cores / self.parse

    def busy(self, cores: int) -> float:
        return busy_share(self.cold.cpu, cores, self.cold.seconds)


def usable_cores(jobs: int) -> int:
    """The cores a build at ``-j jobs`` may keep busy on this machine."""
    return min(jobs, os.cpu_count() or 1)


def busy_share(cpu: float, cores: int, seconds: float) -> float:
    """The share of ``cores`` × ``seconds`` that ``cpu`` CPU-seconds kept busy."""
    return cpu / (cores * seconds)


def measure_once(results: Path, out: Path, jobs: int) -> Sequence3:
    parse, _, _ = parse_seconds(results)
    parse_process = parse_process_seconds(results)
    cold = run_build(results, out, jobs)
    noops = [run_build(results, out, jobs) for _ in range(3)]
    assert all(m.data["up_to_date"] for m in noops), "a rebuild of an unchanged tree did work"
    noop = min(noops, key=lambda m: m.wall)
    changed = change_one_run(results)
    one = run_build(results, out, jobs)
    assert one.data["rebuilt"] == 1, one.data
    later = later_change(results, out, jobs)
    return Sequence3(parse, parse_process, cold, noop, one, changed, later)


def later_change(results: Path, out: Path, jobs: int) -> Measured:
    """A build after the same run changed again: the site the last build replaced is its
    staging (the same group chain as the first change, so the two differ by the staging)."""
    change_one_run(results)
    later = run_build(results, out, jobs)
    assert later.data["rebuilt"] == 1, later.data
    return later


def spread(values: list[float], fmt: str) -> str:
    """The median, and the range when repeated: how noisy the machine was."""
    median = statistics.median(values)
    if len(values) == 1:
        return format(median, fmt)
    return f"{median:{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"


def measure_tree(
    label: str, results: Path, work: Path, jobs: int, repeat: int
) -> tuple[list[Row], Measured]:
    _, count, size = parse_seconds(results)
    runs: list[Sequence3] = []
    for k in range(repeat):
        copy = work / f"{label}-results-{k}"
        shutil.copytree(results, copy)  # each sequence changes a run of its own copy
        runs.append(measure_once(copy, work / f"site-{label}-{k}", jobs))
    first = runs[0]
    target, overall, bundle = largest_pages(work / f"site-{label}-0")
    cores = usable_cores(jobs)

    print(
        f"\n[{label}] {count} results files, {size / 1e6:.1f} MB; {first.cold.data['runs']} runs; "
        f"-j {jobs}; changed run: {first.changed}; {repeat} repetition(s), medians (range)"
    )
    print(
        f"  parse {spread([r.parse for r in runs], '.3f')} s (process "
        f"{spread([r.parse_process for r in runs], '.3f')} s) | cold "
        f"{spread([r.cold.seconds for r in runs], '.2f')} s (process "
        f"{spread([r.cold.wall for r in runs], '.2f')} s, imports "
        f"{spread([r.cold.imports for r in runs], '.2f')} s, CPU "
        f"{spread([r.cold.cpu for r in runs], '.2f')} s)"
    )
    print(
        f"  no-op process {spread([r.noop.wall for r in runs], '.3f')} s (in-process "
        f"{spread([r.noop.seconds for r in runs], '.3f')} s) | one changed "
        f"{spread([r.one.seconds for r in runs], '.2f')} s (process "
        f"{spread([r.one.wall for r in runs], '.2f')} s), a later one "
        f"{spread([r.later.seconds for r in runs], '.2f')} s"
    )
    rss = max(r.cold.rss_mb for r in runs)
    print(
        f"  peak RSS {rss:.0f} MB (main {first.cold.main_mb:.0f} MB, largest worker "
        f"{first.cold.worker_mb:.0f} MB)"
    )
    cold_ratio = statistics.median(r.cold_ratio for r in runs)
    noop_ratio = statistics.median(r.noop_ratio for r in runs)
    one_ratio = statistics.median(r.one_ratio for r in runs)
    rows = [
        Row(
            f"{label}: cold build ÷ parse",
            spread([r.cold_ratio for r in runs], ".1f") + "×",
            f"≤ {TARGET_COLD:g}×",
            cold_ratio <= TARGET_COLD,
        ),
        Row(
            f"{label}: cold build's CPU ÷ {cores} cores ÷ parse",
            spread([r.cpu_ratio(cores) for r in runs], ".1f") + "×",
            "",
            None,
        ),
        Row(
            f"{label}: cores kept busy by the cold build",
            spread([100 * r.busy(cores) for r in runs], ".0f") + " %",
            "",
            None,
        ),
        Row(
            f"{label}: no-op rebuild (process) ÷ parse",
            spread([r.noop_ratio for r in runs], ".2f") + "×",
            f"≤ {TARGET_NOOP:g}×",
            noop_ratio <= TARGET_NOOP,
        ),
        Row(
            f"{label}: no-op rebuild (process) ÷ parse (process)",
            spread([r.noop_process_ratio for r in runs], ".2f") + "×",
            f"≤ {TARGET_NOOP:g}×",
            statistics.median(r.noop_process_ratio for r in runs) <= TARGET_NOOP,
        ),
        Row(
            f"{label}: one changed run ÷ cold",
            spread([r.one_ratio for r in runs], ".2f") + "×",
            f"≤ {TARGET_ONE:g}×",
            one_ratio <= TARGET_ONE,
        ),
        Row(
            f"{label}: a later changed run ÷ cold",
            spread([r.later_ratio for r in runs], ".2f") + "×",
            f"≤ {TARGET_ONE:g}×",
            statistics.median(r.later_ratio for r in runs) <= TARGET_ONE,
        ),
        Row(
            f"{label}: peak RSS (cold build)",
            f"{rss:.0f} MB",
            f"≤ {TARGET_RSS_MB:g} MB",
            rss <= TARGET_RSS_MB,
        ),
    ]
    if target is not None:
        rows.append(
            Row(
                f"{label}: largest 2048×5η run page",
                f"{target[1] / 1e6:.2f} MB",
                f"≤ {TARGET_PAGE_MB:g} MB",
                target[1] <= TARGET_PAGE_MB * 1e6,
            )
        )
    rows.append(Row(f"{label}: largest run page (any)", f"{overall[1] / 1e6:.2f} MB", "", None))
    rows.append(Row(f"{label}: shared bundle (assets/)", f"{bundle / 1e6:.2f} MB", "", None))
    return rows, first.cold


# --- the scale curve -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScalePoint:
    runs: int
    cold: Measured
    noop: Measured
    one: Measured  # after one changed run
    later: Measured  # after that run changed again
    index_bytes: int
    widest: tuple[str, int]  # the site directory with the most entries, and how many
    staging_s: tuple[float, float]  # staging's file work alone: afresh, into the spare

    @property
    def per_run_ms(self) -> float:
        return 1000 * self.cold.seconds / self.runs

    @property
    def one_floor_ratio(self) -> float:
        """The first change's floor ÷ cold: its no-op's work and staging every file afresh."""
        return (self.noop.seconds + self.staging_s[0]) / self.cold.seconds

    @property
    def later_floor_ratio(self) -> float:
        """A later change's floor ÷ cold: its no-op's work and staging into the spare."""
        return (self.noop.seconds + self.staging_s[1]) / self.cold.seconds


def scale_point(runs: int, work: Path, jobs: int) -> ScalePoint:
    from reportgen.demo import scale_tree

    results = scale_tree(work / f"scale-{runs}-results", seed=0, runs=runs)
    out = work / f"scale-{runs}-site"
    cold = run_build(results, out, jobs)
    noop = run_build(results, out, jobs)
    assert noop.data["up_to_date"], noop.data
    index_bytes, widest = (out / "index.html").stat().st_size, widest_directory(out)
    change_one_run(results)
    one = run_build(results, out, jobs)
    assert one.data["rebuilt"] == 1, one.data
    later = later_change(results, out, jobs)
    point = ScalePoint(runs, cold, noop, one, later, index_bytes, widest, staging_seconds(out))
    shutil.rmtree(results)  # generated, not stored: only the site is kept until the end
    shutil.rmtree(out)
    shutil.rmtree(spare_directory(out))
    return point


def change_rows(p: ScalePoint) -> list[Row]:
    """A scale tree's first and later one-change builds ÷ cold, each beside its floor."""
    rows = []
    for name, build, floor, staging in (
        ("one changed run", p.one, p.one_floor_ratio, "staging afresh"),
        ("a later changed run", p.later, p.later_floor_ratio, "staging into the spare"),
    ):
        ratio = build.seconds / p.cold.seconds
        rows += [
            Row(f"scale {p.runs:,}: {name} ÷ cold", f"{ratio:.3f}×", f"≤ {TARGET_ONE_SCALE:g}×",
                ratio <= TARGET_ONE_SCALE),
            Row(f"scale {p.runs:,}: its floor, a no-op build and {staging}, ÷ cold",
                f"{floor:.3f}×", "", None),
        ]  # fmt: skip
    return rows


def scale_curve(sizes: list[int], work: Path, jobs: int) -> tuple[list[Row], list[dict[str, Any]]]:
    points = []
    for runs in sizes:
        points.append(scale_point(runs, work, jobs))
        p = points[-1]
        print(
            f"  [scale {runs}] cold {p.cold.seconds:.1f} s, {p.per_run_ms:.1f} ms/run, "
            f"peak RSS {p.cold.rss_mb:.0f} MB",
            flush=True,
        )
    base = next((p for p in points if p.runs == 100), points[0])
    curve = [scale_json(p, base) for p in points]
    print("\n" + perf_table.scale_text(curve, jobs))
    one_change = [row for p in points if p.runs >= 1000 for row in change_rows(p)]
    largest = points[-1]
    if largest.runs == base.runs:
        return one_change, curve
    ratio = largest.per_run_ms / base.per_run_ms
    name = f"scale {largest.runs:,}"
    return [
        Row(
            f"{name}: time per run ÷ {base.runs}-run tree's",
            f"{ratio:.2f}×",
            f"≤ {TARGET_PER_RUN:g}×",
            ratio <= TARGET_PER_RUN,
        ),
        Row(
            f"{name}: peak RSS",
            f"{largest.cold.rss_mb:.0f} MB",
            f"≤ {TARGET_RSS_MB:g} MB",
            largest.cold.rss_mb <= TARGET_RSS_MB,
        ),
        Row(
            f"{name}: index.html",
            f"{largest.index_bytes / 1e6:.2f} MB",
            f"≤ {TARGET_INDEX_MB:g} MB",
            largest.index_bytes <= TARGET_INDEX_MB * 1e6,
        ),
        *one_change,
        Row(f"{name}: most entries in a site directory", f"{largest.widest[1]}", "", None),
    ], curve


def figures_rows(work: Path, jobs: int) -> list[Row]:
    """``--figures svg,png,pdf`` on the sample tree ÷ the same cold build without figures; then
    one changed run rebuilt with figures ÷ that cold build with figures."""
    from figures_bench import FORMATS, cold, conversion_floor, measured

    from reportgen.demo import generate_sample_tree

    results = generate_sample_tree(work / "figures-results")
    plain = cold(results, work / "figures-plain", (), jobs)
    figures, cpu = measured(results, work / "figures-all", FORMATS, jobs)
    ratio = figures / plain
    busy = "—" if cpu is None else f"{100 * busy_share(cpu, usable_cores(jobs), figures):.0f} %"
    per_chart, charts = conversion_floor(work / "figures-all")
    floor = per_chart * charts / usable_cores(jobs) / plain
    changed = change_one_run(results)
    one = measured(results, work / "figures-all", FORMATS, jobs, rebuild=True)[0]
    print(f"\n[figures] sample tree, -j {jobs}: cold {plain:.2f} s, with figures {figures:.1f} s;"
          f" {changed} changed, rebuilt with figures in {one:.1f} s; {charts} charts, PNG and"
          f" PDF from each SVG {1000 * per_chart:.0f} ms of vl-convert's CPU")  # fmt: skip
    return [
        Row("sample: --figures svg,png,pdf ÷ cold", f"{ratio:.1f}×", f"≤ {TARGET_FIGURES:g}×",
            ratio <= TARGET_FIGURES),
        Row("sample: cores kept busy by --figures svg,png,pdf", busy, "", None),
        Row(f"sample: PNG and PDF from the SVGs alone, CPU ÷ {usable_cores(jobs)} cores ÷ cold",
            f"{floor:.1f}×", "", None),
        Row("sample: one changed run, --figures ÷ cold --figures", f"{one / figures:.2f}×", "",
            None),
    ]  # fmt: skip


def scale_json(p: ScalePoint, base: ScalePoint) -> dict[str, Any]:
    """One point of the scale curve as ``--json`` writes it (``base``: the 100-run tree)."""
    return {
        "runs": p.runs,
        "cold_s": p.cold.seconds,
        "ms_per_run": p.per_run_ms,
        "per_run_vs_base": p.per_run_ms / base.per_run_ms,
        "base_runs": base.runs,
        "noop_process_s": p.noop.wall,
        "one_changed_s": p.one.seconds,
        "one_changed_vs_cold": p.one.seconds / p.cold.seconds,
        "swap_files_s": p.staging_s[0],
        "one_change_floor_vs_cold": p.one_floor_ratio,
        "later_changed_s": p.later.seconds,
        "later_changed_vs_cold": p.later.seconds / p.cold.seconds,
        "spare_files_s": p.staging_s[1],
        "later_change_floor_vs_cold": p.later_floor_ratio,
        "peak_rss_mb": p.cold.rss_mb,
        "index_mb": p.index_bytes / 1e6,
        "widest_dir": p.widest[0],
        "widest_entries": p.widest[1],
    }


def bootstrap_row(results: Path, work: Path, jobs: int, with_bootstrap: Measured) -> Row:
    """The bootstrap's cost: the cold build (default 2000 resamples) ÷ one with --bootstrap 0.

    Best of three of each, alternating, so a busy machine slows both sides alike.
    """
    with_times, without_times = [with_bootstrap.seconds], []
    for i in range(3):
        without_times.append(run_build(results, work / f"site-nb-{i}", jobs, 0).seconds)
        if i < 2:
            with_times.append(run_build(results, work / f"site-b-{i}", jobs).seconds)
    best_with, best_without = min(with_times), min(without_times)
    ratio = best_with / best_without
    print(
        f"  cold (best of 3) {best_with:.2f} s with the bootstrap, {best_without:.2f} s "
        "with --bootstrap 0"
    )
    return Row(
        "bench: cold build ÷ cold build with --bootstrap 0",
        f"{ratio:.2f}×",
        f"≤ {TARGET_BOOTSTRAP:g}×",
        ratio <= TARGET_BOOTSTRAP,
    )


def row_json(row: Row) -> dict[str, Any]:
    return {**dataclasses.asdict(row), "result": row.verdict}


def environment(load_at_start: tuple[float, float, float]) -> dict[str, Any]:
    """What the numbers depend on besides the code: the machine and the library versions."""
    versions = {n: importlib.metadata.version(n) for n in ("numpy", "orjson", "jinja2", "altair")}
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(v, 2) for v in load_at_start],
        "load_average": [round(v, 2) for v in os.getloadavg()],
        **versions,
    }


def write_json(
    path: Path,
    args: argparse.Namespace,
    rows: list[Row],
    curve: list[Any],
    load_at_start: tuple[float, float, float],
) -> None:
    report = {
        "format": 1,
        "settings": {
            "runs": args.runs,
            "jobs": args.jobs,
            "repeat": args.repeat,
            "scale": [p["runs"] for p in curve],
            "shared": SHARED.is_dir() and not args.no_shared,
            "shared_copies": args.shared_copies,
        },
        "environment": environment(load_at_start),
        "measures": [row_json(r) for r in rows],
        "scale_curve": curve,
    }
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="runs of the synthetic tree")
    parser.add_argument("--jobs", type=int, default=DEFAULTS.jobs)
    parser.add_argument(
        "--scale10",
        action="store_true",
        help="also build a tree 10× larger and compare its peak RSS (slow)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="cold/no-op/one-change sequences per tree (medians)"
    )
    parser.add_argument(
        "--scale",
        default=SCALE_DEFAULT,
        help=f"run counts of the scale curve, comma-separated ('' skips; default {SCALE_DEFAULT})",
    )
    parser.add_argument("--no-shared", action="store_true", help="skip ../shared/data/results")
    parser.add_argument(
        "--no-figures", action="store_true", help="skip the figure export (the sample tree)"
    )
    parser.add_argument(
        "--shared-copies",
        type=int,
        default=SHARED_COPIES,
        help="also measure ../shared with every run directory this many times (0 or 1: not)",
    )
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--memory-curve",
        default="",
        help="also measure peak PSS of cold and one-change builds of scale trees of these run "
        "counts, comma-separated (memory_curve.py; e.g. 1000,2000,5000)",
    )
    args = parser.parse_args()

    load_at_start = os.getloadavg()
    import reportgen
    from reportgen.demo import bench_tree

    # bytecode as pip's install leaves it: under PYTHONDONTWRITEBYTECODE every build process
    # would otherwise compile the package again (~0.2 s each)
    compileall.compile_dir(Path(reportgen.__file__).parent, quiet=1)
    work = args.keep or Path(tempfile.mkdtemp(prefix="reportgen-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = bench_tree(work / "bench-results", seed=0, runs=args.runs)
        # per-install caches (Vega bundle, compiled templates, chart specs) warm, as after any
        # first build
        run_build(results, work / "warm-up-site", args.jobs)
        shutil.rmtree(work / "warm-up-site")
        rows, base = measure_tree("bench", results, work, args.jobs, args.repeat)
        rows.append(bootstrap_row(results, work, args.jobs, base))
        if args.scale10:
            big = bench_tree(work / "bench10-results", seed=0, runs=10 * args.runs)
            parse, count, size = parse_seconds(big)
            cold = run_build(big, work / "site-bench10", args.jobs)
            print(
                f"\n[bench ×10] {count} results files, {size / 1e6:.0f} MB; cold "
                f"{cold.seconds:.1f} s (parse {parse:.2f} s, {cold.seconds / parse:.1f}×); "
                f"peak RSS {cold.rss_mb:.0f} MB (main {cold.main_mb:.0f} MB, "
                f"largest worker {cold.worker_mb:.0f} MB)"
            )
            ratio = cold.rss_mb / base.rss_mb
            rows.append(
                Row(
                    "bench ×10: peak RSS ÷ bench peak RSS",
                    f"{ratio:.2f}×",
                    f"≤ {TARGET_RSS_SCALE:g}×",
                    ratio <= TARGET_RSS_SCALE,
                )
            )
        if SHARED.is_dir() and not args.no_shared:
            # measure_tree edits copies only: the one-change step never touches the original
            shared_rows, _ = measure_tree("shared", SHARED, work, args.jobs, args.repeat)
            rows += shared_rows
            if args.shared_copies > 1:
                label = f"shared×{args.shared_copies}"
                shaped = replicated_tree(SHARED, work / f"{label}-tree", args.shared_copies)
                shaped_rows, _ = measure_tree(label, shaped, work, args.jobs, args.repeat)
                rows += shaped_rows
        if not args.no_figures:
            rows += figures_rows(work, args.jobs)
        sizes = [int(v) for v in args.scale.split(",") if v.strip()]
        curve: list[dict[str, Any]] = []
        if sizes:
            scale_rows, curve = scale_curve(sizes, work, args.jobs)
            rows += scale_rows
        print("\n" + perf_table.rows_text([row_json(r) for r in rows]))
        if memory_sizes := [int(v) for v in args.memory_curve.split(",") if v.strip()]:
            print("\n" + curve_text(memory_curve(memory_sizes, work, args.jobs)))
        if args.json:
            write_json(args.json, args, rows, curve, load_at_start)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
