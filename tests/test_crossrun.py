"""Cross-run statistics: aggregates, fits, agreement, relative errors, batch-size comparison."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis import batch, batch_dist, fits, group_stats, stats
from reportgen.analysis import points as pts
from reportgen.analysis.contributions import (
    EtaSummary,
    run_contributions,
    run_eta_summaries,
    true_contributions,
)
from reportgen.analysis.group import analyze_group
from reportgen.analysis.group_record import GroupRecord
from reportgen.analysis.record import RunRecord
from reportgen.load.models import CvData, CvFeature, Run
from reportgen.pages import serialize
from tests.formats import assert_valid

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "results"


def summary(
    eta: float, true: float | None, lin: float | None = None, lq: float | None = None
) -> EtaSummary:
    return EtaSummary(eta, true, lin, lq, None, None, None, None, None, None)


def points(
    run_id: str,
    rows: Sequence[tuple[float, float | None, float | None]],
    batch: int | None = 256,
    se_shard: float | None = None,
    true_se: tuple[tuple[float, float], ...] = (),
) -> pts.RunPoints:
    etas = tuple(summary(eta, true, lin) for eta, true, lin in rows)
    return pts.RunPoints(run_id, batch, etas, se_shard, true_se)


def strict_json(data: object) -> Any:
    """Round-trip through JSON that refuses NaN, as the page will inline it."""
    return json.loads(json.dumps(data, allow_nan=False))


# --- per-η aggregates ------------------------------------------------------------------------


def test_per_eta_stats_uses_sample_std_and_matches_eta_with_tolerance() -> None:
    runs = [
        points("a", [(1e-6, -1.0, -2.0), (2e-6, -4.0, None)]),
        points("b", [(1e-6 * (1 + 1e-12), -2.0, -3.0), (2e-6, -5.0, None)]),
        points("c", [(1e-6, -6.0, None)]),
    ]
    first, second = group_stats.per_eta_stats(runs)
    assert first.eta == 1e-6
    assert first.n_runs == 3
    assert first.true_mean == pytest.approx(-3.0)
    assert first.true_std == pytest.approx(np.std([-1.0, -2.0, -6.0], ddof=1))
    assert first.linear_mean == pytest.approx(-2.5)
    assert first.linquad_mean is None
    assert (second.n_runs, second.linear_mean) == (2, None)
    assert second.true_std == pytest.approx(math.sqrt(0.5))


def test_per_eta_stats_single_run_has_no_std() -> None:
    (row,) = group_stats.per_eta_stats([points("a", [(1e-6, -1.0, float("nan"))])])
    assert (row.n_runs, row.true_std, row.linear_mean) == (1, None, None)
    assert strict_json(row.to_json()) == {
        "eta": 1e-6,
        "true_mean": -1.0,
        "true_std": None,
        "linear_mean": None,
        "linquad_mean": None,
        "n_runs": 1,
    }


finite = st.floats(-1e3, 1e3, allow_nan=False)
run_rows = st.lists(
    st.tuples(st.sampled_from([1e-6, 2e-6, 4e-6]), finite, st.none() | finite),
    min_size=1,
    max_size=3,
    unique_by=lambda r: r[0],
)


@settings(max_examples=40, deadline=None)
@given(st.lists(run_rows, min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_per_eta_stats_is_invariant_to_run_order(
    rows: list[list[tuple[float, float, float | None]]], rnd: random.Random
) -> None:
    runs = [points(f"r{i}", r) for i, r in enumerate(rows)]
    shuffled = list(runs)
    rnd.shuffle(shuffled)
    assert [s.to_json() for s in group_stats.per_eta_stats(runs)] == [
        s.to_json() for s in group_stats.per_eta_stats(shuffled)
    ]


# --- fits ------------------------------------------------------------------------------------


def test_fit_matches_polyfit_on_noisy_power_law() -> None:
    rng = np.random.default_rng(1)
    etas = 1e-6 * 2.0 ** np.arange(6)
    true = -300.0 * etas**1.3 * np.exp(rng.normal(0, 0.05, etas.size))
    fit = fits.fit_run(points("a", [(e, t, None) for e, t in zip(etas, true, strict=True)]))
    k, c = np.polyfit(np.log(etas), np.log(-true), 1)
    a, b = np.polyfit(etas, true, 1)
    assert fit.loglog_slope == pytest.approx(k, rel=1e-9)
    assert fit.loglog_intercept == pytest.approx(c, rel=1e-9)
    assert fit.linear_slope == pytest.approx(a, rel=1e-9)
    assert fit.linear_intercept == pytest.approx(b, rel=1e-6, abs=1e-15)
    # log-noise σ = 0.05 on each point: the least-squares slope has SE σ/√Σ(x − x̄)² (≈ 0.017);
    # with this fixed seed a 4-SE bound is honest (two-sided p ≈ 6e-5 for an unlucky seed)
    log_eta = np.log(etas)
    slope_se = 0.05 / math.sqrt(float(((log_eta - log_eta.mean()) ** 2).sum()))
    assert abs(fit.loglog_slope - 1.3) < 4 * slope_se  # type: ignore[operator]
    assert fit.loglog_r2 == pytest.approx(np.corrcoef(np.log(etas), np.log(-true))[0, 1] ** 2)
    assert fit.linear_r2 == pytest.approx(np.corrcoef(etas, true)[0, 1] ** 2)
    assert (fit.n_loglog, fit.n_linear, fit.reason) == (6, 6, None)


@settings(max_examples=50, deadline=None)
@given(
    k=st.floats(0.2, 3.0),
    c=st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3),
    n=st.integers(2, 8),
)
def test_fit_recovers_exponent_of_exact_power_law(k: float, c: float, n: int) -> None:
    etas = 4e-7 * 2.0 ** np.arange(n)
    fit = fits.fit_run(points("a", [(e, c * e**k, None) for e in etas]))
    assert fit.loglog_slope == pytest.approx(k, rel=1e-7)
    assert fit.loglog_r2 == pytest.approx(1.0)


def test_fit_needs_two_eta_values() -> None:
    fit = fits.fit_run(points("a", [(1e-6, -1e-3, None), (2e-6, None, None)]))
    assert fit.reason == "fewer than 2 η values"
    assert all(
        v is None for k, v in fit.to_json().items() if k not in ("reason", "n_loglog", "n_linear")
    )


def test_fit_skips_zero_delta_in_loglog_and_two_points_give_r2_one() -> None:
    fit = fits.fit_run(points("a", [(1e-6, 0.0, None), (2e-6, -2e-3, None), (4e-6, -5e-3, None)]))
    assert (fit.n_loglog, fit.n_linear) == (2, 3)
    assert fit.loglog_r2 == 1.0
    assert fit.loglog_slope == pytest.approx(math.log(2.5) / math.log(2))


def test_fit_r2_undefined_without_variance() -> None:
    fit = fits.fit_run(points("a", [(1e-6, -1e-3, None), (2e-6, -1e-3, None), (4e-6, -1e-3, None)]))
    assert fit.linear_slope == pytest.approx(0.0, abs=1e-12)
    assert fit.linear_r2 is None and fit.loglog_r2 is None


# --- agreement -------------------------------------------------------------------------------


def test_agreement_hand_computed() -> None:
    run = points(
        "a",
        [(2.0, -20.0, -5.0), (4.0, -30.0, -20.0), (8.0, -1.0, -1.0)],
        se_shard=3.0,
        true_se=((2.0, 8.0), (4.0, 8.0 * 1.0)),
    )
    first, second, third = fits.agreement(run)
    # η = 2: se_linear = 3·2 = 6, combined = √(36 + 64) = 10, diff = −5 − (−20) = 15
    assert (first.diff, first.se_linear, first.se_true, first.combined_se) == (15.0, 6.0, 8.0, 10.0)
    assert (first.within_1sigma, first.within_2sigma) == (False, True)
    # η = 4: se_linear = 12, combined = √(144 + 64) ≈ 14.42, diff = 10 → within 1σ
    assert second.combined_se == pytest.approx(math.sqrt(208))
    assert (second.within_1sigma, second.within_2sigma) == (True, True)
    # η = 8: no true SE → nothing combined
    assert (third.combined_se, third.within_1sigma, third.within_2sigma) == (None, None, None)
    assert strict_json(first.to_json())["z"] == 1.5


def test_agreement_without_se_shard_is_none() -> None:
    (row,) = fits.agreement(points("a", [(1e-6, -1e-3, None)], se_shard=None))
    assert (row.diff, row.se_linear, row.combined_se, row.within_2sigma) == (None, None, None, None)


# --- relative errors -------------------------------------------------------------------------


def test_relative_errors_one_minus_ratio_and_spread() -> None:
    runs = [
        points("a", [(1e-6, -4.0, -1.0), (2e-6, 0.0, -1.0)]),
        points("b", [(1e-6, -2.0, -1.0)]),
        points("c", [(1e-6, -1.0, -3.0)]),
    ]
    result = group_stats.relative_errors(runs)
    assert result.runs[0].values == ((1e-6, 0.75), (2e-6, None))
    (eta, first), (_, second) = result.per_eta
    assert eta == 1e-6
    values = [0.75, 0.5, -2.0]
    assert (first.min, first.max, first.n) == (-2.0, 0.75, 3)
    assert first.mean == pytest.approx(np.mean(values))
    assert first.std == pytest.approx(np.std(values, ddof=1))
    assert second.n == 0 and second.mean is None
    assert strict_json(result.to_json())["per_eta"][0]["n_runs"] == 3


def test_relative_errors_carry_the_site_convention_beside_the_notebook_one() -> None:
    """rel_err_linear = (linear − true)/|true| (same sign for either sign of ΔH_true), the
    notebook's 1 − linear/true under its own name, rel_err its deprecated alias."""
    runs = [points("a", [(1e-6, -4.0, -1.0), (2e-6, 2.0, 3.0), (4e-6, 0.0, 1.0)])]
    rows = strict_json(group_stats.relative_errors(runs).to_json())["runs"][0]["values"]
    assert [r["rel_err_linear"] for r in rows] == [0.75, 0.5, None]
    assert [r["notebook_one_minus_ratio"] for r in rows] == [0.75, -0.5, None]
    assert all(r["rel_err"] == r["notebook_one_minus_ratio"] for r in rows)
    assert all(r["se_rel_err_linear"] == r["se"] for r in rows)


