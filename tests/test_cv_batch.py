"""A CV batch's aggregate corrected: the SNR of the sum and the between-run spread, checked on
the real aggregate and on a generated batch whose answers are planted."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis.cv_batch import analyze_cv_batch
from reportgen.analysis.diagnostics.checks_supplement import cv_batch_report
from reportgen.demo import generate_sample_tree
from reportgen.demo.cv_batch import (
    CV_BATCH_BASE,
    CV_BATCH_RUNS,
    CV_BATCH_SEQUENCES,
    PLANTED_CHI2,
    PLANTED_SUM,
)
from reportgen.kinds.stats import chi2_sf
from reportgen.load.cv_aggregate import AGGREGATE_NAMES, CvAggregate, read_cv_aggregate
from reportgen.load.models import InputFile
from reportgen.pages.cv_batch import cv_batch_view
from reportgen.pages.render import environment

REAL_BATCH = "CVs_and_gdotv/run1"
# the chi-square 95th percentiles for 1…8 degrees of freedom (any statistics table)
CHI2_95 = (3.841459, 5.991465, 7.814728, 9.487729, 11.070498, 12.591587, 14.067140, 15.507313)


def _aggregate(directory: Path, which: tuple[str, ...] = AGGREGATE_NAMES) -> CvAggregate:
    files = {
        name: InputFile(name, (directory / name).read_bytes()) if name in which else None
        for name in AGGREGATE_NAMES
    }
    aggregate = read_cv_aggregate(*files.values())
    assert aggregate is not None
    return aggregate


def _rows(directory: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((directory / AGGREGATE_NAMES[0]).read_text())))


def _chi2(values: np.ndarray, ses: np.ndarray) -> float:
    """Cochran's Q written out: Σ wᵢ(xᵢ − x̄_w)², wᵢ = 1/SEᵢ²."""
    total = weight = 0.0
    for x, se in zip(values, ses, strict=True):
        total, weight = total + x / se**2, weight + 1 / se**2
    mean = total / weight
    return float(sum((x - mean) ** 2 / se**2 for x, se in zip(values, ses, strict=True)))


def _chi2_tail_by_quadrature(x: float, df: int) -> float:
    """1 − ∫₀ˣ of the χ² density (Simpson's rule on a fine grid), for comparison."""
    grid = np.linspace(1e-12, x, 200_001)
    log_pdf = (df / 2 - 1) * np.log(grid) - grid / 2 - (df / 2) * math.log(2) - math.lgamma(df / 2)
    pdf = np.exp(log_pdf)
    h = grid[1] - grid[0]
    integral = h / 3 * (pdf[0] + pdf[-1] + 4 * pdf[1:-1:2].sum() + 2 * pdf[2:-1:2].sum())
    return 1.0 - float(integral)


@pytest.mark.parametrize("df", range(1, 9))
def test_chi2_sf_is_five_percent_at_the_tabled_quantile(df: int) -> None:
    assert chi2_sf(CHI2_95[df - 1], df) == pytest.approx(0.05, abs=5e-7)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.5, 40.0), st.integers(2, 12))
def test_chi2_sf_agrees_with_integrating_the_density(x: float, df: int) -> None:
    assert chi2_sf(x, df) == pytest.approx(_chi2_tail_by_quadrature(x, df), abs=1e-6)


@pytest.mark.shared
def test_the_real_aggregate_is_512_times_too_large_and_the_spread_fits_the_corrected_se(
    shared_results: Path,
) -> None:
    directory = shared_results / REAL_BATCH
    rows = _rows(directory)
    g = np.array([float(r["gdotv_batch"]) for r in rows])
    se = np.array([float(r["se_batch"]) for r in rows])
    b = np.array([float(r["B_total"]) for r in rows])
    report = cv_batch_report(_aggregate(directory), ["CVs_and_gdotv/run1/run_01"])
    batch = report.analysis
    assert batch.mean_snr_file == pytest.approx(751.4669083825016, rel=1e-15)  # the file's
    assert batch.mean_snr_file == pytest.approx(float(np.mean(np.abs(g) / se)), rel=1e-12)
    assert batch.mean_snr == pytest.approx(float(np.mean(np.abs(g) / (b * se))), rel=1e-12)
    assert batch.mean_snr == pytest.approx(1.4677, abs=5e-5)
    assert batch.factor == pytest.approx(512.0, rel=1e-12)
    assert batch.spread_sd == pytest.approx(float(np.std(g, ddof=1)), rel=1e-12)
    assert batch.spread_sd == pytest.approx(158.14, abs=0.01)
    assert batch.mean_se_sum == pytest.approx(float(np.mean(b * se)), rel=1e-12)
    assert batch.mean_se_sum == pytest.approx(277.44, abs=0.01)
    assert batch.mean_se_file == pytest.approx(0.5418836738541031, rel=1e-15)
    assert batch.spread.df == 7
    assert batch.spread.chi2 == pytest.approx(_chi2(g, b * se), rel=1e-12)
    assert batch.spread_file.chi2 == pytest.approx(_chi2(g, se), rel=1e-12)
    assert batch.spread.p is not None and batch.spread.p > 0.05  # consistent: sd 158 vs SE 277
    assert batch.spread_file.p == pytest.approx(0.0, abs=1e-300)
    assert [r.run_id for r in batch.runs][:2] == ["CVs_and_gdotv/run1/run_01", None]
    (finding,) = report.findings
    assert finding.id == "cv-se-is-mean-se" and finding.severity == "info"
    for text in ("mean_SNR = 751.5", "mean 1.468", "512× too large", "158.1", "277.4"):
        assert text in finding.message
    assert "is consistent with the corrected per-run SE" in finding.message


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = generate_sample_tree(
        tmp_path_factory.mktemp("batch") / "results", seed=5, next_runner=True
    )
    return tree / CV_BATCH_BASE


