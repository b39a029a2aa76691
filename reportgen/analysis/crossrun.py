"""Cross-run statistics for group pages: per-η aggregates, fits, agreement, batch comparison."""

from __future__ import annotations

import functools
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from reportgen.analysis.contributions import EtaContributions, EtaSummary
from reportgen.models import CvData, FloatArray, Run

ETA_REL_TOL = 1e-9
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
DEFAULT_DRAWS = 1000
DEFAULT_BINS = 30
# draws × sequences per block of subset masks: bounds memory whatever `draws` is, and small
# enough (512 KB of keys) to stay in cache, which makes the blocks several times faster
MAX_DRAW_CELLS = 65_536

Json = dict[str, Any]


# --- shared helpers --------------------------------------------------------------------------


def num(value: float | int | np.floating[Any] | None) -> float | None:
    """A JSON-safe number: ``None`` for missing or non-finite values."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def same_eta(a: float, b: float) -> bool:
    """η values from different runs match within a relative tolerance (they pass through text)."""
    return math.isclose(a, b, rel_tol=ETA_REL_TOL, abs_tol=0.0)


def eta_grid(etas: Iterable[float]) -> tuple[float, ...]:
    """Distinct finite η values, sorted; values within the tolerance collapse onto the smallest."""
    grid: list[float] = []
    for eta in sorted(e for e in etas if math.isfinite(e)):
        if not grid or not same_eta(grid[-1], eta):
            grid.append(eta)
    return tuple(grid)


def summary_at(summaries: Sequence[EtaSummary], eta: float) -> EtaSummary | None:
    return next((s for s in summaries if same_eta(s.eta, eta)), None)


@dataclass(frozen=True)
class Spread:
    """Mean, sample std (ddof 1), min, max and median of the finite values; ``n`` counts them."""

    n: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    median: float | None = None  # robust when one run's ΔH_true is near zero

    def to_json(self) -> Json:
        return {
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "median": self.median,
            "n": self.n,
        }


def spread(values: Iterable[float | None]) -> Spread:
    # sorted before summing so the result does not depend on the order of runs
    finite = np.sort(np.asarray([v for v in values if num(v) is not None], dtype=np.float64))
    if finite.size == 0:
        return Spread(0, None, None, None, None)
    std = num(finite.std(ddof=1)) if finite.size >= 2 else None
    return Spread(
        n=int(finite.size),
        mean=num(finite.mean()),
        std=std,
        min=num(finite[0]),
        max=num(finite[-1]),
        median=num(np.median(finite)),
    )


# --- what one run contributes ----------------------------------------------------------------


def summary_to_json(summary: EtaSummary) -> Json:
    return {f.name: num(getattr(summary, f.name)) for f in fields(EtaSummary)}


def summary_from_json(data: Mapping[str, Any]) -> EtaSummary:
    eta = num(data.get("eta"))
    if eta is None:
        raise ValueError("EtaSummary needs a finite eta")
    values = {f.name: num(data.get(f.name)) for f in fields(EtaSummary) if f.name != "eta"}
    return EtaSummary(eta, **values)


@dataclass(frozen=True)
class RunPoints:
    """What cross-run analysis needs from one run (small; cached between builds)."""

    run_id: str
    batch_size: int | None  # B_E (evaluation batch size) or number of sequences
    etas: tuple[EtaSummary, ...]  # from contributions.run_eta_summaries
    se_shard: float | None  # approx.variance.se_shard (per unit η)
    # (η, sample std (ddof 1) of per-sequence true_contrib / √n)
    true_se: tuple[tuple[float, float], ...] = ()

    def to_json(self) -> Json:
        return {
            "run_id": self.run_id,
            "batch_size": self.batch_size,
            "etas": [summary_to_json(s) for s in self.etas],
            "se_shard": num(self.se_shard),
            "true_se": [{"eta": eta, "se": num(se)} for eta, se in self.true_se],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunPoints:
        batch = data.get("batch_size")
        pairs = ((num(row.get("eta")), num(row.get("se"))) for row in data.get("true_se") or ())
        return cls(
            run_id=str(data["run_id"]),
            batch_size=int(batch) if batch is not None else None,
            etas=tuple(summary_from_json(row) for row in data.get("etas") or ()),
            se_shard=num(data.get("se_shard")),
            true_se=tuple((eta, se) for eta, se in pairs if eta is not None and se is not None),
        )

    def true_se_at(self, eta: float) -> float | None:
        return next((se for e, se in self.true_se if same_eta(e, eta)), None)


def batch_size_of(run: Run) -> int | None:
    """B_E when the file records it, else the number of evaluated sequences."""
    for fact in run.facts:
        if fact.label == "B_E" and isinstance(fact.value, int) and not isinstance(fact.value, bool):
            return fact.value
    if run.snis is not None:
        approx = run.snis.approx
        if approx.num_sequences is not None:
            return approx.num_sequences
        if approx.per_sequence is not None:
            return len(approx.per_sequence)
    return run.cv.n_seqs if run.cv is not None else None


def true_standard_errors(
    contributions: Sequence[EtaContributions],
) -> tuple[tuple[float, float], ...]:
    """Per η: sample std (ddof 1) of the finite per-sequence true contributions / √n."""
    rows: list[tuple[float, float]] = []
    for contrib in contributions:
        values = contrib.true_contrib[np.isfinite(contrib.true_contrib)]
        if values.size >= 2:
            se = num(values.std(ddof=1) / math.sqrt(values.size))
            if se is not None:
                rows.append((contrib.eta, se))
    return tuple(rows)


def run_points(
    run: Run,
    contributions: Sequence[EtaContributions],
    summaries: Sequence[EtaSummary],
) -> RunPoints:
    se_shard = run.snis.approx.se_shard if run.snis is not None else None
    return RunPoints(
        run_id=run.ref.id,
        batch_size=batch_size_of(run),
        etas=tuple(summaries),
        se_shard=num(se_shard),
        true_se=true_standard_errors(contributions),
    )


# --- 1. per-η aggregates ---------------------------------------------------------------------


@dataclass(frozen=True)
class EtaStats:
    """ΔH across the runs that measured this η; ``n_runs`` counts runs with a finite ΔH_true."""

    eta: float
    true_mean: float | None
    true_std: float | None
    linear_mean: float | None
    linquad_mean: float | None
    n_runs: int

    def to_json(self) -> Json:
        return {
            "eta": self.eta,
            "true_mean": self.true_mean,
            "true_std": self.true_std,
            "linear_mean": self.linear_mean,
            "linquad_mean": self.linquad_mean,
            "n_runs": self.n_runs,
        }


def per_eta_stats(runs: Sequence[RunPoints]) -> tuple[EtaStats, ...]:
    rows = []
    for eta in eta_grid(s.eta for run in runs for s in run.etas):
        found = [s for run in runs if (s := summary_at(run.etas, eta)) is not None]
        true = spread(s.delta_h_true for s in found)
        rows.append(
            EtaStats(
                eta=eta,
                true_mean=true.mean,
                true_std=true.std,
                linear_mean=spread(s.delta_h_linear for s in found).mean,
                linquad_mean=spread(s.delta_h_linquad for s in found).mean,
                n_runs=true.n,
            )
        )
    return tuple(rows)


# --- 2. fits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """Least-squares lines through one run's ΔH_true(η); ``reason`` says why a fit is missing."""

    loglog_slope: float | None
    loglog_intercept: float | None
    loglog_r2: float | None
    linear_slope: float | None
    linear_intercept: float | None
    linear_r2: float | None
    n_loglog: int
    n_linear: int
    reason: str | None = None

    def to_json(self) -> Json:
        return {
            "loglog_slope": self.loglog_slope,
            "loglog_intercept": self.loglog_intercept,
            "loglog_r2": self.loglog_r2,
            "linear_slope": self.linear_slope,
            "linear_intercept": self.linear_intercept,
            "linear_r2": self.linear_r2,
            "n_loglog": self.n_loglog,
            "n_linear": self.n_linear,
            "reason": self.reason,
        }


