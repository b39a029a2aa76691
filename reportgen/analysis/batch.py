"""Batch-size comparison: subsets of larger runs against runs of a smaller batch size."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from reportgen.analysis.batch_dist import (
    DEFAULT_BINS,
    QUANTILES,
    Distribution,
    Row,
    Three,
    between_run_se,
    distribution,
    distributions,
    monte_carlo_se,
)
from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.counts import SubsetChoices
from reportgen.analysis.points import RunPoints, SampleSource, SequenceEta
from reportgen.analysis.resample import weighted_sums
from reportgen.analysis.stats import (
    Json,
    eta_grid,
    num,
    same_eta,
    spread,
    summary_at,
)
from reportgen.analysis.uncertainty import EtaUncertainty
from reportgen.load.models import FloatArray

DEFAULT_DRAWS = 1000
# the distributions moved to ``batch_dist``; kept importable from here
__all__ = ["QUANTILES", "Distribution", "between_run_se", "distribution", "monte_carlo_se"]


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
    ``small_runs`` hold (ΔH_linear − ΔH_true) / mean ΔH_true of the larger runs at this η,
    ``small_run_ses`` their SEs se_diff_linear / |mean ΔH_true of the larger runs| (the run's own
    paired SE of linear − true; ``None`` without one); ``left_out`` the group's runs not compared,
    each with why (``batch_pairs``), and ``population`` what the compared runs share;
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
    small_run_ses: tuple[float | None, ...] = ()
    left_out: tuple[tuple[str, str], ...] = ()
    population: str = ""

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
            **{k: raw[k] for k in ("mean", "se_mean", "se_between_runs", "std", "quantiles")},
            **{k: raw[k] for k in ("hist_edges", "hist_counts")},
            "n_values": self.raw.n,
            "expected_raw_mean": self.expected_raw_mean,
            "large_true_mean": self.large_true_mean,
            "rescaled": self.rescaled.to_json(),
            "reestimated": self.reestimated.to_json() if self.reestimated else None,
            "small_runs": [
                {"id": i, "err_rel": v, "se": se}
                for (i, v), se in zip(self.small_runs, self._ses(), strict=True)
            ],
            "population": self.population,
            "left_out": [{"id": i, "reason": why} for i, why in self.left_out],
            "full_run_values": [{"id": i, "err_rel": v} for i, v in self.full_run_values],
        }

    def _ses(self) -> tuple[float | None, ...]:
        return self.small_run_ses or (None,) * len(self.small_runs)

    @property
    def small_rows(self) -> tuple[tuple[str, float | None, float | None], ...]:
        """(run id, err_rel, its SE) of each smaller run."""
        return tuple((i, v, se) for (i, v), se in zip(self.small_runs, self._ses(), strict=True))


@dataclass(frozen=True, eq=False)
class _RunDraws:
    run_id: str
    raw: FloatArray
    reestimated: FloatArray | None
    full_value: float | None
    delta_h_true: float
    n: int  # the run's finite sequences at this η
    size: int  # sequences per subset
    key: str = ""  # its draws memo's key ("": drawn without a memo)

    @property
    def rescaled(self) -> FloatArray:
        return self.raw * (self.n / self.size)

    @property
    def expected_raw(self) -> float | None:
        return num(self.full_value * self.size / self.n) if self.full_value is not None else None


DrawMemo = Callable[[str, Callable[[], FloatArray]], FloatArray]
"""``memo(key, compute)``: ``compute()``, or what it returned for this key in an earlier build."""

# Bump when the draws' arithmetic or random stream changes: memo keys carry it, so draws kept
# from an earlier build of other code are never reused (analysis reads no files to find out).
DRAWS_FORMAT = 4
# run × η × draw values of the pooled distributions held at once (raw, rescaled, re-estimated):
# a group of thousands of larger runs is drawn a few η at a time, not all η at once
MAX_POOLED_CELLS = 1 << 23


def draw_key(sample_digest: str, etas: Sequence[float], size: int, draws: int, seed: int) -> str:
    """What a run's draws depend on: its sample (``SampleSource.content_digest``), the η asked for,
    subset size, draws, seed, the draws format and numpy's version."""
    digest = hashlib.sha256(f"draws {DRAWS_FORMAT} numpy {np.__version__}".encode())
    digest.update(sample_digest.encode())
    digest.update(repr((size, draws, seed, [float(e) for e in etas])).encode())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class _EtaColumns:
    eta: float
    matrix: FloatArray  # finite rows only: (n, 2) or (n, 7) with re-estimation columns
    reestimate: bool
    full: float
    finite: npt.NDArray[np.bool_]


