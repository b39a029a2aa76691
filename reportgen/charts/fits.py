"""Power-law fits of |ΔH_true| against η, one per run, on log–log axes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reportgen.charts.core import (
    Chart,
    Columns,
    ColumnValues,
    Datasets,
    Norm,
    Spec,
    as_float,
    columnar,
    make_chart,
)
from reportgen.charts.encodings import (
    delta_h_title,
    eta_tooltip,
    eta_x,
    finish,
    log_axis,
    named,
    run_tooltip,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import (
    RunLegend,
    picking,
    run_color,
    run_legend,
    run_opacity,
)
from reportgen.charts.spec_cache import cached_spec

FIT_POINTS = "fit-points"
FIT_LINES = "fit-lines"


# --- 13. power-law fits ----------------------------------------------------------------------


def fit_chart(
    runs: Sequence[str],
    etas: ColumnValues,
    true: ColumnValues,
    fit_runs: Sequence[str],
    slopes: ColumnValues,
    intercepts: ColumnValues,
    *,
    log_base: float = 10.0,
    samples: int = 50,
    norm: Norm = "per token",
) -> tuple[Chart, Datasets]:
    """|ΔH_true| against η on log–log axes with each run's fit log|ΔH| = a + b·log η.

    The fitted line is sampled at ``samples`` log-spaced η over the run's own data range.
    """
    n = len(runs)
    run_list, eta_arr, true_arr = list(runs), as_float(etas, n), as_float(true, n)
    points = columnar(run=run_list, eta=eta_arr, true=true_arr, abs_true=np.abs(true_arr))
    lines = _fit_lines(run_list, eta_arr, fit_runs, slopes, intercepts, log_base, samples)
    spec = _fit_spec(norm, run_legend(run_list))
    return make_chart("fit-chart", spec), {FIT_POINTS: points, FIT_LINES: lines}


def _fit_lines(
    runs: list[str],
    etas: np.ndarray,
    fit_runs: Sequence[str],
    slopes: ColumnValues,
    intercepts: ColumnValues,
    log_base: float,
    samples: int,
) -> Columns:
    m = len(fit_runs)
    slope_arr, intercept_arr = as_float(slopes, m), as_float(intercepts, m)
    names: list[str] = []
    parts: list[tuple[np.ndarray, np.ndarray, float, float]] = []
    run_arr = np.asarray(runs, dtype=object)
    for run, slope, intercept in zip(fit_runs, slope_arr, intercept_arr, strict=True):
        own = etas[(run_arr == run) & np.isfinite(etas) & (etas > 0)]
        if own.size == 0 or not (np.isfinite(slope) and np.isfinite(intercept)):
            continue
        grid = np.geomspace(own.min(), own.max(), samples if own.max() > own.min() else 1)
        fitted = log_base ** (intercept + slope * np.log(grid) / np.log(log_base))
        names.extend([run] * grid.size)
        parts.append((grid, fitted, float(slope), float(intercept)))

    def column(i: int) -> np.ndarray:
        return (
            np.concatenate([np.broadcast_to(p[i], p[0].shape) for p in parts])
            if parts
            else np.zeros(0)
        )

    return columnar(
        run=names, eta=column(0), fitted=column(1), slope=column(2), intercept=column(3)
    )


@cached_spec
def _fit_spec(norm: Norm, legend: RunLegend) -> Spec:
    y_title = delta_h_title(norm, "|ΔH_true|") + ", log scale"
    y_scale = alt.Scale(type="log")
    points_data, points_flatten = named(FIT_POINTS, "run", "eta", "true", "abs_true")
    points = picking(
        alt.Chart(points_data, transform=points_flatten)
        .transform_filter("datum.abs_true > 0 && datum.eta > 0")
        .mark_point(filled=True, size=45)
        .encode(
            x=eta_x(),
            y=alt.Y("abs_true:Q", title=y_title, scale=y_scale, axis=log_axis()),
            color=run_color(legend),
            opacity=run_opacity(),
            tooltip=[run_tooltip(), eta_tooltip(), value_tooltip("true", "ΔH true")],
        )
    )
    lines_data, lines_flatten = named(FIT_LINES, "run", "eta", "fitted", "slope", "intercept")
    lines = (
        alt.Chart(lines_data, transform=lines_flatten)
        .mark_line(strokeDash=[6, 3])
        .encode(
            x=eta_x(),
            y=alt.Y("fitted:Q", title=y_title, scale=y_scale),
            color=run_color(legend),
            opacity=run_opacity(),
            detail="run:N",
            tooltip=[
                run_tooltip(),
                value_tooltip("slope", "slope"),
                value_tooltip("intercept", "intercept"),
            ],
        )
    )
    description = (
        f"Magnitude of ΔH_true ({norm}) against η on log–log axes per run (points) with the "
        "run's fitted power law (dashed line); the slope is the exponent of η."
    )
    return finish(alt.layer(lines, points), "Power-law fit of |ΔH_true| vs η", description)
