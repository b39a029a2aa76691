"""The paper verdict table (per run and η: the paired verdict with what it was judged on), and
the group's tables assembled as CSV and LaTeX files (``group_tables``).

Beside z and the difference, a row shows the ratio ΔH_lin/ΔH_true with its SE and the 90 %
interval ``ratio ± Z_90·SE`` the equivalence test judged: "agrees" when that interval lies
within ``[1 − m, 1 + m]`` and |z| ≤ 1.96 (``analysis.verdicts.verdict``), so a reader sees why
a row agrees or is inconclusive. The ratio and its SE are the run's own (``EtaUncertainty``
``ratio_linear``, ``se_ratio_linear``), never recomputed here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reportgen.analysis.verdicts import DEFAULT_MARGIN, Z_90, ratio90
from reportgen.figures import TableFile
from reportgen.numfmt import scaled
from reportgen.pages.paper_tables import (
    TRUE_TEX,
    Cell,
    Column,
    PaperTable,
    estimate_cell,
    estimate_exponent,
    fit_lines,
    fit_table,
    interval_cell,
    label_cell,
    number_cell,
    plain,
    pooled_lines,
    pooled_table,
    table_files,
    text_cell,
)

if TYPE_CHECKING:  # the group page imports this module
    from reportgen.pages.group import GroupView

RATIO_TEX = r"$\Delta H_{\mathrm{lin}}/\Delta H_{\mathrm{true}}$"


def _ratio_decimals(value: float | None, se: float | None) -> int | None:
    """Decimal places that show ``value ± se`` without a power of ten (the SE to two
    significant digits), so a ratio reads against ``[1 − m, 1 + m]``; ``None`` where the
    general ``plus_minus`` form is needed (no SE, or far from 1)."""
    if value is None or se is None or not (math.isfinite(value) and math.isfinite(se)):
        return None
    if se < 1e-6 or not 1e-2 <= max(abs(value), se) < 1e3:
        return None
    return max(0, 1 - math.floor(math.log10(se)))


def ratio_cells(ratio: float | None, se_ratio: float | None) -> tuple[Cell, Cell]:
    """The ratio ± its SE and the 90 % interval the verdict judged, both to the SE's second
    significant digit (the CSV in full precision)."""
    estimate = estimate_cell(ratio, se_ratio)
    interval = ratio90(ratio, se_ratio)
    decimals = _ratio_decimals(ratio, se_ratio)
    if decimals is None or ratio is None or se_ratio is None or interval is None:
        return estimate, interval_cell(interval, estimate_exponent(ratio, se_ratio))
    value, se, lo, hi = (scaled(x, 0, decimals) for x in (ratio, se_ratio, *interval))
    bounds = interval_cell(interval).csv
    return Cell(estimate.csv, rf"${value} \pm {se}$"), Cell(bounds, f"$[{lo}, {hi}]$")


def _verdict_note(margin: float) -> str:
    """The formulas, with the margin this build judged with (``--equivalence-margin``)."""
    return (
        r"$z = (\Delta H_{\mathrm{lin}} - \Delta H_{\mathrm{true}})/\mathrm{SE}_{\mathrm{paired}}"
        r"$, "
        r"the paired SE by the delta method over the evaluation sequences (the same sequences "
        r"drive both estimates); 95\,\% interval of the difference: paired bootstrap percentiles. "
        r"$\Delta H_{\mathrm{true}}$: SNIS estimate $\pm$ its delta-method SE. Verdicts: "
        rf"\emph{{disagrees}} when $|z| > 1.96$; \emph{{agrees}} when the 90\,\% interval of "
        rf"{RATIO_TEX}, ratio $\pm$ {Z_90:.3f} delta-method SE, lies within $[1-m, 1+m]$ "
        rf"(two one-sided tests), $m = {margin:g}$ the equivalence margin of this build; "
        r"otherwise \emph{inconclusive}. The table gives the ratio $\pm$ its SE and that "
        r"90\,\% interval (its ends rounded here, unrounded in the CSV)."
    )


_VERDICT_SOURCES = (
    "verdict, z, diff, paired_se: the group's summary.json (runs[].agreement[]); delta_h_true, "
    "se_true, ci95_diff, ratio_linear, se_ratio_linear: each run's summary.json (etas[]: "
    "delta_h_true, se_true, ci95_diff_linear, ratio_linear, se_ratio_linear); ratio90: "
    f"ratio_linear -/+ {Z_90!r}*se_ratio_linear, the interval the verdict judged"
)


@dataclass(frozen=True)
class VerdictLine:
    """One run×η of the paired verdict, as the table needs it."""

    run: str
    population: str
    eta: float
    verdict: str | None
    z: float | None
    diff: float | None
    paired_se: float | None
    ci95_diff: Sequence[float] | None
    true: float | None
    se_true: float | None
    ratio: float | None = None  # ΔH_lin/ΔH_true (EtaUncertainty.ratio_linear)
    se_ratio: float | None = None  # its SE, the one the verdict used (se_ratio_linear)


def verdict_table(
    lines: Sequence[VerdictLine], populations: int, margin: float = DEFAULT_MARGIN
) -> PaperTable:
    several = populations > 1
    columns = [Column("run", ("run",))]
    columns += [Column("population", ("population",))] if several else []
    columns += [
        Column(r"$\eta$", ("eta",), "r"),
        Column("verdict", ("verdict",)),
        Column("$z$", ("z",), "r"),
        Column(r"$\Delta H_{\mathrm{lin}} - \Delta H_{\mathrm{true}}$", ("diff", "paired_se"), "r"),
        Column(r"95\,\% interval", ("ci95_diff_low", "ci95_diff_high"), "r"),
        Column(RATIO_TEX, ("ratio_linear", "se_ratio_linear"), "r"),
        Column(r"90\,\% interval", ("ratio90_low", "ratio90_high"), "r"),
        Column(TRUE_TEX, ("delta_h_true", "se_true"), "r"),
    ]
    rows = tuple(
        (
            text_cell(line.run),
            *((label_cell(line.population),) if several else ()),
            number_cell(line.eta),
            text_cell(line.verdict or "no verdict"),
            number_cell(line.z, lambda z: plain(z, 2)),
            estimate_cell(line.diff, line.paired_se),
            interval_cell(line.ci95_diff, estimate_exponent(line.diff, line.paired_se)),
            *ratio_cells(line.ratio, line.se_ratio),
            estimate_cell(line.true, line.se_true),
        )
        for line in lines
    )
    caption = "Linear approximation against the SNIS ground truth per run and learning rate."
    note = _verdict_note(margin)
    return PaperTable("verdicts", caption, tuple(columns), rows, note, _VERDICT_SOURCES)


def group_tables(
    view: GroupView, directory: str
) -> tuple[list[tuple[str, bytes]], tuple[TableFile, ...]]:
    """The group page's verdict, pooled and fit tables as CSV and LaTeX files."""
    verdicts = [  # v.population: the population's full label (``Population.label``)
        VerdictLine(v.label, v.population, v.row.eta, v.row.verdict, v.row.paired_z, v.row.diff,
                    v.row.paired_se, v.ci95_diff, v.true, v.se_true, v.ratio, v.se_ratio)
        for v in view.verdicts
    ]  # fmt: skip
    tables = (
        verdict_table(verdicts, len(view.populations), view.margin),
        pooled_table(pooled_lines(view)),
        fit_table(fit_lines(view)),
    )
    return table_files(tables, directory, view.group.id)