def _eta_columns(eta: float, data: SequenceEta) -> _EtaColumns:
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
    finite = np.all(np.isfinite(matrix), axis=1)
    return _EtaColumns(eta, matrix[finite], data.can_reestimate, data.delta_h_true, finite)


def _draw_run(
    sample: SampleSource,
    etas: Sequence[float],
    size: int,
    draws: int,
    seed: int,
    memo: DrawMemo | None = None,
) -> dict[float, _RunDraws]:
    """One larger run's draws at every η given that it has, keyed by that η.

    η values whose sequences are kept alike (the same finite rows) share one subset matrix and
    one matrix product per block. The subsets follow from (seed, n, size, draws) alone
    (``SubsetChoices``): the same at every η (common random numbers, as the η columns of the
    comparison compare like with like) and shared by every run of n such sequences, whatever its
    name or the other runs of the tree. With a ``memo``, an unchanged run's draws come back
    without its arrays being read at all.
    """

    def compute() -> dict[float, _RunDraws]:
        # read here, dropped after: one run's arrays per thread at a time
        loaded = sample.load()
        data = [
            (eta, d) for eta in etas if loaded is not None and (d := loaded.at(eta)) is not None
        ]
        usable = [c for eta, d in data if (c := _eta_columns(eta, d)).full]
        usable = [c for c in usable if 1 <= size <= c.matrix.shape[0]]
        alike: dict[tuple[int, bytes], list[_EtaColumns]] = {}
        for c in usable:
            alike.setdefault((c.finite.size, np.packbits(c.finite).tobytes()), []).append(c)
        drawn: dict[float, _RunDraws] = {}
        for group in alike.values():
            choices = SubsetChoices(seed, group[0].matrix.shape[0], size, draws)
            drawn.update(_draw_alike(sample.run_id, group, size, draws, choices.blocks()))
        return drawn

    if memo is None:
        return compute()
    key = draw_key(sample.content_digest(), etas, size, draws, seed)
    packed = memo(key, lambda: _pack_draws(compute(), draws))
    return _unpack_draws(packed, sample.run_id, size, draws, key)


# a run's memo: one row per η drawn: η, ΔH_true, n, full value (NaN: none), re-estimated (0/1),
# then the raw and the re-estimated draws
_HEAD = 5


def _pack_draws(drawn: dict[float, _RunDraws], draws: int) -> FloatArray:
    packed = np.full((len(drawn), _HEAD + 2 * draws), np.nan)
    for row, (eta, d) in zip(packed, drawn.items(), strict=True):  # η values, not sequences
        full = np.nan if d.full_value is None else d.full_value
        row[:_HEAD] = (eta, d.delta_h_true, d.n, full, d.reestimated is not None)
        row[_HEAD : _HEAD + draws] = d.raw
        if d.reestimated is not None:
            row[_HEAD + draws :] = d.reestimated
    return packed


def _unpack_draws(
    packed: FloatArray, run_id: str, size: int, draws: int, key: str
) -> dict[float, _RunDraws]:
    return {
        float(row[0]): _RunDraws(
            run_id=run_id,
            raw=row[_HEAD : _HEAD + draws],
            reestimated=row[_HEAD + draws :] if row[4] else None,
            full_value=num(row[3]),
            delta_h_true=float(row[1]),
            n=int(row[2]),
            size=size,
            key=key,
        )
        for row in packed
    }


