"""A CV batch's aggregate corrected: the SNR of the sum and the between-run spread, checked on
the real aggregate and on a generated batch whose answers are planted."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis.cv_batch import POWER_SD_RATIO, analyze_cv_batch, spread_power, spread_test
from reportgen.analysis.diagnostics.checks_supplement import cv_batch_report
from reportgen.analysis.diagnostics.registry import by_id
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
from reportgen.numfmt import format_with_se
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
def test_the_real_aggregate_is_512_times_too_large_and_the_runs_spread_less_than_the_se(
    shared_results: Path,
) -> None:
    directory = shared_results / REAL_BATCH
    rows = _rows(directory)
    g = np.array([float(r["gdotv_batch"]) for r in rows])
    se = np.array([float(r["se_batch"]) for r in rows])
    b = np.array([float(r["B_total"]) for r in rows])
    report = cv_batch_report(_aggregate(directory), ["CVs_and_gdotv/run1/run_01"])
    batch = report.analysis
    snr = np.abs(g) / (b * se)
    assert batch.mean_snr_file == pytest.approx(751.4669083825016, rel=1e-15)  # the file's
    assert batch.mean_snr_file == pytest.approx(float(np.mean(np.abs(g) / se)), rel=1e-12)
    assert batch.mean_snr == pytest.approx(float(np.mean(snr)), rel=1e-12)
    assert batch.mean_snr == pytest.approx(1.4677, abs=5e-5)
    (part,) = batch.sets
    assert part.se_mean_snr == pytest.approx(float(np.std(snr, ddof=1) / math.sqrt(8)), rel=1e-12)
    assert part.se_mean_snr == pytest.approx(0.2315, abs=5e-5)
    assert batch.factor == pytest.approx(512.0, rel=1e-12) and part.factor_exact
    assert batch.spread_sd == pytest.approx(float(np.std(g, ddof=1)), rel=1e-12)
    assert batch.spread_sd == pytest.approx(158.14, abs=0.01)
    assert batch.mean_se_sum == pytest.approx(float(np.mean(b * se)), rel=1e-12)
    assert batch.mean_se_sum == pytest.approx(277.44, abs=0.01)
    assert batch.mean_se_file == pytest.approx(0.5418836738541031, rel=1e-15)
    assert batch.spread.df == 7
    assert batch.spread.chi2 == pytest.approx(_chi2(g, b * se), rel=1e-12)
    assert batch.spread.chi2 == pytest.approx(1.429, abs=5e-4)
    assert batch.spread_file.chi2 == pytest.approx(_chi2(g, se), rel=1e-12)
    # the upper tail does not reject, the lower one does: the runs spread *less* than the SEs
    assert batch.spread.p == pytest.approx(0.985, abs=5e-4)
    p_lower = batch.spread.p_lower
    assert p_lower == pytest.approx(0.0153, abs=5e-5) and p_lower is not None
    assert batch.spread.p_two_sided == pytest.approx(2 * p_lower, rel=1e-12)
    assert batch.spread.reading == "smaller"
    assert batch.spread_file.p == pytest.approx(0.0, abs=1e-300)
    assert batch.spread_file.reading == "larger"
    assert [r.run_id for r in batch.runs][:2] == ["CVs_and_gdotv/run1/run_01", None]
    (finding,) = report.findings
    assert finding.id == "cv-se-is-mean-se" and finding.severity == "info"
    for text in ("mean_SNR = 751.5", "1.468 ± 0.2315", "exactly 512× (B_total)", "158.1", "277.4"):
        assert text in finding.message
    assert "smaller than the corrected per-run SEs imply" in finding.message
    assert "consistent" not in finding.message


@pytest.fixture(scope="module")
def sample_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_sample_tree(
        tmp_path_factory.mktemp("batch") / "results", seed=5, next_runner=True
    )


@pytest.fixture(scope="module")
def planted(sample_tree: Path) -> Path:
    return sample_tree / CV_BATCH_BASE


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
    snr = np.abs(g) / se_sum
    assert batch.mean_snr == pytest.approx(float(np.mean(snr)), rel=1e-12)
    (part,) = batch.sets
    assert part.se_mean_snr == pytest.approx(float(np.std(snr, ddof=1)) / math.sqrt(len(snr)))
    # a run's SNR is its sum over the sum's SE (SE 1), the SE itself estimated from B sequences
    b = float(CV_BATCH_SEQUENCES)
    for run, value in zip(batch.runs, snr, strict=True):
        assert run.se_snr == pytest.approx(math.sqrt(1 + value**2 / (2 * (b - 1))), rel=1e-12)
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
    runs_table = html[html.index('id="cv-batch-runs"') :]
    assert 'id="cv-batch"' in html and runs_table.count("<tr>") == CV_BATCH_RUNS + 1
    assert '<a href="../../../runs/next_runner/cv_batch/run_01/index.html">run_01</a>' in html
    assert f"exactly {CV_BATCH_SEQUENCES}× (B_total)" in html
    assert 'data-check="cv-se-is-mean-se"' in html
    part = report.analysis.sets[0]
    assert format_with_se(part.mean_snr, part.se_mean_snr) in html
    assert "consistent" not in html


def _sum_se_rows(sums_and_ses: list[tuple[float, float]]) -> list[dict[str, Any]]:
    return [
        {"run_dir": f"/x/run_{k}", "gdotv_batch": g, "se_batch": se, "B_total": 100,
         "se_batch_after": se * 0.9, "SNR": abs(g) / (100 * se),
         "SNR_after": abs(g) / (100 * se * 0.9)}
        for k, (g, se) in enumerate(sums_and_ses)
    ]  # fmt: skip


def test_an_aggregate_whose_snr_uses_the_se_of_the_sum_gets_no_finding() -> None:
    rows = _sum_se_rows([(-400.0, 2.0), (-350.0, 2.5), (-380.0, 1.5)])
    stated = float(np.mean([r["SNR"] for r in rows]))
    content = json.dumps({"rows": rows, "mean_SNR": stated}).encode()
    aggregate = read_cv_aggregate(None, InputFile("agg.json", content))
    assert aggregate is not None
    report = cv_batch_report(aggregate)
    batch = report.analysis
    assert not batch.snr_is_sum_over_mean_se and report.findings == ()
    assert batch.mean_snr is not None
    assert batch.factor == pytest.approx(stated / batch.mean_snr, rel=1e-12)


def test_a_factor_that_is_not_b_total_by_construction_gets_its_se() -> None:
    """The ratio of two means over the same runs: its delta-method SE across the runs."""
    rows = _sum_se_rows([(-400.0, 2.0), (-350.0, 2.5), (-380.0, 1.5), (-20.0, 3.0)])
    rows[1]["SNR"] = 2.5  # not |g|/se_batch, nor |g|/(B·se_batch): the file's own number
    aggregate = read_cv_aggregate(None, InputFile("agg.json", json.dumps({"rows": rows}).encode()))
    assert aggregate is not None
    (part,) = analyze_cv_batch(aggregate).sets
    x = np.array([r["SNR"] for r in rows], dtype=float)
    y = np.array([abs(r["gdotv_batch"]) / (100 * r["se_batch"]) for r in rows])
    ratio = x.mean() / y.mean()
    se = float(np.std(x - ratio * y, ddof=1) / math.sqrt(len(x)) / y.mean())
    assert not part.factor_exact
    assert part.factor == pytest.approx(ratio, rel=1e-12)
    assert part.se_factor == pytest.approx(se, rel=1e-9)
    after = np.array([abs(r["gdotv_batch"]) / (100 * r["se_batch"] * 0.9) for r in rows])
    assert part.mean_snr_after == pytest.approx(float(after.mean()), rel=1e-12)
    assert part.se_mean_snr_after == pytest.approx(float(after.std(ddof=1) / 2), rel=1e-12)


# --- the spread test: two-sided, with its power ---------------------------------------------

# the χ² 2.5 % and 97.5 % quantiles (any statistics table), by degrees of freedom
CHI2_025_975 = {1: (0.000982069, 5.023886), 5: (0.831212, 12.832502), 7: (1.689869, 16.012764)}


@pytest.mark.parametrize("df", sorted(CHI2_025_975))
def test_the_power_is_that_of_the_two_sided_test_at_a_sd_one_and_a_half_times_the_se(
    df: int,
) -> None:
    low, high = CHI2_025_975[df]
    phi = POWER_SD_RATIO**2  # Q ~ φ·χ²(df) when the runs' sd is √φ times their SEs
    expected = chi2_sf(high / phi, df) + 1 - chi2_sf(low / phi, df)
    assert spread_power(df) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("chi2", "reading"), [(4.5, "not shown to differ"), (0.2, "smaller"), (14.0, "larger")]
)
def test_the_spread_is_read_by_both_tails(chi2: float, reading: str) -> None:
    spread = spread_test(chi2, 5)
    upper, lower = chi2_sf(chi2, 5), 1 - chi2_sf(chi2, 5)
    assert spread.p == pytest.approx(upper, rel=1e-12)
    assert spread.p_lower == pytest.approx(lower, rel=1e-12)
    assert spread.p_two_sided == pytest.approx(2 * min(upper, lower), rel=1e-12)
    assert spread.reading == reading


def test_two_runs_within_their_noise_are_inconclusive_not_consistent(sample_tree: Path) -> None:
    """The sample tree's CV batch: two runs of 48 sequences, χ² far below its 1 df."""
    report = cv_batch_report(_aggregate(sample_tree / "CVs_and_gdotv/run1"))
    spread = report.analysis.spread
    assert spread.df == 1 and spread.chi2 is not None and spread.chi2 < 0.05
    assert spread.reading == "not shown to differ" and spread.little_power
    assert spread.power is not None and spread.power < 0.2
    (finding,) = report.findings
    assert "not shown to differ (inconclusive)" in finding.message
    assert "little power" in finding.message and "consistent" not in finding.message
    html = (
        environment()
        .get_template("_cv_batch.html")
        .render(cv_batch=cv_batch_view(report, "CVs_and_gdotv/run1"), base="../../")
    )
    assert "not shown to differ" in html and "little power" in html and "consistent" not in html


