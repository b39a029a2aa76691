"""Gold pages: a few pages of a tiny built site, scrubbed of volatile bits, kept in ``tests/gold``.

As coverage.py's ``tests/goldtest.py`` does, a page is compared byte for byte with its gold copy
after scrubbing what changes without the page changing: content-hashed asset names, the
reportgen and Vega versions. JSON blocks get a line break before each key so that a difference
shows as a readable diff; the scrub is injective on what it keeps, so it hides no other change.

The bytes also follow the versions of the libraries that shape them (numpy draws the tree and
does the arithmetic, Altair writes the chart specs, Markdown, nh3 and Jinja the markup): the gold
copies record theirs in ``versions.json`` and are compared only under the same versions. The last
bits of a float follow the machine too (OpenBLAS picks its kernels by processor, numpy its SIMD
loops): ``versions.json`` records those as ``numerics``, and on a machine with others the pages
are compared with their numbers matched to a relative 1e-9 instead of byte for byte.
``python tests/tools/regen_gold.py`` writes them again.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import math
import os
import re
from pathlib import Path

import threadpoolctl

import reportgen

GOLD = Path(__file__).parent / "gold"
VERSIONS = GOLD / "versions.json"
REGENERATE = "python tests/tools/regen_gold.py"
# The tiny tree: two small SNIS runs (16 sequences, 2–4 η) in one group.
TREE_RUNS = 2
PAGES = (
    "index.html",
    "groups/scale/block_00/sweep_00/E_16/index.html",
    "runs/scale/block_00/sweep_00/E_16/run_01/index.html",
)
SHAPING_LIBRARIES = ("numpy", "altair", "jinja2", "markdown", "nh3")

ASSET_NAME = re.compile(r"(assets/[\w.-]+?)\.[0-9a-f]{12}\.(css|js)\b")
VEGA_VERSIONS = re.compile(r"\b(vega|vega-embed|vega-lite) \d+\.\d+\.\d+\b")
NUMBER = re.compile(r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")
# Last-bit differences between BLAS kernels or SIMD loops stay far below this.
NUMBERS_REL_TOL = 1e-9
NUMBERS_ABS_TOL = 1e-15
JSON_BLOCK = re.compile(r'(<script type="application/json"[^>]*>)(.*?)(</script>)', re.S)


def library_versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in SHAPING_LIBRARIES}


def numerics() -> dict[str, str]:
    """What sets the last bits of numpy's floats here: the BLAS libraries' kernels, numpy's SIMD."""
    blas = sorted(
        f"{lib.get('internal_api')} {lib.get('architecture')}"
        for lib in threadpoolctl.threadpool_info()
        if lib.get("user_api") == "blas"
    )
    umath = importlib.import_module("numpy._core._multiarray_umath")
    features: dict[str, bool] = umath.__cpu_features__
    dispatch = [name for name in umath.__cpu_dispatch__ if features.get(name)]
    return {"blas": ", ".join(blas), "simd": " ".join(dispatch)}


def recorded_versions() -> dict[str, object]:
    return {"numerics": numerics(), **library_versions()}


def numbers_close(gold: str, built: str) -> bool:
    """The same text around numbers that differ only in their last bits."""
    gold_parts, built_parts = NUMBER.split(gold), NUMBER.split(built)
    if len(gold_parts) != len(built_parts) or gold_parts[::2] != built_parts[::2]:
        return False
    return all(
        math.isclose(float(a), float(b), rel_tol=NUMBERS_REL_TOL, abs_tol=NUMBERS_ABS_TOL)
        for a, b in zip(gold_parts[1::2], built_parts[1::2], strict=True)
    )


def scrub(page: str) -> str:
    """The page without its volatile bits, JSON blocks broken into one line per key."""
    page = ASSET_NAME.sub(r"\1.HASH.\2", page)
    page = page.replace(f"reportgen {reportgen.__version__}", "reportgen VERSION")
    page = VEGA_VERSIONS.sub(r"\1 VERSION", page)
    return JSON_BLOCK.sub(_broken_json, page)


def _broken_json(match: re.Match[str]) -> str:
    head, body, tail = match.groups()
    if "\n" in body:  # only single-line blocks: the inserted breaks must be the only ones
        return match.group(0)
    return head + "\n" + body.replace(',"', ',\n"').replace('{"', '{\n"') + "\n" + tail


def build_tiny_site(work: Path) -> Path:
    """The tiny tree built as the gold pages were: one worker, no build timestamp."""
    from reportgen.build import BuildOptions, build
    from reportgen.demo import scale_tree

    results = scale_tree(work / "results", seed=0, runs=TREE_RUNS)
    out = work / "site"
    epoch = os.environ.pop("SOURCE_DATE_EPOCH", None)
    try:
        result = build(BuildOptions(results=results, out=out, jobs=1))
    finally:
        if epoch is not None:
            os.environ["SOURCE_DATE_EPOCH"] = epoch
    assert result.failed_runs == [] and result.runs == TREE_RUNS, result
    return out


def gold_name(page: str) -> str:
    """``runs/a/b/index.html`` → ``runs__a__b__index.html``: one flat directory of gold files."""
    return page.replace("/", "__")


def write_gold(site: Path) -> list[Path]:
    """Scrub the pages of a freshly built tiny site into ``tests/gold`` with the versions."""
    GOLD.mkdir(exist_ok=True)
    written = []
    for page in PAGES:
        target = GOLD / gold_name(page)
        target.write_text(scrub((site / page).read_text(encoding="utf-8")), encoding="utf-8")
        written.append(target)
    VERSIONS.write_text(json.dumps(recorded_versions(), indent=1, sort_keys=True) + "\n")
    return [*written, VERSIONS]
