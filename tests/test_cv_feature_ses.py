"""The control-variate features' standard errors: ρ's from its influence function over the
run's sequences, 1 − ρ²'s without the first-order collapse at ρ = 0, and the in-sample joint
ratio scaled for its fitted coefficients."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen import charts
from reportgen.analysis.cv_features import (
    influence_corr_se,
    joint_df_adjusted,
    rank_features,
    var_ratio_se,
)
from reportgen.charts.run import Z95
from reportgen.load.models import CvData, CvFeatureStat, CvSequences


def _mixture(
    rng: np.random.Generator, n: int, rho: float, spread: float
) -> tuple[np.ndarray, np.ndarray]:
    """x, y with correlation ρ sharing a log-normal scale (heavy tails when ``spread`` > 0)."""
    scale = np.exp(spread * rng.standard_normal(n))
    z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
    return scale * z1, scale * (rho * z1 + math.sqrt(1 - rho * rho) * z2)


@settings(max_examples=20, deadline=None)
@given(rho=st.floats(min_value=-0.9, max_value=0.9), seed=st.integers(0, 2**32 - 1))
def test_for_normal_data_the_influence_se_is_the_normal_theory_one(rho: float, seed: int) -> None:
    n = 20_000
    x, y = _mixture(np.random.default_rng(seed), n, rho, 0.0)
    found = influence_corr_se(x, y)
    assert found is not None
    r, se = found
    # the SE's own estimate varies by ~√(2/n)·(a few) relative: 6 % is > 4 of its sds
    assert se == pytest.approx((1 - r * r) / math.sqrt(n), rel=0.06)


@pytest.mark.parametrize("rho", [0.0, 0.3, -0.6])
def test_on_heavy_tails_the_influence_se_is_the_bootstrap_one(rho: float) -> None:
    """Where g·v is heavy-tailed the normal-theory SE is far too small; the influence
    function's agrees with 2,000 bootstrap resamples."""
    rng = np.random.default_rng(7)
    n = 2_000
    x, y = _mixture(rng, n, rho, 0.6)
    found = influence_corr_se(x, y)
    assert found is not None
    r, se = found
    rows = rng.integers(0, n, size=(2_000, n))
    xs, ys = x[rows], y[rows]
    xs, ys = xs - xs.mean(1, keepdims=True), ys - ys.mean(1, keepdims=True)
    boot = (xs * ys).sum(1) / np.sqrt((xs * xs).sum(1) * (ys * ys).sum(1))
    # a bootstrap SE from B = 2,000 resamples has relative MC error ~1/√(2B) = 1.6 %
    assert se == pytest.approx(float(np.std(boot, ddof=1)), rel=0.08)
    assert se > 1.3 * (1 - r * r) / math.sqrt(n - 3)  # what the normal theory misses


def test_no_se_from_constant_or_non_finite_columns() -> None:
    x = np.arange(10.0)
    assert influence_corr_se(np.ones(10), x) is None
    assert influence_corr_se(np.where(x > 5, np.nan, x), x) is None


@pytest.mark.parametrize("rho", [0.0, 0.2, 0.9])
def test_the_variance_ratio_se_is_the_sd_of_one_minus_rho_hat_squared(rho: float) -> None:
    se = 0.05
    draws = np.random.default_rng(3).normal(rho, se, 400_000)
    simulated = float(np.std(1 - draws**2))
    # the sd of an sd from 400,000 normal-based draws is ~0.2 % of it
    assert var_ratio_se(rho, se) == pytest.approx(simulated, rel=0.01)
    assert var_ratio_se(None, se) is None and var_ratio_se(rho, None) is None


def test_the_in_sample_joint_ratio_scaled_back_is_unbiased_for_useless_features() -> None:
    """k noise features fitted in-sample remove about k/(n − 1) of the variance by chance; the
    scaled ratio averages 1 over repeated samples."""
    rng = np.random.default_rng(11)
    n, k, reps = 60, 8, 3_000
    ratios = []
    for _ in range(reps):
        y = rng.standard_normal(n)
        x = np.column_stack([np.ones(n), rng.standard_normal((n, k))])
        residual = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
        ratios.append(residual.var() / y.var())
    raw = np.asarray(ratios)
    adjusted = np.asarray([joint_df_adjusted(v, n, k, 0) for v in raw], dtype=float)
    error = float(np.std(adjusted, ddof=1)) / math.sqrt(reps)
    assert abs(float(adjusted.mean()) - 1.0) < 4 * error
    assert float(raw.mean()) < 1.0 - 20 * error  # the in-sample ratio is optimistic
    assert joint_df_adjusted(0.9, n, k, 5) is None  # cross-fitted: nothing to scale
    assert joint_df_adjusted(0.9, n, k, None) is None


