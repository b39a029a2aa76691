"""Pooling: fixed and random effects, Cochran's Q, its χ² p-value and I², against a brute-force
loop, closed forms of the χ² tail, and simulations of homogeneous runs."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.pooling import (
    RunEta,
    chi2_sf,
    pool,
    pool_approx,
    pool_by_eta,
    pool_ratio,
    run_eta_rows,
)
from reportgen.analysis.uncertainty import EtaUncertainty


def brute_force(y: list[float], s: list[float], null: float = 0.0) -> dict[str, float]:
    """The textbook formulas, one term at a time (independent of the vectorised code)."""
    k = len(y)
    w = [1.0 / (si * si) for si in s]
    sw = 0.0
    swy = 0.0
    for wi, yi in zip(w, y, strict=True):
        sw += wi
        swy += wi * yi
    fixed = swy / sw
    q = 0.0
    for wi, yi in zip(w, y, strict=True):
        q += wi * (yi - fixed) ** 2
    sw2 = 0.0
    for wi in w:
        sw2 += wi * wi
    c = sw - sw2 / sw
    tau2 = max(0.0, (q - (k - 1)) / c) if k > 1 else 0.0
    wr = [1.0 / (si * si + tau2) for si in s]
    random = sum(wi * yi for wi, yi in zip(wr, y, strict=True)) / sum(wr)
    return {
        "fixed": fixed,
        "se": 1.0 / math.sqrt(sw),
        "z": (fixed - null) / (1.0 / math.sqrt(sw)),
        "q": q,
        "i2": max(0.0, (q - (k - 1)) / q) if q > 0 and k > 1 else 0.0,
        "tau2": tau2,
        "random": random,
        "random_se": 1.0 / math.sqrt(sum(wr)),
    }


estimates = st.lists(
    st.tuples(
        st.floats(-10, 10, allow_nan=False),
        st.floats(0.01, 5, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(rows=estimates, null=st.sampled_from([0.0, 1.0]))
def test_pool_matches_brute_force(rows: list[tuple[float, float]], null: float) -> None:
    y, s = [r[0] for r in rows], [r[1] for r in rows]
    pooled = pool(y, s, null)
    expected = brute_force(y, s, null)
    assert pooled is not None and pooled.n == len(rows) and pooled.q_df == len(rows) - 1
    rel = 1e-9
    assert pooled.fixed.value == pytest.approx(expected["fixed"], rel=rel, abs=1e-9)
    assert pooled.fixed.se == pytest.approx(expected["se"], rel=rel)
    assert pooled.fixed.z == pytest.approx(expected["z"], rel=rel, abs=1e-6)
    assert pooled.q == pytest.approx(expected["q"], rel=1e-7, abs=1e-9)
    assert pooled.i2 == pytest.approx(expected["i2"], rel=1e-7, abs=1e-9)
    assert pooled.tau2 == pytest.approx(expected["tau2"], rel=1e-7, abs=1e-12)
    assert pooled.random.value == pytest.approx(expected["random"], rel=1e-7, abs=1e-9)
    assert pooled.random.se == pytest.approx(expected["random_se"], rel=1e-7)


@settings(max_examples=100, deadline=None)
@given(rows=estimates, seed=st.integers(0, 2**32 - 1))
def test_pool_is_invariant_to_run_order_and_bounded(
    rows: list[tuple[float, float]], seed: int
) -> None:
    order = np.random.default_rng(seed).permutation(len(rows))
    first = pool([r[0] for r in rows], [r[1] for r in rows])
    other = pool([rows[i][0] for i in order], [rows[i][1] for i in order])
    assert first is not None and other is not None
    assert other.fixed.value == pytest.approx(first.fixed.value, rel=1e-9, abs=1e-12)
    assert other.q == pytest.approx(first.q, rel=1e-7, abs=1e-9)
    assert first.q >= 0.0 and 0.0 <= first.i2 < 1.0 and first.tau2 >= 0.0
    if first.q_p is not None:
        assert 0.0 <= first.q_p <= 1.0


def test_pool_leaves_out_estimates_without_a_usable_se() -> None:
    pooled = pool([1.0, 2.0, math.nan, 5.0], [1.0, 1.0, 1.0, 0.0])
    assert pooled is not None and pooled.n == 2 and pooled.fixed.value == pytest.approx(1.5)
    assert pool([math.nan], [1.0]) is None and pool([], []) is None
    single = pool([0.3], [0.1])
    assert (
        single is not None and single.q_p is None and single.i2 == 0.0 and not single.heterogeneous
    )


# --- the χ² tail -----------------------------------------------------------------------------


@pytest.mark.parametrize("x", [1e-6, 0.1, 0.5, 1.0, 2.0, 3.84, 7.0, 20.0, 60.0, 300.0])
def test_chi2_tail_matches_closed_forms(x: float) -> None:
    assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-10)
    assert chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-10)
    for df in (4, 6, 12, 30, 100):  # even df: a Poisson tail, exp(−x/2)·Σ (x/2)^k/k!, k < df/2
        half = x / 2
        poisson = sum(
            math.exp(-half + k * math.log(half) - math.lgamma(k + 1)) for k in range(df // 2)
        )
        assert chi2_sf(x, df) == pytest.approx(poisson, rel=1e-9, abs=1e-300)


def test_chi2_tail_of_the_issue_examples() -> None:
    # Q = 95 on 11 df (a mixed population) is far in the tail; 3.9 on 3 df is not
    assert chi2_sf(95.0, 11) < 1e-14
    assert chi2_sf(3.9, 3) == pytest.approx(0.2725, abs=1e-4)
    assert chi2_sf(0.0, 3) == 1.0 and chi2_sf(math.inf, 3) == 0.0


# --- homogeneous runs: Q ~ χ²(k − 1) ---------------------------------------------------------


@pytest.mark.parametrize("k", [2, 4, 12])
def test_q_of_homogeneous_runs_follows_chi2(k: int) -> None:
    """The mean of Q is df within 4 of its standard errors (Var Q = 2·df), and p < 0.05 in
    5 % of simulations within 4 binomial standard errors."""
    sims = 4_000
    rng = np.random.default_rng(k)
    ses = rng.uniform(0.05, 0.5, size=k)
    qs, small_p = np.empty(sims), 0
    for i in range(sims):
        pooled = pool(list(0.7 + ses * rng.standard_normal(k)), list(ses))
        assert pooled is not None and pooled.q_p is not None
        qs[i] = pooled.q
        small_p += pooled.q_p < 0.05
    df = k - 1
    assert abs(qs.mean() - df) < 4 * math.sqrt(2 * df / sims)
    assert abs(small_p / sims - 0.05) < 4 * math.sqrt(0.05 * 0.95 / sims)


def test_heterogeneous_runs_are_flagged_and_random_effects_widen() -> None:
    y, s = [0.2, 0.25, 0.3, 1.2, 1.25, 1.3], [0.05] * 6  # two epochs pooled together
    pooled = pool(y, s, 1.0)
    assert pooled is not None and pooled.heterogeneous and pooled.i2 > 0.9
    assert pooled.tau2 > 0 and pooled.random.se > 3 * pooled.fixed.se


# --- a population's runs per η ---------------------------------------------------------------


def _rows(run: str, eta: float, diff: float, se: float, ratio: float, se_ratio: float) -> RunEta:
    """A run whose ΔH_true is −1 ± 0.05, uncorrelated with its difference."""
    return RunEta(run, eta, diff, se, ratio, se_ratio, -1.0, 0.05, 0.0)


def test_pool_by_eta_pools_each_eta_and_names_the_furthest_runs() -> None:
    runs = [
        {"linear": [_rows("a", 1e-6, -0.3, 0.1, 1.3, 0.1), _rows("a", 2e-6, -0.6, 0.2, 1.3, 0.1)]},
        {"linear": [_rows("b", 1e-6, -0.35, 0.1, 1.35, 0.1)]},
        {"linear": [_rows("c", 1.0000000001e-6, 0.4, 0.1, 0.6, 0.1)]},  # η through text
    ]
    first, second = pool_by_eta(runs)
    assert first.eta == 1e-6 and first.n_runs == 3 and second.n_runs == 1
    assert first.linear is not None and first.linquad is None
    expected = brute_force([-0.3, -0.35, 0.4], [0.1] * 3)
    assert first.linear.diff.fixed.value == pytest.approx(expected["fixed"])
    assert first.linear.diff.q == pytest.approx(expected["q"])
    assert first.linear.furthest[0] == "c"
    row = first.to_json()
    assert row["q_df"] == 2 and row["random_effects"] is not None  # Q ≫ df: heterogeneous
    assert row["ci95_ratio_linear"][0] < row["ratio_linear"] < row["ci95_ratio_linear"][1]
    assert pool_approx([_rows("x", 1.0, 0.1, 0.0, 1.0, 0.0)]) is None


def test_run_eta_rows_take_the_run_numbers() -> None:
    summary = EtaSummary(1e-6, -1.0, -1.25, None, None, None, None, None, None, None)
    u = EtaUncertainty(
        1e-6,
        se_true=0.2,
        se_linear=0.25,
        se_diff_linear=0.1,
        ratio_linear=1.3,
        se_ratio_linear=0.12,
    )
    rows = run_eta_rows("r", (summary,), (u,))
    # cov(L − T, T) = (0.25² − 0.2² − 0.1²)/2
    (row,) = rows["linear"]
    assert rows["linquad"] == [] and row.cov_diff_true == pytest.approx(
        0.5 * (0.0625 - 0.04 - 0.01)
    )
    assert replace(row, cov_diff_true=None) == RunEta("r", 1e-6, -0.25, 0.1, 1.3, 0.12, -1.0, 0.2)


# --- the pooled ratio ------------------------------------------------------------------------


def _paired_runs(rng: np.random.Generator, ratio: float, scales: list[float]) -> list[RunEta]:
    """Runs measuring ΔH_true = −1 and ΔH_linear = ratio·ΔH_true, each with its own paired noise
    (SEs 0.2·scale and 0.3·scale, correlation 0.6), as one run's delta-method SEs describe it."""
    rows = []
    for i, scale in enumerate(scales):
        s_t, s_a = 0.2 * scale, 0.3 * scale
        c = 0.6 * s_t * s_a
        true, approx = rng.multivariate_normal([-1.0, -ratio], [[s_t**2, c], [c, s_a**2]])
        s_d = math.sqrt(s_a**2 + s_t**2 - 2 * c)
        rows.append(
            RunEta(f"r{i}", 1e-6, approx - true, s_d, approx / true, None, true, s_t, c - s_t**2)
        )
    return rows


