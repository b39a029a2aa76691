"""The paper verdict table shows what each verdict was judged on: the ratio ΔH_lin/ΔH_true with
its SE and the 90 % interval ``ratio ± Z_90·SE`` the equivalence test compared with
``[1 − m, 1 + m]``, the run's own numbers (its summary.json), in CSV and LaTeX."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from reportgen import cli
from reportgen.analysis.verdicts import Z_90, Z_95, ratio90
from reportgen.pages import paper_tables as pt
from reportgen.pages import paper_verdicts as pv
from reportgen.pages import paths
from tests.test_paper_tables import assert_wellformed

MARGIN = 0.6  # wide enough that some of the demo's run×η agree (none do at the default 0.2)

LINES = [
    pv.VerdictLine("run_01", "B_E = 256", 1e-6, "agrees", 0.29, 2.1e-4, 7.2e-4, (-1.2e-3, 1.6e-3),
                   -5.3e-3, 2.1e-3, 0.96, 0.05),
    pv.VerdictLine("run_02", "B_E = 256", 2e-6, None, None, None, None, None, None, None),
    pv.VerdictLine("run_03", "B_E = 256", 4e-6, None, None, 1e-4, None, None, -5e-3, None, 0.98,
                   None),
    pv.VerdictLine("run_04", "B_E = 256", 8e-6, "inconclusive", 0.5, 1e-5, 2e-5, None, -1e-8,
                   1e-7, 1.2e3, 4e2),
]  # fmt: skip


def csv_rows(table: pt.PaperTable) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(pt.table_csv(table, "x").decode().split("\n", 1)[1])))


def test_csv_carries_the_ratio_its_se_and_the_interval_the_verdict_judged() -> None:
    rows = csv_rows(pv.verdict_table(LINES, 1))
    first = rows[0]
    assert (first["ratio_linear"], first["se_ratio_linear"]) == ("0.96", "0.05")
    assert float(first["ratio90_low"]) == 0.96 - 1.6448536269514722 * 0.05
    assert float(first["ratio90_high"]) == 0.96 + 1.6448536269514722 * 0.05
    keys = ("ratio_linear", "se_ratio_linear", "ratio90_low", "ratio90_high")
    assert [rows[1][k] for k in keys] == ["", "", "", ""]  # no ratio: empty cells
    assert [rows[2][k] for k in keys] == ["0.98", "", "", ""]  # a ratio without its SE
    assert ratio90(0.98, None) is None and ratio90(None, 0.1) is None


def test_latex_shows_ratio_pm_se_and_the_interval_to_the_se_digits() -> None:
    table = pv.verdict_table(LINES, 1, margin=0.1)
    tex = pt.table_latex(table, "x").decode()
    assert_wellformed(tex, len(table.columns))
    rows = [r for r in tex.split("\n") if r.startswith("run\\_0")]
    assert r"& $0.960 \pm 0.050$ & $[0.878, 1.042]$ &" in rows[0]
    assert r"& -- & -- &" in rows[1]  # no ratio
    assert r"& $0.98$ (no SE) & -- &" in rows[2]
    assert r"$(1.20 \pm 0.40)\times 10^{3}$ & $[0.54, 1.86]\times 10^{3}$" in rows[3]  # far from 1
    assert r"\Delta H_{\mathrm{lin}}/\Delta H_{\mathrm{true}}$ & 90\,\% interval" in tex
    assert "ratio90" in table.sources and "se_ratio_linear" in table.sources


@pytest.fixture(scope="module")
def site(demo_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo tree built with its paper tables, at a margin some run×η agree within."""
    out = tmp_path_factory.mktemp("paper-verdicts") / "site"
    argv = ["build", str(demo_tree), "-o", str(out), "-j", "2", "-q", "--figures", "svg"]
    assert cli.main([*argv, "--equivalence-margin", str(MARGIN)]) in (0, 1)
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text().split("\n", 1)[1])))


