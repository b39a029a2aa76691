"""A CV batch's aggregate, corrected: the SNR of the batch *sum*, and the spread between runs.

The aggregate's ``gdotv_batch`` is a sum over the run's B_total sequences and its ``se_batch``
the standard error of the *mean* g·v (√(var/B)). Its ``SNR = |gdotv_batch|/se_batch`` (and the
batch's ``mean_SNR``) is therefore B_total times too large: the SE of the sum is
B_total·se_batch.

Rows of one B_total and one feature list are a batch. A file of several batches is read batch
by batch, side by side: nothing is averaged across them. Within a batch the runs' gdotv_batch
are set against their SEs by Cochran's χ² (k − 1 degrees of freedom) read by both tails, and
pooled by inverse variance, or by DerSimonian–Laird random effects when τ² > 0
(``analysis.pooling``). Every mean SNR carries its between-run SE.

A row is checked against its run's own record where the tree holds the run (a row that differs
is left out), and the file's stated batch numbers against its rows.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from reportgen.analysis.pooling import Pooled, pool
from reportgen.kinds.stats import chi2_sf
from reportgen.load.cv_aggregate import (
    MATCH_RTOL,
    CvAggregate,
    CvAggregateRow,
    StatedMismatch,
    stated_mismatches,
)

if TYPE_CHECKING:
    from reportgen.load.models import FloatArray

SNR_RTOL = 1e-9  # the file's SNR equals |gdotv_batch|/se_batch to float rounding
SPREAD_ALPHA = 0.05  # two-sided: α/2 in each tail
POWER_SD_RATIO = 1.5  # the power is quoted against a between-run sd this many times the SEs'
LITTLE_POWER = 0.5  # a test that misses such a spread more often than not says little
FIXED = "inverse-variance, fixed effect"
RANDOM = "DerSimonian–Laird random effects"
Reading = Literal["larger", "smaller", "not shown to differ"]


class RunBatchRecord(Protocol):
    """What a run's own record says of its batch (``load.models.CvData`` is one)."""

    @property
    def gdotv_batch(self) -> float | None: ...

    @property
    def se_batch(self) -> float | None: ...

    @property
    def se_batch_after_cv_joint(self) -> float | None: ...

    @property
    def n_seqs(self) -> int | None: ...


@dataclass(frozen=True)
class RowMismatch:
    """A number of an aggregate row that its run's own record does not give."""

    column: str
    aggregate: float
    run: float


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
    se_snr: float | None = None  # √(1 + snr²/(2(B_total − 1))): the sum's noise and its SE's
    features: str = ""  # the row's feature list, "a,b"
    checked: bool = False  # compared with its run's own record
    mismatches: tuple[RowMismatch, ...] = ()

    @property
    def used(self) -> bool:
        """In its batch's statistics: a row its run contradicts is left out."""
        return not self.mismatches

    def to_json(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.__dict__.items() if k != "mismatches"},
            "mismatches": [dict(m.__dict__) for m in self.mismatches],
            "used": self.used,
        }


@dataclass(frozen=True)
class Spread:
    """Cochran's χ² of the runs' gdotv_batch about their weighted mean, for one set of SEs,
    read by both tails."""

    chi2: float | None
    df: int
    p: float | None  # upper tail: the runs spread more than the SEs allow
    p_lower: float | None = None  # lower tail: they spread less than the SEs imply
    p_two_sided: float | None = None
    reading: Reading | None = None
    power: float | None = None  # of the two-sided test, at a sd POWER_SD_RATIO × the SEs'

    @property
    def little_power(self) -> bool:
        return self.power is not None and self.power < LITTLE_POWER

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "little_power": self.little_power}


NO_SPREAD = Spread(None, 0, None)


@dataclass(frozen=True)
class CvBatchSet:
    """One batch of the file (one B_total and feature list), read on its own."""

    b_total: int | None
    features: str
    rows: tuple[int, ...]  # its rows, as indices into the analysis's runs
    used_rows: tuple[int, ...]  # those not left out
    mean_snr_file: float | None  # the used rows' mean of the file's SNR
    mean_snr: float | None  # of the corrected SNR
    se_mean_snr: float | None  # between-run: sd/√k
    mean_snr_after_file: float | None
    mean_snr_after: float | None
    se_mean_snr_after: float | None
    factor: float | None  # mean_snr_file / mean_snr
    factor_exact: bool  # every row's SNR is |gdotv_batch|/se_batch: the factor is B_total
    se_factor: float | None  # across the runs (delta method); None when exact
    spread_sd: float | None  # sd of gdotv_batch across runs (ddof 1)
    mean_se_sum: float | None  # mean B_total·se_batch
    mean_se_mean: float | None  # mean se_batch
    weighted_sum: float | None
    se_weighted_sum: float | None
    weighting: str | None  # FIXED, or RANDOM when τ² > 0
    tau2: float | None
    spread: Spread  # against the corrected SEs (B_total·se_batch)
    spread_file: Spread  # against the file's se_batch

    @property
    def n_used(self) -> int:
        return len(self.used_rows)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "rows": list(self.rows),
            "used_rows": list(self.used_rows),
            "n_used": self.n_used,
            "spread": self.spread.to_json(),
            "spread_file": self.spread_file.to_json(),
        }