Line = tuple[float | None, float | None, float | None]


def least_squares(x: FloatArray, y: FloatArray) -> Line:
    """(slope, intercept, R²) of y = a·x + b; R² is ``None`` when y has no variance."""
    if x.size < 2:
        return None, None, None
    dx, dy = x - x.mean(), y - y.mean()
    sxx = float(dx @ dx)
    if not sxx > 0:
        return None, None, None
    slope = float(dx @ dy) / sxx
    intercept = float(y.mean()) - slope * float(x.mean())
    sst = float(dy @ dy)
    if not sst > 0:
        r2 = None
    elif x.size == 2:
        r2 = 1.0  # a line through two points is exact; avoid 1 − ε from rounding
    else:
        r2 = 1.0 - float(np.sum((dy - slope * dx) ** 2)) / sst
    return num(slope), num(intercept), num(r2)


def fit_run(points: RunPoints) -> Fit:
    """Fit log|ΔH_true| = k·log η + c and ΔH_true = a·η + b over the run's η values.

    The log-log fit uses |ΔH_true| so a run whose ΔH_true is negative still gets an exponent;
    it needs η > 0 and a nonzero ΔH_true, the linear fit only finite values.
    """
    pairs = [
        (s.eta, d)
        for s in points.etas
        if math.isfinite(s.eta) and (d := num(s.delta_h_true)) is not None
    ]
    lin = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    log = np.asarray([(math.log(e), math.log(abs(d))) for e, d in pairs if e > 0 and d != 0])
    log = log.reshape(-1, 2)
    linear = least_squares(lin[:, 0], lin[:, 1])
    loglog = least_squares(log[:, 0], log[:, 1])
    reason = None
    if linear[0] is None:
        reason = "fewer than 2 η values" if len(lin) < 2 else "η values do not vary"
    elif loglog[0] is None and len(log) < 2:
        reason = "fewer than 2 η values with nonzero ΔH_true (log-log fit)"
    elif loglog[0] is None:
        reason = "η values do not vary (log-log fit)"
    return Fit(*loglog, *linear, n_loglog=len(log), n_linear=len(lin), reason=reason)


