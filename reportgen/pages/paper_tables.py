"""A group's headline numbers as tables a paper can cite: CSV and LaTeX (``booktabs``).

Written beside the figures (``--figures``) into the group's ``tables/`` directory: the paired
verdict per run and η (``paper_verdicts``, which also assembles the group's tables), ΔH across
each population's runs per η, and the fit per run. A number
with an SE is one LaTeX cell ``(value ± SE)×10^k`` (the SE to two significant digits, the value
to the same decimal place); the CSV keeps full precision in separate columns. Every file
starts with the provenance line and every LaTeX table ends with a footnote giving its formulas.
Plain LaTeX: ``booktabs`` and ``graphicx`` are the packages needed, no ``siunitx``, ASCII only.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from reportgen import __version__
from reportgen.analysis.pooling import Pooled, pool
from reportgen.analysis.stats import same_eta
from reportgen.figures import TableFile
from reportgen.numfmt import scaled, scaled_with_se

if TYPE_CHECKING:  # the group page imports this module
    from reportgen.pages.group import GroupView, VerdictRow

TABLES_DIR = "tables"
_LATEX_SPECIALS = {ch: "\\" + ch for ch in "&%$#_{}"} | {
    "\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}  # fmt: skip
_ASCII = {
    "η": r"$\eta$", "Δ": r"$\Delta$", "−": "-", "±": r"$\pm$", "·": r"$\cdot$", "×": "x",
    "…": r"\ldots{}",  "–": "--", "—": "---", "≤": r"$\le$", "≥": r"$\ge$",
    "≈": r"$\approx$", "²": r"$^2$", "σ": r"$\sigma$",
}  # fmt: skip


@dataclass(frozen=True)
class Cell:
    """One table cell: its CSV values (one per CSV column) and its LaTeX text."""

    csv: tuple[str, ...]
    latex: str


@dataclass(frozen=True)
class Column:
    title: str  # LaTeX column head (already LaTeX)
    csv_names: tuple[str, ...]
    align: str = "l"


@dataclass(frozen=True)
class PaperTable:
    """One citable table: its name (file stem), caption, columns, rows and formula footnote."""

    name: str
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    footnote: str
    sources: str = ""  # which summary.json (and fields) its columns come from


def latex_escape(text: str) -> str:
    """Text as LaTeX that prints it literally; the few non-ASCII symbols as math, others '?'."""
    out = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)
    out = "".join(_ASCII.get(ch, ch) for ch in out)
    return out.encode("ascii", "replace").decode()


def _csv_number(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else repr(float(value))


def plus_minus(value: float | None, se: float | None) -> str:
    """``(v \\pm s)\\times 10^{k}`` in LaTeX math, the SE to two significant digits."""
    if value is None or not math.isfinite(value):
        return "--"
    if se is None or not math.isfinite(se) or se <= 0:
        return f"{plain(value)} (no SE)"
    shown, shown_se, k = scaled_with_se(value, se)
    body = rf"{shown} \pm {shown_se}"
    return f"$({body})$" if k == 0 else rf"$({body})\times 10^{{{k}}}$"


def plain(value: float | None, digits: int = 3) -> str:
    """``digits`` significant digits; far from 1 as ``m\times 10^{k}``."""
    if value is None or not math.isfinite(value):
        return "--"
    text = f"{value:.{digits}g}"
    if "e" not in text:
        return f"${text}$"
    mantissa, exponent = text.split("e")
    return rf"${mantissa}\times 10^{{{int(exponent)}}}$"


def text_cell(text: str) -> Cell:
    return Cell((text,), latex_escape(text))


def number_cell(value: float | None, latex: Callable[[float | None], str] = plain) -> Cell:
    return Cell((_csv_number(value),), latex(value))


def count_cell(count: int) -> Cell:
    return Cell((str(count),), str(count))


def estimate_cell(value: float | None, se: float | None) -> Cell:
    return Cell((_csv_number(value), _csv_number(se)), plus_minus(value, se))


def interval_cell(interval: Sequence[float] | None, exponent: int | None = None) -> Cell:
    if interval is None:
        return Cell(("", ""), "--")
    lo, hi = float(interval[0]), float(interval[1])
    return Cell((_csv_number(lo), _csv_number(hi)), interval_latex(lo, hi, exponent))


def interval_latex(lo: float, hi: float, exponent: int | None = None) -> str:
    """``[lo, hi]`` with one power of ten for both ends, three significant digits at the larger
    end; ``exponent`` is the power of the estimate beside it (so both read on one scale)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"[{plain(lo)}, {plain(hi)}]"
    largest = max(abs(lo), abs(hi))
    magnitude = math.floor(math.log10(largest)) if largest > 0 else 0
    if exponent is None:
        exponent = 0 if -1 <= magnitude <= 3 else magnitude
    decimals = min(max(0, 2 - (magnitude - exponent)), 4)
    body = f"[{scaled(lo, exponent, decimals)}, {scaled(hi, exponent, decimals)}]"
    return f"${body}$" if exponent == 0 else rf"${body}\times 10^{{{exponent}}}$"