def _draw_alike(
    run_id: str, group: list[_EtaColumns], size: int, draws: int, subsets: Iterable[FloatArray]
) -> dict[float, _RunDraws]:
    """The draws of η values whose finite rows are the same: one subset matrix for all
    (``subsets``: its blocks of 0/1 rows)."""
    stacked = np.hstack([c.matrix for c in group])
    offsets = np.cumsum([0] + [c.matrix.shape[1] for c in group])
    n = stacked.shape[0]
    sums = weighted_sums(stacked, subsets, draws)
    drawn = {}
    for j, c in enumerate(group):  # η values of one run, not sequences
        at = sums[:, offsets[j] : offsets[j + 1]]
        reestimated = None
        if c.reestimate:
            totals = c.matrix.sum(axis=0)
            whn, wu, hb, u, lu = (at[:, k] for k in range(2, 7))
            with np.errstate(divide="ignore", invalid="ignore"):
                linear_s = at[:, 1] * (totals[6] / lu)
                reestimated = (linear_s - (whn / wu - hb / u)) / c.full
        drawn[c.eta] = _RunDraws(
            run_id=run_id,
            raw=at[:, 0] / c.full,
            reestimated=reestimated,
            full_value=num(c.matrix[:, 0].sum() / c.full),
            delta_h_true=c.full,
            n=n,
            size=size,
        )
    return drawn


def batch_comparison(
    small: Sequence[RunPoints],
    large: Sequence[SampleSource],
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    bins: int = DEFAULT_BINS,
    workers: int = 1,
    memo: DrawMemo | None = None,
    errors: SmallErrors | None = None,
) -> tuple[BatchComparison, ...]:
    """Compare runs of one smaller batch size with subsets of larger runs, per common η.

    A larger run's subsets derive from ``seed``, its number of sequences and the smaller size
    only, so adding a run or an η leaves the other comparisons' draws unchanged. Raises
    ``ValueError`` when the smaller runs do not share one batch size. ``workers`` threads draw
    for several larger runs at once (numpy releases the GIL there); ``memo`` may keep the subset
    sums between builds. Neither changes the result. ``errors``: the smaller runs' per-η
    uncertainties by run id (for their err_rel's SE).
    """
    with _thread_map(workers) as map_fn:
        return _batch_rows(small, large, (draws, seed, bins), map_fn, memo, errors or {})


