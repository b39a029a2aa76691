"""Tail sensitivity: totals after truncating or clipping the largest |linear| contributions."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reportgen.analysis.contributions import EtaContributions, EtaSummary
from reportgen.analysis.group import tail_resolution
from reportgen.analysis.points import RunPoints
from reportgen.analysis.tails import (
    TAIL_QUANTILES,
    TailSensitivity,
    TailTable,
    group_tail_summary,
    tail_sensitivity,
)
from reportgen.analysis.uncertainty import EtaUncertainty
from tests.formats import assert_valid_field


def contributions(
    linear: np.ndarray | None,
    true: np.ndarray,
    quad: np.ndarray | None = None,
    eta: float = 1e-6,
    centred: np.ndarray | None = None,
) -> EtaContributions:
    n = true.shape[0]
    return EtaContributions(eta, true, linear, quad, np.ones(n), np.ones(n), centred)


def thousand() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1000 distinct |linear| values in shuffled order, alternating signs."""
    rng = np.random.default_rng(0)
    magnitude = rng.permutation(np.arange(1, 1001, dtype=np.float64)) * 1e-6
    linear = magnitude * np.where(np.arange(1000) % 2, -1.0, 1.0)
    true = rng.normal(-1e-5, 1e-4, 1000)
    quad = rng.normal(0, 1e-7, 1000)
    return linear, true, quad


def test_truncating_at_090_drops_exactly_the_100_largest() -> None:
    linear, true, quad = thousand()
    result = tail_sensitivity(contributions(linear, true, quad))
    rows = {r.quantile: r for r in result.truncated}
    assert [r.quantile for r in result.truncated] == list(TAIL_QUANTILES)
    kept = np.argsort(np.abs(linear))[:900]
    row = rows[0.9]
    assert row.kept == 900
    assert row.true_total == pytest.approx(true[kept].sum(), rel=1e-12)
    assert row.linear_total == pytest.approx(linear[kept].sum(), rel=1e-12)
    assert row.linquad_total == pytest.approx((linear + quad)[kept].sum(), rel=1e-12)
    assert row.ratio == pytest.approx(linear[kept].sum() / true[kept].sum())
    assert row.threshold is not None and 900e-6 <= row.threshold < 901e-6
    assert [rows[q].kept for q in TAIL_QUANTILES] == [1000, 999, 990, 950, 900]
    full = rows[1.0]
    assert full.true_total == pytest.approx(true.sum())
    assert full.linear_total == pytest.approx(linear.sum())


def test_clipping_winsorises_the_approximations_and_keeps_the_truth() -> None:
    linear, true, quad = thousand()
    result = tail_sensitivity(contributions(linear, true, quad))
    row = {r.quantile: r for r in result.clipped}[0.9]
    threshold = np.quantile(np.abs(linear), 0.9)
    linquad = linear + quad
    lq_threshold = np.quantile(np.abs(linquad), 0.9)
    assert row.threshold == pytest.approx(threshold)
    assert row.linear_total == pytest.approx(np.clip(linear, -threshold, threshold).sum())
    assert row.linquad_threshold == pytest.approx(lq_threshold)
    assert row.linquad_total == pytest.approx(np.clip(linquad, -lq_threshold, lq_threshold).sum())
    assert row.true_total == pytest.approx(true.sum())
    assert row.kept == 900


def test_hand_made_small_case() -> None:
    linear = np.array([1.0, -2.0, 3.0, -10.0])
    true = np.array([2.0, -1.0, 2.0, -8.0])
    result = tail_sensitivity(contributions(linear, true), quantiles=(1.0, 0.5))
    full, half = result.truncated
    # |linear| = 1, 2, 3, 10: the median is 2.5, so only the first two sequences stay
    assert (half.kept, half.threshold) == (2, 2.5)
    assert (half.true_total, half.linear_total, half.ratio) == (1.0, -1.0, -1.0)
    assert (full.true_total, full.linear_total) == (-5.0, -8.0)
    clipped = result.clipped[1]
    assert clipped.linear_total == 1.0 - 2.0 + 2.5 - 2.5
    assert clipped.linquad_total is None and clipped.linquad_threshold is None


