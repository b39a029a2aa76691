"""The matrix heatmap the experiment kinds share: one rect per entry, large matrices as block
means, labels looked up by index."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from reportgen.charts.core import (
    Chart,
    Datasets,
    Spec,
    columnar,
    make_chart,
)
from reportgen.charts.encodings import (
    finish,
    layered,
    named,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.spec_cache import cached_spec
from reportgen.kinds.common import FloatArray

ChartResult = tuple[Chart, Datasets]
Scheme = Literal["blueorange", "viridis"]
HEATMAP_HEIGHT = 360


# --- block means and the heatmap ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Blocks:
    """A square matrix reduced to at most ``max_side`` block means per side."""

    values: FloatArray
    factor: int  # rows (and columns) of the original per block
    size: int  # the original side

    @property
    def note(self) -> str | None:
        if self.factor == 1:
            return None
        side = self.values.shape[0]
        return (
            f"{self.size} × {self.size} shown as {side} × {side} block means of "
            f"{self.factor} × {self.factor} entries (NaN entries left out of a mean)"
        )


def block_means(matrix: FloatArray, max_side: int) -> Blocks:
    """Means over ``factor`` × ``factor`` blocks, ``factor`` = ⌈side / max_side⌉ (the last
    blocks may be smaller); NaN entries are left out of their block's mean."""
    rows, columns = matrix.shape
    factor = max(1, math.ceil(max(rows, columns) / max_side))
    if factor == 1:
        return Blocks(matrix, 1, rows)
    row_starts = np.arange(0, rows, factor)
    column_starts = np.arange(0, columns, factor)
    finite = np.isfinite(matrix)
    sums = np.add.reduceat(
        np.add.reduceat(np.where(finite, matrix, 0.0), row_starts, 0), column_starts, 1
    )
    counts = np.add.reduceat(
        np.add.reduceat(finite.astype(np.float64), row_starts, 0), column_starts, 1
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return Blocks(np.where(counts > 0, sums / counts, np.nan), factor, rows)


def heatmap(
    chart_id: str,
    matrix: FloatArray,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    *,
    title: str,
    description: str,
    value_title: str,
    scheme: Scheme,
    domain: tuple[float, float] | None = None,
    mid: float | None = None,
    note: str | None = None,
) -> ChartResult:
    """One rect per entry (row i, column j); NaN entries are not drawn. ``domain`` fixes the
    colour scale's range, ``mid`` centres a diverging scheme.

    The labels travel once, in two small row-wise datasets the tooltip looks up by index, and
    values as float32 (colours need no more): a 128 × 128 map is then ~300 KB of page data.
    """
    rows, columns = matrix.shape
    i, j = np.divmod(np.arange(rows * columns), columns)
    data = columnar(
        row=i.astype(np.int64),
        column=j.astype(np.int64),
        value=matrix.reshape(-1).astype(np.float32),
    )
    labels = {
        f"{chart_id}-rows": [{"index": k, "label": label} for k, label in enumerate(row_labels)],
        f"{chart_id}-columns": [
            {"index": k, "label": label} for k, label in enumerate(column_labels)
        ],
    }
    spec = _heatmap_spec(chart_id, description, value_title, scheme, domain, mid)
    return make_chart(chart_id, spec, note=note, title=title), {chart_id: data, **labels}


def _lookup_args(name: str, key: str, label: str) -> dict[str, Any]:
    source = alt.LookupData(data=alt.NamedData(name=name), key="index", fields=["label"])
    return {"lookup": key, "from_": source, "as_": label}


@cached_spec
def _heatmap_spec(
    name: str,
    description: str,
    value_title: str,
    scheme: Scheme,
    domain: tuple[float, float] | None,
    mid: float | None,
) -> Spec:
    data, flatten = named(name, "row", "column", "value")
    options: dict[str, Any] = {"scheme": scheme}
    if domain is not None:
        options["domain"] = list(domain)
    if mid is not None:
        options["domainMid"] = mid
    scale = alt.Scale(**options)
    rects = (
        alt.Chart()
        .transform_filter("isValid(datum.value) && isFinite(datum.value)")
        .transform_calculate(row_end="datum.row + 1", column_end="datum.column + 1")
        .transform_lookup(**_lookup_args(f"{name}-rows", "row", "row_label"))
        .transform_lookup(**_lookup_args(f"{name}-columns", "column", "column_label"))
        .mark_rect()
        .encode(
            x=alt.X("column:Q", title="column", axis=alt.Axis(tickMinStep=1, format="d")),
            x2="column_end:Q",
            y=alt.Y(
                "row:Q",
                title="row",
                scale=alt.Scale(reverse=True),
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            y2="row_end:Q",
            color=alt.Color("value:Q", title=value_title, scale=scale),
            tooltip=[
                alt.Tooltip("row_label:N", title="row"),
                alt.Tooltip("column_label:N", title="column"),
                value_tooltip("value", value_title),
            ],
        )
    )
    chart = layered(data, flatten, rects)
    return finish(chart, "Heatmap", description, height=HEATMAP_HEIGHT)
