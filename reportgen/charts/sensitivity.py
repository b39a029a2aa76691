"""Chart kinds of a run's clip sweeps: ΔH_true's shift and the ESS against the clip threshold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from reportgen.charts.core import (
    Chart,
    ColumnValues,
    Datasets,
    Spec,
    as_float,
    columnar,
    make_chart,
)
from reportgen.charts.encodings import (
    finish,
    layered,
    named,
    reference_rule,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import RUN_COLORS
from reportgen.charts.spec_cache import cached_spec

CLIP_SWEEP = "clip-sweep"
Metric = Literal["shift", "ess"]
_COLUMNS = ("eta", "eta_label", "threshold", "shift", "ess_fraction", "published")


def clip_sweep_chart(
    etas: ColumnValues,
    eta_labels: Sequence[str],
    thresholds: ColumnValues,
    shifts: ColumnValues,
    ess_fractions: ColumnValues,
    published: Sequence[bool],
    *,
    metric: Metric = "shift",
) -> tuple[Chart, Datasets]:
    """One point per (η, clip threshold): ΔH_true's shift from the published value in SEs of
    ΔH_true (``shift``), or the ESS as a fraction of N (``ess``); a line per η."""
    n = len(etas)
    data = columnar(
        eta=as_float(etas, n),
        eta_label=list(eta_labels),
        threshold=as_float(thresholds, n),
        shift=as_float(shifts, n),
        ess_fraction=as_float(ess_fractions, n),
        published=["published" if p else "override" for p in published],
    )
    labels = tuple(dict.fromkeys(eta_labels))
    return make_chart(f"clip-{metric}", _spec(metric, labels)), {CLIP_SWEEP: data}


@cached_spec
def _spec(metric: Metric, labels: tuple[str, ...]) -> Spec:
    data, flatten = named(CLIP_SWEEP, *_COLUMNS)
    x = alt.X(
        "threshold:Q", title="clip threshold (log scale)", scale=alt.Scale(type="log", nice=False)
    )
    if metric == "shift":
        field, y_title = "shift", "ΔH_true − published, in SEs of ΔH_true"
        rules = [reference_rule(1, "y", y_title), reference_rule(-1, "y", y_title)]
    else:
        field, y_title = "ess_fraction", "ESS / N"
        rules = [reference_rule(0.5, "y", y_title)]
    y = alt.Y(f"{field}:Q", title=y_title, scale=alt.Scale(zero=False))
    color = alt.Color(
        "eta_label:N",
        title="η",
        sort=list(labels),
        scale=alt.Scale(domain=list(labels), range=list(RUN_COLORS)),
        legend=alt.Legend(orient="top", columns=3),
    )
    tooltip = [
        alt.Tooltip("eta_label:N", title="η"),
        value_tooltip("threshold", "clip threshold"),
        value_tooltip(field, y_title),
        alt.Tooltip("published:N", title="value"),
    ]
    line = alt.Chart().mark_line().encode(x=x, y=y, color=color, detail="eta_label:N")
    points = (
        alt.Chart()
        .mark_point(size=60, filled=True)
        .encode(
            x=x,
            y=y,
            color=color,
            shape=alt.Shape(
                "published:N",
                title=None,
                scale=alt.Scale(domain=["published", "override"], range=["diamond", "circle"]),
                legend=None,
            ),
            tooltip=tooltip,
        )
    )
    chart = layered(data, flatten, *rules, line, points).transform_filter(
        f"datum.threshold > 0 && isFinite(datum.{field})"
    )
    return finish(chart, *_TEXTS[metric])


_TEXTS: dict[str, tuple[str, str]] = {  # title, description
    "shift": (
        "ΔH_true vs clip threshold",
        "How far ΔH_true moves from its published value when the SNIS weights are clipped at "
        "other thresholds, in standard errors of ΔH_true at that η (one line per η; the diamond "
        "is the published value). Beyond the dashed ±1 lines a threshold moves it as much as "
        "the sampling noise; the run is judged on the thresholds next to the published one (the "
        "table beside it), the rest of the sweep only describes.",
    ),
    "ess": (
        "ESS vs clip threshold",
        "ESS of the SNIS weights as a fraction of the sequences at each clip threshold, one line "
        "per η; below the dashed 0.5 line the ground truth rests on few sequences.",
    ),
}


__all__ = ["clip_sweep_chart"]
