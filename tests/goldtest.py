"""Gold pages: a few pages of a tiny built site, scrubbed of volatile bits, kept in ``tests/gold``.

As coverage.py's ``tests/goldtest.py`` does, a page is compared byte for byte with its gold copy
after scrubbing what changes without the page changing: content-hashed asset names, the
reportgen and Vega versions. JSON blocks get a line break before each key so that a difference
shows as a readable diff; the scrub is injective on what it keeps, so it hides no other change.

The bytes also follow the versions of the libraries that shape them (numpy draws the tree and
does the arithmetic, Altair writes the chart specs, Markdown, nh3 and Jinja the markup): the gold
copies record theirs in ``versions.json`` and are compared only under the same versions.
``python tests/tools/regen_gold.py`` writes them again.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
from pathlib import Path

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
JSON_BLOCK = re.compile(r'(<script type="application/json"[^>]*>)(.*?)(</script>)', re.S)


def library_versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in SHAPING_LIBRARIES}


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
    VERSIONS.write_text(json.dumps(library_versions(), indent=1, sort_keys=True) + "\n")
    return [*written, VERSIONS]