def test_the_generated_batch_gives_its_planted_answers(planted: Path) -> None:
    batch = analyze_cv_batch(_aggregate(planted))
    assert len(batch.runs) == CV_BATCH_RUNS
    assert batch.factor == pytest.approx(CV_BATCH_SEQUENCES, rel=1e-12)
    # float32 columns move each sum by ~1e-6 of its value from the planted one
    assert batch.weighted_sum == pytest.approx(PLANTED_SUM, rel=1e-6)
    assert batch.spread.chi2 == pytest.approx(PLANTED_CHI2, rel=1e-5)
    assert batch.spread.df == CV_BATCH_RUNS - 1
    assert batch.spread.p == pytest.approx(chi2_sf(PLANTED_CHI2, CV_BATCH_RUNS - 1), rel=1e-4)
    rows = _rows(planted)
    g = np.array([float(r["gdotv_batch"]) for r in rows])
    se_sum = np.array([float(r["B_total"]) * float(r["se_batch"]) for r in rows])
    assert batch.se_weighted_sum == pytest.approx(1 / math.sqrt(np.sum(se_sum**-2)), rel=1e-12)
    assert batch.mean_snr == pytest.approx(float(np.mean(np.abs(g) / se_sum)), rel=1e-12)
    published = json.loads(json.dumps(batch.to_json()))
    assert published["factor"] == batch.factor and published["spread"]["df"] == CV_BATCH_RUNS - 1
    assert [r["gdotv_batch"] for r in published["runs"]] == [r.gdotv_batch for r in batch.runs]


def test_either_file_alone_gives_the_same_reading_and_a_disagreement_is_named(
    planted: Path,
) -> None:
    both = analyze_cv_batch(_aggregate(planted))
    csv_only = analyze_cv_batch(_aggregate(planted, (AGGREGATE_NAMES[0],)))
    json_only = analyze_cv_batch(_aggregate(planted, (AGGREGATE_NAMES[1],)))
    assert csv_only.spread == json_only.spread == both.spread
    assert csv_only.mean_snr == pytest.approx(both.mean_snr, rel=1e-12)
    text = (planted / AGGREGATE_NAMES[0]).read_text().splitlines()
    edited = InputFile("a.csv", "\n".join(text[:-1]).encode())
    json_file = InputFile("a.json", (planted / AGGREGATE_NAMES[1]).read_bytes())
    aggregate = read_cv_aggregate(edited, json_file)
    assert aggregate is not None and aggregate.problems == (
        "a.csv and a.json list different runs or g·v",
    )
    assert read_cv_aggregate(InputFile("b.json", b"[1]"), None) is None


def test_the_partial_shows_both_snrs_and_links_the_runs(planted: Path) -> None:
    group = "next_runner/cv_batch"
    run_ids = [f"{group}/run_{k + 1:02d}" for k in range(CV_BATCH_RUNS)]
    report = cv_batch_report(_aggregate(planted), run_ids)
    html = (
        environment()
        .get_template("_cv_batch.html")
        .render(cv_batch=cv_batch_view(report, group), base="../../../")
    )
    assert 'id="cv-batch"' in html and html.count("<tr>") == CV_BATCH_RUNS + 1
    assert '<a href="../../../runs/next_runner/cv_batch/run_01/index.html">run_01</a>' in html
    assert f"the file's is {CV_BATCH_SEQUENCES}× larger" in html
    assert 'data-check="cv-se-is-mean-se"' in html


def test_an_aggregate_whose_snr_uses_the_se_of_the_sum_gets_no_finding() -> None:
    sums_and_ses = [(-400.0, 2.0), (-350.0, 2.5), (-380.0, 1.5)]
    rows = [
        {"run_dir": f"/x/run_{k}", "gdotv_batch": g, "se_batch": se, "B_total": 100,
         "SNR": abs(g) / (100 * se)}
        for k, (g, se) in enumerate(sums_and_ses)
    ]  # fmt: skip
    content = json.dumps({"rows": rows, "mean_SNR": 1.7}).encode()
    aggregate = read_cv_aggregate(None, InputFile("agg.json", content))
    assert aggregate is not None
    report = cv_batch_report(aggregate)
    batch = report.analysis
    assert not batch.snr_is_sum_over_mean_se and report.findings == ()
    assert batch.mean_snr is not None
    assert batch.factor == pytest.approx(1.7 / batch.mean_snr, rel=1e-12)