def test_the_pooled_ratios_95_interval_covers_the_truth_95_times_in_100() -> None:
    """Monte Carlo coverage of 1 + D̂/T̂ ± 1.96·SE over 2,000 populations of four runs: the
    delta method is first order, so the tolerance is the binomial 4σ plus 1 point for its
    error at a pooled ΔH_true known to ~6 %."""
    rng = np.random.default_rng(7)
    sims, hits = 2000, 0
    for _ in range(sims):
        ratio = pool_ratio(_paired_runs(rng, 1.3, [0.5, 1.0, 1.5, 2.0]))
        assert ratio is not None
        hits += abs(ratio.fixed.value - 1.3) <= 1.959963984540054 * ratio.fixed.se
    assert abs(hits / sims - 0.95) <= 4 * math.sqrt(0.95 * 0.05 / sims) + 0.01


def test_the_pooled_ratio_follows_the_pooled_difference_not_the_runs_ratios() -> None:
    """Runs whose own ratio SEs grow with the ratio (as the delta method's do): weighting the
    ratios by 1/se² would pull their mean below 1 although every run has |linear| > |true|."""
    rows = [
        RunEta("a", 1e-6, -0.5, 0.6, 1.5, 0.6, -1.0, 0.3, 0.0),
        RunEta("b", 1e-6, -2.0, 0.7, 3.0, 2.9, -1.0, 0.3, 0.0),
        RunEta("c", 1e-6, -0.2, 0.6, 1.2, 0.5, -1.0, 0.3, 0.0),
    ]
    pooled = pool_approx(rows)
    assert pooled is not None and pooled.ratio is not None
    d = pooled.diff.fixed.value
    assert d < 0 and pooled.ratio.fixed.value == pytest.approx(1 + d / -1.0)
    assert pooled.ratio.fixed.value > 1.0
    weighted = pool([r.ratio or 0.0 for r in rows], [r.se_ratio or 0.0 for r in rows], 1.0)
    assert weighted is not None and weighted.fixed.value < pooled.ratio.fixed.value


