"""Tables for papers: CSV with full precision, LaTeX (booktabs) that compiles, value ± SE cells."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportgen.pages import paper_tables as pt
from reportgen.pages import paper_verdicts as pv

VERDICTS = [
    pv.VerdictLine("E_256/run_01", "B_E = 256", 1e-6, "agrees", 0.29, 2.1e-4, 7.2e-4,
                   (-1.2e-3, 1.6e-3), -5.3e-3, 2.1e-3, 0.96, 0.05),
    pv.VerdictLine("E_256/run_02 & co_%", "B_E = 512", 2e-6, None, None, None, None, None,
                   None, None),
]  # fmt: skip
POOLED = [
    pt.PooledLine("B_E = 256, fields = without vhvv, quadratic, epoch = 3", 1e-6, 3,
                  pt.PooledValue(-5e-3, 1e-3), pt.PooledValue(1.2e-4, 4e-5, random=True), None),
]  # fmt: skip
FITS = [
    pt.FitLine("run_01", 1.02, (0.9, 1.1), 0.998, 5, -3.1, None),
    pt.FitLine("run_04", 2.43, (-0.23, 1.90), 0.99997, 5, -3.1, (-4.0, -2.0)),  # flagged
]


def tables() -> list[pt.PaperTable]:
    return [pv.verdict_table(VERDICTS, 2), pt.pooled_table(POOLED), pt.fit_table(FITS)]


def assert_wellformed(tex: str, columns: int) -> None:
    """The structure pdflatex would need: one tabular with booktabs rules, every row with as
    many cells as the column spec, balanced braces and math, ASCII only."""
    assert tex.isascii()
    spec = re.search(r"\\begin\{tabular\}\{([lrc]+)\}", tex)
    assert spec is not None and len(spec.group(1)) == columns
    body = tex[tex.index("\\toprule") : tex.index("\\bottomrule")]
    rows = [r for r in body.split("\n") if r.endswith(r"\\")]
    assert len(rows) >= 2  # the head and at least one row
    for row in rows:
        cells = re.split(r"(?<!\\)&", row)
        assert len(cells) == columns, row
        assert row.replace(r"\$", "").count("$") % 2 == 0, row
    unescaped = tex.replace(r"\{", "").replace(r"\}", "")
    assert unescaped.count("{") == unescaped.count("}")
    for word in ("\\toprule", "\\midrule", "\\bottomrule", "\\caption{", "\\footnotesize"):
        assert word in tex
    assert "siunitx" not in tex


def test_latex_tables_are_wellformed_and_escape_run_names() -> None:
    for table in tables():
        tex = pt.table_latex(table, pt.provenance("diagnostics_run/full_data")).decode()
        assert_wellformed(tex, len(table.columns))
        assert tex.startswith("% reportgen ")
    verdicts = pt.table_latex(tables()[0], "x").decode()
    assert r"E\_256/run\_02 \& co\_\%" in verdicts
    assert r"$(-5.3 \pm 2.1)\times 10^{-3}$" in verdicts  # ΔH_true ± SE, one cell
    assert "no verdict" in verdicts
    assert r"$1\times 10^{-6}$" in verdicts and "e-0" not in verdicts  # η, no "1e-06"
    # the interval on the scale of the difference beside it, (2.1 ± 7.2)×10^-4
    assert r"$(2.1 \pm 7.2)\times 10^{-4}$ & $[-12.0, 16.0]\times 10^{-4}$" in verdicts
    assert pt.interval_latex(0.739, 1.45) == "$[0.74, 1.45]$"
    assert pt.interval_latex(-0.0072, 0.0101) == r"$[-0.72, 1.01]\times 10^{-2}$"
    assert pt.latex_escape("cap…") == r"cap\ldots{}"


def test_csv_keeps_full_precision_with_separate_se_columns() -> None:
    text = pt.table_csv(tables()[0], "reportgen x").decode()
    assert text.startswith("# reportgen x\n")
    rows = list(csv.DictReader(io.StringIO(text.split("\n", 1)[1])))
    assert rows[0]["delta_h_true"] == "-0.0053" and rows[0]["se_true"] == "0.0021"
    assert rows[0]["ci95_diff_low"] == "-0.0012" and rows[1]["z"] == ""
    pooled = pt.table_csv(tables()[1], "x").decode().split("\n", 1)[1]
    (row,) = csv.DictReader(io.StringIO(pooled))
    assert (row["delta_h_true"], row["se_true"], row["method_true"]) == ("-0.005", "0.001", "fixed")
    assert (row["se_diff_linear"], row["method_linear"]) == ("4e-05", "random")
    assert row["diff_linquad"] == row["se_diff_linquad"] == ""
    assert row["population"] == POOLED[0].population  # the full label, unwrapped


def test_table_files_skip_empty_tables() -> None:
    files, listed = pt.table_files([*tables(), pt.fit_table([])], "groups/g", "g")
    names = [path for path, _ in files]
    assert names == [f"groups/g/tables/{n}.{ext}" for n in ("verdicts", "pooled", "fits")
                     for ext in ("csv", "tex")]  # fmt: skip
    assert [(t.name, t.csv, t.latex) for t in listed] == [  # what the pages link to
        (n, f"groups/g/tables/{n}.csv", f"groups/g/tables/{n}.tex")
        for n in ("verdicts", "pooled", "fits")
    ]
    assert pt.paper_table_link(listed[0], "groups/g").csv == "tables/verdicts.csv"


@given(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False).filter(lambda v: abs(v) > 1e-12),
    st.floats(min_value=1e-9, max_value=1e2),
)
def test_plus_minus_reads_back_within_its_rounding(value: float, se: float) -> None:
    """The printed value is within half a unit of the SE's second significant digit."""
    text = pt.plus_minus(value, se)
    match = re.fullmatch(r"\$\((-?[\d.]+) \\pm ([\d.]+)\)(?:\\times 10\^\{(-?\d+)\})?\$", text)
    assert match is not None, text
    scale = 10.0 ** int(match.group(3) or 0)
    shown_value, shown_se = float(match.group(1)) * scale, float(match.group(2)) * scale
    decimals = len(match.group(2).split(".")[1]) if "." in match.group(2) else 0
    unit = scale * 10.0**-decimals
    # half a unit of the last printed digit, plus the doubles' own rounding (13+ digits)
    slack = 8 * 2.0**-52 * max(abs(value), abs(shown_value))
    assert abs(shown_value - value) <= unit / 2 * (1 + 1e-9) + slack
    assert abs(shown_se - se) <= unit / 2 * (1 + 1e-9) + slack and unit <= se * 0.1 * (1 + 1e-9)


