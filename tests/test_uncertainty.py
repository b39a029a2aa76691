"""Uncertainty tests: delta-method SEs against a brute-force jackknife, the paired bootstrap,
the se_shard identity, determinism, permutation invariance and the slope intervals."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis.contributions import run_contributions, run_eta_summaries
from reportgen.analysis.counts import BootstrapCounts
from reportgen.analysis.delta import PairedColumns, delta_ses, shard_mean_se
from reportgen.analysis.resample import bootstrap_weights, resampled_sums, subset_weights
from reportgen.analysis.uncertainty import (
    DELTA,
    SHARDS,
    SHARDS_SWEEP,
    UNPAIRED,
    bootstrap_draws,
    paired_columns,
    run_uncertainty,
    slope_intervals,
)
from reportgen.cli import main
from reportgen.discover import discover
from reportgen.load import load_run
from reportgen.load.models import Run

SE_NAMES = ("se_true", "se_linear", "se_linquad", "se_diff_linear", "se_diff_linquad")


def snis_runs(root: Path) -> list[Run]:
    """The SNIS runs of a tree that have per-sequence approximation records."""
    tree, _ = discover(root)
    runs = [load_run(ref, root) for ref in tree.runs]
    return [
        r
        for r in runs
        if isinstance(r, Run) and r.snis is not None and r.snis.approx.per_sequence is not None
    ]


@pytest.fixture(scope="module")
def sample_runs(sample_tree: Path) -> list[Run]:
    runs = snis_runs(sample_tree)
    assert len(runs) >= 3
    return runs


@pytest.fixture(scope="module")
def real_runs(shared_results: Path) -> list[Run]:
    runs = snis_runs(shared_results)
    assert len(runs) == 6  # E_256 run_01…04, E_512 run_01…02
    return runs


# --- an independent brute-force jackknife -----------------------------------------------------


def jackknife_ses(c: PairedColumns) -> dict[str, float]:
    """Explicit leave-one-out over sequences (a Python loop on purpose: independent code).

    Each statistic is recomputed without sequence i; sums are rescaled by n/(n−1) so a sum of n
    terms stays a sum of n terms. SE = sqrt((n−1)/n · Σ (θ₍ᵢ₎ − θ̄)²).
    """
    n = c.n
    assert c.linear is not None and c.linquad is not None and c.h_base is not None
    true, linear, linquad = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        w, t = c.weight[keep], c.units[keep]
        true[i] = (w @ c.h_new[keep]) / (w @ t) - c.h_base[keep].sum() / t.sum()
        linear[i] = c.linear[keep].sum() * n / (n - 1)
        linquad[i] = c.linquad[keep].sum() * n / (n - 1)

    def se(values: np.ndarray) -> float:
        return float(np.sqrt((n - 1) / n * np.sum((values - values.mean()) ** 2)))

    return {
        "se_true": se(true),
        "se_linear": se(linear),
        "se_linquad": se(linquad),
        "se_diff_linear": se(linear - true),
        "se_diff_linquad": se(linquad - true),
    }


def jackknife_tolerance(c: PairedColumns) -> float:
    """How far the jackknife may sit from the infinitesimal jackknife.

    Leaving sequence i out moves a ratio Σa/Σb by −u_i/(1 − h_i), h_i = b_i/Σb its share of the
    denominator, where the delta method uses −u_i: the SEs differ by a factor between
    (n−1)/n and 1/(1 − max h). Twice that bound, plus 1/n for the centring.
    """
    h = max(
        float(np.max(c.weight * c.units) / (c.weight @ c.units)),
        float(np.max(c.units / c.units.sum())),
    )
    return 2 * h / (1 - h) + 2 / c.n


def check_columns(columns: list[PairedColumns], label: str = "") -> int:
    checked = 0
    for c in columns:
        if c.linquad is None:
            continue
        assert c.baseline_reestimated, (label, c.eta)
        ses, brute, tol = delta_ses(c), jackknife_ses(c), jackknife_tolerance(c)
        assert tol < 0.1  # "a few %": the check would be empty with a loose bound
        for name in SE_NAMES:
            value = getattr(ses, name)
            assert value == pytest.approx(brute[name], rel=tol), (label, c.eta, name)
        checked += 1
    return checked


def check_against_jackknife(runs: list[Run]) -> int:
    return sum(check_columns(list(paired_columns(run)), run.ref.id) for run in runs)


def test_delta_method_matches_jackknife_on_sample(sample_runs: list[Run]) -> None:
    assert check_against_jackknife(sample_runs) >= 10


@pytest.mark.shared
def test_delta_method_matches_jackknife_on_real_runs(real_runs: list[Run]) -> None:
    assert check_against_jackknife(real_runs) == 30  # 6 runs × 5 η


def test_per_sequence_normalisation_uses_unit_counts(sample_runs: list[Run]) -> None:
    run = sample_runs[0]
    norm = dataclasses.replace(run.normalization, true_mode="per_sequence")
    columns = paired_columns(dataclasses.replace(run, normalization=norm))
    assert columns and all(np.all(c.units == 1.0) for c in columns)
    # a per-sequence run's baseline is the mean of h_base (the sample's is per token)
    assert not columns[0].baseline_reestimated
    consistent = [
        dataclasses.replace(c, base_entropy=float(c.h_base.mean()))
        for c in columns
        if c.h_base is not None
    ]
    assert check_columns(consistent, "per-sequence") == len(columns)
    # T_i = 1 really is used: per-token units give another SE
    assert delta_ses(consistent[0]).se_true != delta_ses(paired_columns(run)[0]).se_true


# --- the bootstrap ---------------------------------------------------------------------------


def check_widths(runs: list[Run]) -> int:
    """Percentile 95 % intervals are about 2·1.96·SE wide (normal limit), within 25 %."""
    checked = 0
    for run in runs:
        summaries = run_eta_summaries(run, run_contributions(run))
        result = run_uncertainty(run, summaries, bootstrap=2000, seed=0)
        for row in result.etas:
            for name in ("true", "linear", "linquad", "diff_linear", "diff_linquad"):
                interval, se = getattr(row, f"ci95_{name}"), getattr(row, f"se_{name}")
                if interval is None or se is None:
                    continue
                width = interval[1] - interval[0]
                assert width == pytest.approx(2 * 1.96 * se, rel=0.25), (run.ref.id, row.eta, name)
                checked += 1
    return checked


def test_bootstrap_widths_match_delta_method_on_sample(sample_runs: list[Run]) -> None:
    assert check_widths(sample_runs) >= 40


@pytest.mark.shared
def test_bootstrap_widths_match_delta_method_on_real_runs(real_runs: list[Run]) -> None:
    assert check_widths(real_runs) == 6 * 5 * 5


def test_bootstrap_deterministic_per_seed_and_sequence_count(sample_runs: list[Run]) -> None:
    """The counts depend on (seed, n, resamples) alone: a renamed run keeps its intervals."""
    run = sample_runs[0]
    summaries = run_eta_summaries(run, run_contributions(run))
    first = run_uncertainty(run, summaries, bootstrap=300, seed=5)
    assert first == run_uncertainty(run, summaries, bootstrap=300, seed=5)
    renamed = dataclasses.replace(run, ref=dataclasses.replace(run.ref, id="elsewhere/run"))
    assert run_uncertainty(renamed, summaries, bootstrap=300, seed=5) == first
    other_seed = run_uncertainty(run, summaries, bootstrap=300, seed=6)
    assert other_seed.etas[0].ci95_true != first.etas[0].ci95_true
    assert other_seed.etas[0].se_true == first.etas[0].se_true  # the delta method has no seed


def test_same_resamples_at_every_eta(sample_runs: list[Run]) -> None:
    """Linear terms are g·v·η, so with shared resamples the η columns are exactly proportional."""
    columns = paired_columns(sample_runs[0])
    draws = bootstrap_draws(columns, BootstrapCounts(0, columns[0].n, 200))
    assert draws is not None and draws.linear is not None
    ratio = draws.linear[:, 1:] / draws.linear[:, :1]
    expected = np.asarray(draws.etas[1:]) / draws.etas[0]
    np.testing.assert_allclose(ratio, np.broadcast_to(expected, ratio.shape), rtol=1e-9)


def test_bootstrap_off_keeps_delta_method(sample_runs: list[Run]) -> None:
    run = sample_runs[0]
    summaries = run_eta_summaries(run, run_contributions(run))
    result = run_uncertainty(run, summaries, bootstrap=0)
    assert result.bootstrap == 0 and result.loglog_slope_ci95 is None
    assert all(row.ci95_true is None and row.se_true is not None for row in result.etas)
    assert all(row.method("se_diff_linear") == DELTA for row in result.etas)


def test_weight_samplers() -> None:
    rng = np.random.default_rng(1)
    counts = np.full((7, 50), np.nan)
    bootstrap_weights(50)(rng, counts)
    assert np.all(counts.sum(axis=1) == 50) and np.all(counts == np.round(counts))
    chosen = np.full((7, 50), np.nan)
    subset_weights(50, 12)(rng, chosen)
    assert set(np.unique(chosen)) == {0.0, 1.0} and np.all(chosen.sum(axis=1) == 12)


@pytest.mark.parametrize("sampler", [bootstrap_weights(40), subset_weights(40, 9)])
def test_resampled_sums_do_not_depend_on_chunking(sampler: object) -> None:
    columns = np.random.default_rng(2).standard_normal((40, 3))
    whole = resampled_sums(columns, sampler, 64, np.random.default_rng(3))  # type: ignore[arg-type]
    chunked = resampled_sums(columns, sampler, 64, np.random.default_rng(3), max_cells=40 * 5)  # type: ignore[arg-type]
    # the same rows: only the BLAS summation order (last bits) may differ with the block shape
    np.testing.assert_allclose(whole, chunked, rtol=1e-12, atol=1e-12)


# --- permutation invariance (hypothesis) -----------------------------------------------------


def permuted(c: PairedColumns, order: np.ndarray) -> PairedColumns:
    def take(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else values[order]

    return dataclasses.replace(
        c,
        weight=c.weight[order],
        h_new=c.h_new[order],
        h_base=take(c.h_base),
        units=c.units[order],
        linear=take(c.linear),
        linquad=take(c.linquad),
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), which=st.integers(0, 100))
def test_permuting_sequences_leaves_every_se_unchanged(
    sample_runs: list[Run], seed: int, which: int
) -> None:
    columns = [c for run in sample_runs for c in paired_columns(run)]
    c = columns[which % len(columns)]
    order = np.random.default_rng(seed).permutation(c.n)
    before, after = delta_ses(c), delta_ses(permuted(c, order))
    for name in SE_NAMES:
        value, expected = getattr(after, name), getattr(before, name)
        assert (value is None) == (expected is None), name
        if expected is not None:
            assert value == pytest.approx(expected, rel=1e-9), name


# --- slopes ----------------------------------------------------------------------------------


def test_slope_intervals_recover_a_known_slope() -> None:
    """ΔH = c·η^k·e^ε with iid ε ~ N(0, σ²) per η and resample: the log-log slope estimator is
    normal with SD σ/√Sxx, so its interval is k ± 1.96·σ/√Sxx (width within 10 % for 4000
    draws, centre within a fifth of the half-width)."""
    etas = np.asarray(8e-7 * 2.0 ** np.arange(5), dtype=np.float64)
    k, sigma, draws = 1.3, 0.05, 4000
    noise = np.random.default_rng(4).normal(0.0, sigma, (draws, etas.size))
    true_draws = np.asarray(-2e3 * etas**k * np.exp(noise), dtype=np.float64)
    loglog, linear = slope_intervals(etas, true_draws)
    assert loglog is not None and linear is not None
    x = np.log(etas)
    half = 1.96 * sigma / math.sqrt(float(np.sum((x - x.mean()) ** 2)))
    assert (loglog[1] - loglog[0]) == pytest.approx(2 * half, rel=0.1)
    assert abs((loglog[0] + loglog[1]) / 2 - k) < half / 5
    # a straight line ΔH = a·η + noise: the linear slope's interval holds a
    a, sd = -600.0, 1e-4
    line = np.asarray(a * etas + np.random.default_rng(5).normal(0.0, sd, (draws, etas.size)))
    _, interval = slope_intervals(etas, line)
    assert interval is not None and interval[0] < a < interval[1]
    lin_half = 1.96 * sd / math.sqrt(float(np.sum((etas - etas.mean()) ** 2)))
    assert (interval[1] - interval[0]) == pytest.approx(2 * lin_half, rel=0.1)


def test_run_slope_intervals_cover_the_fit(sample_runs: list[Run]) -> None:
    from reportgen.analysis.fits import fit_run
    from reportgen.analysis.points import run_points

    for run in sample_runs:
        contributions = run_contributions(run)
        summaries = run_eta_summaries(run, contributions)
        result = run_uncertainty(run, summaries, bootstrap=1000, seed=0)
        fit = fit_run(run_points(run, contributions, summaries))
        assert result.linear_slope_ci95 is not None and fit.linear_slope is not None
        lo, hi = result.linear_slope_ci95
        assert lo < fit.linear_slope < hi, run.ref.id
        assert result.slope_etas == tuple(s.eta for s in summaries)


# --- the se_shard identity and runs without per-sequence records -----------------------------


@pytest.mark.shared
def test_se_shard_is_std_of_shard_sums_over_root_k(real_runs: list[Run]) -> None:
    """On every real run se_shard = std(contiguous shard sums)/√K. The files' gdotv went through
    float32 arithmetic, so "exact" is float32 exact: within its epsilon 2⁻²³ ≈ 1.2e-7 (the
    largest deviation in the data is 4.2e-8), far below any other reading of se_shard."""
    for run in real_runs:
        approx = run.snis.approx if run.snis else None
        assert approx is not None and approx.per_sequence is not None
        assert approx.num_shards is not None and approx.se_shard is not None
        recomputed = shard_mean_se(approx.per_sequence.gdotv, approx.num_shards)
        assert recomputed == pytest.approx(approx.se_shard, rel=2.0**-23), run.ref.id
        assert approx.se_jackknife == pytest.approx(approx.se_shard, rel=1e-12)


@pytest.mark.shared
def test_real_runs_reestimate_the_baseline(real_runs: list[Run]) -> None:
    for run in real_runs:
        summaries = run_eta_summaries(run, run_contributions(run))
        assert run_uncertainty(run, summaries, bootstrap=0).baseline_reestimated is True


def test_run_without_per_sequence_uses_shards(sample_tree: Path) -> None:
    tree, _ = discover(sample_tree)
    loaded = [load_run(ref, sample_tree) for ref in tree.runs]
    run = next(
        r
        for r in loaded
        if isinstance(r, Run) and r.snis is not None and r.snis.approx.per_sequence is None
    )
    approx = run.snis.approx if run.snis else None
    assert approx is not None and approx.se_shard is not None and approx.num_shards
    summaries = run_eta_summaries(run, run_contributions(run))
    result = run_uncertainty(run, summaries, bootstrap=100)
    for row in result.etas:
        assert row.method("se_linear") == SHARDS
        assert row.se_linear == pytest.approx(approx.num_shards * approx.se_shard * row.eta)
        assert row.notebook_se_linear == pytest.approx(approx.se_shard * row.eta)
        assert row.method("se_true") == DELTA and row.se_linquad is None
        assert row.ci95_linear is None and row.ci95_true is not None
        # the covariance is unknown without per-sequence records: unpaired, and said so
        assert row.method("se_diff_linear") == UNPAIRED
        assert row.se_true is not None and row.se_linear is not None
        assert row.se_diff_linear == pytest.approx(math.hypot(row.se_linear, row.se_true))


# --- through the CLI -------------------------------------------------------------------------


def _summary(out: Path, run_id: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "runs" / run_id / "summary.json").read_text())
    return data


def test_cli_bootstrap_option(sample_tree: Path, tmp_path: Path) -> None:
    run_id = "diagnostics_run/full_data/E_256/run_01"
    out = tmp_path / "site"
    common = ["build", str(sample_tree), "-o", str(out), "-j", "1", "-q", "--seed", "3"]
    assert main([*common, "--bootstrap", "50"]) == 0
    summary = _summary(out, run_id)
    assert summary["uncertainty"]["bootstrap"] == 50  # type: ignore[index]
    row = summary["etas"][0]  # type: ignore[index]
    for key in ("se_true", "se_linear", "se_diff_linear", "z_linear", "z_linquad"):
        assert isinstance(row[key], float), key
    assert len(row["ci95_diff_linear"]) == 2 and row["se_method"]["se_true"] == DELTA
    assert "rel_err_linear" in row and "sum_true_contrib" in row  # existing fields kept
    # --bootstrap 0: no intervals, same delta-method SEs; a changed setting rebuilds the run
    assert main([*common, "--bootstrap", "0"]) == 0
    off = _summary(out, run_id)["etas"][0]  # type: ignore[index]
    assert off["ci95_true"] is None and off["se_true"] == row["se_true"]
    page = (out / "runs" / run_id / "index.html").read_text()
    assert "± " in page and "as in post_correction_analysis" in page


def test_cli_check_bootstrap_option(sample_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", str(sample_tree), "--format", "json", "--bootstrap", "20", "--seed", "1"])
    data = json.loads(capsys.readouterr().out)
    blocks = [r["uncertainty"] for r in data["runs"] if "uncertainty" in r]
    snis = [b for b in blocks if any(row["se_true"] is not None for row in b["etas"])]
    assert snis and all(b["bootstrap"] == 20 and b["seed"] == 1 for b in snis)


def test_guide_documents_the_error_formulas(sample_site: tuple[Path, object]) -> None:
    guide = (sample_site[0] / "guide.html").read_text()
    for text in (
        "u_i = w_i (h_new_i − R1·T_i)/(w·T) − (h_base_i − R0·T_i)/ΣT",
        "se_true = √(n/(n−1) Σ u_i²)",
        "se_diff_linear = √(n/(n−1) Σ (lc_i − u_i)²)",
        "se_diff_linquad = √(n/(n−1) Σ (qc_i − u_i)²)",
        "z_linear = (ΔH_linear − ΔH_true)/se_diff_linear",
        "every T_i = 1",
        "num_shards · se_shard · η",
        "se_shard is the SE of the mean shard",
        "std(true_contrib)/√n is not the SE of ΔH_true",
        "loglog_slope_ci95",
    ):
        assert text in guide, text


def test_sweep_linear_se_from_curvature_shards(sample_tree: Path) -> None:
    tree, _ = discover(sample_tree)
    loaded = [load_run(ref, sample_tree) for ref in tree.runs]
    run = next(r for r in loaded if isinstance(r, Run) and r.sweep is not None)
    curvature = run.sweep.curvature if run.sweep else None
    assert curvature is not None and curvature.num_shards and curvature.se_gdotv
    summaries = run_eta_summaries(run, run_contributions(run))
    result = run_uncertainty(run, summaries)
    for row in result.etas:
        assert row.method("se_linear") == SHARDS_SWEEP
        expected = curvature.num_shards * curvature.se_gdotv * row.eta
        assert row.se_linear == pytest.approx(expected)
        # no per-sequence ground truth: no se_true, so no z (never a silent fallback)
        assert row.se_true is None and row.z_linear is None and row.se_diff_linear is None