def test_missing_linear_or_nan_values() -> None:
    no_linear = tail_sensitivity(contributions(None, np.ones(3)))
    assert no_linear.reason == "no linear contributions" and no_linear.truncated == ()
    linear = np.array([1.0, np.nan, 3.0])
    result = tail_sensitivity(contributions(linear, np.array([1.0, 5.0, 1.0])))
    assert result.n == 2
    assert result.truncated[0].true_total == 2.0
    json.dumps(result.to_json(), allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 60), elements=st.floats(-1e3, 1e3)),
    st.integers(0, 2**32 - 1),
)
def test_kept_counts_shrink_with_the_quantile(linear: np.ndarray, seed: int) -> None:
    true = np.random.default_rng(seed).normal(0.0, 1.0, (linear.shape[0],))
    result = tail_sensitivity(contributions(linear, true))
    kept = [r.kept for r in result.truncated]
    assert kept[0] == linear.shape[0]
    assert kept == sorted(kept, reverse=True)
    assert result.truncated[0].true_total == pytest.approx(true.sum())
    # at q = 1 nothing is clipped; below, every clipped term is bounded by its threshold
    assert result.clipped[0].linear_total == pytest.approx(linear.sum())
    for row in result.clipped:
        assert row.linear_total is not None and row.threshold is not None
        assert abs(row.linear_total) <= linear.shape[0] * row.threshold * (1 + 1e-12)


def two_runs() -> list[tuple[str, TailSensitivity]]:
    linear, true, quad = thousand()
    return [
        ("a", tail_sensitivity(contributions(linear, true, quad))),
        ("b", tail_sensitivity(contributions(linear * 2, true, quad))),
        ("b", tail_sensitivity(contributions(linear, true, eta=2e-6))),
    ]


def test_group_tail_summary_ratio_spread_per_quantile() -> None:
    runs = two_runs()
    rows = group_tail_summary(runs)
    assert len(rows) == 2 * 2 * len(TAIL_QUANTILES)
    row = next(r for r in rows if r.mode == "truncated" and r.eta == 1e-6 and r.quantile == 0.9)
    ratios = [float({r.quantile: r for r in t.truncated}[0.9].ratio or 0.0) for _, t in runs[:2]]
    assert row.run_ids == ("a", "b")
    assert row.ratio.mean == pytest.approx(np.mean(ratios))
    assert (row.ratio.min, row.ratio.max) == (min(ratios), max(ratios))
    single = next(r for r in rows if r.eta == 2e-6 and r.quantile == 1.0)
    assert single.ratio.n == 1 and single.ratio.std is None
    data = json.loads(json.dumps([r.to_json() for r in rows], allow_nan=False))
    assert_valid_field("group-summary", "tails", data)  # the group summary.json's rows
    assert data[0]["run_ids"] == ["a", "b"] and data[0]["n_runs"] == 2


def test_group_tail_summary_ignores_run_order() -> None:
    runs = two_runs()
    forward = [r.to_json() for r in group_tail_summary(runs)]
    assert forward == [r.to_json() for r in group_tail_summary(runs[::-1])]


def five_runs() -> list[tuple[str, TailSensitivity]]:
    linear, true, quad = thousand()
    scales = {"a": 1.0, "b": 1.2, "c": 0.9, "d": 5.0, "e": 3.0}
    return [  # the synthetic true values are each sequence's own change: centred already
        (name, tail_sensitivity(contributions(linear * k, true, quad, centred=true)))
        for name, k in scales.items()
    ]


def _templates() -> list[TailSensitivity]:
    linear, true, quad = thousand()
    centred = [tail_sensitivity(contributions(linear * k, true, quad, centred=true))
               for k in (1.0, 1.3, -0.7)]  # fmt: skip
    return [*centred, tail_sensitivity(contributions(linear, true + 1e-4, quad))]


TEMPLATES = _templates()
# η of the tails: two a fraction of the tolerance apart, so a subset may collapse them otherwise
TAIL_ETAS = (1e-6, 1e-6 * (1 + 0.6e-9), 2e-6, 4e-6)


@given(
    st.lists(
        st.tuples(st.integers(0, len(TEMPLATES) - 1), st.sampled_from(TAIL_ETAS)),
        min_size=1,
        max_size=8,
    ),
    st.data(),
)
@settings(max_examples=150, deadline=None)
def test_a_subset_of_the_table_is_the_summary_of_those_runs(
    drawn: list[tuple[int, float]], data: st.DataObject
) -> None:
    runs = [(f"r{i % 6}", replace(TEMPLATES[k], eta=eta)) for i, (k, eta) in enumerate(drawn)]
    ids = sorted({r for r, _ in runs})
    subset = data.draw(st.sets(st.sampled_from(ids)))
    judged = st.sampled_from([True, False, None])
    resolution = data.draw(st.dictionaries(st.sampled_from(ids), judged))
    table = TailTable(runs)
    alone = group_tail_summary([(r, t) for r, t in runs if r in subset], resolution)
    assert [r.to_json() for r in table.rows(resolution, subset)] == [r.to_json() for r in alone]
    assert table.rows(resolution) == group_tail_summary(runs, resolution)