@pytest.mark.parametrize(
    ("value", "se", "text"),
    [
        (0.0013221, None, r"$0.00132$ (no SE)"),
        (-4.2e-7, None, r"$-4.2\times 10^{-7}$ (no SE)"),
        (5e-324, None, r"$4.94\times 10^{-324}$ (no SE)"),
        (5e-324, 57.3, r"$(0.0 \pm 5.7)\times 10^{1}$"),
        (1.15, 5e-324, r"$(1.1499999999999999 \pm 0.0000000000000000)$"),
    ],
)
def test_plus_minus_keeps_the_exponent_at_the_edges_of_the_float_range(
    value: float, se: float | None, text: str
) -> None:
    assert pt.plus_minus(value, se) == text


@pytest.mark.slow
def test_latex_tables_compile_with_pdflatex(tmp_path: Path) -> None:
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-recommended)")
    inputs = []
    wide = pv.VerdictLine(
        "diagnostics_run/full_data/E_256/run_01", "B_E 256, every field, cap…", 1.28e-5,
        "inconclusive", -0.23, -1.4e-3, 5.9e-3, (-1.22e-2, 9.37e-3), -6.7e-3, 1.3e-3, 1.21,
        0.88,
    )  # fmt: skip
    for table in [*tables(), replace(pv.verdict_table([wide] * 3, 2), name="wide")]:
        (tmp_path / f"{table.name}.tex").write_bytes(pt.table_latex(table, "x"))
        inputs.append(f"\\input{{{table.name}.tex}}")
    document = "\n".join(
        [
            "\\documentclass{article}",
            "\\usepackage{booktabs}",
            "\\usepackage{graphicx}",
            "\\begin{document}",
            *inputs,
            "\\end{document}",
        ]
    )
    (tmp_path / "paper.tex").write_text(document)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "paper.pdf").read_bytes().startswith(b"%PDF")
    # the wide table is shrunk to the text width, the narrow ones keep their size
    assert "Overfull \\hbox" not in result.stdout, result.stdout[-2000:]
