"""The batch-size comparison: err_rel of subsamples of larger runs against smaller runs."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from reportgen.charts.core import (
    Chart,
    ColumnValues,
    Datasets,
    Spec,
    as_float,
    columnar,
    make_chart,
    with_key,
)
from reportgen.charts.data import (
    whole_numbers,
)
from reportgen.charts.encodings import (
    finish,
    named,
    run_tooltip,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import (
    NEUTRAL,
    SERIES_COLORS,
)
from reportgen.charts.spec_cache import cached_spec

BATCH_HIST = "batch-comparison-hist"
BATCH_MARKS = "batch-comparison-marks"

BATCH_KINDS = ("smaller run", "full run")


# --- 16. batch-size comparison ---------------------------------------------------------------


def batch_comparison_chart(
    edges: ColumnValues,
    counts: ColumnValues,
    small_runs: Sequence[str],
    small_values: ColumnValues,
    full_value: float | None,
    *,
    small_size: int,
    large_size: int,
    eta: float,
    key: str | None = None,
    reestimated: bool = False,
) -> tuple[Chart, Datasets]:
    """Histogram of err_rel over B=small subsamples of the large runs (``reestimated``: what a
    batch of that size would report; else the raw subset sums), with the smaller runs' values.

    Several comparisons fit on one page: the chart id and dataset names carry ``key``
    (default: derived from the sizes and η).
    """
    edge_arr = as_float(edges, len(edges))
    hist = columnar(
        bin_start=edge_arr[:-1],
        bin_end=edge_arr[1:],
        count=whole_numbers(as_float(counts, len(edges) - 1)),
    )
    m = len(small_runs)
    marks = columnar(
        kind=[BATCH_KINDS[0]] * m + ([BATCH_KINDS[1]] if full_value is not None else []),
        run=list(small_runs) + ([f"B = {large_size}"] if full_value is not None else []),
        value=np.append(as_float(small_values, m), [] if full_value is None else [full_value]),
    )
    which = "re-estimated" if reestimated else "raw"
    title = (
        f"{which} err_rel of B = {small_size} subsamples of B = {large_size} runs at η = {eta:.3g}"
    )
    chart = make_chart("batch-comparison", _batch_spec(reestimated), title=title)
    datasets = {BATCH_HIST: hist, BATCH_MARKS: marks}
    return with_key(chart, datasets, key or _slug(f"b{small_size}-b{large_size}-eta{eta:.3g}"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@cached_spec
def _batch_spec(reestimated: bool = False) -> Spec:
    # name the statistic the bars draw: the raw and re-estimated err_rel differ widely
    x_title = (
        "re-estimated err_rel = (linear_S − ΔH_true_S) / ΔH_true"
        if reestimated
        else "raw err_rel = (Σ linear_S − Σ true_S) / ΔH_true"
    )
    hist_data, hist_flatten = named(BATCH_HIST, "bin_start", "bin_end", "count")
    bars = (
        alt.Chart(hist_data, transform=hist_flatten)
        .mark_bar(color=NEUTRAL, opacity=0.6, binSpacing=0)
        .encode(
            x=alt.X("bin_start:Q", title=x_title, bin="binned"),
            x2="bin_end:Q",
            y=alt.Y("count:Q", title="subsamples"),
            tooltip=[
                value_tooltip("bin_start", "from"),
                value_tooltip("bin_end", "to"),
                value_tooltip("count", "subsamples"),
            ],
        )
    )
    marks_data, marks_flatten = named(BATCH_MARKS, "kind", "run", "value")
    kinds = list(BATCH_KINDS)
    rules = (
        alt.Chart(marks_data, transform=marks_flatten)
        .mark_rule(strokeWidth=2)
        .encode(
            x=alt.X("value:Q", title=x_title),
            color=alt.Color(
                "kind:N",
                title=None,
                scale=alt.Scale(domain=kinds, range=[SERIES_COLORS[1], SERIES_COLORS[2]]),
                legend=alt.Legend(orient="top"),
            ),
            strokeDash=alt.StrokeDash(
                "kind:N", title=None, scale=alt.Scale(domain=kinds, range=[[1, 0], [6, 3]])
            ),
            tooltip=[
                alt.Tooltip("kind:N", title="kind"),
                run_tooltip(),
                value_tooltip("value", "err_rel"),
            ],
        )
    )
    drawn = (
        "the re-estimated err_rel (each subset's own SNIS ratio and token normalisation, "
        "denom_corr kept at its full-batch value)"
        if reestimated
        else "the raw err_rel (subset sums of the full runs' per-sequence terms)"
    )
    description = (
        f"Histogram of {drawn} over random subsamples of the large-batch runs at the smaller "
        "batch size, divided by the full run's ΔH_true (how far apart the subsets' values lie), "
        "with rules at the smaller runs' err_rel = (ΔH_linear − ΔH_true) / mean ΔH_true of the "
        "larger runs (solid; their SEs are in the table) and the full large-batch runs' mean "
        "value (dashed)."
    )
    return finish(alt.layer(bars, rules), "err_rel of subsamples vs actual runs", description)
