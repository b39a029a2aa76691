"""Every control-variate feature ranked, the target's summands set apart, the headline decided."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis import analyze_run
from reportgen.analysis.cv_features import corr_se, cv_headline, rank_features
from reportgen.build import BuildOptions, build
from reportgen.demo.cv_batch import write_cv_batch
from reportgen.discover import discover
from reportgen.load import load_run
from reportgen.load.cv import FEATURE_STATS_CSV, cv_target, load_cv
from reportgen.load.fields import Fields
from reportgen.load.models import CvData, CvFeatureStat, CvTarget, InputFile, Run

CV_RUNS = ("CVs_and_gdotv/run1/run_01", "CVs_and_gdotv/run1/run_02")
SUMMANDS = ("wjlogp_sum", "jH_sum")


def _cv_run(tree: Path, run_id: str) -> Run:
    found, _ = discover(tree)
    run = load_run(next(r for r in found.runs if r.id == run_id), tree)
    assert isinstance(run, Run) and run.cv is not None
    return run


def _feature_table(tree: Path, run_id: str) -> list[dict[str, str]]:
    table = next((tree / run_id).glob(f"cv_*/{FEATURE_STATS_CSV}"))
    return list(csv.DictReader(io.StringIO(table.read_text())))


@pytest.mark.shared
@pytest.mark.parametrize("run_id", CV_RUNS)
def test_the_real_runs_rank_all_22_features_and_exclude_the_target_summands(
    shared_results: Path, run_id: str
) -> None:
    run = _cv_run(shared_results, run_id)
    assert run.cv is not None
    ranking = rank_features(run.cv)
    table = _feature_table(shared_results, run_id)
    assert len(ranking.features) == len(table) == 22
    # the valid features, by the CSV's own single-feature variance ratio (lowest first)
    valid = sorted(
        (r for r in table if r["feature"] not in SUMMANDS and abs(float(r["corr"])) <= 0.99),
        key=lambda r: (float(r["var_ratio_single"]), r["feature"]),
    )
    ranked = [f for f in ranking.features if f.valid]
    assert [f.name for f in ranked] == [r["feature"] for r in valid]
    assert [f.rank for f in ranked] == list(range(1, len(valid) + 1))
    for feature, row in zip(ranked, valid, strict=True):
        assert feature.corr == float(row["corr"])
        assert feature.se_after == float(row["se_after_single"])
    assert {f.name: f.validity for f in ranking.excluded} == dict.fromkeys(
        SUMMANDS, "target-summand"
    )
    assert ranking.target is not None and ranking.target.max_deviation == 0.0
    assert ranking.target.verified_on is not None and ranking.target.verified_on.startswith(run_id)


@pytest.mark.shared
def test_the_var_logp_against_wjlogp_sum_case_is_decided(shared_results: Path) -> None:
    """run_01: wjlogp_sum (ρ = 0.999, variance ratio 0.002) is a summand of the target; the
    headline names var_logp (ρ = −0.293), the best valid feature, and says why."""
    run = _cv_run(shared_results, CV_RUNS[0])
    assert run.cv is not None
    ranking = rank_features(run.cv)
    best = ranking.best
    assert best is not None and best.name == "var_logp"
    assert best.corr == pytest.approx(-0.29299014685236974, rel=1e-15)
    assert best.var_ratio == pytest.approx(0.9141567738474268, rel=1e-15)
    # its per-sequence file reproduces ρ: the SE is the influence function's (a bootstrap of
    # 4,000 resamples gave 0.0467), not the normal theory's 0.0405
    assert best.se_method == "influence"
    assert best.corr_se == pytest.approx(0.046585, rel=1e-4)
    wjlogp = next(f for f in ranking.features if f.name == "wjlogp_sum")
    assert wjlogp.corr == pytest.approx(0.99888287642481) and wjlogp.rank is None
    headline, details = cv_headline(ranking)
    assert headline.startswith("Best valid control variate: var_logp (ρ = −0.293 ± 0.047;")
    assert details[0].startswith(
        "wjlogp_sum (ρ = 0.99888 ± 0.00011, variance ratio (2.23 ± 0.23)e−3) and jH_sum"
    )
    assert "are excluded: summands of the target (y_i = scale·(wjlogp_sum + jH_sum)" in details[0]
    assert details[0].endswith("so not valid control variates.")


def test_the_sample_cv_runs_have_no_feature_near_the_target(
    sample_site: tuple[Path, object],
) -> None:
    for run_id in CV_RUNS:
        summary = json.loads((sample_site[0] / "runs" / run_id / "summary.json").read_text())
        assert "cv-feature-near-target" not in {f["id"] for f in summary["findings"]}
        assert summary["cv_features"]["excluded"] == list(SUMMANDS)


def test_the_target_definition_is_checked_on_the_per_sequence_file() -> None:
    rows = ["gdotv_i,wjlogp_sum,jH_sum", "1.5,100.0,50.0", "-0.5,-40.0,-10.0"]
    exact = InputFile("r/cv_1/cv_per_seq.csv", "\n".join(rows).encode())
    target = cv_target(exact, 0.01)
    assert target.verified_on == "r/cv_1/cv_per_seq.csv" and target.max_deviation == 0.0
    off = InputFile("r/cv_1/cv_per_seq.csv", "\n".join([*rows, "2.0,1.0,1.0"]).encode())
    refuted = cv_target(off, 0.01)
    assert refuted.verified_on is None and refuted.max_deviation == pytest.approx(1.98 / 2.0)
    assert "does not reproduce it" in refuted.note
    assert cv_target(None, 0.01).note.startswith("the CV runner's definition (no cv_per_seq")
    assert cv_target(InputFile("x.csv", b"gdotv_i,length\n1,2\n"), 0.01).verified_on is None


def test_corr_se_is_the_sampling_sd_of_a_normal_correlation() -> None:
    """(1 − ρ²)/√(n − 3) against 4,000 seeded samples of n = 512 normal pairs at ρ = 0.3; the
    sd of 4,000 draws is itself known to 1/√(2·4000) ≈ 1.1 %, so 4 % is 3.5 of its SEs."""
    rng = np.random.default_rng(7)
    rho, n, draws = 0.3, 512, 4000
    x = rng.standard_normal((draws, n))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((draws, n))
    xc, yc = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
    r = np.sum(xc * yc, axis=1) / np.sqrt(np.sum(xc**2, axis=1) * np.sum(yc**2, axis=1))
    assert corr_se(rho, n) == pytest.approx(float(r.std(ddof=1)), rel=0.04)
    assert corr_se(rho, 3) is None and corr_se(None, n) is None


names = st.sampled_from([f"f{i}" for i in range(12)] + list(SUMMANDS))
features = st.lists(
    st.builds(
        CvFeatureStat,
        name=names,
        corr=st.one_of(st.none(), st.floats(-1, 1)),
        var_ratio_single=st.one_of(st.none(), st.floats(0, 1.2)),
        se_after_single=st.none(),
        selected=st.booleans(),
        beta_joint=st.none(),
    ),
    max_size=14,
    unique_by=lambda f: f.name,
)


@settings(max_examples=200, deadline=None)
@given(features)
def test_the_ranking_puts_valid_features_first_by_variance_ratio(
    stats: list[CvFeatureStat],
) -> None:
    target = CvTarget("y = a + b", SUMMANDS, None, None, "test")
    cv = CvData(100, "per_token", None, None, None, 0.1, None, None, (), tuple(stats), "t", target)
    ranking = rank_features(cv)
    assert sorted(f.name for f in ranking.features) == sorted(f.name for f in stats)
    valid = [f for f in ranking.features if f.valid]
    assert ranking.features[: len(valid)] == tuple(valid)  # valid ones first
    assert [f.rank for f in valid] == list(range(1, len(valid) + 1))
    ratios = [math.inf if f.var_ratio is None else f.var_ratio for f in valid]
    assert ratios == sorted(ratios)
    for f in ranking.excluded:
        assert f.name in SUMMANDS or (f.corr is not None and abs(f.corr) > 0.99)
    assert ranking.best is (valid[0] if valid else None)


@pytest.mark.slow
def test_a_feature_nearly_equal_to_the_target_is_warned_about_and_not_the_headline(
    sample_tree: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "results"
    shutil.copytree(sample_tree, tree)
    path = tree / CV_RUNS[0] / "results.json"
    data = json.loads(path.read_text())
    stats = data["summary"]["diagnostics"]["all_features_stats"]
    for key, value in (("corr", 0.995), ("var_ratio_single", 0.01), ("se_after_single", 0.1)):
        stats[key]["y_rescaled"] = value
    path.write_text(json.dumps(data))
    out = tmp_path / "site"
    build(BuildOptions(results=tree, out=out, jobs=1, bootstrap=0))
    summary = json.loads((out / "runs" / CV_RUNS[0] / "summary.json").read_text())
    warned = [f for f in summary["findings"] if f["id"] == "cv-feature-near-target"]
    assert len(warned) == 1 and warned[0]["severity"] == "warning"
    assert "y_rescaled (ρ = 0.995)" in warned[0]["message"]
    assert summary["cv_features"]["best_valid"] != "y_rescaled"
    assert "y_rescaled" in summary["cv_features"]["excluded"]
    summands = [f for f in summary["findings"] if f["id"] == "cv-feature-is-target-summand"]
    assert len(summands) == 1 and "wjlogp_sum" in summands[0]["message"]
    page = (out / "runs" / CV_RUNS[0] / "index.html").read_text()
    assert f"Best valid control variate: {summary['cv_features']['best_valid']}" in page
    assert "<strong>no</strong>: |ρ| &gt; 0.99, nearly the target" in page


@pytest.mark.shared
def test_without_all_features_stats_the_runs_feature_table_is_read(shared_results: Path) -> None:
    run_dir = shared_results / CV_RUNS[1]
    data = json.loads((run_dir / "results.json").read_text())
    del data["summary"]["diagnostics"]["all_features_stats"]
    table = next(run_dir.glob(f"cv_*/{FEATURE_STATS_CSV}"))
    artifacts = (InputFile(f"{CV_RUNS[1]}/{table.parent.name}/{table.name}", table.read_bytes()),)
    cv = load_cv(Fields(data), artifacts)
    assert cv.all_features_source == artifacts[0].path
    rows = _feature_table(shared_results, CV_RUNS[1])
    assert [f.name for f in cv.all_features] == [r["feature"] for r in rows]
    assert [f.var_ratio_single for f in cv.all_features] == [
        float(r["var_ratio_single"]) for r in rows
    ]
    assert {f.name for f in cv.all_features if f.selected} == set(cv_names(data))


def cv_names(data: dict[str, object]) -> list[str]:
    summary = data["summary"]
    assert isinstance(summary, dict)
    return list(summary["corr"])


REFUTED = "summands of the target by the runner's definition (not reproduced by cv_per_seq.csv)"


@pytest.mark.parametrize(("run_id", "percent"), list(zip(CV_RUNS, ("8.0 %", "5.1 %"), strict=True)))
def test_a_definition_the_per_sequence_file_refutes_is_not_asserted(
    sample_tree: Path, run_id: str, percent: str
) -> None:
    """The sample runs' cv_per_seq.csv does not reproduce y_i = scale·(wjlogp_sum + jH_sum):
    the summands are named as the runner's definition only, kept out as a precaution."""
    run = _cv_run(sample_tree, run_id)
    assert run.cv is not None
    ranking = rank_features(run.cv)
    assert ranking.target is not None and ranking.target.verified_on is None
    excluded = {f.name: f for f in ranking.excluded}
    assert set(excluded) == set(SUMMANDS)
    for feature in excluded.values():
        assert feature.validity == "target-summand"
        assert feature.summand_check == "not reproduced"
    _, details = cv_headline(ranking)
    (finding,) = [
        f for f in analyze_run(run, bootstrap=0).findings if f.id == "cv-feature-is-target-summand"
    ]
    for text in (details[0], finding.message):
        assert REFUTED in text
        assert f"max |y_i − scale·(wjlogp_sum + jH_sum)| = {percent} of max |y_i|" in text
        assert "kept out as a precaution" in text
        assert "not valid control variate" not in text and "summands of the target (" not in text
    # wjlogp_sum's own ρ excludes it whatever the definition; jH_sum's does not
    assert "wjlogp_sum would be excluded anyway: |ρ| > 0.99" in details[0]