# --- 3. agreement of linear and true ---------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """ΔH_linear − ΔH_true at one η against the combined standard error of both."""

    eta: float
    diff: float | None
    se_linear: float | None
    se_true: float | None
    combined_se: float | None
    within_1sigma: bool | None
    within_2sigma: bool | None

    @property
    def z(self) -> float | None:
        if self.diff is None or not self.combined_se:
            return None
        return num(self.diff / self.combined_se)

    def to_json(self) -> Json:
        return {
            "eta": self.eta,
            "diff": self.diff,
            "se_linear": self.se_linear,
            "se_true": self.se_true,
            "combined_se": self.combined_se,
            "within_1sigma": self.within_1sigma,
            "within_2sigma": self.within_2sigma,
            "z": self.z,
        }


def agreement(points: RunPoints) -> tuple[Agreement, ...]:
    """Per η: se_linear = se_shard·η, se_true from ``true_se``, combined = √(sum of squares)."""
    rows = []
    for s in points.etas:
        lin, true = num(s.delta_h_linear), num(s.delta_h_true)
        diff = num(lin - true) if lin is not None and true is not None else None
        se_linear = num(points.se_shard * abs(s.eta)) if points.se_shard is not None else None
        se_true = num(points.true_se_at(s.eta))
        combined = (
            num(math.hypot(se_linear, se_true))
            if se_linear is not None and se_true is not None
            else None
        )
        rows.append(
            Agreement(
                eta=s.eta,
                diff=diff,
                se_linear=se_linear,
                se_true=se_true,
                combined_se=combined,
                within_1sigma=_within(diff, combined, 1.0),
                within_2sigma=_within(diff, combined, 2.0),
            )
        )
    return tuple(rows)


def _within(diff: float | None, se: float | None, sigmas: float) -> bool | None:
    if diff is None or se is None:
        return None
    return abs(diff) <= sigmas * se


# --- 4. relative errors ----------------------------------------------------------------------


@dataclass(frozen=True)
class RunRelativeErrors:
    """One run's 1 − ΔH_linear/ΔH_true per η (``None`` where undefined)."""

    run_id: str
    values: tuple[tuple[float, float | None], ...]

    def to_json(self) -> Json:
        return {"id": self.run_id, "values": [{"eta": e, "rel_err": v} for e, v in self.values]}


@dataclass(frozen=True)
class RelativeErrors:
    """Per run and η, and per η the spread across runs."""

    runs: tuple[RunRelativeErrors, ...]
    per_eta: tuple[tuple[float, Spread], ...]

    def to_json(self) -> Json:
        return {
            "definition": "1 - linear / true",
            "runs": [r.to_json() for r in self.runs],
            "per_eta": [{"eta": eta, **s.to_json(), "n_runs": s.n} for eta, s in self.per_eta],
        }


def one_minus_ratio(linear: float | None, true: float | None) -> float | None:
    """1 − linear/true: the issue's convention, positive when linear falls short of true.

    Note ``contributions.relative_error`` is (approx − true)/|true|, a different sign convention.
    """
    if linear is None or true is None or true == 0 or not math.isfinite(true):
        return None
    return num(1.0 - linear / true)