def test_the_guide_names_no_batch_size_and_claims_no_agreement() -> None:
    guide = Path(__file__).resolve().parents[1] / "templates" / "guide.html"
    text = guide.read_text()
    paragraph = text[text.index("<strong>The CV aggregate's SNR.</strong>") :]
    paragraph = paragraph[: paragraph.index("</li>")]
    assert "512" not in paragraph and "consistent" not in paragraph
    assert "agrees with" not in paragraph.replace("disagrees", "")
    assert "B_total" in paragraph and "cv-se-is-mean-se" in paragraph


def test_the_guide_states_the_spread_the_power_is_quoted_at() -> None:
    explanation = by_id("cv-se-is-mean-se").info.explanation
    assert f"between-run sd {POWER_SD_RATIO:g} times the SEs'" in " ".join(explanation.split())
    assert "agrees" not in explanation and "consistent" not in explanation


def test_chi2_sf_of_the_smallest_positive_statistic_is_one() -> None:
    # 5e-324 is the smallest subnormal: its half is 0, whose logarithm the series would take
    from reportgen.analysis.pooling import chi2_sf as pooled_chi2_sf

    for sf in (chi2_sf, pooled_chi2_sf):
        assert sf(5e-324, 2) == 1.0 and sf(0.0, 3) == 1.0