def test_a_pooled_ratio_needs_a_true_value_and_both_ses() -> None:
    no_true = RunEta("a", 1e-6, -0.5, 0.6, 1.5, 0.6)
    assert pool_ratio([no_true]) is None
    zero = RunEta("a", 1e-6, -0.5, 0.6, None, None, 0.0, 0.3, 0.0)
    assert pool_ratio([zero]) is None


def test_a_pooled_true_whose_square_underflows_gives_no_ratio() -> None:
    tiny = RunEta("a", 1e-6, -1.9e-307, 0.0078125, None, None, 1.9e-307, 0.0078125, -3e-5)
    assert pool_ratio([tiny]) is None


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(finite, finite, finite, finite, finite), min_size=1, max_size=5))
def test_the_pooled_ratio_is_a_number_with_a_positive_se_or_none(
    rows: list[tuple[float, float, float, float, float]],
) -> None:
    runs = [
        RunEta(f"r{i}", 1e-6, d, s_d, None, None, t, s_t, c)
        for i, (d, s_d, t, s_t, c) in enumerate(rows)
    ]
    ratio = pool_ratio(runs)
    if ratio is not None:
        for estimate in (ratio.fixed, ratio.random):
            assert math.isfinite(estimate.value) and 0 < estimate.se < math.inf