def relative_errors(runs: Sequence[RunPoints]) -> RelativeErrors:
    per_run = tuple(
        RunRelativeErrors(
            run.run_id,
            tuple((s.eta, one_minus_ratio(s.delta_h_linear, s.delta_h_true)) for s in run.etas),
        )
        for run in runs
    )
    per_eta = []
    for eta in eta_grid(s.eta for run in runs for s in run.etas):
        found = (summary_at(run.etas, eta) for run in runs)
        values = [one_minus_ratio(s.delta_h_linear, s.delta_h_true) for s in found if s]
        per_eta.append((eta, spread(values)))
    return RelativeErrors(per_run, tuple(per_eta))


# --- 5. batch-size comparison ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SequenceEta:
    """Per-sequence arrays of one larger run at one η, as subsampling needs them.

    The optional arrays let a subset re-estimate ΔH_true on its own (see ``batch_comparison``):
    w·h_new, w·u and h_base per sequence, with u the normalisation unit of ΔH_true (tokens
    per-token, 1 per-sequence) and ``linear_units`` the unit of the approximation's normaliser.
    """

    eta: float
    linear: FloatArray
    true_contrib: FloatArray
    delta_h_true: float
    weighted_h_new: FloatArray | None = None
    weighted_units: FloatArray | None = None
    h_base: FloatArray | None = None
    units: FloatArray | None = None
    linear_units: FloatArray | None = None

    @property
    def can_reestimate(self) -> bool:
        parts = (self.weighted_h_new, self.weighted_units, self.h_base, self.units)
        return all(p is not None for p in parts) and self.linear_units is not None


@dataclass(frozen=True, eq=False)
class SequenceSample:
    """A larger run's per-sequence data for every η that has it."""

    run_id: str
    batch_size: int
    etas: tuple[SequenceEta, ...]

    @property
    def eta_values(self) -> tuple[float, ...]:
        return tuple(d.eta for d in self.etas)

    def at(self, eta: float) -> SequenceEta | None:
        return next((d for d in self.etas if same_eta(d.eta, eta)), None)


class SampleSource(Protocol):
    """A larger run's per-sequence data, one η at a time (a ``SequenceSample``, or one read
    lazily from disk so a group's batch comparison never holds every run's arrays at once)."""

    @property
    def run_id(self) -> str: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def eta_values(self) -> tuple[float, ...]: ...

    def at(self, eta: float) -> SequenceEta | None: ...


def sequence_sample(
    run: Run,
    contributions: Sequence[EtaContributions],
    summaries: Sequence[EtaSummary],
) -> SequenceSample | None:
    """The run's per-sequence arrays; ``None`` when no η has both linear and true contributions."""
    entries = run.snis.entries if run.snis is not None else ()
    per_token_true = run.normalization.true_mode == "per_token"
    per_token_approx = run.normalization.approx_mode == "per_token"
    rows = []
    for contrib in contributions:
        summary = summary_at(summaries, contrib.eta)
        delta = num(summary.delta_h_true) if summary is not None else None
        if contrib.linear is None or delta is None:
            continue
        entry = next((e for e in entries if same_eta(e.eta, contrib.eta)), None)
        ones = np.ones_like(contrib.weight)
        units = contrib.token_count if per_token_true else ones
        h_new = entry.h_new if entry is not None else None
        h_base = entry.h_base if entry is not None else None
        if h_new is None or h_base is None or not h_base.shape == h_new.shape == units.shape:
            h_new = h_base = None
        rows.append(
            SequenceEta(
                eta=contrib.eta,
                linear=contrib.linear,
                true_contrib=contrib.true_contrib,
                delta_h_true=delta,
                weighted_h_new=contrib.weight * h_new if h_new is not None else None,
                weighted_units=contrib.weight * units if h_new is not None else None,
                h_base=h_base,
                units=units if h_new is not None else None,
                linear_units=contrib.token_count if per_token_approx else ones,
            )
        )
    if not rows:
        return None
    return SequenceSample(run.ref.id, len(rows[0].linear), tuple(rows))


@dataclass(frozen=True, eq=False)
class Distribution:
    """Summary of sampled err_rel values: moments, quantiles and a histogram for a chart."""

    n: int
    mean: float | None
    std: float | None
    quantiles: tuple[tuple[float, float | None], ...]
    hist_edges: tuple[float, ...]
    hist_counts: tuple[int, ...]

    def to_json(self) -> Json:
        return {
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "quantiles": [{"q": q, "value": v} for q, v in self.quantiles],
            "hist_edges": list(self.hist_edges),
            "hist_counts": list(self.hist_counts),
        }


