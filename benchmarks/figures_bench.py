"""Cost of ``--figures svg,png,pdf`` as ratios to the same cold build without figures, in one run.

    python benchmarks/figures_bench.py [--repeat 1] [--keep DIR]

Builds the sample tree (``reportgen.demo.generate_sample_tree``) in this process with one
worker (so the per-format comparison below applies to every chart): cold without figures, cold
with every figure drawn once to SVG and converted to PNG and PDF (what reportgen does), and cold
with the spec re-run through Vega for each format (how figures were exported before), so the
two strategies are compared on the same machine within minutes of each other. It also checks
that both strategies write the same PNG bytes and PDFs of the same size.
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


def cold(results: Path, out: Path, figures: tuple[str, ...]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    options = BuildOptions(results=results, out=out, jobs=1, figures=figures)
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
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="figures-bench-"))
    results = generate_sample_tree(work / "results")
    cold(results, work / "warm", ())  # per-install caches (the Vega bundle) warm
    plain, svg_once, per_format = [], [], []
    for _ in range(args.repeat):
        plain.append(cold(results, work / "plain", ()))
        svg_once.append(cold(results, work / "svg-once", FORMATS))
        with per_format_export():
            per_format.append(cold(results, work / "per-format", FORMATS))
    compared, same_png, same_pdf = same_output(work / "svg-once", work / "per-format")
    base = statistics.median(plain)
    print(f"cold build without figures        {base:7.2f} s")
    for label, times in (("per format (before)", per_format), ("SVG once, converted", svg_once)):
        median = statistics.median(times)
        print(f"--figures svg,png,pdf {label}  {median:7.2f} s  {median / base:5.1f}× cold")
    print(f"speed-up {statistics.median(per_format) / statistics.median(svg_once):.2f}×")
    print(f"{compared} figures: {same_png} PNGs byte-identical, {same_pdf} PDFs of the same size")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