@dataclass(frozen=True)
class CvBatchAnalysis:
    """The aggregate's numbers, labelled, and the corrected ones beside them, batch by batch.

    The top-level statistics are the one batch's; with several (``mixed``) they are ``None``,
    never an average across batches. ``mean_snr_file``, ``mean_snr_after_file`` and
    ``mean_se_file`` are the numbers the file states."""

    source: str
    runs: tuple[CvBatchRun, ...]
    mean_snr_file: float | None  # the JSON's mean_SNR (else the batch's rows' mean SNR)
    mean_snr: float | None
    mean_snr_after_file: float | None
    mean_snr_after: float | None
    snr_is_sum_over_mean_se: bool  # every row's SNR is |gdotv_batch|/se_batch
    spread_sd: float | None
    mean_se_sum: float | None
    mean_se_file: float | None  # the JSON's mean_se (else the batch's rows' mean se_batch)
    weighted_sum: float | None
    se_weighted_sum: float | None
    spread: Spread
    spread_file: Spread
    problems: tuple[str, ...] = ()
    sets: tuple[CvBatchSet, ...] = ()
    stated_mismatches: tuple[StatedMismatch, ...] = ()

    @property
    def mixed(self) -> bool:
        """The file holds several batches (different B_total or feature lists)."""
        return len(self.sets) > 1

    @property
    def factor(self) -> float | None:
        """How many times the file's mean SNR exceeds the corrected one (one batch only)."""
        if self.mean_snr_file is None or not self.mean_snr:
            return None
        return _finite(self.mean_snr_file / self.mean_snr)

    def to_json(self) -> dict[str, Any]:
        """The group summary's ``cv_batch`` block."""
        nested = ("runs", "spread", "spread_file", "problems", "sets", "stated_mismatches")
        return {
            **{k: v for k, v in self.__dict__.items() if k not in nested},
            "runs": [r.to_json() for r in self.runs],
            "spread": self.spread.to_json(),
            "spread_file": self.spread_file.to_json(),
            "problems": list(self.problems),
            "factor": self.factor,
            "mixed": self.mixed,
            "sets": [s.to_json() for s in self.sets],
            "stated_mismatches": [dict(m.__dict__) for m in self.stated_mismatches],
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _column(runs: Sequence[CvBatchRun], name: str) -> FloatArray:
    values = (getattr(r, name) for r in runs)
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


def _mean(values: FloatArray) -> float | None:
    finite = values[np.isfinite(values)]
    return _finite(float(finite.mean())) if finite.size else None


def _se_of_mean(values: FloatArray) -> float | None:
    """The between-run SE of the mean: sd (ddof 1) / √k."""
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return None
    return _finite(float(finite.std(ddof=1)) / math.sqrt(finite.size))


def _sd(values: FloatArray) -> float | None:
    finite = values[np.isfinite(values)]
    return _finite(float(finite.std(ddof=1))) if finite.size >= 2 else None


# --- the spread test ---------------------------------------------------------------------------


def _chi2_quantile(q: float, df: int) -> float:
    """x with P(χ²(df) ≤ x) = q, by bisection on the upper tail."""
    low, high = 0.0, df + 1.0
    while 1.0 - chi2_sf(high, df) < q:
        high *= 2.0
    for _ in range(80):
        middle = (low + high) / 2.0
        low, high = (middle, high) if 1.0 - chi2_sf(middle, df) < q else (low, middle)
    return (low + high) / 2.0


@functools.lru_cache(maxsize=128)
def spread_power(df: int) -> float:
    """P(the two-sided test rejects) when the runs' sd is POWER_SD_RATIO times their SEs:
    then Q ~ φ·χ²(df) with φ = POWER_SD_RATIO²."""
    phi = POWER_SD_RATIO**2
    high = _chi2_quantile(1.0 - SPREAD_ALPHA / 2.0, df)
    low = _chi2_quantile(SPREAD_ALPHA / 2.0, df)
    return chi2_sf(high / phi, df) + 1.0 - chi2_sf(low / phi, df)


def spread_test(chi2: float, df: int) -> Spread:
    """Cochran's χ² on ``df`` degrees of freedom, read by both tails at SPREAD_ALPHA."""
    upper = chi2_sf(chi2, df)
    lower = 1.0 - upper
    two_sided = min(1.0, 2.0 * min(upper, lower))
    reading: Reading = "not shown to differ"
    if two_sided < SPREAD_ALPHA:
        reading = "larger" if upper < lower else "smaller"
    return Spread(chi2, df, upper, lower, two_sided, reading, spread_power(df))


def _spread(values: FloatArray, ses: FloatArray) -> tuple[Spread, Pooled | None]:
    pooled = pool(values, ses)
    if pooled is None or pooled.q_df < 1:
        return NO_SPREAD, pooled
    return spread_test(pooled.q, pooled.q_df), pooled


def _weighted(pooled: Pooled | None) -> tuple[float | None, float | None, str | None]:
    """The weighted mean, its SE, and which formula: random effects once τ² > 0."""
    if pooled is None:
        return None, None, None
    random = pooled.tau2 > 0
    estimate = pooled.random if random else pooled.fixed
    return _finite(estimate.value), _finite(estimate.se), RANDOM if random else FIXED


def _factor(file: FloatArray, corrected: FloatArray) -> tuple[float | None, float | None]:
    """mean(file)/mean(corrected) over the runs with both, and its delta-method SE across the
    runs (a ratio of two means of paired values: sd(file − R·corrected)/(√k·mean(corrected)))."""
    keep = np.isfinite(file) & np.isfinite(corrected)
    x, y = file[keep], corrected[keep]
    if not x.size or float(y.mean()) == 0.0:
        return None, None
    ratio = float(x.mean() / y.mean())
    spread = _se_of_mean(x - ratio * y)
    return _finite(ratio), None if spread is None else _finite(spread / abs(float(y.mean())))


# --- rows, their runs, their batches -----------------------------------------------------------


def _snr_formula_holds(runs: Sequence[CvBatchRun]) -> bool:
    """Whether every row's SNR is |gdotv_batch|/se_batch (the SE of the mean)."""
    return bool(runs) and all(
        r.snr_file is not None
        and r.gdotv_batch is not None
        and r.se_mean
        and math.isclose(r.snr_file, abs(r.gdotv_batch) / r.se_mean, rel_tol=SNR_RTOL)
        for r in runs
    )


def _mismatches(row: CvAggregateRow, own: RunBatchRecord) -> tuple[RowMismatch, ...]:
    pairs: tuple[tuple[str, float | None, float | None], ...] = (
        ("gdotv_batch", row.gdotv_batch, own.gdotv_batch),
        ("se_batch", row.se_batch, own.se_batch),
        ("se_batch_after", row.se_batch_after, own.se_batch_after_cv_joint),
        ("B_total", row.b_total, own.n_seqs),
    )
    return tuple(
        RowMismatch(column, a, b)
        for column, a, b in pairs
        if a is not None and b is not None and not math.isclose(a, b, rel_tol=MATCH_RTOL)
    )


def _run(row: CvAggregateRow, run_id: str | None, own: RunBatchRecord | None) -> CvBatchRun:
    g, se, b = row.gdotv_batch, row.se_batch, row.b_total
    se_sum = _finite(b * se) if b is not None and se is not None else None
    se_after = _finite(b * row.se_batch_after) if b and row.se_batch_after is not None else None
    snr = _finite(abs(g) / se_sum) if g is not None and se_sum else None
    se_snr = (
        math.sqrt(1.0 + snr * snr / (2.0 * (b - 1))) if snr is not None and b and b > 1 else None
    )
    return CvBatchRun(
        run_dir=row.run_dir,
        run_id=run_id,
        gdotv_batch=g,
        se_mean=se,
        b_total=b,
        se_sum=se_sum,
        snr_file=row.snr,
        snr=snr,
        snr_after_file=row.snr_after,
        snr_after=_finite(abs(g) / se_after) if g is not None and se_after else None,
        se_snr=_finite(se_snr),
        features=",".join(f.strip() for f in row.features.split(",") if f.strip()),
        checked=own is not None,
        mismatches=() if own is None else _mismatches(row, own),
    )


def _matched(
    rows: Sequence[CvAggregateRow], run_ids: Sequence[str], source: str
) -> list[str | None]:
    """Each row's run: the one beside the aggregate with the row's directory name, else the
    tree's only run of that name (none when several have it: no guessing)."""
    known = set(run_ids)
    named: dict[str, list[str]] = {}
    for run_id in run_ids:
        named.setdefault(PurePosixPath(run_id).name, []).append(run_id)
    folder = PurePosixPath(source).parent

    def match(row: CvAggregateRow) -> str | None:
        name = PurePosixPath(row.run_dir).name
        if not name:
            return None
        if (beside := str(folder / name)) in known:
            return beside
        others = named.get(name, [])
        return others[0] if len(others) == 1 else None

    return [match(row) for row in rows]


def _batch(runs: Sequence[CvBatchRun], rows: tuple[int, ...]) -> CvBatchSet:
    used_rows = tuple(i for i in rows if runs[i].used)
    mine = [runs[i] for i in used_rows]
    column: Callable[[str], FloatArray] = functools.partial(_column, mine)
    g, se_sum, se_mean = column("gdotv_batch"), column("se_sum"), column("se_mean")
    snr, snr_after = column("snr"), column("snr_after")
    spread, pooled = _spread(g, se_sum)
    weighted, se_weighted, weighting = _weighted(pooled)
    b_total = runs[rows[0]].b_total
    exact = b_total is not None and _snr_formula_holds(mine)
    factor, se_factor = (float(b_total or 0), None) if exact else _factor(column("snr_file"), snr)
    return CvBatchSet(
        b_total=b_total,
        features=runs[rows[0]].features,
        rows=rows,
        used_rows=used_rows,
        mean_snr_file=_mean(column("snr_file")),
        mean_snr=_mean(snr),
        se_mean_snr=_se_of_mean(snr),
        mean_snr_after_file=_mean(column("snr_after_file")),
        mean_snr_after=_mean(snr_after),
        se_mean_snr_after=_se_of_mean(snr_after),
        factor=factor,
        factor_exact=exact,
        se_factor=se_factor,
        spread_sd=_sd(g),
        mean_se_sum=_mean(se_sum),
        mean_se_mean=_mean(se_mean),
        weighted_sum=weighted,
        se_weighted_sum=se_weighted,
        weighting=weighting,
        tau2=None if pooled is None else pooled.tau2,
        spread=spread,
        spread_file=_spread(g, se_mean)[0],
    )


def _batches(runs: Sequence[CvBatchRun]) -> tuple[CvBatchSet, ...]:
    """One per B_total and feature list, by B_total (unknown last), then features."""
    keys: dict[tuple[int | None, str], list[int]] = {}
    for i, run in enumerate(runs):
        keys.setdefault((run.b_total, run.features), []).append(i)
    order = sorted(keys, key=lambda k: (k[0] is None, k[0] or 0, k[1]))
    return tuple(_batch(runs, tuple(keys[k])) for k in order)


def analyze_cv_batch(
    aggregate: CvAggregate,
    run_ids: Sequence[str] = (),
    own: Mapping[str, RunBatchRecord] | None = None,
) -> CvBatchAnalysis:
    """The corrected SNR and between-run spread of a CV batch, batch by batch. ``run_ids`` are
    the group's runs (a row names one by its directory); ``own`` their own records, by id."""
    own = own or {}
    matched = _matched(aggregate.rows, run_ids, aggregate.source)
    runs = tuple(
        _run(row, run_id, own.get(run_id) if run_id is not None else None)
        for row, run_id in zip(aggregate.rows, matched, strict=True)
    )
    sets = _batches(runs)
    one = sets[0] if len(sets) == 1 else None

    def only(name: str) -> Any:
        return None if one is None else getattr(one, name)

    def stated(name: str, fallback: str) -> float | None:
        value = aggregate.number(name)
        return value if value is not None else only(fallback)

    return CvBatchAnalysis(
        source=aggregate.source,
        runs=runs,
        mean_snr_file=stated("mean_SNR", "mean_snr_file"),
        mean_snr=only("mean_snr"),
        mean_snr_after_file=stated("mean_SNR_after", "mean_snr_after_file"),
        mean_snr_after=only("mean_snr_after"),
        snr_is_sum_over_mean_se=_snr_formula_holds(runs),
        spread_sd=only("spread_sd"),
        mean_se_sum=only("mean_se_sum"),
        mean_se_file=stated("mean_se", "mean_se_mean"),
        weighted_sum=only("weighted_sum"),
        se_weighted_sum=only("se_weighted_sum"),
        spread=only("spread") or NO_SPREAD,
        spread_file=only("spread_file") or NO_SPREAD,
        problems=aggregate.problems,
        sets=sets,
        stated_mismatches=stated_mismatches(aggregate),
    )


__all__ = [
    "CvBatchAnalysis",
    "CvBatchRun",
    "CvBatchSet",
    "RowMismatch",
    "RunBatchRecord",
    "Spread",
    "analyze_cv_batch",
    "spread_power",
    "spread_test",
]
