"""Cost of ``--figures svg,png,pdf`` as ratios to the same cold build without figures, in one run.

    python benchmarks/figures_bench.py [--repeat 1] [--jobs 2] [--per-format] [--keep DIR]

Builds the sample tree (``reportgen.demo.generate_sample_tree``) in this process with ``--jobs``
workers: cold without figures, and cold with every figure drawn once to SVG and converted to PNG
and PDF, in two ways: on vl-convert children shared by the whole build, one per core (what
reportgen does), and on one child per process, each started by the process that converts
(``--own-children``, how figures were converted before). ``--per-format`` adds the spec re-run
through Vega for each format (older still). The strategies alternate within each repetition, so
they are compared on the same machine within seconds of each other; besides the wall time it
prints the CPU-seconds of the whole process tree (the build, its workers and every vl-convert
child, on Linux), which a shared machine disturbs less. Their files are compared too: the same
SVG and PNG bytes, PDFs of the same size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reportgen import vlshared  # noqa: E402
from reportgen.build import build  # noqa: E402
from reportgen.charts import export  # noqa: E402
from reportgen.charts.core import Spec  # noqa: E402
from reportgen.demo.tree import generate_sample_tree  # noqa: E402
from reportgen.settings import BuildOptions  # noqa: E402

FORMATS = ("svg", "png", "pdf")
SETTLE_SECONDS = 0.3  # exited workers reaped by the worker server before the CPU is read
PR_SET_CHILD_SUBREAPER = 36


def _per_format(
    spec: Spec, formats: tuple[str, ...], base: str, problems: list[str]
) -> list[tuple[str, bytes]]:
    """The former export: the vl-convert child evaluates the spec once for every format."""
    child = export._child()
    options = {"scale": export.PNG_SCALE, "ppi": export.PNG_DPI}
    return [(f"{base}.{fmt}", child.request(fmt, spec=spec, **options)) for fmt in formats]


@contextmanager
def own_children() -> Iterator[None]:
    """No shared children: every process converts on a child it starts itself."""
    saved = vlshared.shared_children

    @contextmanager
    def none(count: int) -> Iterator[None]:
        yield

    vlshared.shared_children = none
    try:
        yield
    finally:
        vlshared.shared_children = saved


@contextmanager
def per_format_export() -> Iterator[None]:
    saved = export._rendered
    export._rendered = _per_format  # type: ignore[assignment]
    try:
        with own_children():
            yield
    finally:
        export._rendered = saved


def adopt_orphans() -> None:
    """Become the reaper of every descendant whose parent ends first (a worker leaves with
    ``os._exit`` and does not wait for its vl-convert child), so their CPU is counted (Linux)."""
    if sys.platform != "linux":
        return
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1)


def reap_orphans() -> None:
    """Collect the descendants that ended (their CPU moves into this process's children's)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def tree_cpu() -> float | None:
    """CPU-seconds of this process and every descendant, living or reaped (Linux)."""
    if not Path("/proc/self/stat").exists():
        return None
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = sum(int(f) for f in fields[11:15]) / tick
    total, frontier = 0.0, [os.getpid()]
    while frontier:
        pid = frontier.pop()
        total += times.get(pid, 0.0)
        frontier += [child for child, parent in parents.items() if parent == pid]
    return total


def cold(results: Path, out: Path, figures: tuple[str, ...], jobs: int) -> float:
    return measured(results, out, figures, jobs)[0]


def measured(
    results: Path, out: Path, figures: tuple[str, ...], jobs: int, rebuild: bool = False
) -> tuple[float, float | None]:
    """A cold build's (``rebuild``: a build over the previous site's) wall seconds and the
    CPU-seconds its process tree spent."""
    if not rebuild:
        shutil.rmtree(out, ignore_errors=True)
    options = BuildOptions(results=results, out=out, jobs=jobs, figures=figures)
    before = tree_cpu()
    started = time.perf_counter()
    build(options)
    wall = time.perf_counter() - started
    time.sleep(SETTLE_SECONDS)
    reap_orphans()
    after = tree_cpu()
    return wall, (after - before) if after is not None and before is not None else None


