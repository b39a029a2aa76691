"""Group pages show no difference or ratio without its standard error, and their captions say so.

A value without an SE is "—" with the reason (relative errors, doubling ratios), counted as not
judged (the quadratic term's gain), or left out of a spread across runs (tails: runs whose ΔH_true
is not resolved at the η of their tails), on the sample tree (an η sweep, SNIS groups) and the
demo tree (a group with a run whose ΔH_true is within 2 SE of zero at its largest η).
"""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.build import BuildResult

SWEEP = "groups/comparison_across_learning_rates/index.html"
SNIS = "groups/diagnostics_run/full_data/E_256/index.html"
DASH_WHY = re.compile(r"— \((not resolved|no se_true|no SE|< 2 runs)\)")
PLUS_MINUS = re.compile(r"^[+−]?[\d.e−]+( %)? ± [\d.e−]+( %)?$")


class _Tables(HTMLParser):
    """Every table of a page by id: its rows as lists of cell texts (whitespace collapsed)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(page: Path) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.tables


def column(rows: list[list[str]], name: str) -> list[str]:
    """The cells below the header ``name`` (the first row is the header)."""
    at = rows[0].index(name)
    return [row[at] for row in rows[1:]]


def judged_or_dash(cells: list[str]) -> bool:
    return all(PLUS_MINUS.match(c) or DASH_WHY.fullmatch(c) or c == "—" for c in cells)


def test_every_relative_error_has_its_se_or_dash_and_why(
    sample_site: tuple[Path, BuildResult],
) -> None:
    site, _ = sample_site
    shown = 0
    for page in (site / "groups").rglob("index.html"):
        rows = tables(page).get("group-rows")
        if rows:
            cells = column(rows, "rel. err linear ± SE")
            assert judged_or_dash(cells), (page, [c for c in cells if not judged_or_dash([c])])
            shown += sum(1 for c in cells if "±" in c)
    assert shown > 0  # SNIS groups show their relative errors with SEs
    sweep = column(tables(site / SWEEP)["group-rows"], "rel. err linear ± SE")
    assert sweep and set(sweep) == {"— (no se_true)"}  # an η sweep has no se_true


def test_an_eta_sweep_shows_no_doubling_ratio_or_gain_without_se(
    sample_site: tuple[Path, BuildResult],
) -> None:
    site, _ = sample_site
    found = tables(site / SWEEP)
    ratios = column(found["doubling-rows"], "ratio ± SE")
    assert ratios and set(ratios) == {"— (no se_true)"}  # as its relative errors
    assert "quad-rows" not in found  # no gain has an SE: none is listed as a result
    text = (site / SWEEP).read_text(encoding="utf-8")
    assert re.search(r'id="quad-not-judged"><strong>Not judged:</strong> \d+ run×η', text)
    snis = tables(site / SNIS)
    for name in ("|linear − true| ± SE", "|linquad − true| ± SE", "gain ± SE"):
        cells = column(snis["quad-rows"], name)
        assert cells and all(PLUS_MINUS.match(c) for c in cells), (name, cells)
    assert judged_or_dash(column(snis["doubling-rows"], "ratio ± SE"))


def _run_ratio(site: Path, run_id: str, row: dict[str, Any]) -> tuple[float, bool]:
    """The run's own tail ratio of ``row``'s mode and quantile, and whether its ΔH_true is
    resolved at that η (read from its summary.json, not from the group's)."""
    run = json.loads((site / "runs" / run_id / "summary.json").read_text())
    tail = next(t for t in run["tails"] if math.isclose(t["eta"], row["eta"], rel_tol=1e-9))
    ratio = next(r["ratio"] for r in tail[row["mode"]] if r["quantile"] == row["quantile"])
    at = next(e for e in run["etas"] if math.isclose(e["eta"], row["eta"], rel_tol=1e-9))
    return ratio, abs(at["delta_h_true"]) > 2 * at["se_true"]


def test_tail_spreads_count_only_runs_whose_truth_is_resolved(
    demo_site: tuple[Path, Path],
) -> None:
    _, site = demo_site
    summary = json.loads((site / "groups/next_runner/snis/summary.json").read_text())
    rows = summary["tails"] or [t for p in summary["populations"] for t in p["tails"]]
    assert rows
    for row in rows:
        own = {r: _run_ratio(site, r, row) for r in row["run_ids"]}
        kept = sorted(r for r, (_, ok) in own.items() if ok)
        assert row["resolved_run_ids"] == kept and row["n_unresolved"] == len(own) - len(kept) == 1
        values = [own[r][0] for r in kept]
        assert row["resolved_ratio_mean"] == pytest.approx(np.mean(values), rel=1e-12)
        se = np.std(values, ddof=1) / math.sqrt(len(values))
        assert row["resolved_ratio_se_mean"] == pytest.approx(se, rel=1e-12)
        everyone = np.mean([ratio for ratio, _ in own.values()])
        assert row["ratio_mean"] == pytest.approx(everyone, rel=1e-12)  # 0.1's field as it was
    page = tables(site / "groups/next_runner/snis/index.html")
    table = next(t for name, t in page.items() if name.startswith("tail-summary"))
    assert set(column(table, "not resolved")) == {"1"}
    means = column(table, "mean ± SE")
    assert means and all(PLUS_MINUS.match(c) for c in means), means


def test_a_tail_spread_of_one_run_shows_no_mean(sample_site: tuple[Path, BuildResult]) -> None:
    site, _ = sample_site
    found = tables(site / SNIS)
    tails = [t for name, t in found.items() if name.startswith("tail-summary")]
    single = [t for t in tails if set(column(t, "runs resolved")) == {"1"}]
    assert single  # the population of one run with per-sequence data
    for rows in single:
        assert set(column(rows, "mean ± SE")) == {"— (< 2 runs)"}
        assert set(column(rows, "median (spread)")) == {"—"}


BATCH = "groups/diagnostics_run/full_data/index.html"


def test_batch_comparison_means_have_their_mc_se_and_the_rest_says_what_it_is(
    demo_site: tuple[Path, Path],
) -> None:
    """Means over drawn subsets ± their Monte-Carlo SE, beside their between-run SE; std and
    quantiles labelled as the spread they describe; the smaller runs' err_rel labelled as the
    notebook's, each ± its SE."""
    _, site = demo_site
    rows = tables(site / BATCH)["batch-rows"]
    for name in ("raw mean ± MC SE", "re-est. mean ± MC SE"):
        cells = column(rows, name)
        assert cells and all(PLUS_MINUS.match(c) for c in cells), (name, cells)
    header = rows[0]
    assert {"raw std (spread)", "re-est. std (spread)", "re-est. 5 %–95 % (spread)"} <= set(header)
    assert {"raw between-run SE", "re-est. between-run SE"} <= set(header)
    assert "smaller runs' err_rel ± SE (notebook's)" in header
    for cell in column(rows, "smaller runs' err_rel ± SE (notebook's)"):
        assert "±" in cell or "no se_diff_linear" in cell, cell
    text = (site / BATCH).read_text(encoding="utf-8")
    caption = re.search(r'id="batch-rows".*?<caption>(.*?)</caption>', text, re.S)
    assert caption and "Monte-Carlo" in caption.group(1) and "notebook" in caption.group(1)
    summary = json.loads((site / BATCH).with_name("summary.json").read_text())
    first = summary["batch_comparison"][0]
    assert len(first["full_run_values"]) == 1  # one larger run drawn from: the SE is std/√n
    assert first["se_mean"] == pytest.approx(first["std"] / math.sqrt(first["n_values"]), rel=1e-9)