def distribution(values: FloatArray, bins: int = DEFAULT_BINS) -> Distribution | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    counts, edges = np.histogram(finite, bins=bins, range=_hist_range(finite))
    quantiles = np.quantile(finite, QUANTILES)
    return Distribution(
        n=int(finite.size),
        mean=num(finite.mean()),
        std=num(finite.std(ddof=1)) if finite.size >= 2 else None,
        quantiles=tuple((q, num(v)) for q, v in zip(QUANTILES, quantiles, strict=True)),
        hist_edges=tuple(float(e) for e in edges),
        hist_counts=tuple(int(c) for c in counts),
    )


def _hist_range(values: FloatArray) -> tuple[float, float]:
    """The data's range, widened when the values agree to rounding (numpy cannot bin that)."""
    low, high = float(values.min()), float(values.max())
    scale = max(abs(low), abs(high))
    if high - low > 1e-9 * scale:
        return low, high
    pad = 1e-6 * scale if scale > 0 else 0.5
    return low - pad, high + pad


@dataclass(frozen=True, eq=False)
class BatchComparison:
    """Subsets of the larger runs' sequences against the smaller runs, at one η.

    ``raw`` is the issue's err_rel = (Σ linear_S − Σ true_S) / ΔH_true(full larger run) over
    random subsets S of ``small_size`` sequences, pooled over the larger runs (``draws`` each).
    Each per-sequence term carries ~1/n_l of the per-token mass, so E[raw] = (n_s/n_l)·full
    value (``expected_raw_mean``); ``rescaled`` multiplies by n_l/n_s, the mass a batch of n_s
    normalised over its own tokens would carry, so its mean is the full-run value. Both keep the
    guide's true_contrib, whose T_i/T·H_base share leaves the spread of base entropy across
    sequences in every subset sum, so their spread is far wider than a real batch's.
    ``reestimated`` (when the run has h_new and h_base) recomputes what a batch of n_s would
    report: ΔH_true_S = Σ_S w·h_new / Σ_S w·u − Σ_S h_base / Σ_S u and the linear sum
    renormalised to the subset's own tokens; err_rel = (lin_S − ΔH_true_S) / ΔH_true(full).
    ``small_runs`` hold (ΔH_linear − ΔH_true) / mean ΔH_true of the larger runs at this η;
    ``full_run_values`` each larger run's (Σ linear − Σ true) / ΔH_true.
    """

    small_size: int
    large_size: int
    eta: float
    draws: int
    raw: Distribution
    rescaled: Distribution
    reestimated: Distribution | None
    small_runs: tuple[tuple[str, float | None], ...]
    full_run_values: tuple[tuple[str, float | None], ...]
    expected_raw_mean: float | None
    large_true_mean: float | None

    @property
    def mean(self) -> float | None:
        return self.raw.mean

    @property
    def std(self) -> float | None:
        return self.raw.std

    @property
    def quantiles(self) -> tuple[tuple[float, float | None], ...]:
        return self.raw.quantiles

    @property
    def hist_edges(self) -> tuple[float, ...]:
        return self.raw.hist_edges

    @property
    def hist_counts(self) -> tuple[int, ...]:
        return self.raw.hist_counts

    def to_json(self) -> Json:
        raw = self.raw.to_json()
        return {
            "small_size": self.small_size,
            "large_size": self.large_size,
            "eta": self.eta,
            "draws": self.draws,
            **{k: raw[k] for k in ("mean", "std", "quantiles", "hist_edges", "hist_counts")},
            "n_values": self.raw.n,
            "expected_raw_mean": self.expected_raw_mean,
            "large_true_mean": self.large_true_mean,
            "rescaled": self.rescaled.to_json(),
            "reestimated": self.reestimated.to_json() if self.reestimated else None,
            "small_runs": [{"id": i, "err_rel": v} for i, v in self.small_runs],
            "full_run_values": [{"id": i, "err_rel": v} for i, v in self.full_run_values],
        }


def derived_rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator seeded from ``seed`` and names; sha256, not ``hash()``, so runs reproduce."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return np.random.default_rng(
        np.random.SeedSequence([seed, int.from_bytes(digest[:8], "little")])
    )