def conversion_floor(site: Path, every: int = 4) -> tuple[float, int]:
    """CPU-seconds a chart of ``site`` costs vl-convert to draw its PNG and PDF from its SVG
    (every ``every``-th exported SVG, converted here as the children convert it), and how many
    charts the site exported: below what no export of those formats can go, Vega not counted."""
    import vl_convert

    svgs = sorted(site.rglob("figures/*.svg"))
    sample = [p.read_text() for p in svgs[::every]]
    if not sample:
        return 0.0, 0
    vl_convert.svg_to_png(sample[0], scale=export.PNG_SCALE, ppi=export.PNG_DPI)  # fonts loaded
    started = time.process_time()
    for svg in sample:
        vl_convert.svg_to_png(svg, scale=export.PNG_SCALE, ppi=export.PNG_DPI)
        vl_convert.svg_to_pdf(svg)
    return (time.process_time() - started) / len(sample), len(svgs)


def same_output(a: Path, b: Path) -> tuple[int, int, int, int]:
    """(figures compared, SVGs and PNGs byte-identical, PDFs with the same size)."""
    svgs = sorted(a.rglob("figures/*.svg"))
    same_svg = sum((b / p.relative_to(a)).read_bytes() == p.read_bytes() for p in svgs)
    pngs = sorted(a.rglob("figures/*.png"))
    same_png = sum((b / p.relative_to(a)).read_bytes() == p.read_bytes() for p in pngs)
    pdfs = sorted(a.rglob("figures/*.pdf"))
    same_pdf = sum(len((b / p.relative_to(a)).read_bytes()) == len(p.read_bytes()) for p in pdfs)
    return len(svgs), same_svg, same_png, same_pdf


Strategy = tuple[str, tuple[str, ...], Callable[[], AbstractContextManager[None]]]


def strategies(per_format: bool) -> list[Strategy]:
    chosen: list[Strategy] = [
        ("plain", (), nullcontext),
        ("shared children (now)", FORMATS, nullcontext),
        ("own child per process", FORMATS, own_children),
    ]
    if per_format:
        chosen.append(("spec per format (older)", FORMATS, per_format_export))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--per-format", action="store_true")
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="figures-bench-"))
    adopt_orphans()
    results = generate_sample_tree(work / "results")
    cold(results, work / "warm", (), args.jobs)  # per-install caches (the Vega bundle) warm
    chosen = strategies(args.per_format)
    walls: dict[str, list[float]] = {name: [] for name, _, _ in chosen}
    cpus: dict[str, list[float]] = {name: [] for name, _, _ in chosen}
    for repetition in range(args.repeat):
        figure_builds = chosen[1:] if repetition % 2 == 0 else chosen[:0:-1]  # A/B, then B/A
        for name, formats, context in [chosen[0], *figure_builds]:
            with context():
                wall, cpu = measured(results, work / name.split()[0], formats, args.jobs)
            walls[name].append(wall)
            if cpu is not None:
                cpus[name].append(cpu)
    report(walls, cpus, work, args.jobs)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


def report(
    walls: dict[str, list[float]], cpus: dict[str, list[float]], work: Path, jobs: int
) -> None:
    base = statistics.median(walls["plain"])
    base_cpu = statistics.median(cpus["plain"]) if cpus["plain"] else None
    charts = len(list((work / "shared").rglob("figures/*.svg")))
    print(f"-j {jobs}: cold build without figures  {base:6.2f} s", end="")
    print(f", {base_cpu:.1f} CPU-s" if base_cpu is not None else "")
    for name, times in walls.items():
        if name == "plain":
            continue
        median = statistics.median(times)
        line = (
            f"--figures svg,png,pdf, {name:24} {median:6.2f} s "
            f"({min(times):.2f}–{max(times):.2f})  {median / base:5.1f}× cold "
            f"[{', '.join(f'{t / b:.1f}' for t, b in zip(times, walls['plain'], strict=True))}]"
        )
        if cpus[name] and base_cpu is not None and charts:
            cpu = statistics.median(cpus[name])
            line += f"  {cpu:5.1f} CPU-s, {(cpu - base_cpu) / charts:.3f} CPU-s per chart"
        print(line)
    for other in ("own", "spec"):
        if (work / other).is_dir():
            compared, svg, png, pdf = same_output(work / "shared", work / other)
            print(
                f"shared vs {other}: {compared} figures, {svg} SVGs and {png} PNGs "
                f"byte-identical, {pdf} PDFs of the same size"
            )


if __name__ == "__main__":
    main()
