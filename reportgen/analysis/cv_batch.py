"""A CV batch's aggregate, corrected: the SNR of the batch *sum*, and the spread between runs.

The aggregate's ``gdotv_batch`` is a sum over the run's B_total sequences and its ``se_batch``
the standard error of the *mean* g·v (√(var/B)). Its ``SNR = |gdotv_batch|/se_batch`` (and the
batch's ``mean_SNR``) is therefore B_total times too large: the SE of the sum is
B_total·se_batch. The runs' between-run spread is set against both SEs with Cochran's χ²
(inverse-variance weighted mean, k − 1 degrees of freedom).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from reportgen.kinds.stats import chi2_sf
from reportgen.load.cv_aggregate import CvAggregate, CvAggregateRow

SNR_RTOL = 1e-9  # the file's SNR equals |gdotv_batch|/se_batch to float rounding
SPREAD_ALPHA = 0.05


@dataclass(frozen=True)
class CvBatchRun:
    """One run of the batch: the file's SNR beside the corrected one."""

    run_dir: str
    run_id: str | None  # the tree's run it names, if any
    gdotv_batch: float | None
    se_mean: float | None  # the file's se_batch: SE of the mean g·v
    b_total: int | None
    se_sum: float | None  # B_total·se_batch: SE of gdotv_batch
    snr_file: float | None
    snr: float | None  # |gdotv_batch| / se_sum
    snr_after_file: float | None
    snr_after: float | None


@dataclass(frozen=True)
class Spread:
    """Cochran's χ² of the runs' gdotv_batch about their weighted mean, for one set of SEs."""

    chi2: float | None
    df: int
    p: float | None


@dataclass(frozen=True)
class CvBatchAnalysis:
    """The aggregate's numbers, labelled, and the corrected ones beside them."""

    source: str
    runs: tuple[CvBatchRun, ...]
    mean_snr_file: float | None  # the JSON's mean_SNR (else the rows' mean SNR)
    mean_snr: float | None  # mean of the corrected per-run SNR
    mean_snr_after_file: float | None
    mean_snr_after: float | None
    snr_is_sum_over_mean_se: bool  # every row's SNR is |gdotv_batch|/se_batch
    spread_sd: float | None  # sd of gdotv_batch across runs (ddof 1)
    mean_se_sum: float | None  # mean B_total·se_batch
    mean_se_file: float | None  # the JSON's mean_se (else the rows' mean se_batch)
    weighted_sum: float | None  # inverse-variance weighted mean of gdotv_batch
    se_weighted_sum: float | None
    spread: Spread  # against the corrected SEs (B_total·se_batch)
    spread_file: Spread  # against the file's se_batch
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The group summary's ``cv_batch`` block (every field above, and ``factor``)."""
        return {
            **{
                k: v for k, v in self.__dict__.items() if k not in ("runs", "spread", "spread_file")
            },
            "runs": [dict(r.__dict__) for r in self.runs],
            "spread": dict(self.spread.__dict__),
            "spread_file": dict(self.spread_file.__dict__),
            "problems": list(self.problems),
            "factor": self.factor,
        }

    @property
    def factor(self) -> float | None:
        """How many times the file's mean SNR exceeds the corrected one."""
        if self.mean_snr_file is None or not self.mean_snr:
            return None
        return _finite(self.mean_snr_file / self.mean_snr)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _mean(values: Sequence[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return _finite(float(np.mean(finite))) if finite else None


def _spread(values: np.ndarray, ses: np.ndarray) -> tuple[Spread, float | None, float | None]:
    """χ² about the inverse-variance weighted mean; the mean and its SE."""
    keep = np.isfinite(values) & np.isfinite(ses) & (ses > 0)
    if keep.sum() < 2:
        return Spread(None, 0, None), None, None
    weights = 1.0 / ses[keep] ** 2
    mean = float(np.sum(weights * values[keep]) / np.sum(weights))
    chi2 = float(np.sum(weights * (values[keep] - mean) ** 2))
    df = int(keep.sum()) - 1
    return Spread(_finite(chi2), df, chi2_sf(chi2, df)), mean, float(1 / math.sqrt(weights.sum()))


def _run(row: CvAggregateRow, run_ids: dict[str, str]) -> CvBatchRun:
    g, se, b = row.gdotv_batch, row.se_batch, row.b_total
    se_sum = _finite(b * se) if b is not None and se is not None else None
    se_after = _finite(b * row.se_batch_after) if b and row.se_batch_after is not None else None
    return CvBatchRun(
        run_dir=row.run_dir,
        run_id=run_ids.get(PurePosixPath(row.run_dir).name),
        gdotv_batch=g,
        se_mean=se,
        b_total=b,
        se_sum=se_sum,
        snr_file=row.snr,
        snr=_finite(abs(g) / se_sum) if g is not None and se_sum else None,
        snr_after_file=row.snr_after,
        snr_after=_finite(abs(g) / se_after) if g is not None and se_after else None,
    )


def _snr_formula_holds(rows: Sequence[CvAggregateRow]) -> bool:
    """Whether every row's SNR is |gdotv_batch|/se_batch (the SE of the mean)."""
    pairs = [(r.snr, r.gdotv_batch, r.se_batch) for r in rows]
    return bool(pairs) and all(
        snr is not None
        and g is not None
        and se
        and math.isclose(snr, abs(g) / se, rel_tol=SNR_RTOL)
        for snr, g, se in pairs
    )


def analyze_cv_batch(aggregate: CvAggregate, run_ids: Sequence[str] = ()) -> CvBatchAnalysis:
    """The corrected SNR and between-run spread of a CV batch; ``run_ids`` are the tree's runs
    beside the aggregate, matched to its rows by their last path component."""
    by_name = {PurePosixPath(r).name: r for r in run_ids}
    runs = tuple(_run(row, by_name) for row in aggregate.rows)
    values = np.asarray([np.nan if r.gdotv_batch is None else r.gdotv_batch for r in runs])
    se_sum = np.asarray([np.nan if r.se_sum is None else r.se_sum for r in runs])
    se_mean = np.asarray([np.nan if r.se_mean is None else r.se_mean for r in runs])
    spread, weighted, se_weighted = _spread(values, se_sum)
    finite = values[np.isfinite(values)]

    def stated(name: str, fallback: Sequence[float | None]) -> float | None:
        value = aggregate.number(name)
        return value if value is not None else _mean(fallback)

    return CvBatchAnalysis(
        source=aggregate.source,
        runs=runs,
        mean_snr_file=stated("mean_SNR", [r.snr_file for r in runs]),
        mean_snr=_mean([r.snr for r in runs]),
        mean_snr_after_file=stated("mean_SNR_after", [r.snr_after_file for r in runs]),
        mean_snr_after=_mean([r.snr_after for r in runs]),
        snr_is_sum_over_mean_se=_snr_formula_holds(aggregate.rows),
        spread_sd=_finite(float(finite.std(ddof=1))) if finite.size >= 2 else None,
        mean_se_sum=_mean([r.se_sum for r in runs]),
        mean_se_file=stated("mean_se", [r.se_mean for r in runs]),
        weighted_sum=_finite(weighted),
        se_weighted_sum=_finite(se_weighted),
        spread=spread,
        spread_file=_spread(values, se_mean)[0],
        problems=aggregate.problems,
    )


__all__ = ["CvBatchAnalysis", "CvBatchRun", "Spread", "analyze_cv_batch"]
