"""What the Rao-Blackwell page states: the pooled variance reduction, the SE model's agreement
and the samples saved, each recomputed from the demo pickles or checked by a seeded simulation
(tolerances four times the simulation's own standard error plus the stated approximation)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.demo.rb_convergence import DESIGNS, file_name
from reportgen.kinds import rb_convergence
from reportgen.kinds.rb_convergence.analysis import pooled_reduction, samples_saved
from reportgen.kinds.rb_convergence.diagnostics import GRID
from reportgen.kinds.rb_convergence.model import PopulationStats
from reportgen.kinds.rb_convergence.view import verdict
from reportgen.pages import serialize
from tests.kind_helpers import Margin
from tests.test_kind_rb_convergence import Demos, analysed, load, messages, ours, rewrite

Z90 = 1.6448536269514722
T07, T10 = DESIGNS


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Demos:
    return Demos(tmp_path_factory.mktemp("rb-statement-demos"))


# --- the subsamples' variance reduction, pooled over n ---------------------------------------


def test_pooled_reduction_weights_rows_by_m_alone(tmp_path: Path, demos: Demos) -> None:
    demo = demos.write(tmp_path)
    analysis = analysed(tmp_path)
    for run, design in zip(analysis.runs, DESIGNS, strict=True):
        data = ours(demo.directory / file_name(design))
        rows = data["convergence_results"]
        values = np.array([1 - (r["rb_std_est"] / r["basic_std_est"]) ** 2 for r in rows])
        weights = np.array([int(r["n_bootstrap"]) - 1 for r in rows], dtype=np.float64)
        mean = float(np.sum(weights * values) / np.sum(weights))
        rho = float(data["population_stats"]["correlation"])
        se = 2 * (1 - mean) * math.sqrt((1 - rho**2) / weights.sum())
        assert run.pooled_var_reduction == pytest.approx(mean, rel=1e-12)
        assert run.pooled_var_reduction_se == pytest.approx(se, rel=1e-12)
        # every row estimates the pool's own value: their difference, with the rows' MC SE
        assert run.pooled_minus_pool == pytest.approx(mean - run.var_reduction, rel=1e-12)
        assert run.pooled_minus_pool_se == pytest.approx(se, rel=1e-12)
    # equal m: the plain mean of the rows (the audit's 0.334 and 0.172), not 0.342 and 0.178
    assert [round(r.pooled_var_reduction or 0, 3) for r in analysis.runs] == [0.334, 0.172]


def test_pooled_reduction_is_unbiased_where_estimate_weights_are_not() -> None:
    rng = np.random.default_rng(3)
    reps, rows, m, rho = 1600, 11, 200, math.sqrt(1 - 0.315)
    ratio = rho**2  # the demo's design: σ_rb/σ_basic = ρ
    cov = [[1.0, rho * math.sqrt(ratio)], [rho * math.sqrt(ratio), ratio]]
    pairs = rng.multivariate_normal([0.0, 0.0], cov, size=(reps, rows, m))
    sd = pairs.std(axis=2, ddof=1)
    reductions = 1 - (sd[..., 1] / sd[..., 0]) ** 2
    ms = np.full(rows, m)
    pooled = np.array([pooled_reduction(r, ms, rho) for r in reductions])
    own = float(pooled[:, 0].std(ddof=1)) / math.sqrt(reps)
    ratio_bias = 2 * ratio * (1 - rho**2) / (m - 1)  # E[s_rb²/s_b²] − r, to first order
    assert abs(float(pooled[:, 0].mean()) - (1 - ratio)) < 4 * own + ratio_bias
    assert float(pooled[:, 0].std(ddof=1)) == pytest.approx(
        float(np.mean(pooled[:, 1])), rel=4 / math.sqrt(2 * (reps - 1)) + 0.03
    )
    # weights 1/SE² with SE from each row's own estimate favour the larger reductions
    weights = 1 / (2 * (1 - reductions) * math.sqrt((1 - rho**2) / (m - 1))) ** 2
    biased = np.sum(weights * reductions, axis=1) / np.sum(weights, axis=1)
    assert float(biased.mean()) - (1 - ratio) > 4 * own + ratio_bias


@pytest.mark.slow  # Altair builds the chart specs once per test session
def test_page_names_the_pooling_formula_and_the_rows_check(tmp_path: Path, demos: Demos) -> None:
    from tests.kind_pages import site_for

    demos.write(tmp_path / "tree")
    analysis = analysed(tmp_path / "tree")
    output = rb_convergence.page(analysis, site_for(tmp_path / "tree", tmp_path / "site"))
    html = output.content(output.paths[0]).decode()
    assert "weighted over n" not in html
    assert "subsamples, mean over n (weights m − 1)" in html
    assert "0.334 ± 0.016" in html  # T = 0.7, the rows’ mean (not 0.342)
    assert "subsamples’ mean − pool’s value" in html
    twin = json.loads(output.content(output.paths[1]))
    assert "Σ(m − 1)" in twin["formulas"]["pooled_mc_var_reduction"]
    first = twin["temperatures"][0]
    assert first["pooled_mc_minus_pool"] == pytest.approx(analysis.runs[0].pooled_minus_pool)


# --- observed SEs against σ/√n·√(1 − n/N): agreement only within a stated margin ----------------


def _fits(root: Path, margin: float | None = None) -> str:
    study = load(root)
    settings = None if margin is None else Margin(margin)
    return verdict(rb_convergence.analyze(study, settings)).headline.split("; ", 1)[1]


def test_observed_ses_agree_only_within_the_stated_margin(tmp_path: Path, demos: Demos) -> None:
    demos.write(tmp_path)
    analysis = analysed(tmp_path)
    assert analysis.margin == DEFAULT_MARGIN
    within = []
    for run in analysis.runs:
        for row in run.rows:
            for point in (row.basic, row.rb):
                assert point.observed is not None and row.n_bootstrap is not None
                ratio = point.observed / point.fpc
                se = ratio / math.sqrt(2 * (row.n_bootstrap - 1))
                assert point.fpc_ratio == pytest.approx(ratio)
                assert point.fpc_ratio_se == pytest.approx(se)
                within.append(abs(ratio - 1) + Z90 * se <= DEFAULT_MARGIN)
                assert point.fpc_within is within[-1]
    assert (sum(within), len(within)) == (43, 44)  # one 90 % interval reaches 1.205
    assert _fits(tmp_path) == (
        "the observed SEs are not shown to differ from σ/√n·√(1 − n/N) (|z| ≤ 2.3; a "
        "difference needs |z| > 4); agreement within ±20 % (the 90 % interval of "
        "observed/expected inside [0.8, 1.2]) is shown for 43 of the 44 observed SEs and "
        "inconclusive for the rest."
    )
    assert _fits(tmp_path, margin=0.3) == (
        "the observed SEs agree with σ/√n·√(1 − n/N) within ±30 % at every n: each 90 % "
        "interval of observed/expected lies inside [0.7, 1.3]."
    )


def test_too_few_subsamples_to_show_agreement_are_inconclusive(
    tmp_path: Path, demos: Demos
) -> None:
    demos.write(tmp_path, n_bootstrap=12)  # MC error 21 %: no 90 % interval fits in ±20 %
    fits = _fits(tmp_path)
    assert fits.startswith("the observed SEs are not shown to differ from σ/√n·√(1 − n/N)")
    assert "is shown for 0 of the 44 observed SEs and inconclusive for the rest." in fits


def test_an_observed_se_off_the_model_is_said_to_differ(tmp_path: Path, demos: Demos) -> None:
    demo = demos.write(tmp_path)

    def doubled(data: dict[str, Any]) -> None:
        row = data["convergence_results"][5]
        row["basic_std_est"] = row["basic_std_est"] * 2

    rewrite(demo.directory / file_name(T10), doubled)
    assert _fits(tmp_path) == (
        "the observed SEs differ from σ/√n·√(1 − n/N) at some n (|z| > 4; see the findings)."
    )


# --- the samples Rao-Blackwellisation saves, with their SE ----------------------------------------


def test_the_saving_is_quoted_with_its_standard_error(tmp_path: Path, demos: Demos) -> None:
    demo = demos.write(tmp_path)
    analysis = analysed(tmp_path)
    run = analysis.runs[1]
    pop = ours(demo.directory / file_name(T10))["population_stats"]
    big_n = int(pop["n_samples"])
    sb, sr, mb, mr, rho = (
        float(pop[k]) for k in ("basic_std", "rb_std", "basic_mean", "rb_mean", "correlation")
    )
    kept = (sr / sb) ** 2 * (mb / mr) ** 2
    log_q = (sb**2 / mb**2 + sr**2 / mr**2 - 2 * rho * sb * sr / (mb * mr)) / big_n
    se = kept * math.sqrt(4 * (1 - rho**2) / (big_n - 1) + 4 * log_q)
    assert run.saved == pytest.approx(1 - kept, rel=1e-12)
    assert run.saved_se == pytest.approx(se, rel=1e-12)
    (message,) = messages(analysis)[GRID]
    assert message.endswith("RB needs 16.60 ± 0.31 % fewer fresh samples)")
    twin = json.loads(serialize.dumps(rb_convergence.summary_json(analysis)))
    assert twin["temperatures"][1]["samples_saved"] == pytest.approx(1 - kept)
    assert twin["temperatures"][1]["samples_saved_se"] == pytest.approx(se)


def test_the_se_of_the_saving_matches_a_simulation() -> None:
    rng = np.random.default_rng(9)
    big_n, reps, mean, sb, sr, rho = 2000, 2000, 2.0, 1.2, 0.9, 0.75
    cov = [[sb**2, rho * sb * sr], [rho * sb * sr, sr**2]]
    pools = rng.multivariate_normal([mean, mean], cov, size=(reps, big_n))
    means, sds = pools.mean(axis=1), pools.std(axis=1)
    saved = 1 - (sds[:, 1] / sds[:, 0]) ** 2 * (means[:, 0] / means[:, 1]) ** 2
    truth = PopulationStats(mean, sb, mean, sr, rho, big_n)
    value, se = samples_saved(truth)
    own = 4 / math.sqrt(2 * (reps - 1))
    assert float(saved.std(ddof=1)) == pytest.approx(se, rel=own + 0.03)
    assert float(saved.mean()) == pytest.approx(value, abs=4 * se / math.sqrt(reps) + 1e-3)
