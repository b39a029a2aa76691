"""The run page's outlier and tail-sensitivity tables (view rows built from a ``RunAnalysis``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reportgen.analysis import RunAnalysis

OUTLIERS_PER_ETA = 15
OUTLIER_FEATURES = (
    "features.length_log",
    "features.sum_w",
    "features.var_logp",
    "var_logp",
    "mean_logp",
)


@dataclass(frozen=True)
class OutlierRow:
    eta: float
    index: int
    length: float | None
    true_contrib: float
    linear: float
    linquad: float | None
    error: float
    features: tuple[float | None, ...]


@dataclass(frozen=True)
class TailRow:
    eta: float
    method: str
    quantile: float
    kept: int
    threshold: float | None
    true: float | None
    linear: float | None
    linquad: float | None
    ratio: float | None


def outlier_rows(analysis: RunAnalysis) -> tuple[tuple[OutlierRow, ...], tuple[str, ...]]:
    """The sequences with the largest |true − linear| at each η (vectorised selection)."""
    run = analysis.run
    per_sequence = run.snis.approx.per_sequence if run.snis else None
    if per_sequence is None:
        return (), ()
    columns = dict(per_sequence.columns)
    # "features.var_logp" and "var_logp" can both exist: one column per displayed name
    names = tuple(
        n
        for i, n in enumerate(OUTLIER_FEATURES)
        if n in columns
        and not any(
            m in columns and m.removeprefix("features.") == n.removeprefix("features.")
            for m in OUTLIER_FEATURES[:i]
        )
    )
    rows: list[OutlierRow] = []
    for c in analysis.contributions:
        if c.linear is None:
            continue
        error = c.true_contrib - c.linear
        magnitude = np.where(np.isfinite(error), np.abs(error), -np.inf)
        k = min(OUTLIERS_PER_ETA, magnitude.shape[0])
        top = np.argsort(-magnitude, kind="stable")[:k]
        linquad = c.linquad
        for i in top.tolist():
            rows.append(
                OutlierRow(
                    eta=c.eta,
                    index=i,
                    length=_opt(per_sequence.length, i),
                    true_contrib=float(c.true_contrib[i]),
                    linear=float(c.linear[i]),
                    linquad=_opt(linquad, i),
                    error=float(error[i]),
                    features=tuple(_opt(columns[n], i) for n in names),
                )
            )
    return tuple(rows), tuple(n.removeprefix("features.") for n in names)


def _opt(values: np.ndarray | None, i: int) -> float | None:
    if values is None or i >= values.shape[0]:
        return None
    value = float(values[i])
    return value if np.isfinite(value) else None


def tail_rows(analysis: RunAnalysis) -> tuple[TailRow, ...]:
    rows = []
    for tail in analysis.tails:
        for method in ("truncated", "clipped"):
            for r in getattr(tail, method):
                rows.append(
                    TailRow(
                        tail.eta,
                        "truncate" if method == "truncated" else "clip",
                        r.quantile,
                        r.kept,
                        r.threshold,
                        r.true_total,
                        r.linear_total,
                        r.linquad_total,
                        r.ratio,
                    )
                )
    return tuple(rows)
