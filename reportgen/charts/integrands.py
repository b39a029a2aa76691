"""Histograms of a run's SNIS integrands per sequence: h_base, h_new and delta_h_seq."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from reportgen.charts.core import (
    Chart,
    Datasets,
    Spec,
    columnar,
    make_chart,
)
from reportgen.charts.data import (
    HISTOGRAM_COLUMNS,
    MaybeArray,
    concat_columns,
    histogram_rows,
    shared_ranges,
)
from reportgen.charts.encodings import (
    ETA_FILTER,
    eta_param,
    finish,
    layered,
    named,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import (
    SERIES_COLORS,
)
from reportgen.charts.spec_cache import cached_spec

INTEGRANDS = "integrand-histograms"
Which = Literal["sums", "delta"]
# h_base and h_new are sums over one sequence's tokens, delta_h_seq their difference: two scales
NAMES: dict[Which, tuple[str, ...]] = {"sums": ("h_base", "h_new"), "delta": ("delta_h_seq",)}
COLORS = (SERIES_COLORS[0], SERIES_COLORS[1])


def integrand_histograms(
    etas: Sequence[float],
    arrays: Sequence[Sequence[MaybeArray]],
    *,
    which: Which,
    bins: int = 40,
) -> tuple[Chart, Datasets]:
    """Per-sequence integrands at the selected η; ``arrays`` holds one per-η list per name of
    ``NAMES[which]`` (h_base and h_new share their bins)."""
    names = NAMES[which]
    ranges = shared_ranges(*arrays)
    parts = [
        histogram_rows(etas, name, values, bins, ranges)
        for name, values in zip(names, arrays, strict=True)
    ]
    dataset = f"{INTEGRANDS}-{which}"
    chart = make_chart(dataset, _spec(which))
    return chart, {dataset: columnar(**concat_columns(*parts))}


@cached_spec
def _spec(which: Which) -> Spec:
    names = NAMES[which]
    data, flatten = named(f"{INTEGRANDS}-{which}", *HISTOGRAM_COLUMNS)
    x_title = (
        "per-sequence integrand (sum over the sequence's tokens)"
        if which == "sums"
        else "delta_h_seq = h_new − h_base (raw sums)"
    )
    color = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=list(names), range=list(COLORS[: len(names)])),
        legend=alt.Legend(orient="top"),
    )
    encoding = {
        "x": alt.X("mid:Q", title=x_title),
        "y": alt.Y("count:Q", title="sequences"),
        "color": color,
    }
    tooltip = [
        alt.Tooltip("series:N", title="series"),
        value_tooltip("bin_start", "from"),
        value_tooltip("bin_end", "to"),
        value_tooltip("count", "sequences"),
    ]
    steps = (
        alt.Chart()
        .mark_line(interpolate="step")
        .encode(
            strokeDash=alt.StrokeDash(
                "series:N",
                title=None,
                scale=alt.Scale(domain=list(names), range=[[1, 0], [6, 3]][: len(names)]),
                legend=alt.Legend(orient="top"),  # merges with the colour legend
            ),
            **encoding,
        )
    )
    points = alt.Chart().mark_point(filled=True, size=14).encode(tooltip=tooltip, **encoding)
    chart = (
        layered(data, flatten, steps, points).transform_filter(ETA_FILTER).add_params(eta_param())
    )
    if which == "sums":
        title = "h_base and h_new per sequence"
        description = (
            "Histograms of the per-sequence SNIS integrands before (h_base) and after (h_new) "
            "the update at the selected η, on shared bins (sums over each sequence's tokens)."
        )
    else:
        title = "delta_h_seq per sequence"
        description = (
            "Histogram of delta_h_seq = h_new − h_base per sequence at the selected η: raw sums, "
            "not contributions to ΔH_true (those need the SNIS weights and token shares)."
        )
    return finish(chart, title, description)