def estimate_exponent(value: float | None, se: float | None) -> int | None:
    """The power of ten ``plus_minus`` prints ``value`` ± ``se`` with (``None``: no SE)."""
    if value is None or se is None or not (math.isfinite(value) and math.isfinite(se)) or se <= 0:
        return None
    return scaled_with_se(value, se)[2]


def provenance(group_id: str, sources: str = "") -> str:
    """The first line of a table's files: the build, the group and where its columns come from."""
    line = f"reportgen {__version__}, group {group_id or '(root)'}"
    return f"{line}; {sources}" if sources else line


def table_csv(table: PaperTable, source: str) -> bytes:
    out = io.StringIO()
    out.write(f"# {source}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for column in table.columns for name in column.csv_names])
    for row in table.rows:
        writer.writerow([value for cell in row for value in cell.csv])
    return out.getvalue().encode()


def table_latex(table: PaperTable, source: str) -> bytes:
    """A ``table`` float to ``\\input``: needs ``booktabs`` and ``graphicx`` (which shrinks a
    table wider than the text to its width), nothing else."""
    spec = "".join(column.align for column in table.columns)
    lines = [
        f"% {latex_escape(source)}",
        "% needs \\usepackage{booktabs} and \\usepackage{graphicx}",
        "\\begin{table}[htbp]",
        "\\centering",
        f"\\caption{{{latex_escape(table.caption)}}}",
        f"\\label{{tab:{table.name}}}",
        "\\small",
        "\\setlength{\\tabcolsep}{4pt}",
        # shrunk to the text width only when wider: a narrow table keeps its size
        "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(column.title for column in table.columns) + r" \\",
        "\\midrule",
        *(" & ".join(cell.latex for cell in row) + r" \\" for row in table.rows),
        "\\bottomrule",
        "\\end{tabular}}",
        "",
        f"\\par\\smallskip\\footnotesize {table.footnote}",
        "\\end{table}",
    ]
    return ("\n".join(lines) + "\n").encode()


def table_files(
    tables: Sequence[PaperTable], directory: str, group_id: str
) -> tuple[list[tuple[str, bytes]], tuple[TableFile, ...]]:
    """``tables/<name>.csv`` and ``tables/<name>.tex`` of every table that has rows, and the
    list of them the page and the figure index link to (site paths)."""
    files: list[tuple[str, bytes]] = []
    listed: list[TableFile] = []
    for table in tables:
        if not table.rows:
            continue
        source = provenance(group_id, table.sources)
        base = (
            f"{directory}/{TABLES_DIR}/{table.name}" if directory else f"{TABLES_DIR}/{table.name}"
        )
        files.append((f"{base}.csv", table_csv(table, source)))
        files.append((f"{base}.tex", table_latex(table, source)))
        listed.append(TableFile(table.name, table.caption, f"{base}.csv", f"{base}.tex"))
    return files, tuple(listed)


def paper_table_link(table: TableFile, directory: str) -> TableFile:
    """The table with its files' paths relative to a page in ``directory``."""
    prefix = f"{directory}/" if directory else ""
    return replace(
        table, csv=table.csv.removeprefix(prefix), latex=table.latex.removeprefix(prefix)
    )


# --- the group's tables ----------------------------------------------------------------------

TRUE_TEX = r"$\Delta H_{\mathrm{true}}$"
_LABEL_WIDTH = 28  # characters per line of a population label in LaTeX


def label_cell(label: str) -> Cell:
    """A population's full label; in LaTeX broken after its commas into lines of about
    ``_LABEL_WIDTH`` characters (a nested ``tabular``, so no package is needed)."""
    lines: list[str] = []
    for part in label.split(", "):
        if lines and len(lines[-1]) + 2 + len(part) <= _LABEL_WIDTH:
            lines[-1] += f", {part}"
        else:
            lines.append(part)
    if len(lines) < 2:
        return text_cell(label)
    body = r",\\ ".join(latex_escape(line) for line in lines)
    return Cell((label,), rf"\begin{{tabular}}[t]{{@{{}}l@{{}}}}{body}\end{{tabular}}")


def r2_text(value: float | None) -> str:
    """R² with the digits that tell it from 1 (0.99997 is not "1"): at least three
    significant, and two of 1 − R²."""
    if value is None or not math.isfinite(value) or value >= 1 or value <= 0:
        return plain(value)
    digits = max(3, math.ceil(-math.log10(1 - value)) + 1)
    return plain(value, min(digits, 15))


@dataclass(frozen=True)
class PooledValue:
    """A pooled estimate with its SE; ``random``: DerSimonian–Laird, else inverse variance."""

    value: float
    se: float
    random: bool = False

    @classmethod
    def of(cls, pooled: Pooled | None) -> PooledValue | None:
        """The estimate the group's verdicts use: random effects where Q says the runs differ."""
        if pooled is None:
            return None
        chosen = pooled.random if pooled.heterogeneous else pooled.fixed
        return cls(chosen.value, chosen.se, pooled.heterogeneous)


@dataclass(frozen=True)
class PooledLine:
    population: str
    eta: float
    runs: int
    true: PooledValue | None
    linear: PooledValue | None  # ΔH_lin − ΔH_true
    linquad: PooledValue | None  # ΔH_lin+quad − ΔH_true


def pooled_cell(estimate: PooledValue | None) -> Cell:
    if estimate is None:
        return Cell(("", "", ""), "--")
    method = "random" if estimate.random else "fixed"
    mark = r"$^{\mathrm{RE}}$" if estimate.random else ""
    text = plus_minus(estimate.value, estimate.se) + mark
    return Cell((_csv_number(estimate.value), _csv_number(estimate.se), method), text)


_POOLED_NOTE = (
    r"Per population (only runs that share their configuration are pooled) and $\eta$, over "
    r"its $n$ runs with a standard error: $\Delta H_{\mathrm{true}}$ pooled from the runs' "
    r"delta-method SEs, and each approximation's difference from it pooled from the runs' "
    r"paired SEs (the same sequences drive both estimates). Inverse-variance fixed effect, "
    r"$\hat y = \sum w_i y_i/\sum w_i$, $w_i = 1/\mathrm{SE}_i^2$, SE $= 1/\sqrt{\sum w_i}$; "
    r"marked RE: DerSimonian--Laird random effects, used where Cochran's $Q$ says the runs "
    r"differ more than their SEs explain ($p < 0.05$)."
)
_POOLED_SOURCES = (
    "differences: the group's summary.json (populations[].pooled: diff_linear, se_diff_linear, "
    "diff_linquad, se_diff_linquad, method); delta_h_true: pooled here from each run's "
    "summary.json (etas[]: delta_h_true, se_true)"
)


def pooled_table(lines: Sequence[PooledLine]) -> PaperTable:
    columns = (
        Column("population", ("population",)),
        Column(r"$\eta$", ("eta",), "r"),
        Column("$n$", ("n_runs",), "r"),
        Column(f"pooled {TRUE_TEX}", ("delta_h_true", "se_true", "method_true"), "r"),
        Column(rf"$\Delta H_{{\mathrm{{lin}}}}$ $-$ {TRUE_TEX}",
               ("diff_linear", "se_diff_linear", "method_linear"), "r"),
        Column(rf"$\Delta H_{{\mathrm{{lin+quad}}}}$ $-$ {TRUE_TEX}",
               ("diff_linquad", "se_diff_linquad", "method_linquad"), "r"),
    )  # fmt: skip
    rows = tuple(
        (label_cell(line.population), number_cell(line.eta), count_cell(line.runs),
         pooled_cell(line.true), pooled_cell(line.linear), pooled_cell(line.linquad))
        for line in lines
    )  # fmt: skip
    caption = "Entropy change pooled over the runs of each population per learning rate."
    return PaperTable("pooled", caption, columns, rows, _POOLED_NOTE, _POOLED_SOURCES)


@dataclass(frozen=True)
class FitLine:
    run: str
    loglog_slope: float | None
    loglog_ci95: Sequence[float] | None
    loglog_r2: float | None
    n_loglog: int
    linear_slope: float | None
    linear_ci95: Sequence[float] | None


def _outside(value: float | None, ci: Sequence[float] | None) -> bool | None:
    """Whether a slope lies outside its own bootstrap interval (``None``: nothing to compare)."""
    if value is None or ci is None:
        return None
    return not ci[0] <= value <= ci[1]


def slope_cell(value: float | None, ci: Sequence[float] | None) -> Cell:
    """The slope, marked † where it lies outside its interval; the CSV says so in a column."""
    outside = _outside(value, ci)
    flag = "" if outside is None else str(outside).lower()
    return Cell((_csv_number(value), flag), plain(value) + (r"$^{\dagger}$" if outside else ""))


_FIT_NOTE = (
    r"Least squares of $\log|\Delta H_{\mathrm{true}}|$ on $\log\eta$ (slope 1 in the "
    r"linear regime, 2 where the quadratic term dominates) over the $n$ learning rates "
    r"with $\Delta H_{\mathrm{true}} \neq 0$, and of $\Delta H_{\mathrm{true}}$ on $\eta$; "
    r"95\,\% intervals: paired bootstrap over the evaluation sequences, refitted per resample."
)
_FIT_FLAG_NOTE = (
    r" $^{\dagger}$ Slope outside its own 95\,\% interval: the resampled fits are skewed "
    r"(few $\eta$, or $\Delta H_{\mathrm{true}}$ near 0), so read the interval, not the slope."
)


def fit_table(lines: Sequence[FitLine]) -> PaperTable:
    columns = (
        Column("run", ("run",)),
        Column("log-log slope", ("loglog_slope", "loglog_slope_outside_ci95"), "r"),
        Column(r"95\,\% interval", ("loglog_slope_ci95_low", "loglog_slope_ci95_high"), "r"),
        Column("$R^2$", ("loglog_r2",), "r"),
        Column("$n$", ("n_loglog",), "r"),
        Column(rf"slope of {TRUE_TEX} on $\eta$", ("linear_slope", "linear_slope_outside_ci95"),
               "r"),
        Column(r"95\,\% interval", ("linear_slope_ci95_low", "linear_slope_ci95_high"), "r"),
    )  # fmt: skip
    rows = tuple(
        (text_cell(line.run), slope_cell(line.loglog_slope, line.loglog_ci95),
         interval_cell(line.loglog_ci95), number_cell(line.loglog_r2, r2_text),
         count_cell(line.n_loglog), slope_cell(line.linear_slope, line.linear_ci95),
         interval_cell(line.linear_ci95))
        for line in lines
    )  # fmt: skip
    flagged = any("true" in cell.csv[1:] for row in rows for cell in (row[1], row[5]))
    footnote = _FIT_NOTE + (_FIT_FLAG_NOTE if flagged else "")
    caption = "Fits of the entropy change against the learning rate per run."
    sources = "the group's summary.json (runs[].fit)"
    return PaperTable("fits", caption, columns, rows, footnote, sources)


def _below(run_id: str, group_id: str) -> str:
    """A run's id below its group, as the verdict table names it."""
    return run_id.removeprefix(f"{group_id}/") if group_id else run_id


def _pooled_true(at: Sequence[VerdictRow]) -> PooledValue | None:
    """ΔH_true pooled from the runs' own SEs, as the pooled ratio pools it (a run without
    ΔH_true or its SE gets no weight)."""
    values = [math.nan if v.true is None else v.true for v in at]
    return PooledValue.of(pool(values, [math.nan if v.se_true is None else v.se_true for v in at]))


def pooled_lines(view: GroupView) -> list[PooledLine]:
    """Per population and pooled η: its ΔH_true and the differences the group pooled."""
    lines = []
    for p in view.populations:
        runs = [v for v in view.verdicts if v.run_id in p.population.run_ids]
        for r in p.pooled:
            true = _pooled_true([v for v in runs if same_eta(v.row.eta, r.eta)])
            linear, linquad = (PooledValue.of(a.diff if a else None) for a in (r.linear, r.linquad))
            lines.append(PooledLine(p.population.label, r.eta, r.n_runs, true, linear, linquad))
    return lines


def fit_lines(view: GroupView) -> list[FitLine]:
    """Per run of the group its fits, the run named below the group."""
    return [
        FitLine(_below(f.run_id, view.group.id), f.fit.loglog_slope, f.fit.loglog_slope_ci95,
                f.fit.loglog_r2, f.fit.n_loglog, f.fit.linear_slope, f.fit.linear_slope_ci95)
        for f in view.fits
    ]  # fmt: skip
