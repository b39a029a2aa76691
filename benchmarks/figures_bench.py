"""Cost of ``--figures svg,png,pdf`` as ratios to the same cold build without figures, in one run.

    python benchmarks/figures_bench.py [--repeat 1] [--jobs 2] [--per-format] [--keep DIR]

Builds the sample tree (``reportgen.demo.generate_sample_tree``) in this process with ``--jobs``
workers: cold without figures; cold with every figure drawn once to SVG and converted to PNG and
PDF, one vl-convert child per process (each worker converts its own pages' figures in turn);
and the same with the figures of a page rendered in this process spread over ``--jobs``
children at once (what reportgen does). ``--per-format`` adds the spec re-run through Vega for
each format (how figures were exported before). The strategies are compared on the same
machine within minutes of each other, and their files too: the same PNG bytes, PDFs of the
same size.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reportgen.build import build  # noqa: E402
from reportgen.charts import export  # noqa: E402
from reportgen.charts.core import Spec  # noqa: E402
from reportgen.demo.tree import generate_sample_tree  # noqa: E402
from reportgen.settings import BuildOptions  # noqa: E402

FORMATS = ("svg", "png", "pdf")


def _per_format(
    spec: Spec, formats: tuple[str, ...], base: str, problems: list[str]
) -> list[tuple[str, bytes]]:
    """The former export: the vl-convert child evaluates the spec once for every format."""
    child = export._child()
    options = {"scale": export.PNG_SCALE, "ppi": export.PNG_DPI}
    return [(f"{base}.{fmt}", child.request(fmt, spec=spec, **options)) for fmt in formats]


@contextmanager
def per_format_export() -> Iterator[None]:
    saved = export._rendered
    export._rendered = _per_format  # type: ignore[assignment]
    try:
        yield
    finally:
        export._rendered = saved


@contextmanager
def one_child_per_process() -> Iterator[None]:
    saved = export.spread_over
    export.spread_over = lambda children: saved(1)
    try:
        yield
    finally:
        export.spread_over = saved


def cold(results: Path, out: Path, figures: tuple[str, ...], jobs: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    options = BuildOptions(results=results, out=out, jobs=jobs, figures=figures)
    started = time.perf_counter()
    build(options)
    return time.perf_counter() - started


def same_output(a: Path, b: Path) -> tuple[int, int, int]:
    """(figures compared, PNGs byte-identical, PDFs with the same size)."""
    pngs = sorted(a.rglob("figures/*.png"))
    same_png = sum((b / p.relative_to(a)).read_bytes() == p.read_bytes() for p in pngs)
    pdfs = sorted(a.rglob("figures/*.pdf"))
    same_pdf = sum(len((b / p.relative_to(a)).read_bytes()) == len(p.read_bytes()) for p in pdfs)
    return len(pngs), same_png, same_pdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--per-format", action="store_true")
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="figures-bench-"))
    results = generate_sample_tree(work / "results")
    cold(results, work / "warm", (), args.jobs)  # per-install caches (the Vega bundle) warm
    times: dict[str, list[float]] = {"plain": [], "one child": [], "spread": [], "per format": []}
    for _ in range(args.repeat):
        times["plain"].append(cold(results, work / "plain", (), args.jobs))
        with one_child_per_process():
            times["one child"].append(cold(results, work / "one-child", FORMATS, args.jobs))
        times["spread"].append(cold(results, work / "spread", FORMATS, args.jobs))
        if args.per_format:
            with per_format_export(), one_child_per_process():
                times["per format"].append(cold(results, work / "per-format", FORMATS, args.jobs))
    base = statistics.median(times["plain"])
    print(f"-j {args.jobs}: cold build without figures  {base:7.2f} s")
    labels = {
        "per format": "spec per format (older)",
        "one child": "SVG once, 1 child/process",
        "spread": "SVG once, spread (now)",
    }
    for key, label in labels.items():
        if times[key]:
            median = statistics.median(times[key])
            spread = f"{min(times[key]):.2f}–{max(times[key]):.2f}"
            print(
                f"--figures svg,png,pdf {label:27} {median:7.2f} s ({spread})  "
                f"{median / base:5.1f}× cold"
            )
    for other in ("one-child", "per-format"):
        if (work / other).is_dir():
            compared, same_png, same_pdf = same_output(work / "spread", work / other)
            print(
                f"spread vs {other}: {compared} figures, {same_png} PNGs byte-identical, "
                f"{same_pdf} PDFs of the same size"
            )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