def test_a_definition_the_per_sequence_file_reproduces_is_stated(tmp_path: Path) -> None:
    write_cv_batch(tmp_path, 0)
    run = _cv_run(tmp_path, "next_runner/cv_batch/run_01")
    assert run.cv is not None
    ranking = rank_features(run.cv)
    assert {f.summand_check for f in ranking.excluded} == {"reproduced"}
    _, details = cv_headline(ranking)
    (finding,) = [
        f for f in analyze_run(run, bootstrap=0).findings if f.id == "cv-feature-is-target-summand"
    ]
    for text in (details[0], finding.message):
        assert "summands of the target (y_i = scale·(wjlogp_sum + jH_sum), checked on" in text
        assert "not valid control variates" in text and REFUTED not in text


def test_only_confirmed_summands_are_said_to_correlate_by_construction(
    sample_site: tuple[Path, object], next_runner_site: tuple[Path, Path]
) -> None:
    """The run's own scatter of a summand is "there by construction" only where the
    per-sequence file reproduces the definition."""
    refuted = (sample_site[0] / "runs" / CV_RUNS[0] / "index.html").read_text()
    assert "scatter_wjlogp_sum.png" in refuted and "there by construction" not in refuted
    page = next_runner_site[1] / "runs/next_runner/cv_batch/run_01/index.html"
    assert "<code>scatter_wjlogp_sum.png</code>" in page.read_text()
    assert "there by construction" in page.read_text()


def test_a_negative_count_is_left_out_and_recorded_and_a_feature_list_must_be_a_list() -> None:
    from reportgen.load.models import DroppedValue

    data = {
        "summary": {
            "n_seqs": -1,
            "corr": {"length": 0.5},
            "diagnostics": {
                "crossfit_folds": -2,
                "features_all": 3.5,  # not a list: no order, every feature still listed
                "all_features_stats": {"corr": {"length": 0.5, "sum_w": 0.1}},
            },
        }
    }
    dropped: list[DroppedValue] = []
    cv = load_cv(Fields(data), (), dropped)
    assert cv.n_seqs is None and cv.crossfit_folds is None
    assert [(d.where, d.value) for d in dropped] == [
        ("summary.n_seqs", "-1"),
        ("summary.diagnostics.crossfit_folds", "-2"),
    ]
    assert [f.name for f in cv.all_features] == ["length", "sum_w"]
