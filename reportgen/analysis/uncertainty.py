"""Standard errors and bootstrap intervals of ΔH_true, its approximations and their differences.

Pure numpy, no I/O, no Python loops over sequences. Two independent routes:

* the delta method (infinitesimal jackknife) over sequences, with ΔH_true treated as the ratio
  estimator it is: ``(w·h_new)/(w·T) − Σh_base/ΣT`` (T_i = 1 under per-sequence normalisation);
* a seeded paired bootstrap: one matrix of resampling weights per run, the same at every η, times
  the per-sequence columns in memory-bounded chunks (``resampled_sums``, shared with any other
  weights × columns resampling, e.g. subsets drawn without replacement).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np

from reportgen.analysis.contributions import (
    EtaSummary,
    linear_contributions,
    per_entry,
    quadratic_contributions,
    unnormalized_weights,
)
from reportgen.analysis.delta import PairedColumns, delta_ses, influence_se, true_influence
from reportgen.analysis.resample import (
    CI_LEVEL,
    Interval,
    bootstrap_rng,
    bootstrap_weights,
    percentile_interval,
    resampled_sums,
    slopes,
)
from reportgen.load.models import FloatArray, Run, TrueEntry

DEFAULT_BOOTSTRAP = 2000

DELTA = "delta-method"
SHARDS = "num_shards·se_shard·η"
SHARDS_SWEEP = "num_shards·se_gdotv·η"
UNPAIRED = "unpaired √(se_linear² + se_true²)"


# --- results ---------------------------------------------------------------------------------


def _num(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _pair(value: Sequence[float] | None) -> Interval | None:
    return None if value is None else (float(value[0]), float(value[1]))


def _interval(value: Interval | None) -> list[float] | None:
    return None if value is None else [value[0], value[1]]


def _z(approx: float | None, true: float | None, se: float | None) -> float | None:
    if approx is None or true is None or se is None or not se > 0:
        return None
    return _num((approx - true) / se)


@dataclass(frozen=True)
class EtaUncertainty:
    """Standard errors, z and bootstrap intervals at one η; ``se_method`` names each SE's origin.

    ``notebook_se_linear`` (se_shard·η) and ``notebook_se_true`` (std(true_contrib)/√n) are the
    notebook's ``post_correction_analysis`` numbers, kept for comparison: both are too small.
    """

    eta: float
    se_true: float | None = None
    se_linear: float | None = None
    se_linquad: float | None = None
    se_diff_linear: float | None = None
    se_diff_linquad: float | None = None
    z_linear: float | None = None
    z_linquad: float | None = None
    ci95_true: Interval | None = None
    ci95_linear: Interval | None = None
    ci95_linquad: Interval | None = None
    ci95_diff_linear: Interval | None = None
    ci95_diff_linquad: Interval | None = None
    se_quad: float | None = None  # SE of the quadratic term (linquad − linear), delta method
    se_method: tuple[tuple[str, str], ...] = ()
    notebook_se_linear: float | None = None
    notebook_se_true: float | None = None

    def method(self, name: str) -> str | None:
        return dict(self.se_method).get(name)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EtaUncertainty:
        """Inverse of ``to_json`` plus ``"eta"`` (the build's cache of a run)."""

        def value(name: str) -> float | None:
            item = data.get(name)
            return None if item is None else float(item)

        methods = tuple(sorted((str(k), str(v)) for k, v in (data.get("se_method") or {}).items()))
        return cls(
            eta=float(data["eta"]),
            se_true=value("se_true"),
            se_linear=value("se_linear"),
            se_linquad=value("se_linquad"),
            se_diff_linear=value("se_diff_linear"),
            se_diff_linquad=value("se_diff_linquad"),
            z_linear=value("z_linear"),
            z_linquad=value("z_linquad"),
            ci95_true=_pair(data.get("ci95_true")),
            ci95_linear=_pair(data.get("ci95_linear")),
            ci95_linquad=_pair(data.get("ci95_linquad")),
            ci95_diff_linear=_pair(data.get("ci95_diff_linear")),
            ci95_diff_linquad=_pair(data.get("ci95_diff_linquad")),
            se_quad=value("se_quad"),
            se_method=methods,
            notebook_se_linear=value("notebook_se_linear"),
            notebook_se_true=value("notebook_se_true"),
        )

    def to_json(self) -> dict[str, Any]:
        """The per-η fields of a run's ``summary.json`` (``null`` where there is no value)."""
        return {
            "se_true": self.se_true,
            "se_linear": self.se_linear,
            "se_linquad": self.se_linquad,
            "se_diff_linear": self.se_diff_linear,
            "se_diff_linquad": self.se_diff_linquad,
            "z_linear": self.z_linear,
            "z_linquad": self.z_linquad,
            "ci95_true": _interval(self.ci95_true),
            "ci95_linear": _interval(self.ci95_linear),
            "ci95_linquad": _interval(self.ci95_linquad),
            "ci95_diff_linear": _interval(self.ci95_diff_linear),
            "ci95_diff_linquad": _interval(self.ci95_diff_linquad),
            "se_quad": self.se_quad,
            "se_method": dict(self.se_method),
            "notebook_se_linear": self.notebook_se_linear,
            "notebook_se_true": self.notebook_se_true,
        }


@dataclass(frozen=True)
class Doubling:
    """ΔH_true(2η)/ΔH_true(η) (2 in the linear regime, 4 where the quadratic term dominates).

    ``se`` is the delta-method SE over sequences, paired across the two η (influence
    ``(u_2η − r·u_η)/ΔH_true(η)``); ``ci95`` the percentile interval of the ratio over the run's
    bootstrap resamples (the same resamples at both η).
    """

    eta: float
    ratio: float | None
    se: float | None
    ci95: Interval | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "eta": self.eta,
            "eta2": 2.0 * self.eta,
            "ratio": self.ratio,
            "se": self.se,
            "ci95": _interval(self.ci95),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Doubling:
        def value(name: str) -> float | None:
            item = data.get(name)
            return None if item is None else float(item)

        return cls(float(data["eta"]), value("ratio"), value("se"), _pair(data.get("ci95")))


def _doubled(a: float, b: float) -> bool:
    return math.isclose(b, 2.0 * a, rel_tol=1e-9)


def doublings(
    summaries: Sequence[EtaSummary],
    columns: Mapping[float, PairedColumns],
    draws: BootstrapDraws | None,
) -> tuple[Doubling, ...]:
    """Every η of the run whose double 2η is also measured."""
    out = []
    for low in summaries:
        high = next((s for s in summaries if _doubled(low.eta, s.eta)), None)
        if high is None:
            continue
        t1, t2 = _num(low.delta_h_true), _num(high.delta_h_true)
        ratio = _num(t2 / t1) if t1 is not None and t2 is not None and t1 != 0 else None
        se = interval = None
        c1, c2 = columns.get(low.eta), columns.get(high.eta)
        paired = c1 is not None and c2 is not None and c1.n == c2.n
        if ratio is not None and t1 is not None and paired and c1 is not None and c2 is not None:
            se = influence_se((true_influence(c2) - ratio * true_influence(c1)) / t1)
        both = draws is not None and low.eta in draws.etas and high.eta in draws.etas
        if ratio is not None and both and draws is not None:
            i, j = draws.etas.index(low.eta), draws.etas.index(high.eta)
            with np.errstate(all="ignore"):
                resampled = draws.true[:, j] / draws.true[:, i]
            interval = percentile_interval(resampled[:, None])[0]
        out.append(Doubling(low.eta, ratio, se, interval))
    return tuple(out)


@dataclass(frozen=True)
class RunUncertainty:
    """Per-η uncertainty of a run, and bootstrap intervals of its ΔH_true(η) fit slopes."""

    etas: tuple[EtaUncertainty, ...] = ()
    bootstrap: int = 0
    seed: int = 0
    loglog_slope_ci95: Interval | None = None
    linear_slope_ci95: Interval | None = None
    slope_etas: tuple[float, ...] = ()
    baseline_reestimated: bool | None = None
    notes: tuple[str, ...] = field(default=())
    doublings: tuple[Doubling, ...] = ()

    def at(self, eta: float) -> EtaUncertainty | None:
        return next((u for u in self.etas if u.eta == eta), None)

    def to_record(self) -> dict[str, Any]:
        """Everything, per-η rows included, for the build's cache (``from_record`` inverts it)."""
        return self.to_json() | {"etas": [{"eta": u.eta} | u.to_json() for u in self.etas]}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> RunUncertainty:
        return cls(
            etas=tuple(EtaUncertainty.from_json(row) for row in data["etas"]),
            bootstrap=int(data["bootstrap"]),
            seed=int(data["seed"]),
            loglog_slope_ci95=_pair(data["loglog_slope_ci95"]),
            linear_slope_ci95=_pair(data["linear_slope_ci95"]),
            slope_etas=tuple(float(e) for e in data["slope_etas"]),
            baseline_reestimated=data["baseline_reestimated"],
            notes=tuple(str(n) for n in data["notes"]),
            doublings=tuple(Doubling.from_json(d) for d in data.get("doublings") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        """The run-level ``uncertainty`` block of ``summary.json``."""
        return {
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "ci_level": CI_LEVEL,
            "loglog_slope_ci95": _interval(self.loglog_slope_ci95),
            "linear_slope_ci95": _interval(self.linear_slope_ci95),
            "slope_etas": list(self.slope_etas),
            "baseline_reestimated": self.baseline_reestimated,
            "notes": list(self.notes),
            "doublings": [d.to_json() for d in self.doublings],
        }


# --- columns of a run ------------------------------------------------------------------------


def _finite(values: FloatArray | None, n: int) -> TypeGuard[FloatArray]:
    return values is not None and values.shape[0] == n and bool(np.isfinite(values).all())


def paired_columns(run: Run) -> tuple[PairedColumns, ...]:
    """Every SNIS η whose ground-truth arrays are present, finite and aligned."""
    return per_entry(run, _entry_columns)


def _entry_columns(
    entry: TrueEntry, gdotv: FloatArray | None, vhvv: FloatArray | None, per_token: bool
) -> PairedColumns | None:
    weights_n, h_new, tokens = entry.normalized_weights, entry.h_new, entry.token_counts
    if weights_n is None or entry.weights_sum is None or entry.base_entropy is None:
        return None
    n = weights_n.shape[0]
    if n < 2 or not (_finite(weights_n, n) and _finite(h_new, n)) or not math.isfinite(entry.eta):
        return None
    assert h_new is not None
    if per_token and not _finite(tokens, n):
        return None
    units = tokens if per_token and tokens is not None else np.ones(n, dtype=np.float64)
    h_base = entry.h_base if _finite(entry.h_base, n) else None
    linear = linear_contributions(gdotv, entry.eta) if _finite(gdotv, n) else None
    linquad = None
    if linear is not None and vhvv is not None and _finite(vhvv, n):
        linquad = linear + quadratic_contributions(vhvv, entry.eta)
    weights = unnormalized_weights(weights_n, entry.weights_sum)
    return PairedColumns(
        entry.eta, weights, h_new, h_base, units, entry.base_entropy, linear, linquad
    )


# --- bootstrap -------------------------------------------------------------------------------

# per η, the columns whose resampled sums give every statistic
_SUMS = ("w_h_new", "w_units", "h_base", "units", "linear", "linquad")


def _stack(columns: Sequence[PairedColumns]) -> FloatArray:
    """(n, 6·E) matrix of the sums' columns; an absent array is a column of zeros (unused)."""
    n = columns[0].n
    zeros = np.zeros(n, dtype=np.float64)
    parts = []
    for c in columns:
        parts += [
            c.weight * c.h_new,
            c.weight * c.units,
            c.h_base if c.h_base is not None else zeros,
            c.units,
            c.linear if c.linear is not None else zeros,
            c.linquad if c.linquad is not None else zeros,
        ]
    return np.column_stack(parts)


def _distinct_columns(matrix: FloatArray) -> tuple[FloatArray, list[int]]:
    """The bit-identical columns of ``matrix`` once each, and where each column went.

    Keyed by bytes: ``np.unique(axis=1)`` sorts whole columns, which cost more than the bootstrap's
    matrix product.
    """
    position: dict[bytes, int] = {}
    first: list[int] = []
    inverse: list[int] = []
    for j, column in enumerate(matrix.T):  # 6 columns per η, not sequences
        p = position.setdefault(column.tobytes(), len(position))
        if p == len(first):
            first.append(j)
        inverse.append(p)
    return matrix[:, first], inverse


def _true_draws(sums: FloatArray, columns: Sequence[PairedColumns]) -> FloatArray:
    """(draws, E) resampled ΔH_true, with the baseline re-estimated where the run does so."""
    k = len(_SUMS)
    out = np.empty((sums.shape[0], len(columns)), dtype=np.float64)
    with np.errstate(all="ignore"):
        for j, c in enumerate(columns):  # per η, not per sequence
            s = sums[:, j * k : (j + 1) * k]
            baseline = s[:, 2] / s[:, 3] if c.baseline_reestimated else c.base_entropy
            out[:, j] = s[:, 0] / s[:, 1] - baseline
    return out


@dataclass(frozen=True, eq=False)
class BootstrapDraws:
    """A run's resampled statistics: rows are resamples, columns the run's η (same rows at all)."""

    etas: tuple[float, ...]
    true: FloatArray
    linear: FloatArray | None
    linquad: FloatArray | None


def bootstrap_draws(
    columns: Sequence[PairedColumns], draws: int, rng: np.random.Generator
) -> BootstrapDraws | None:
    """Resample the sequences ``draws`` times, jointly for every array and every η."""
    if not columns or draws < 2 or len({c.n for c in columns}) != 1:
        return None
    # columns repeated across η (h_base, T, absent arrays) are resampled once
    distinct, inverse = _distinct_columns(_stack(columns))
    sums = resampled_sums(distinct, bootstrap_weights(columns[0].n), draws, rng)[:, inverse]
    k = len(_SUMS)
    has_linear = all(c.linear is not None for c in columns)
    has_linquad = all(c.linquad is not None for c in columns)
    return BootstrapDraws(
        etas=tuple(c.eta for c in columns),
        true=_true_draws(sums, columns),
        linear=sums[:, 4::k] if has_linear else None,
        linquad=sums[:, 5::k] if has_linquad else None,
    )


def slope_intervals(
    etas: FloatArray, true_draws: FloatArray, level: float = CI_LEVEL
) -> tuple[Interval | None, Interval | None]:
    """Bootstrap intervals of the log-log slope (log|ΔH_true| on log η) and of the linear slope
    (ΔH_true on η), as ``fits.fit_run`` fits them, from the same resamples at every η.

    A resample with a zero ΔH_true at some η has no log-log slope and is left out of that
    interval (the log-log interval is ``None`` if more than 1 % of resamples are left out).
    """
    if etas.shape[0] < 2 or np.unique(etas).shape[0] < 2:
        return None, None
    linear = percentile_interval(slopes(etas, true_draws)[:, None], level)[0]
    loglog = None
    if np.all(etas > 0):
        with np.errstate(all="ignore"):
            logs = np.log(np.abs(true_draws))
        ok = np.isfinite(logs).all(axis=1)
        if ok.mean() >= 0.99:
            loglog = percentile_interval(slopes(np.log(etas), logs[ok])[:, None], level)[0]
    return loglog, linear


# --- a run's uncertainty ---------------------------------------------------------------------


def _notebook_true_se(c: PairedColumns) -> float | None:
    """std(true_contrib, ddof=1)/√n, as the notebook computes it."""
    n = c.n
    with np.errstate(all="ignore"):
        denominator = np.float64(c.weight @ c.units)
        shares = c.units / c.units.sum()
        contrib = c.weight * c.h_new / denominator - shares * c.base_entropy
        value = float(contrib.std(ddof=1) / math.sqrt(n))
    return _num(value)


@dataclass(frozen=True)
class _Shards:
    """Aggregate-only SE of g·v per unit η: K·se and which block it came from."""

    se_total_per_lr: float
    se_mean_per_lr: float
    method: str


def _shards(run: Run) -> _Shards | None:
    if run.snis is not None:
        approx = run.snis.approx
        se, k, method = approx.se_shard, approx.num_shards, SHARDS
    elif run.sweep is not None and run.sweep.curvature is not None:
        curvature = run.sweep.curvature
        se, k, method = curvature.se_gdotv, curvature.num_shards, SHARDS_SWEEP
    else:
        return None
    if se is None or k is None or not math.isfinite(se) or k < 1:
        return None
    return _Shards(k * se, se, method)


def _eta_uncertainty(
    summary: EtaSummary,
    columns: PairedColumns | None,
    shards: _Shards | None,
    intervals: dict[str, Interval | None],
) -> EtaUncertainty:
    eta = summary.eta
    methods: dict[str, str] = {}
    se_true = se_linear = se_linquad = se_diff_linear = se_diff_linquad = se_quad = None
    if columns is not None:
        ses = delta_ses(columns)
        se_true, se_linear, se_linquad = ses.se_true, ses.se_linear, ses.se_linquad
        se_diff_linear, se_diff_linquad = ses.se_diff_linear, ses.se_diff_linquad
        se_quad = ses.se_quad
        for name in (
            "se_true",
            "se_linear",
            "se_linquad",
            "se_diff_linear",
            "se_diff_linquad",
            "se_quad",
        ):
            if getattr(ses, name) is not None:
                methods[name] = DELTA
    if se_linear is None and shards is not None:
        se_linear = _num(shards.se_total_per_lr * abs(eta))
        if se_linear is not None:
            methods["se_linear"] = shards.method
    if se_diff_linear is None and se_linear is not None and se_true is not None:
        se_diff_linear = _num(math.hypot(se_linear, se_true))
        methods["se_diff_linear"] = UNPAIRED
    return EtaUncertainty(
        eta=eta,
        se_true=se_true,
        se_linear=se_linear,
        se_linquad=se_linquad,
        se_diff_linear=se_diff_linear,
        se_diff_linquad=se_diff_linquad,
        z_linear=_z(summary.delta_h_linear, summary.delta_h_true, se_diff_linear),
        z_linquad=_z(summary.delta_h_linquad, summary.delta_h_true, se_diff_linquad),
        ci95_true=intervals.get("true"),
        ci95_linear=intervals.get("linear"),
        ci95_linquad=intervals.get("linquad"),
        ci95_diff_linear=intervals.get("diff_linear"),
        ci95_diff_linquad=intervals.get("diff_linquad"),
        se_quad=se_quad,
        se_method=tuple(sorted(methods.items())),
        notebook_se_linear=_num(shards.se_mean_per_lr * abs(eta)) if shards else None,
        notebook_se_true=_notebook_true_se(columns) if columns else None,
    )


def _eta_intervals(draws: BootstrapDraws | None) -> dict[float, dict[str, Interval | None]]:
    """η → {statistic: percentile interval} from the run's resamples."""
    if draws is None:
        return {}
    stats: dict[str, FloatArray] = {"true": draws.true}
    if draws.linear is not None:
        stats["linear"] = draws.linear
        stats["diff_linear"] = draws.linear - draws.true
    if draws.linquad is not None:
        stats["linquad"] = draws.linquad
        stats["diff_linquad"] = draws.linquad - draws.true
    names = list(stats)
    bounds = percentile_interval(np.hstack([stats[name] for name in names]))  # one partition
    count = len(draws.etas)
    return {
        eta: {name: bounds[i * count + j] for i, name in enumerate(names)}
        for j, eta in enumerate(draws.etas)
    }


def _fit_etas(summaries: Sequence[EtaSummary]) -> tuple[float, ...]:
    """The η ``fit_run`` uses for the linear fit: finite η with a finite ΔH_true."""
    return tuple(
        s.eta for s in summaries if math.isfinite(s.eta) and _num(s.delta_h_true) is not None
    )


def run_uncertainty(
    run: Run,
    summaries: Sequence[EtaSummary],
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> RunUncertainty:
    """Delta-method SEs at every η, and (``bootstrap`` ≥ 2) paired percentile intervals.

    The bootstrap generator is seeded from (``seed``, run id); one set of resamples serves every
    η, so the slope intervals of ΔH_true(η) come from the same draws.
    """
    columns = paired_columns(run)
    by_eta = {c.eta: c for c in columns}
    draws = bootstrap_draws(columns, bootstrap, bootstrap_rng(seed, run.ref.id))
    intervals = _eta_intervals(draws)
    shards = _shards(run)
    etas = tuple(
        _eta_uncertainty(s, by_eta.get(s.eta), shards, intervals.get(s.eta, {})) for s in summaries
    )
    notes: list[str] = []
    loglog = linear = None
    fit_etas = _fit_etas(summaries)
    if draws is not None and fit_etas and set(fit_etas) <= set(draws.etas):
        index = [draws.etas.index(e) for e in fit_etas]
        loglog, linear = slope_intervals(np.asarray(fit_etas), draws.true[:, index])
    elif draws is not None:
        notes.append("slope intervals need resamples at every fitted η; some η lack arrays")
    reestimated = {c.baseline_reestimated for c in columns}
    if False in reestimated:
        notes.append(
            "base_entropy is not Σh_base/ΣT at some η (or h_base is missing): there the "
            "baseline is treated as a constant (no variance), and the published ΔH_true is "
            "kept as it is"
        )
    return RunUncertainty(
        etas=etas,
        bootstrap=bootstrap if draws is not None else 0,
        seed=seed,
        loglog_slope_ci95=loglog,
        linear_slope_ci95=linear,
        slope_etas=fit_etas if draws is not None else (),
        baseline_reestimated=None if not columns else reestimated == {True},
        notes=tuple(notes),
        doublings=doublings(summaries, by_eta, draws),
    )


__all__ = [
    "DEFAULT_BOOTSTRAP",
    "BootstrapDraws",
    "Doubling",
    "EtaUncertainty",
    "RunUncertainty",
    "bootstrap_draws",
    "doublings",
    "paired_columns",
    "run_uncertainty",
    "slope_intervals",
]