def test_agreement_rows_name_the_notebook_values_as_such() -> None:
    (row,) = fits.agreement(points("a", [(1e-6, -1e-3, -2e-3)], se_shard=10.0,
                                   true_se=((1e-6, 1e-5),)))  # fmt: skip
    data = row.to_json()
    for name in ("z", "se_true", "se_linear", "combined_se", "within_1sigma", "within_2sigma"):
        assert data[f"notebook_{name}"] == data[name], name
    assert data["notebook_z"] is not None and data["notebook_se_linear"] == pytest.approx(1e-5)


# --- RunPoints -------------------------------------------------------------------------------


def test_run_points_json_round_trip_without_nan() -> None:
    run = pts.RunPoints(
        "g/run_01",
        512,
        (EtaSummary(1e-6, -1e-3, -2e-3, None, -1e-3, -2e-3, None, 511.0, 0.99, 0.0),),
        float("nan"),
        ((1e-6, 1.5e-5),),
    )
    data = strict_json(run.to_json())
    back = pts.RunPoints.from_json(data)
    assert back.se_shard is None
    assert back == pts.RunPoints(run.run_id, 512, run.etas, None, run.true_se)
    assert pts.RunPoints.from_json(back.to_json()) == back


# --- batch-size comparison -------------------------------------------------------------------