def _cv(sequences: CvSequences | None, corr: float) -> CvData:
    return CvData(
        n_seqs=500,
        normalization=None,
        mean_gdotv=None,
        var_gdotv=None,
        gdotv_batch=None,
        se_batch=None,
        se_batch_after_cv_joint=None,
        var_after_cv_joint=None,
        features=(),
        all_features=(CvFeatureStat("f", corr, None, None, False, None),),
        sequences=sequences,
    )


def test_a_feature_column_is_used_only_where_it_reproduces_the_files_rho() -> None:
    x, y = _mixture(np.random.default_rng(5), 500, 0.4, 0.6)
    sequences = CvSequences("cv_per_seq.csv", {"f": x, "gdotv_i": y})
    r = float(np.corrcoef(x, y)[0, 1])
    (own,) = rank_features(_cv(sequences, r)).features
    assert own.se_method == "influence" and own.corr_se == influence_corr_se(x, y)[1]  # type: ignore[index]
    (other,) = rank_features(_cv(sequences, r + 0.01)).features
    assert other.se_method == "normal-theory"
    assert other.corr_se == pytest.approx((1 - (r + 0.01) ** 2) / math.sqrt(497))
    (none,) = rank_features(_cv(None, r)).features
    assert none.se_method == "normal-theory"


def test_the_sample_cv_runs_use_their_sequences(sample_site: tuple[Path, object]) -> None:
    """The sample tree's CV runs have their per-sequence files: every feature's SE is the
    influence function's, and the page says so."""
    site = sample_site[0]
    with_cv = 0
    for path in (site / "runs").rglob("summary.json"):
        ranking = json.loads(path.read_text())["cv_features"]
        if not ranking:
            continue
        with_cv += 1
        assert {f["se_method"] for f in ranking["features"]} == {"influence"}, path
        page = (path.parent / "index.html").read_text(encoding="utf-8")
        assert "influence function over the run&#39;s sequences" in page  # escaped
    assert with_cv >= 2


def test_drawn_intervals_stay_where_the_quantity_can_be() -> None:
    """A Wald interval of ρ is cut at ±1 and one of 1 − ρ² at 0 and 1, unless the ratio itself
    (a cross-fitted one) lies above 1."""
    corr, ratio = [0.99, -0.02, 0.3], [0.0199, 0.9996, 1.02]
    _, data = charts.cv_bars(
        ["a", "b", "c"], corr, ratio, corr_se=[0.01] * 3, var_ratio_se=[0.02] * 3
    )
    (columns,) = next(iter(data.values()))
    assert columns["corr_hi"][0] == 1.0 and columns["corr_lo"][1] == pytest.approx(
        -0.02 - Z95 * 0.01
    )
    assert columns["var_ratio_lo"][0] == 0.0 and columns["var_ratio_hi"][1] == 1.0
    assert columns["var_ratio_hi"][2] == 1.02 and columns["var_ratio_lo"][2] == pytest.approx(
        0.9808
    )


def test_the_per_sequence_file_is_read_by_numpy_and_cell_by_cell_alike() -> None:
    """numpy's parser reads a clean file; one cell that is not a number sends the file to the
    cell-by-cell reading, which gives that cell NaN and every other the same value."""
    from reportgen.load.cv import cv_sequences
    from reportgen.load.models import InputFile

    clean = cv_sequences(InputFile("p.csv", b"a,b\r\n1,0\r\n2.5,-3e-4\r\n"))
    dirty = cv_sequences(InputFile("p.csv", b"a,b\n1,0\n2.5,x\n"))
    assert clean is not None and dirty is not None
    assert clean.columns["a"].tolist() == dirty.columns["a"].tolist() == [1.0, 2.5]
    assert clean.columns["b"].tolist() == [0.0, -3e-4]
    assert dirty.columns["b"][0] == 0.0 and math.isnan(dirty.columns["b"][1])
    assert cv_sequences(InputFile("p.csv", b"a,b\n1,2,3\n")) is None  # a row of another width
    assert cv_sequences(InputFile("p.csv", b"a,b\n")) is None  # no rows
