"""Chart specs of the convergence page, one set per temperature (never pooled across them)."""

from __future__ import annotations

import re

import numpy as np

from reportgen.charts.core import (
    Chart,
    Datasets,
    Spec,
    columnar,
    make_chart,
    with_key,
)
from reportgen.charts.encodings import (
    finish,
    layered,
    log_axis,
    named,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import (
    NEUTRAL,
)
from reportgen.charts.spec_cache import cached_spec
from reportgen.kinds.rb_convergence.analysis import RunAnalysis
from reportgen.kinds.rb_convergence.model import ESTIMATOR_NAMES, ESTIMATORS
from reportgen.kinds.stats import Z95

ROWS = "rb-rows"
VR = "rb-vr"
ROW_COLUMNS = (
    "n",
    "f",
    "estimator",
    "observed",
    "obs_lo",
    "obs_hi",
    "clt",
    "fpc",
    "band_lo",
    "band_hi",
    "ratio",
    "ratio_lo",
    "ratio_hi",
    "correction",
)
VR_COLUMNS = ("n", "vr", "lo", "hi", "pool", "pool_lo", "pool_hi")
COLORS = ("#2f7ed8", "#d55e00")  # basic, Rao-Blackwell (the site's series colours)


def run_charts(run: RunAnalysis) -> tuple[tuple[Chart, ...], Datasets]:
    """The three charts of one temperature, their ids and datasets keyed by it."""
    key = re.sub(r"[^A-Za-z0-9]+", "_", run.run.label).strip("_") or "run"
    parts = (
        (make_chart("rb-se-vs-n", _rb_se_spec()), {ROWS: _rows(run)}),
        (make_chart("rb-ratio", _rb_ratio_spec()), {ROWS: _rows(run)}),
        (make_chart("rb-variance-reduction", _rb_vr_spec()), {VR: _vr(run)}),
    )
    charts: list[Chart] = []
    datasets: Datasets = {}
    for chart, data in parts:
        keyed, keyed_data = with_key(chart, data, key)
        charts.append(keyed)
        datasets |= keyed_data
    return tuple(charts), datasets


def _rows(run: RunAnalysis) -> list[dict[str, object]]:
    points = [(r, r.estimator(name), name) for r in run.rows for name in ESTIMATORS]

    def column(values: list[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    observed = column([p.observed for _, p, _ in points])
    error = Z95 * column([p.observed_se for _, p, _ in points])
    ratio = column([p.ratio for _, p, _ in points])
    ratio_error = Z95 * column([p.ratio_se for _, p, _ in points])
    fpc = column([p.fpc for _, p, _ in points])
    relative = column(
        [p.observed_se / p.observed if p.observed and p.observed_se else None for _, p, _ in points]
    )
    return columnar(
        n=column([float(r.sample_size) for r, _, _ in points]),
        f=column([r.fraction for r, _, _ in points]),
        estimator=[ESTIMATOR_NAMES[name] for _, _, name in points],
        observed=observed,
        obs_lo=observed - error,
        obs_hi=observed + error,
        clt=column([p.clt for _, p, _ in points]),
        fpc=fpc,
        band_lo=fpc * (1 - Z95 * relative),
        band_hi=fpc * (1 + Z95 * relative),
        ratio=ratio,
        ratio_lo=ratio - ratio_error,
        ratio_hi=ratio + ratio_error,
        correction=np.sqrt(1 - column([r.fraction for r, _, _ in points])),
    )


def _vr(run: RunAnalysis) -> list[dict[str, object]]:
    rows = [r for r in run.rows if r.var_reduction is not None]
    vr = np.array([r.var_reduction for r in rows], dtype=np.float64)
    se = np.array([np.nan if r.var_reduction_se is None else r.var_reduction_se for r in rows])
    pool = np.full(len(rows), run.var_reduction)
    return columnar(
        n=np.array([r.sample_size for r in rows], dtype=np.float64),
        vr=vr,
        lo=vr - Z95 * se,
        hi=vr + Z95 * se,
        pool=pool,
        pool_lo=pool - Z95 * run.var_reduction_se,
        pool_hi=pool + Z95 * run.var_reduction_se,
    )


def _estimator_color() -> alt.Color:
    return alt.Color(
        "estimator:N",
        title="estimator",
        scale=alt.Scale(domain=[ESTIMATOR_NAMES[e] for e in ESTIMATORS], range=list(COLORS)),
        legend=alt.Legend(orient="top"),
    )


def _n_axis() -> alt.X:
    return alt.X("n:Q", title="n (subsample size, log₂ scale)", scale=alt.Scale(type="log", base=2))


@cached_spec
def _rb_se_spec() -> Spec:
    data, flatten = named(ROWS, *ROW_COLUMNS)
    y_title = "SE of the mean (log scale)"
    y = alt.Y("observed:Q", title=y_title, scale=alt.Scale(type="log"), axis=log_axis())
    color = _estimator_color()
    band = (
        alt.Chart()
        .mark_area(opacity=0.18)
        .encode(x=_n_axis(), y=alt.Y("band_lo:Q", title=y_title), y2="band_hi:Q", color=color)
    )
    fpc = alt.Chart().mark_line().encode(x=_n_axis(), y=alt.Y("fpc:Q", title=y_title), color=color)
    clt = (
        alt.Chart()
        .mark_line(strokeDash=[6, 3])
        .encode(x=_n_axis(), y=alt.Y("clt:Q", title=y_title), color=color)
    )
    bars = (
        alt.Chart()
        .mark_rule()
        .encode(x=_n_axis(), y=alt.Y("obs_lo:Q", title=y_title), y2="obs_hi:Q", color=color)
    )
    dots = (
        alt.Chart()
        .mark_point(filled=True, size=40)
        .encode(
            x=_n_axis(),
            y=y,
            color=color,
            shape=alt.Shape(
                "estimator:N",
                title="estimator",
                scale=alt.Scale(domain=[ESTIMATOR_NAMES[e] for e in ESTIMATORS]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("estimator:N"),
                value_tooltip("n", "n"),
                value_tooltip("observed", "observed SE"),
                value_tooltip("fpc", "σ/√n·√(1 − n/N)"),
                value_tooltip("clt", "σ/√n"),
            ],
        )
    )
    description = (
        "Observed SE of the subsample mean (SD across subsamples, with its 95 % Monte-Carlo "
        "interval) against n for both estimators. Dashed: σ/√n (independent draws); solid: "
        "σ/√n·√(1 − n/N) (drawn without replacement from the pool of N), with the band where "
        "95 % of observed SEs should fall."
    )
    chart = layered(data, flatten, band, clt, fpc, bars, dots)
    return finish(chart, "SE vs n (log–log): σ/√n and σ/√n·√(1 − n/N)", description)


@cached_spec
def _rb_ratio_spec() -> Spec:
    data, flatten = named(ROWS, *ROW_COLUMNS)
    y_title = "observed SE / (σ/√n)"
    x = alt.X("f:Q", title="n/N (fraction of the pool)")
    color = _estimator_color()
    curve = (
        alt.Chart()
        .mark_line(color=NEUTRAL, strokeDash=[4, 4])
        .encode(x=x, y=alt.Y("correction:Q", title=y_title), tooltip=alt.value("√(1 − n/N)"))
    )
    bars = (
        alt.Chart()
        .mark_rule()
        .encode(x=x, y=alt.Y("ratio_lo:Q", title=y_title), y2="ratio_hi:Q", color=color)
    )
    dots = (
        alt.Chart()
        .mark_point(filled=True, size=40)
        .encode(
            x=x,
            y=alt.Y("ratio:Q", title=y_title, scale=alt.Scale(zero=False)),
            color=color,
            tooltip=[
                alt.Tooltip("estimator:N"),
                value_tooltip("n", "n"),
                value_tooltip("ratio", "observed/expected"),
                value_tooltip("correction", "√(1 − n/N)"),
            ],
        )
    )
    description = (
        "Observed SE divided by σ/√n, with 95 % Monte-Carlo intervals, against the fraction "
        "of the pool drawn; the dashed curve √(1 − n/N) is what drawing without replacement "
        "predicts (0.707 at n = N/2)."
    )
    return finish(
        layered(data, flatten, curve, bars, dots), "Observed / expected SE vs n/N", description
    )


@cached_spec
def _rb_vr_spec() -> Spec:
    data, flatten = named(VR, *VR_COLUMNS)
    y_title = "variance reduction 1 − (SE_RB/SE_basic)²"
    band = (
        alt.Chart()
        .mark_area(opacity=0.15, color=NEUTRAL)
        .encode(x=_n_axis(), y=alt.Y("pool_lo:Q", title=y_title), y2="pool_hi:Q")
    )
    pool = (
        alt.Chart()
        .mark_line(color=NEUTRAL, strokeDash=[6, 3])
        .encode(
            x=_n_axis(), y=alt.Y("pool:Q", title=y_title), tooltip=[value_tooltip("pool", "pool")]
        )
    )
    bars = (
        alt.Chart()
        .mark_rule(color=COLORS[1])
        .encode(x=_n_axis(), y=alt.Y("lo:Q", title=y_title), y2="hi:Q")
    )
    dots = (
        alt.Chart()
        .mark_point(filled=True, size=40, color=COLORS[1])
        .encode(
            x=_n_axis(),
            y=alt.Y("vr:Q", title=y_title),
            tooltip=[
                value_tooltip("n", "n"),
                value_tooltip("vr", "variance reduction"),
                value_tooltip("lo", "95 % low"),
                value_tooltip("hi", "95 % high"),
            ],
        )
    )
    description = (
        "Variance reduction of the Rao-Blackwellised estimator at each n with its 95 % "
        "Monte-Carlo interval (2r·√((1 − ρ²)/(m − 1)) per SE); dashed with band: the pool's "
        "own 1 − σ_RB²/σ_basic² and its normal-theory 95 % interval."
    )
    return finish(
        layered(data, flatten, band, pool, bars, dots), "Variance reduction vs n", description
    )