def test_truncation_sums_each_sequences_own_change_and_says_so() -> None:
    """Truncated Σ true sums the centred contributions where the run has them; without them
    (the guide's true_contrib, base-entropy shares included) the group leaves the truncated
    ratios below q = 1 out of its spreads, counted as not comparable."""
    linear, true, quad = thousand()
    shares = np.linspace(-1e-3, 1e-3, true.size)  # base-entropy shares: they sum to zero
    own = tail_sensitivity(contributions(linear, true + shares, quad, centred=true))
    kept = np.abs(linear) <= np.quantile(np.abs(linear), 0.9)
    row = {r.quantile: r for r in own.truncated}[0.9]
    assert own.centred and row.true_total == pytest.approx(true[kept].sum(), rel=1e-12)
    plain = tail_sensitivity(contributions(linear, true + shares, quad))
    assert not plain.centred
    rows = group_tail_summary([("own", own), ("plain", plain)], {"own": True, "plain": True})
    cut = next(r for r in rows if r.mode == "truncated" and r.quantile == 0.9)
    assert cut.resolved_run_ids == ("own",) and cut.n_not_comparable == 1
    whole = next(r for r in rows if r.mode == "truncated" and r.quantile == 1.0)
    clip = next(r for r in rows if r.mode == "clipped" and r.quantile == 0.9)
    assert whole.resolved_run_ids == clip.resolved_run_ids == ("own", "plain")


def test_group_tail_rows_spread_only_the_runs_whose_truth_is_resolved() -> None:
    runs = five_runs()
    resolution = {"a": True, "b": True, "c": True, "d": False}  # "e": no SE to judge by
    rows = group_tail_summary(runs, resolution)
    row = next(r for r in rows if r.mode == "truncated" and r.quantile == 0.9)
    ratios = {name: {r.quantile: r for r in t.truncated}[0.9].ratio or 0.0 for name, t in runs}
    kept = [ratios[name] for name in "abc"]
    assert row.resolved_run_ids == ("a", "b", "c")
    assert (row.resolved_ratio.n, row.n_unresolved, row.n_no_se) == (3, 1, 1)
    assert row.resolved_ratio.mean == pytest.approx(np.mean(kept), rel=1e-12)
    assert row.resolved_ratio.se_mean == pytest.approx(np.std(kept, ddof=1) / np.sqrt(3))
    assert (row.resolved_ratio.min, row.resolved_ratio.max) == (min(kept), max(kept))
    # 0.1's fields keep spreading every run's ratio
    assert row.ratio.n == 5 and row.ratio.mean == pytest.approx(np.mean(list(ratios.values())))
    data = json.loads(json.dumps([r.to_json() for r in rows], allow_nan=False))
    assert_valid_field("group-summary", "tails", data)
    published = data[rows.index(row)]
    assert published["resolved_ratio_se_mean"] == row.resolved_ratio.se_mean
    assert (published["n_resolved"], published["n_unresolved"], published["n_no_se"]) == (3, 1, 1)
    assert published["resolved_run_ids"] == ["a", "b", "c"]


def test_a_tail_spread_of_fewer_than_two_resolved_runs_has_no_se() -> None:
    rows = group_tail_summary(five_runs(), {"a": True})
    assert {(r.resolved_ratio.n, r.resolved_ratio.se_mean) for r in rows} == {(1, None)}
    assert {(r.n_unresolved, r.n_no_se) for r in rows} == {(0, 4)}
    nothing = group_tail_summary(five_runs())  # no resolution known: nothing is judged
    assert {(r.resolved_ratio.n, r.n_no_se) for r in nothing} == {(0, 5)}


def test_tail_resolution_reads_the_truth_and_its_se_at_the_tails_eta() -> None:
    def point(eta: float, true: float) -> EtaSummary:
        return EtaSummary(eta, true, -1e-3, -1e-3, None, None, None, None, None, None)

    etas = (point(1e-6, -5e-4), point(2e-6, -1e-3))
    points = {r: RunPoints(r, 4, etas, None) for r in ("sharp", "noisy", "bare")}
    errors: dict[str, tuple[EtaUncertainty | None, ...]] = {
        "sharp": (EtaUncertainty(1e-6, se_true=1.0), EtaUncertainty(2e-6, se_true=1e-4)),
        "noisy": (EtaUncertainty(1e-6, se_true=1e-6), EtaUncertainty(2e-6, se_true=6e-4)),
        "bare": (None, None),
    }
    tail = TailSensitivity(2e-6 * (1 + 1e-12), 4, (), ())  # η passes through text
    found = tail_resolution([(r, tail) for r in (*points, "unread")], points, errors)
    assert found == {"sharp": True, "noisy": False, "bare": None, "unread": None}