def run_etas(site: Path, run_id: str) -> dict[float, dict[str, object]]:
    summary = json.loads((site / paths.run_summary(run_id)).read_text())
    return {float(e["eta"]): e for e in summary["etas"]}


def demo_rows(site: Path) -> list[tuple[dict[str, str], dict[str, object]]]:
    """Every verdict table row of the site's groups, with its run's summary.json row at its η."""
    found = []
    for table in sorted((site / "groups").rglob("tables/verdicts.csv")):
        group = json.loads((table.parent.parent / "summary.json").read_text())
        group_id = group["group"]
        runs = {r["id"].removeprefix(f"{group_id}/") if group_id else r["id"]: r["id"]
                for r in group["runs"]}  # fmt: skip
        for row in read_csv(table):
            found.append((row, run_etas(site, runs[row["run"]])[float(row["eta"])]))
    return found


def test_demo_ratios_are_the_runs_own_and_their_interval_the_verdicts(site: Path) -> None:
    rows = demo_rows(site)
    assert rows
    for row, eta in rows:
        if eta["ratio_linear"] is None:
            assert row["ratio_linear"] == row["ratio90_low"] == ""
            continue
        assert float(row["ratio_linear"]) == eta["ratio_linear"]
        if eta["se_ratio_linear"] is None:
            assert row["se_ratio_linear"] == row["ratio90_low"] == row["ratio90_high"] == ""
            continue
        ratio, se = float(row["ratio_linear"]), float(row["se_ratio_linear"])
        assert se == eta["se_ratio_linear"]
        assert float(row["ratio90_low"]) == ratio - Z_90 * se
        assert float(row["ratio90_high"]) == ratio + Z_90 * se


def test_demo_agrees_exactly_where_the_interval_lies_within_the_margin(site: Path) -> None:
    verdicts: dict[str, list[bool]] = {}
    for row, _ in demo_rows(site):
        if row["verdict"] == "no verdict":
            continue
        inside = (
            row["ratio90_low"] != ""
            and float(row["ratio90_low"]) >= 1 - MARGIN
            and float(row["ratio90_high"]) <= 1 + MARGIN
        )
        verdicts.setdefault(row["verdict"], []).append(inside)
        if row["verdict"] == "agrees":
            assert inside and abs(float(row["z"])) <= Z_95, row
        elif row["verdict"] == "inconclusive":
            assert not inside, row
        else:
            assert abs(float(row["z"])) > Z_95, row
    assert set(verdicts) == {"agrees", "disagrees", "inconclusive"}
    assert not all(verdicts["disagrees"] + verdicts["inconclusive"])


def test_demo_latex_tables_carry_the_ratio_columns(site: Path) -> None:
    """Each LaTeX row shows its CSV row's ratio ± SE and 90 % interval (rounded)."""
    tables = sorted((site / "groups").rglob("tables/verdicts.tex"))
    assert tables
    shown = 0
    for path in tables:
        tex = path.read_text()
        head = tex[tex.index(r"\begin{tabular}{") :].split("}", 2)[1].lstrip("{")
        assert_wellformed(tex, len(head))
        assert r"90\,\% interval" in tex and f"m = {MARGIN:g}" in tex
        body = tex[tex.index("\\midrule") : tex.index("\\bottomrule")]
        rows = [r for r in body.split("\n") if r.endswith(r"\\")]
        csv_rows = read_csv(path.with_suffix(".csv"))
        assert len(rows) == len(csv_rows)
        for latex, row in zip(rows, csv_rows, strict=True):
            ratio, se = (
                float(row[k]) if row[k] else None for k in ("ratio_linear", "se_ratio_linear")
            )
            estimate, interval = pv.ratio_cells(ratio, se)
            assert f" & {estimate.latex} & {interval.latex} & " in latex, latex
            shown += row["ratio90_low"] != "" and r"\pm" in estimate.latex
    assert shown