def synthetic_sample(run_id: str, n: int, seed: int, eta: float = 1e-6) -> pts.SequenceSample:
    """A per-token run whose arrays follow the guide: true_contrib sums to ΔH_true."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(20, 200, n).astype(np.float64)
    h_base = tokens * rng.uniform(0.3, 0.7, n)
    h_new = h_base * (1 - 1e-3 + rng.normal(0, 1e-3, n))
    weights = rng.uniform(0.9, 1.1, n)
    true = true_contributions(weights, h_new, tokens, h_base.sum() / tokens.sum())
    linear = true * 0.2 + rng.normal(-2e-6, 3e-6, n)
    data = pts.SequenceEta(
        eta=eta,
        linear=linear,
        true_contrib=true,
        delta_h_true=float(true.sum()),
        weighted_h_new=weights * h_new,
        weighted_units=weights * tokens,
        h_base=h_base,
        units=tokens,
        linear_units=tokens,
    )
    return pts.SequenceSample(run_id, n, (data,))


def small_points(run_id: str, size: int, true: float, lin: float | None) -> pts.RunPoints:
    return points(run_id, [(1e-6, true, lin)], batch=size)


def test_batch_comparison_is_deterministic_per_seed() -> None:
    large = [synthetic_sample("L/run_01", 200, 1), synthetic_sample("L/run_02", 200, 2)]
    small = [small_points("S/run_01", 50, -1e-3, -8e-4)]
    once = batch.batch_comparison(small, large, draws=300, seed=7)
    again = batch.batch_comparison(small, large, draws=300, seed=7)
    other = batch.batch_comparison(small, large, draws=300, seed=8)
    assert strict_json(once[0].to_json()) == strict_json(again[0].to_json())
    assert once[0].to_json()["quantiles"] != other[0].to_json()["quantiles"]
    assert sum(once[0].hist_counts) == 600 == once[0].raw.n
    assert len(once[0].hist_edges) == batch_dist.DEFAULT_BINS + 1


def test_seeds_do_not_depend_on_python_hash_randomisation() -> None:
    code = (
        "from reportgen.analysis.stats import derived_rng;"
        "print(repr(derived_rng(3, '256', '512', 'run').random()))"
    )
    root = str(Path(__file__).resolve().parents[1])
    other = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": root},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert other.strip() == repr(stats.derived_rng(3, "256", "512", "run").random())


def test_raw_mean_tends_to_scaled_full_value_and_rescaled_to_full_value() -> None:
    sample = synthetic_sample("L/run_01", 120, 3)
    (row,) = batch.batch_comparison(
        [small_points("S/run_01", 30, -1e-3, -8e-4)], [sample], draws=20000, seed=0
    )
    ((_, full),) = row.full_run_values
    assert full is not None and row.expected_raw_mean == pytest.approx(full * 30 / 120)
    # Each draw is an independent uniform subset of 30 of the 120 sequences, so the raw value
    # Σ_S (linear − true)/ΔH_true has expectation exactly 30/120 of the full run's, and the mean
    # of n draws has standard error std/√n. 4 SE with a fixed seed: two-sided p ≈ 6e-5.
    se_raw = row.raw.std / math.sqrt(row.raw.n)  # type: ignore[operator]
    assert abs(row.mean - full * 30 / 120) < 4 * se_raw  # type: ignore[operator]
    # rescaled = raw · 120/30, so its own SE (std/√n of the rescaled values) is 4·se_raw
    se_rescaled = row.rescaled.std / math.sqrt(row.rescaled.n)  # type: ignore[operator]
    assert se_rescaled == pytest.approx(4 * se_raw, rel=1e-9)
    assert abs(row.rescaled.mean - full) < 4 * se_rescaled  # type: ignore[operator]
    assert row.reestimated is not None and row.reestimated.n == 20000


def test_full_size_subsets_reproduce_the_full_run() -> None:
    sample = synthetic_sample("L/run_01", 64, 4)
    (row,) = batch.batch_comparison([small_points("S/run_01", 64, -1e-3, -8e-4)], [sample], draws=5)
    ((_, full),) = row.full_run_values
    for dist in (row.raw, row.rescaled, row.reestimated):
        assert dist is not None
        assert dist.mean == pytest.approx(full, rel=1e-9)
        assert dist.std == pytest.approx(0.0, abs=1e-9)


def test_reestimated_subset_matches_direct_computation() -> None:
    sample = synthetic_sample("L/run_01", 40, 5)
    data = sample.etas[0]
    subset = np.arange(10)
    assert data.weighted_h_new is not None and data.weighted_units is not None
    assert data.h_base is not None and data.units is not None
    true_s = data.weighted_h_new[subset].sum() / data.weighted_units[subset].sum() - (
        data.h_base[subset].sum() / data.units[subset].sum()
    )
    linear_s = data.linear[subset].sum() * data.units.sum() / data.units[subset].sum()
    mask = np.zeros((1, 40))
    mask[0, subset] = 1.0
    columns = batch._eta_columns(data.eta, data)
    (drawn,) = batch._draw_alike(sample.run_id, [columns], 10, 1, [mask]).values()
    assert drawn.reestimated is not None
    expected = (linear_s - true_s) / data.delta_h_true
    assert drawn.reestimated[0] == pytest.approx(expected, rel=1e-9)
    raw = (data.linear[subset] - data.true_contrib[subset]).sum() / data.delta_h_true
    assert drawn.raw[0] == pytest.approx(raw, rel=1e-9)


def test_small_runs_use_mean_true_of_larger_runs() -> None:
    large = [synthetic_sample("L/run_01", 100, 1), synthetic_sample("L/run_02", 100, 2)]
    small = [small_points("S/run_01", 25, -1e-3, -7e-4), small_points("S/run_02", 25, -2e-3, None)]
    (row,) = batch.batch_comparison(small, large, draws=10)
    mean_true = np.mean([s.etas[0].delta_h_true for s in large])
    assert row.large_true_mean == pytest.approx(mean_true)
    (first_id, first), second = row.small_runs
    assert first_id == "S/run_01" and first == pytest.approx(3e-4 / mean_true)
    assert second == ("S/run_02", None)


def test_subset_sums_pick_distinct_rows_and_ignore_block_size() -> None:
    from reportgen.analysis.resample import resampled_sums, subset_weights

    columns = np.column_stack([np.ones(50), 2.0 ** -np.arange(50)])
    whole = resampled_sums(columns, subset_weights(50, 7), 40, np.random.default_rng(0))
    assert np.all(whole[:, 0] == 7)
    # binary fractions: a sum of 7 distinct powers has exactly 7 one-bits
    bits = [bin(round(float(v) * 2**49)).count("1") for v in whole[:, 1]]
    assert set(bits) == {7}
    blocks = resampled_sums(columns, subset_weights(50, 7), 40, np.random.default_rng(0), 120)
    assert np.array_equal(whole, blocks)  # blocks of 2 draws: the same subsets


def test_compare_batch_sizes_pairs_every_smaller_with_every_larger_size() -> None:
    samples = [synthetic_sample("M/run_01", 60, 1), synthetic_sample("L/run_01", 120, 2)]
    pts = [
        small_points("S/run_01", 30, -1e-3, -8e-4),
        small_points("M/run_01", 60, -1e-3, -9e-4),
        small_points("L/run_01", 120, -1e-3, -9e-4),
    ]
    rows = batch.compare_batch_sizes(pts, samples, draws=20)
    assert [(r.small_size, r.large_size) for r in rows] == [(30, 60), (30, 120), (60, 120)]


def test_batch_comparison_needs_one_small_size() -> None:
    with pytest.raises(ValueError, match="one common batch size"):
        batch.batch_comparison(
            [small_points("a", 10, -1.0, -1.0), small_points("b", 20, -1.0, -1.0)],
            [synthetic_sample("L", 40, 1)],
        )


# --- control variates ------------------------------------------------------------------------


def cv(corrs: dict[str, float], ratios: dict[str, float], joint: float) -> CvData:
    features = tuple(
        CvFeature(name, corrs.get(name), None, ratios.get(name), True) for name in sorted(corrs)
    )
    return CvData(512, "per_token", None, None, None, None, None, joint, features)


def test_cv_group_stats_per_feature_and_joint() -> None:
    runs = [
        ("a", cv({"len": 0.1, "var": -0.3}, {"len": 0.99, "var": 0.91}, 0.90)),
        ("b", cv({"len": 0.3, "var": -0.2}, {"len": 0.97, "var": 0.95}, 0.92)),
    ]
    length, var, joint = group_stats.cv_group_stats(runs)
    assert length.feature == "len" and length.n_runs == 2
    assert length.corr.mean == pytest.approx(0.2)
    assert length.corr.std == pytest.approx(np.std([0.1, 0.3], ddof=1))
    assert (var.var_ratio.min, var.var_ratio.max) == (0.91, 0.95)
    assert joint.joint and joint.corr.n == 0
    assert joint.var_ratio.mean == pytest.approx(0.91)
    assert strict_json(joint.to_json())["var_ratio"]["n"] == 2


# --- group JSON ------------------------------------------------------------------------------


def member(p: pts.RunPoints) -> RunRecord:
    """A read run holding ``p`` (what a group's analysis takes of its runs)."""
    return RunRecord(
        p.run_id,
        f"{p.run_id}/results.json",
        "ok",
        "hash",
        "0",
        (),
        schema="snis",
        batch_size=p.batch_size,
        etas=p.etas,
        se_shard=p.se_shard,
        true_se=p.true_se,
    )


def group_summary(record: GroupRecord) -> Any:
    return strict_json(json.loads(b"".join(serialize.group_summary_file(record)[1])))


def test_group_summary_json_shape() -> None:
    runs = [
        points("g/a", [(1e-6, -1e-3, -8e-4), (2e-6, -2e-3, -1.6e-3)], se_shard=10.0),
        points("g/b", [(1e-6, -1.2e-3, -9e-4)], true_se=((1e-6, 1e-5),)),
    ]
    large = [synthetic_sample("L/run_01", 100, 1)]
    analysis = analyze_group("g", [member(r) for r in runs])
    compared = batch.batch_comparison([small_points("S/a", 25, -1e-3, -8e-4)], large, draws=10)
    record = replace(GroupRecord.of(analysis), batch=compared)
    data = group_summary(record)
    assert isinstance(data, dict)
    assert_valid("group-summary", data)  # every field 0.1 published, with its type
    assert data["group"] == "g"
    first, second = data["runs"]
    assert first["id"] == "g/a"
    assert first["fit"]["loglog_slope"] == pytest.approx(1.0)  # ΔH_true doubles with η
    assert second["fit"]["loglog_slope"] is None
    assert first["agreement"][0]["combined_se"] is None
    assert first["agreement"][0]["se_linear"] == pytest.approx(10.0 * 1e-6)
    assert [row["n_runs"] for row in data["per_eta"]] == [2, 1]
    (comparison,) = data["batch_comparison"]
    assert (comparison["small_size"], comparison["large_size"], comparison["draws"]) == (
        25,
        100,
        10,
    )
    assert [q["q"] for q in comparison["quantiles"]] == [0.05, 0.25, 0.5, 0.75, 0.95]
    # the record read back (as a later build reads it) gives the same summary, byte for byte
    again = GroupRecord.from_files(record.to_files())
    assert again.to_files() == record.to_files()
    assert serialize.group_summary_file(again) == serialize.group_summary_file(record)


# --- real data -------------------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.skipif(not SHARED.is_dir(), reason="shared results tree not present")
def test_real_runs_give_points_and_samples() -> None:
    from reportgen.discover import discover
    from reportgen.load import load_run

    tree, _ = discover(SHARED)
    wanted = {"diagnostics_run/full_data/E_256/run_01", "diagnostics_run/full_data/E_512/run_01"}
    loaded = [load_run(ref, SHARED) for ref in tree.runs if ref.id in wanted]
    runs = [r for r in loaded if isinstance(r, Run)]
    assert len(runs) == 2
    run_pts, samples = [], []
    for run in runs:
        contributions = run_contributions(run)
        summaries = run_eta_summaries(run, contributions)
        run_pts.append(pts.run_points(run, contributions, summaries))
        sample = pts.sequence_sample(run, contributions, summaries)
        assert sample is not None and all(d.can_reestimate for d in sample.etas)
        samples.append(sample)
        assert pts.RunPoints.from_json(strict_json(run_pts[-1].to_json())) == run_pts[-1]
    assert [p.batch_size for p in run_pts] == [256, 512]
    assert len(run_pts[0].true_se) == 5
    rows = batch.compare_batch_sizes(run_pts, samples, draws=50)
    assert [r.eta for r in rows] == [p.eta for p in run_pts[1].etas]
    for row in rows:
        ((_, full),) = row.full_run_values
        assert row.reestimated is not None and full is not None
        # Subsets of half the run scatter around the full run's value: the mean of n independent
        # draws has SE std/√n (≈ 0.05 here). The ratio estimator's own bias, measured with
        # 5000 draws on this data, is below 0.006 (≈ 0.1 SE), so 4 SE is an honest bound.
        re = row.reestimated
        assert re.n == 50 and re.std is not None and re.mean is not None
        assert abs(re.mean - full) < 4 * re.std / math.sqrt(re.n)


@pytest.mark.parametrize(("count", "overlays"), [(2, ["log"]), (3, ["log", "linear"])])
def test_two_etas_draw_the_group_overlay_once(count: int, overlays: list[str]) -> None:
    from reportgen.pages.group_charts import overlay_charts

    etas = [1e-6 * 2**i for i in range(count)]
    runs = [points(r, [(e, -e * 400, -e * 390) for e in etas]) for r in ("a", "b")]
    out = overlay_charts(runs, lambda run_id: run_id)
    assert [c.id for c, _ in out] == [f"group-overlay-{s}" for s in overlays]


def test_a_slope_outside_its_interval_says_so() -> None:
    fit = fits.Fit(2.43, 0.0, 0.9, -1.0, 0.0, 0.9, 3, 3, None, (-0.13, 1.82), (-2.0, 0.0))
    assert fit.interval_note is not None and fit.interval_note.startswith("log-log slope outside")
    inside = fits.Fit(1.0, 0.0, 0.9, -1.0, 0.0, 0.9, 3, 3, None, (0.8, 1.2), (-2.0, 0.0))
    assert inside.interval_note is None
