"""The paper tables against the group page and the summaries they cite (the audit's findings):
the right SE for pooled numbers, flagged slopes, full population labels, true sources, the
margin used."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from reportgen import cli
from reportgen.demo import generate_sample_tree
from reportgen.pages import paper_tables as pt
from reportgen.pages import paper_verdicts as pv
from tests.test_paper_tables import assert_wellformed

GROUP = "groups/diagnostics_run/full_data"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample tree built with its paper tables (two runs share B_E 256's population)."""
    root = tmp_path_factory.mktemp("paper-tables")
    tree = generate_sample_tree(root / "results", seed=0)
    out = root / "site"
    argv = ["build", str(tree), "-o", str(out), "-j", "1", "-q", "--figures", "svg"]
    assert cli.main(argv) == 0
    return out


def read_csv(path: Path) -> tuple[str, list[dict[str, str]]]:
    head, body = path.read_text().split("\n", 1)
    return head, list(csv.DictReader(io.StringIO(body)))


def test_pooled_ses_come_from_the_runs_own_ses_not_their_spread(site: Path) -> None:
    """B1, B6: ΔH_true inverse-variance pooled from the runs' SEs; the differences are the
    population's pooled ``diff_linear ± se_diff_linear`` of the group's summary.json."""
    _, pooled = read_csv(site / GROUP / "tables/pooled.csv")
    _, verdicts = read_csv(site / GROUP / "tables/verdicts.csv")
    summary = json.loads((site / GROUP / "summary.json").read_text())
    checked = 0
    for population in summary["populations"]:
        mine = [r for r in pooled if r["population"] == population["label"]]
        assert len(mine) == len(population["pooled"])
        for row, want in zip(mine, population["pooled"], strict=True):
            assert float(row["eta"]) == want["eta"]
            assert float(row["diff_linear"]) == want["diff_linear"]
            assert float(row["se_diff_linear"]) == want["se_diff_linear"]
            runs = [
                r
                for r in verdicts
                if r["population"] == population["label"] and float(r["eta"]) == want["eta"]
            ]
            weights = sum(1 / float(r["se_true"]) ** 2 for r in runs)
            assert float(row["se_true"]) == pytest.approx(1 / math.sqrt(weights), rel=1e-12)
            # never below the smallest run SE over √n (s/√n of two close runs was)
            floor = min(float(r["se_true"]) for r in runs) / math.sqrt(len(runs))
            assert float(row["se_true"]) >= floor * (1 - 1e-12)
            checked += int(want["n_runs"] >= 2)
    assert checked  # a population of two runs was pooled
    tex = (site / GROUP / "tables/pooled.tex").read_text()
    assert "inverse-variance" in tex.lower() and r"s/\sqrt{n}" not in tex
    assert_wellformed(tex, 6)


def test_tables_name_populations_by_their_full_label(site: Path) -> None:
    """B3: the population's label with every key part (B_E too), not the chart's short one."""
    summary = json.loads((site / GROUP / "summary.json").read_text())
    labels = {p["label"] for p in summary["populations"]}
    for name in ("pooled", "verdicts"):
        _, rows = read_csv(site / GROUP / f"tables/{name}.csv")
        assert {r["population"] for r in rows} == labels
        tex = (site / GROUP / f"tables/{name}.tex").read_text()
        assert r"\ldots" not in tex and r"B\_E = 512" in tex
        assert "plan.capture\\_per\\_sequence = false" in tex
        head = tex[tex.index(r"\begin{tabular}{") :].split("}", 2)[1].lstrip("{")
        assert_wellformed(tex, len(head))  # the wrapped labels keep every row's cells


def test_verdict_table_states_its_true_sources_and_margin(site: Path) -> None:
    """B4, B5: which summary.json each column comes from, and the margin's value."""
    head, _ = read_csv(site / GROUP / "tables/verdicts.csv")
    assert "each run's summary.json" in head and "se_true" in head and "ci95_diff" in head
    assert "from its summary.json" not in head
    tex = (site / GROUP / "tables/verdicts.tex").read_text()
    assert "m = 0.2" in tex
    for name in ("pooled", "fits"):
        assert "from its summary.json" not in read_csv(site / GROUP / f"tables/{name}.csv")[0]


def test_verdict_footnote_prints_the_margin_it_judged_with() -> None:
    line = pv.VerdictLine("r", "B_E = 256", 1e-6, "agrees", 0.3, 2e-5, 7e-5, (-1e-4, 1e-4),
                          -5e-3, 1e-4)  # fmt: skip
    note = pv.verdict_table([line], 1, margin=0.1).footnote
    assert "m = 0.1" in note and "[1-m, 1+m]" in note
    assert r"$\pm$ 1.645" in note  # the 90 % interval's half width in SEs


def test_fit_table_flags_a_slope_outside_its_own_interval() -> None:
    """B2: E_256/run_04's 2.43 with [-0.23, 1.90] is marked in the cell, CSV and footnote."""
    lines = [
        pt.FitLine("E_256/run_04", 2.43, (-0.23, 1.90), 0.99997, 5, -3.1, (-4.0, -2.0)),
        pt.FitLine("E_256/run_01", 1.02, (0.9, 1.1), 0.998, 5, -3.1, (-4.0, -2.0)),
    ]
    table = pt.fit_table(lines)
    tex = pt.table_latex(table, "x").decode()
    assert_wellformed(tex, len(table.columns))
    flagged, plain_row = (r for r in tex.split("\n") if r.startswith("E\\_256"))
    assert r"\dagger" in flagged and r"\dagger" not in plain_row
    assert "outside its own" in table.footnote and r"\dagger" in table.footnote
    rows = list(csv.DictReader(io.StringIO(pt.table_csv(table, "x").decode().split("\n", 1)[1])))
    assert [r["loglog_slope_outside_ci95"] for r in rows] == ["true", "false"]
    assert "$0.99997$" in flagged  # R² below 1 never reads as 1
    assert "outside" not in pt.fit_table(lines[1:]).footnote


@pytest.mark.parametrize(
    ("r2", "text"),
    [(0.99997, "$0.99997$"), (0.9997433862276282, "$0.99974$"), (0.998, "$0.998$"),
     (0.5, "$0.5$"), (1.0, "$1$"), (None, "--")],
)  # fmt: skip
def test_r2_keeps_the_digits_that_tell_it_from_1(r2: float | None, text: str) -> None:
    assert pt.r2_text(r2) == text


def test_site_fit_tables_show_no_r2_below_1_as_1(site: Path) -> None:
    for path in site.glob("groups/**/tables/fits.csv"):
        _, rows = read_csv(path)
        tex = path.with_suffix(".tex").read_text()
        for row in rows:
            if row["loglog_r2"] and float(row["loglog_r2"]) < 1:
                line = next(x for x in tex.split("\n") if x.startswith(pt.latex_escape(row["run"])))
                assert " & $1$ & " not in line, line
