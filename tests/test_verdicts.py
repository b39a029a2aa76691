"""Verdicts with power: the ratio approx/true and its SE (against a leave-one-out jackknife and
the bootstrap), the agrees / disagrees / inconclusive rule, MDE and the breakdown η."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis.bootstrap import bootstrap_draws, paired_columns
from reportgen.analysis.contributions import run_contributions, run_eta_summaries
from reportgen.analysis.counts import BootstrapCounts
from reportgen.analysis.delta import PairedColumns, delta_ses
from reportgen.analysis.uncertainty import run_uncertainty
from reportgen.analysis.verdicts import (
    MDE_FACTOR,
    PAIRED_RATIO,
    UNPAIRED_RATIO,
    Z_90,
    Z_95,
    Verdict,
    breakdown_eta,
    judge,
    mde,
    paired_ratio_se,
    run_verdict,
    unpaired_ratio_se,
    verdict,
)
from reportgen.load.models import Run
from tests.test_uncertainty import jackknife_tolerance, permuted, snis_runs


@pytest.fixture(scope="module")
def sample_runs(sample_tree: Path) -> list[Run]:
    return snis_runs(sample_tree)


# --- the rule --------------------------------------------------------------------------------


def test_constants_are_the_normal_quantiles() -> None:
    def phi(x: float) -> float:
        return 0.5 * math.erfc(-x / math.sqrt(2))

    assert phi(Z_95) == pytest.approx(0.975, abs=1e-12)
    assert phi(Z_90) == pytest.approx(0.95, abs=1e-12)
    assert abs(MDE_FACTOR - (Z_95 + 0.8416212335729143)) < 0.005


@pytest.mark.parametrize(
    ("z", "ratio", "se", "expected"),
    [
        (2.5, 1.0, 0.01, "disagrees"),  # beyond noise wins, even inside the margin
        (-1.97, 1.3, 0.15, "disagrees"),
        (1.95, 1.0, 0.1, "agrees"),  # 1 ± 0.164 inside [0.8, 1.2]
        (0.3, 1.0, 0.13, "inconclusive"),  # 1 ± 0.214 crosses 1.2: "within 2 SE" is not enough
        (0.0, 1.1, 0.05, "agrees"),
        (0.0, 1.19, 0.01, "inconclusive"),  # 1.206 > 1.2
        (0.5, None, None, "inconclusive"),  # ΔH_true = 0: no ratio
        (None, 1.0, 0.01, None),  # no standard error at all: no verdict
    ],
)
def test_verdict_rule(
    z: float | None, ratio: float | None, se: float | None, expected: str
) -> None:
    assert verdict(z, ratio, se, 0.2) == expected


@settings(max_examples=300, deadline=None)
@given(
    z=st.floats(-10, 10),
    ratio=st.floats(-3, 3),
    se=st.floats(0.0, 2.0),
    margin=st.floats(0.01, 0.5),
)
def test_verdict_is_its_definition(z: float, ratio: float, se: float, margin: float) -> None:
    found = verdict(z, ratio, se, margin)
    inside = 1 - margin <= ratio - Z_90 * se and ratio + Z_90 * se <= 1 + margin
    if abs(z) > Z_95:
        assert found == "disagrees"
    else:
        assert found == ("agrees" if inside else "inconclusive")
    assert verdict(z, ratio, se * 2 + 0.5, margin) != "agrees" or found == "agrees"


def test_run_verdict_and_breakdown() -> None:
    assert run_verdict(["agrees", "agrees"]) == "agrees"
    assert run_verdict(["agrees", None]) == "inconclusive"  # an unjudged η is not agreement
    assert run_verdict(["agrees", "inconclusive", "disagrees"]) == "disagrees"
    assert run_verdict([None, None]) is None and run_verdict([]) is None
    rows: list[tuple[float, Verdict | None]] = [
        (1.6e-6, "inconclusive"),
        (3.2e-6, "disagrees"),
        (6.4e-6, "disagrees"),
    ]
    assert breakdown_eta(rows) == 3.2e-6
    assert breakdown_eta([*rows, (1.28e-5, "inconclusive")]) is None  # the largest holds
    assert breakdown_eta([(1e-6, "disagrees"), (2e-6, "disagrees")]) == 1e-6
    assert breakdown_eta([(1e-6, "disagrees"), (2e-6, None), (4e-6, "disagrees")]) == 4e-6


def test_mde_and_unpaired_ratio_se() -> None:
    assert mde(0.5, -2.0) == pytest.approx(0.7)
    assert mde(0.5, 0.0) is None and mde(None, 1.0) is None
    # first order: se(L/T) = √(se_L² + r²·se_T²)/|T|
    assert unpaired_ratio_se(1.5, -2.0, 0.3, 0.4) == pytest.approx(math.sqrt(0.09 + 0.36) / 2)
    unpaired = judge(-3.0, -2.0, -1.0, 0.5, None, 0.3, 0.4, 0.2)
    assert unpaired.method == UNPAIRED_RATIO and unpaired.ratio == 1.5
    assert judge(-3.0, -2.0, -1.0, 0.5, 0.2, 0.3, 0.4, 0.2).method == PAIRED_RATIO


# --- the ratio's standard error --------------------------------------------------------------


def jackknife_ratio(c: PairedColumns) -> tuple[float, float]:
    """Leave-one-out SE of Σlinear/ΔH_true (a Python loop: independent code), and the largest
    relative change of ΔH_true when one sequence is left out."""
    assert c.linear is not None and c.h_base is not None
    n = c.n
    ratios, trues = np.empty(n), np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        w, t = c.weight[keep], c.units[keep]
        trues[i] = (w @ c.h_new[keep]) / (w @ t) - c.h_base[keep].sum() / t.sum()
        ratios[i] = c.linear[keep].sum() * n / (n - 1) / trues[i]
    w, t = c.weight, c.units
    true = (w @ c.h_new) / (w @ t) - c.h_base.sum() / t.sum()
    se = float(np.sqrt((n - 1) / n * np.sum((ratios - ratios.mean()) ** 2)))
    return se, float(np.max(np.abs(trues - true)) / abs(true))


def test_ratio_se_matches_the_jackknife(sample_runs: list[Run]) -> None:
    """Leaving sequence i out changes ΔH_true by b_i, so the exact change of L/T carries a
    factor 1/(1 − b_i/T) that the delta method drops: the SEs agree within that bound (on top
    of ``jackknife_tolerance`` for ΔH_true itself, a ratio estimator). Columns where one
    sequence moves ΔH_true by more than 6 % are left out: there the bound is too loose to
    catch a wrong formula."""
    checked = 0
    for run in sample_runs:
        for c in paired_columns(run):
            if c.linear is None or not c.baseline_reestimated:
                continue
            true = float((c.weight @ c.h_new) / (c.weight @ c.units)) - c.base_entropy
            value = float(c.linear.sum()) / true
            brute, shift = jackknife_ratio(c)
            if shift > 0.06:
                continue
            se = paired_ratio_se(c, c.linear, value, true)
            assert se is not None
            tolerance = jackknife_tolerance(c) + 2 * shift / (1 - shift)
            assert se == pytest.approx(brute, rel=tolerance), (run.ref.id, c.eta)
            checked += 1
    assert checked >= 8


def synthetic_columns(n: int, seed: int) -> PairedColumns:
    """A 2,048-style run whose ratio is resolved (cv ≈ 5 %): linear overshoots by 30 %."""
    rng = np.random.default_rng(seed)
    units = rng.integers(20, 150, n).astype(np.float64)
    h_base = units * rng.normal(0.5, 0.1, n)
    step = units * (-2e-3 + 3e-3 * rng.standard_normal(n))
    h_new = h_base + step
    weight = np.exp(0.01 * rng.standard_normal(n))
    linear = 1.3 * step / units.sum() + 2e-6 * rng.standard_normal(n)
    base = float(h_base.sum() / units.sum())
    return PairedColumns(1e-6, weight, h_new, h_base, units, base, linear, None)


def test_ratio_se_matches_the_bootstrap() -> None:
    """The bootstrap's percentile half-width over 1.96 estimates the same SE. Its sampling
    error is about 0.963/√B relative (two quantiles of a normal, B resamples); the delta
    method drops terms of relative order cv² and 1/n: tolerance 4·0.963/√B + 3·cv² + 2/n."""
    draws_count = 2_000
    for seed in range(3):
        c = synthetic_columns(4_000, seed)
        assert c.linear is not None
        true = float((c.weight @ c.h_new) / (c.weight @ c.units)) - c.base_entropy
        value = float(c.linear.sum()) / true
        se = paired_ratio_se(c, c.linear, value, true)
        assert se is not None
        cv = se / abs(value)
        assert cv < 0.08
        draws = bootstrap_draws([c], BootstrapCounts(100 + seed, c.n, draws_count))
        assert draws is not None and draws.linear is not None
        ratios = draws.linear[:, 0] / draws.true[:, 0]
        low, high = np.percentile(ratios, [2.5, 97.5])
        tolerance = 4 * 0.963 / math.sqrt(draws_count) + 3 * cv**2 + 2 / c.n
        assert (high - low) / (2 * Z_95) == pytest.approx(se, rel=tolerance)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), which=st.integers(0, 100))
def test_permuting_sequences_changes_no_verdict(
    sample_runs: list[Run], seed: int, which: int
) -> None:
    columns = [c for run in sample_runs for c in paired_columns(run) if c.linear is not None]
    c = columns[which % len(columns)]
    order = np.random.default_rng(seed).permutation(c.n)
    p = permuted(c, order)
    assert c.linear is not None and p.linear is not None
    true = float((c.weight @ c.h_new) / (c.weight @ c.units)) - c.base_entropy
    value = float(c.linear.sum()) / true
    judged = []
    for cols, column in ((c, c.linear), (p, p.linear)):
        ses = delta_ses(cols)
        assert ses.se_diff_linear is not None
        z = (float(column.sum()) - true) / ses.se_diff_linear
        se_ratio = paired_ratio_se(cols, column, value, true)
        judged.append(judge(float(column.sum()), true, z, ses.se_diff_linear, se_ratio,
                            ses.se_linear, ses.se_true, 0.2))  # fmt: skip
    assert judged[0].verdict == judged[1].verdict
    assert judged[1].se_ratio == pytest.approx(judged[0].se_ratio, rel=1e-9)


# --- in a run's uncertainty ------------------------------------------------------------------


def test_run_rows_carry_consistent_verdicts(sample_runs: list[Run]) -> None:
    seen = set()
    for run in sample_runs:
        summaries = run_eta_summaries(run, run_contributions(run))
        result = run_uncertainty(run, summaries, bootstrap=200, seed=0, margin=0.2)
        for s, u in zip(summaries, result.etas, strict=True):
            assert u.verdict_linear == verdict(u.z_linear, u.ratio_linear, u.se_ratio_linear, 0.2)
            assert u.ratio_linear == pytest.approx((s.delta_h_linear or 0) / (s.delta_h_true or 1))
            assert u.mde_linear == pytest.approx(MDE_FACTOR * (u.se_diff_linear or 0)
                                                 / abs(s.delta_h_true or 1))  # fmt: skip
            assert u.method("se_ratio_linear") == PAIRED_RATIO
            lo, hi = u.ci95_ratio_linear or (math.nan, math.nan)
            assert lo < hi
            seen.add(u.verdict_linear)
        assert result.verdict_linear == run_verdict([u.verdict_linear for u in result.etas])
        assert result.equivalence_margin == 0.2
    assert "inconclusive" in seen


def test_a_wider_margin_turns_inconclusive_into_agreement(sample_runs: list[Run]) -> None:
    run = sample_runs[0]
    summaries = run_eta_summaries(run, run_contributions(run))
    narrow = run_uncertainty(run, summaries, bootstrap=0, margin=0.2)
    wide = run_uncertainty(run, summaries, bootstrap=0, margin=50.0)
    assert [u.se_ratio_linear for u in narrow.etas] == [u.se_ratio_linear for u in wide.etas]
    assert all(
        w.verdict_linear == ("disagrees" if n.verdict_linear == "disagrees" else "agrees")
        for n, w in zip(narrow.etas, wide.etas, strict=True)
    )


def test_run_without_per_sequence_records_uses_the_unpaired_ratio(sample_runs: list[Run]) -> None:
    run = sample_runs[0]
    assert run.snis is not None
    approx = dataclasses.replace(run.snis.approx, per_sequence=None)
    bare = dataclasses.replace(run, snis=dataclasses.replace(run.snis, approx=approx))
    summaries = run_eta_summaries(bare, run_contributions(bare))
    result = run_uncertainty(bare, summaries, bootstrap=0)
    assert all(u.method("se_ratio_linear") == UNPAIRED_RATIO for u in result.etas)
    assert all(u.ci95_ratio_linear is None for u in result.etas)