SmallErrors = Mapping[str, Sequence[EtaUncertainty | None]]
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
    how: tuple[int, int, int],  # draws, seed, bins
    map_fn: MapFn,
    memo: DrawMemo | None,
    errors: SmallErrors,
) -> tuple[BatchComparison, ...]:
    draws, seed, bins = how
    sizes = {p.batch_size for p in small}
    size = next(iter(sizes)) if len(sizes) == 1 else None
    if size is None:
        raise ValueError(f"smaller runs need one common batch size, got {sorted(map(str, sizes))}")
    etas = []
    for eta in eta_grid(e for sample in large for e in sample.eta_values):
        small_at = [
            (p.run_id, p_eta, _se_diff(errors.get(p.run_id, ()), eta))
            for p in small
            if (p_eta := summary_at(p.etas, eta))
        ]
        if small_at and any(_has_eta(s, eta) for s in large):
            etas.append((eta, small_at))
    # all η of a run in one draw, unless holding every run's draws at once would not be small
    chunk = max(1, MAX_POOLED_CELLS // max(1, 3 * draws * len(large)))
    rows = []
    for start in range(0, len(etas), chunk):
        part = etas[start : start + chunk]

        def draw(sample: SampleSource, part: list[tuple[float, Any]] = part) -> dict[float, Any]:
            etas = [eta for eta, _ in part if _has_eta(sample, eta)]
            return _draw_run(sample, etas, size, draws, seed, memo)

        per_run = list(map_fn(draw, large))
        drawn_at = [(eta, [d[eta] for d in per_run if eta in d]) for eta, _ in part]
        pooled = distributions([_row(eta, runs) for eta, runs in drawn_at if runs], bins, memo)
        made = iter(pooled)
        for (eta, small_at), (_, runs) in zip(part, drawn_at, strict=True):
            if not runs:
                continue
            large_size = max(s.batch_size for s in large if _has_eta(s, eta))
            row = _compare_at(eta, (size, large_size), runs, small_at, draws, next(made))
            if row is not None:
                rows.append(row)
    return tuple(rows)


def _row(eta: float, runs: list[_RunDraws]) -> Row:
    """The larger runs' values at one η, named by their draws memos' keys."""
    keys = tuple(f"{r.key} {eta!r}" if r.key else "" for r in runs)
    return Row(partial(_pieces, runs), keys, sum(r.raw.size for r in runs))


def _pieces(
    runs: list[_RunDraws],
) -> tuple[list[FloatArray], list[FloatArray], list[FloatArray] | None]:
    """The larger runs' raw, rescaled and re-estimated values (the last only when every run can
    re-estimate, so that pool covers the same runs as the raw one)."""
    reestimated = [r.reestimated for r in runs if r.reestimated is not None]
    return (
        [r.raw for r in runs],
        [r.rescaled for r in runs],
        reestimated if len(reestimated) == len(runs) else None,
    )


def _se_diff(errors: Sequence[EtaUncertainty | None], eta: float) -> float | None:
    return next((e.se_diff_linear for e in errors if e is not None and same_eta(e.eta, eta)), None)


def _has_eta(sample: SampleSource, eta: float) -> bool:
    return any(same_eta(e, eta) for e in sample.eta_values)


def _compare_at(
    eta: float,
    sizes: tuple[int, int],  # smaller, larger
    runs: list[_RunDraws],
    small: list[tuple[str, EtaSummary, float | None]],
    draws: int,
    pooled: Three,
) -> BatchComparison | None:
    """One η's row: the larger runs' draws pooled (``pooled``: their distributions), against
    the smaller runs."""
    size, large_size = sizes
    raw, rescaled, reestimated = pooled
    if raw is None or rescaled is None:
        return None
    large_true = num(np.mean([r.delta_h_true for r in runs]))
    return BatchComparison(
        small_size=size,
        large_size=large_size,
        eta=eta,
        draws=draws,
        raw=raw,
        rescaled=rescaled,
        reestimated=reestimated,
        small_runs=tuple((run_id, _small_err(s, large_true)) for run_id, s, _ in small),
        small_run_ses=tuple(_small_se(se, large_true) for _, _, se in small),
        full_run_values=tuple((r.run_id, r.full_value) for r in runs),
        expected_raw_mean=spread(r.expected_raw for r in runs).mean,
        large_true_mean=large_true,
    )


def _small_err(summary: EtaSummary, large_true: float | None) -> float | None:
    lin, true = num(summary.delta_h_linear), num(summary.delta_h_true)
    if lin is None or true is None or not large_true:
        return None
    return num((lin - true) / large_true)


def _small_se(se_diff: float | None, large_true: float | None) -> float | None:
    """se_diff_linear / |mean ΔH_true of the larger runs|: the run's own paired SE of
    linear − true over the fixed divisor (the larger runs' mean, far better known)."""
    if se_diff is None or not large_true:
        return None
    return num(se_diff / abs(large_true))


def compare_batch_sizes(
    points: Sequence[RunPoints],
    samples: Sequence[SampleSource],
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    bins: int = DEFAULT_BINS,
    workers: int = 1,
    memo: DrawMemo | None = None,
    errors: SmallErrors | None = None,
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
                    how = (draws, seed, bins)
                    rows += _batch_rows(small, large, how, map_fn, memo, errors or {})
    return tuple(rows)