def subset_sums(columns: FloatArray, size: int, draws: int, rng: np.random.Generator) -> FloatArray:
    """Column sums over ``draws`` random subsets of ``size`` rows, drawn without replacement.

    A subset is the ``size`` smallest of iid uniform keys per draw: the rows whose key is at
    most the ``size``-th smallest (``np.partition``, cheaper than ``argpartition`` plus a
    scatter); the 0/1 masks then turn all sums into one matrix product. The masks depend only
    on the generator's state, n, size and draws, so they are kept (``_MASKS``) and reused when a
    generator in the same state draws again, e.g. for the same run at every η; ``rng`` is not
    advanced then.
    """
    n = columns.shape[0]
    mask = _subset_mask(n, size, draws, rng)
    sums = np.empty((draws, columns.shape[1]), dtype=np.float64)
    block = max(1, min(draws, MAX_DRAW_CELLS // max(n, 1)))
    for start in range(0, draws, block):
        sums[start : start + block] = mask[start : start + block].astype(np.float64) @ columns
    return sums


class _MaskCache:
    """A small LRU of boolean subset masks, bounded in bytes, shared by the drawing threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.entries: OrderedDict[str, npt.NDArray[np.bool_]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> npt.NDArray[np.bool_] | None:
        with self.lock:
            mask = self.entries.get(key)
            if mask is not None:
                self.entries.move_to_end(key)
            return mask

    def put(self, key: str, mask: npt.NDArray[np.bool_]) -> None:
        with self.lock:
            self.entries[key] = mask
            while sum(m.nbytes for m in self.entries.values()) > self.max_bytes:
                self.entries.popitem(last=False)


_MASKS = _MaskCache(max_bytes=96 * 1024 * 1024)


def _subset_mask(n: int, size: int, draws: int, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
    generator = getattr(rng, "bit_generator", None)
    key = None if generator is None else repr((n, size, draws, sorted(generator.state.items())))
    cached = None if key is None else _MASKS.get(key)
    if cached is not None:
        return cached
    mask = np.empty((draws, n), dtype=np.bool_)
    block = max(1, min(draws, MAX_DRAW_CELLS // max(n, 1)))
    for start in range(0, draws, block):
        rows = min(block, draws - start)
        block_keys = rng.random((rows, n))
        cut = np.partition(block_keys, size - 1, axis=1)[:, size - 1 : size]
        chosen = block_keys <= cut
        # every row picks ≥ size keys, more only if keys tie at the cut (p ≈ n/2⁵³): exact path
        if np.count_nonzero(chosen) != rows * size:
            chosen = np.zeros((rows, n), dtype=np.bool_)
            picked = np.argpartition(block_keys, size - 1, axis=1)[:, :size]
            np.put_along_axis(chosen, picked, True, axis=1)
        mask[start : start + rows] = chosen
    if key is not None:
        _MASKS.put(key, mask)
    return mask


@dataclass(frozen=True, eq=False)
class _RunDraws:
    run_id: str
    raw: FloatArray
    rescaled: FloatArray
    reestimated: FloatArray | None
    full_value: float | None
    expected_raw: float | None


DrawMemo = Callable[[str, Callable[[], FloatArray]], FloatArray]
"""``memo(key, compute)``: ``compute()``, or what it returned for this key in an earlier build."""


@functools.cache
def _code_version() -> str:
    return hashlib.sha256(Path(__file__).read_bytes() + np.__version__.encode()).hexdigest()


def draw_key(
    matrix: FloatArray, size: int, draws: int, rng: np.random.Generator, full: float
) -> str:
    """What a run's draws depend on: its arrays, ΔH_true, subset size, draws, generator state,
    and the code computing them (this module and numpy)."""
    digest = hashlib.sha256(_code_version().encode())
    digest.update(repr((matrix.shape, size, draws, float(full))).encode())
    digest.update(repr(sorted(rng.bit_generator.state.items())).encode())
    digest.update(np.ascontiguousarray(matrix, dtype=np.float64).tobytes())
    return digest.hexdigest()


def _draw_run(
    run_id: str,
    data: SequenceEta,
    size: int,
    draws: int,
    rng: np.random.Generator,
    memo: DrawMemo | None = None,
) -> _RunDraws | None:
    optional = (
        data.weighted_h_new,
        data.weighted_units,
        data.h_base,
        data.units,
        data.linear_units,
    )
    columns = [data.linear - data.true_contrib, data.linear]
    if data.can_reestimate:
        columns += [c for c in optional if c is not None]
    matrix = np.column_stack(columns)
    # a NaN in any column would poison every subset holding that sequence: drop the sequence
    matrix = matrix[np.all(np.isfinite(matrix), axis=1)]
    n = matrix.shape[0]
    full = data.delta_h_true
    if n < size or size < 1 or not full:
        return None
    reestimate = data.can_reestimate

    def compute() -> FloatArray:
        """err_rel per draw: raw, and re-estimated (NaN when the run cannot re-estimate)."""
        sums = subset_sums(matrix, size, draws, rng)
        values = np.full((2, draws), np.nan)
        values[0] = sums[:, 0] / full
        if reestimate:
            totals = matrix.sum(axis=0)
            whn, wu, hb, u, lu = (sums[:, k] for k in range(2, 7))
            with np.errstate(divide="ignore", invalid="ignore"):
                linear_s = sums[:, 1] * (totals[6] / lu)
                values[1] = (linear_s - (whn / wu - hb / u)) / full
        return values

    # the costly part of a batch comparison: unchanged runs may reuse an earlier build's draws
    values = compute() if memo is None else memo(draw_key(matrix, size, draws, rng, full), compute)
    raw = values[0]
    reestimated = values[1] if reestimate else None
    full_value = num(matrix[:, 0].sum() / full)
    return _RunDraws(
        run_id=run_id,
        raw=raw,
        rescaled=raw * (n / size),
        reestimated=reestimated,
        full_value=full_value,
        expected_raw=num(full_value * size / n) if full_value is not None else None,
    )


def batch_comparison(
    small: Sequence[RunPoints],
    large: Sequence[SampleSource],
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    bins: int = DEFAULT_BINS,
    workers: int = 1,
    memo: DrawMemo | None = None,
) -> tuple[BatchComparison, ...]:
    """Compare runs of one smaller batch size with subsets of larger runs, per common η.

    Seeds derive from ``seed``, both sizes, η and the larger run's id, so adding a run or an η
    leaves the other comparisons' draws unchanged. Raises ``ValueError`` when the smaller runs
    do not share one batch size. ``workers`` threads draw for several larger runs at once (numpy
    releases the GIL there); ``memo`` may keep the subset sums between builds. Neither changes
    the result.
    """
    with _thread_map(workers) as map_fn:
        return _batch_rows(small, large, draws, seed, bins, map_fn, memo)


MapFn = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]


@contextmanager
def _thread_map(workers: int) -> Iterator[MapFn]:
    if workers <= 1:
        yield map
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="draws") as pool:
        yield pool.map


def _batch_rows(
    small: Sequence[RunPoints],
    large: Sequence[SampleSource],
    draws: int,
    seed: int,
    bins: int,
    map_fn: MapFn,
    memo: DrawMemo | None,
) -> tuple[BatchComparison, ...]:
    sizes = {p.batch_size for p in small}
    size = next(iter(sizes)) if len(sizes) == 1 else None
    if size is None:
        raise ValueError(f"smaller runs need one common batch size, got {sorted(map(str, sizes))}")
    rows = []
    for eta in eta_grid(e for sample in large for e in sample.eta_values):
        at_eta = [s for s in large if any(same_eta(e, eta) for e in s.eta_values)]
        small_at = [(p.run_id, p_eta) for p in small if (p_eta := summary_at(p.etas, eta))]
        if not at_eta or not small_at:
            continue
        row = _compare_at(eta, size, at_eta, small_at, draws, seed, bins, map_fn, memo)
        if row is not None:
            rows.append(row)
    return tuple(rows)


def _compare_at(
    eta: float,
    size: int,
    large: list[SampleSource],
    small: list[tuple[str, EtaSummary]],
    draws: int,
    seed: int,
    bins: int,
    map_fn: MapFn = map,
    memo: DrawMemo | None = None,
) -> BatchComparison | None:
    large_size = max(s.batch_size for s in large)

    def draw(sample: SampleSource) -> tuple[_RunDraws, float] | None:
        data = sample.at(eta)  # read here, dropped after: one run's arrays per thread at a time
        if data is None:
            return None
        # no η in the seed: each run's subsets are the same at every η (common random numbers,
        # so the η columns compare like with like, and the masks are drawn once per run)
        rng = derived_rng(seed, str(size), str(sample.batch_size), sample.run_id)
        drawn = _draw_run(sample.run_id, data, size, draws, rng, memo)
        return None if drawn is None else (drawn, data.delta_h_true)

    runs = [r for r in map_fn(draw, large) if r is not None]
    if not runs:
        return None
    raw = distribution(np.concatenate([r.raw for r, _ in runs]), bins)
    rescaled = distribution(np.concatenate([r.rescaled for r, _ in runs]), bins)
    if raw is None or rescaled is None:
        return None
    pieces = [r.reestimated for r, _ in runs if r.reestimated is not None]
    # only when every larger run can re-estimate, so the pool covers the same runs as `raw`
    reestimated = distribution(np.concatenate(pieces), bins) if len(pieces) == len(runs) else None
    large_true = num(np.mean([true for _, true in runs]))
    return BatchComparison(
        small_size=size,
        large_size=large_size,
        eta=eta,
        draws=draws,
        raw=raw,
        rescaled=rescaled,
        reestimated=reestimated,
        small_runs=tuple((run_id, _small_err(s, large_true)) for run_id, s in small),
        full_run_values=tuple((r.run_id, r.full_value) for r, _ in runs),
        expected_raw_mean=spread(r.expected_raw for r, _ in runs).mean,
        large_true_mean=large_true,
    )


def _small_err(summary: EtaSummary, large_true: float | None) -> float | None:
    lin, true = num(summary.delta_h_linear), num(summary.delta_h_true)
    if lin is None or true is None or not large_true:
        return None
    return num((lin - true) / large_true)


def compare_batch_sizes(
    points: Sequence[RunPoints],
    samples: Sequence[SampleSource],
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    bins: int = DEFAULT_BINS,
    workers: int = 1,
    memo: DrawMemo | None = None,
) -> tuple[BatchComparison, ...]:
    """Every (smaller, larger) pair of batch sizes among the runs, each via ``batch_comparison``."""
    sizes = sorted({p.batch_size for p in points if p.batch_size} | {s.batch_size for s in samples})
    rows: list[BatchComparison] = []
    with _thread_map(workers) as map_fn:
        for i, small_size in enumerate(sizes):
            small = [p for p in points if p.batch_size == small_size]
            for large_size in sizes[i + 1 :]:
                large = [s for s in samples if s.batch_size == large_size]
                if small and large:
                    rows += _batch_rows(small, large, draws, seed, bins, map_fn, memo)
    return tuple(rows)


# --- 7. control-variate groups ---------------------------------------------------------------

JOINT_FEATURE = "joint"


@dataclass(frozen=True)
class CvFeatureStats:
    """One feature's correlation with g·v and variance ratio after CV, across runs.

    The row with ``joint=True`` (feature ``"joint"``) holds ``var_after_cv_joint``; its
    ``corr`` is empty.
    """

    feature: str
    corr: Spread
    var_ratio: Spread
    n_runs: int
    joint: bool = False

    def to_json(self) -> Json:
        return {
            "feature": self.feature,
            "joint": self.joint,
            "corr": self.corr.to_json(),
            "var_ratio": self.var_ratio.to_json(),
            "n_runs": self.n_runs,
        }


def cv_group_stats(runs: Sequence[tuple[str, CvData]]) -> tuple[CvFeatureStats, ...]:
    """Per feature (sorted by name), then the joint variance ratio as the last row."""
    names = sorted({f.name for _, cv in runs for f in cv.features})
    rows = []
    for name in names:
        found = [f for _, cv in runs for f in cv.features if f.name == name]
        corr, ratio = spread(f.corr for f in found), spread(f.var_after_cv for f in found)
        rows.append(CvFeatureStats(name, corr, ratio, n_runs=len(found)))
    joint = spread(cv.var_after_cv_joint for _, cv in runs)
    rows.append(CvFeatureStats(JOINT_FEATURE, spread(()), joint, n_runs=joint.n, joint=True))
    return tuple(rows)


# --- 9. the group's JSON ---------------------------------------------------------------------


def group_summary_json(
    group_id: str,
    runs: Sequence[RunPoints],
    fits: Sequence[Fit],
    agreements: Sequence[Sequence[Agreement]],
    per_eta: Sequence[EtaStats],
    batch_comparisons: Sequence[BatchComparison],
    *,
    rel_errors: RelativeErrors | None = None,
    tails: Sequence[Any] = (),
    cv: Sequence[CvFeatureStats] = (),
) -> Json:
    """The group's numbers as plain JSON; ``fits`` and ``agreements`` align with ``runs``.

    ``tails`` takes objects with ``to_json`` (``tails.TailGroupRow``).
    """
    if not len(runs) == len(fits) == len(agreements):
        raise ValueError("runs, fits and agreements must have one entry per run")
    return {
        "group": group_id,
        "runs": [
            {
                "id": run.run_id,
                "batch_size": run.batch_size,
                "fit": fit.to_json(),
                "agreement": [a.to_json() for a in rows],
            }
            for run, fit, rows in zip(runs, fits, agreements, strict=True)
        ],
        "per_eta": [row.to_json() for row in per_eta],
        "batch_comparison": [row.to_json() for row in batch_comparisons],
        "relative_errors": rel_errors.to_json() if rel_errors is not None else None,
        "tails": [row.to_json() for row in tails],
        "cv": [row.to_json() for row in cv],
    }
