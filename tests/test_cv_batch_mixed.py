"""A CV aggregate that mixes batch sizes or feature lists is read batch by batch, side by side;
its rows are checked against the runs' own records and its stated means against its rows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.analysis.cv_batch import FIXED, RANDOM, analyze_cv_batch
from reportgen.analysis.diagnostics.checks_supplement import (
    CvBatchReport,
    cv_batch_report,
    group_cv_batch,
)
from reportgen.build import BuildOptions, build
from reportgen.codec import decode_versioned, encode
from reportgen.demo.cv_batch import (
    MIXED_BASE,
    MIXED_CHI2,
    MIXED_RUNS_PER_SIZE,
    MIXED_SIZES,
    MIXED_SUM_PER_SEQUENCE,
    TAMPERED_RUN,
    TAMPERED_SUM,
    mixed_sizes,
    write_mixed_cv_batch,
)
from reportgen.discover import discover
from reportgen.load import load_run
from reportgen.load.cv_aggregate import (
    AGGREGATE_CSV,
    AGGREGATE_JSON,
    AggregateFiles,
    CvAggregate,
    read_cv_aggregate,
)
from reportgen.load.models import CvData, InputFile, Run
from reportgen.pages.cv_batch import cv_batch_view
from reportgen.pages.render import environment

RUN_IDS = [f"{MIXED_BASE}/run_{k + 1:02d}" for k in range(len(mixed_sizes()))]


def _tree(root: Path, *, tampered: bool = False) -> Path:
    write_mixed_cv_batch(root, seed=3, tampered=tampered)
    return root


def _files(tree: Path) -> AggregateFiles:
    return AggregateFiles(
        tuple(
            InputFile(f"{MIXED_BASE}/{n}", (tree / MIXED_BASE / n).read_bytes())
            for n in (AGGREGATE_CSV, AGGREGATE_JSON)
        )
    )


def _aggregate(tree: Path) -> CvAggregate:
    files = _files(tree)
    aggregate = read_cv_aggregate(files.named(AGGREGATE_CSV), files.named(AGGREGATE_JSON))
    assert aggregate is not None
    return aggregate


def _own(tree: Path) -> dict[str, CvData]:
    """Each run's own CV record, as its loader reads it from its results file."""
    found, _ = discover(tree)
    own = {}
    for ref in found.runs:
        run = load_run(ref, tree)
        assert isinstance(run, Run) and run.cv is not None
        own[ref.id] = run.cv
    return own


def _json_aggregate(rows: list[dict[str, Any]], **stated: float) -> CvAggregate:
    content = json.dumps({"rows": rows, **stated}).encode()
    aggregate = read_cv_aggregate(None, InputFile("agg.json", content))
    assert aggregate is not None
    return aggregate


def _rows(sums_and_ses: list[tuple[float, float]], b: int, features: str = "a,b") -> list[Any]:
    return [
        {"run_dir": f"/x/run_{k}", "gdotv_batch": g, "se_batch": se, "B_total": b,
         "SNR": abs(g) / se, "features": features}
        for k, (g, se) in enumerate(sums_and_ses)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tree(tmp_path_factory.mktemp("mixed") / "results")


@pytest.fixture(scope="module")
def tampered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tree(tmp_path_factory.mktemp("tampered") / "results", tampered=True)


# --- 1. batch sizes kept apart -----------------------------------------------------------------


def test_each_batch_size_is_read_on_its_own_with_its_planted_answers(mixed: Path) -> None:
    batch = analyze_cv_batch(_aggregate(mixed), RUN_IDS)
    assert batch.mixed and [s.b_total for s in batch.sets] == list(MIXED_SIZES)
    g = np.array([r.gdotv_batch for r in batch.runs], dtype=float)
    se_sum = np.array([r.se_sum for r in batch.runs], dtype=float)
    for k, part in enumerate(batch.sets):
        assert part.rows == tuple(range(k * MIXED_RUNS_PER_SIZE, (k + 1) * MIXED_RUNS_PER_SIZE))
        assert part.n_used == MIXED_RUNS_PER_SIZE
        # float32 columns move each sum by ~1e-6 of its value from the planted one
        planted = MIXED_SUM_PER_SEQUENCE * MIXED_SIZES[k]
        assert part.b_total == MIXED_SIZES[k]
        assert part.weighted_sum == pytest.approx(planted, rel=1e-6)
        assert part.spread.chi2 == pytest.approx(MIXED_CHI2, rel=1e-5)
        assert part.spread.df == MIXED_RUNS_PER_SIZE - 1
        assert part.factor == pytest.approx(part.b_total, rel=1e-12) and part.factor_exact
        snr = np.abs(g[list(part.rows)]) / se_sum[list(part.rows)]
        assert part.mean_snr == pytest.approx(float(snr.mean()), rel=1e-12)
        assert part.se_mean_snr == pytest.approx(float(snr.std(ddof=1)) / 2, rel=1e-12)


def test_nothing_is_averaged_across_batch_sizes(mixed: Path) -> None:
    batch = analyze_cv_batch(_aggregate(mixed), RUN_IDS)
    pooled = (batch.mean_snr, batch.mean_snr_after, batch.spread_sd, batch.mean_se_sum)
    assert pooled == (None, None, None, None)
    assert (batch.weighted_sum, batch.se_weighted_sum, batch.factor) == (None, None, None)
    assert batch.spread.chi2 is None and batch.spread_file.chi2 is None
    published = json.loads(json.dumps(batch.to_json()))
    assert published["mixed"] is True and [s["b_total"] for s in published["sets"]] == [48, 64]
    assert published["sets"][0]["rows"] == list(range(MIXED_RUNS_PER_SIZE))


def test_a_mixed_aggregate_is_a_warning_naming_its_batches(mixed: Path) -> None:
    report = cv_batch_report(_aggregate(mixed), RUN_IDS)
    found = {f.id: f for f in report.findings}
    mixes = found["cv-aggregate-mixes-batches"]
    assert mixes.severity == "warning"
    for text in ("B_total 48 (4 runs)", "B_total 64 (4 runs)", "side by side"):
        assert text in mixes.message
    assert "cv-se-is-mean-se" in found  # each batch's SNR is still B_total times too large
    for size in MIXED_SIZES:
        assert f"B_total {size}: " in found["cv-se-is-mean-se"].message


def test_a_single_size_aggregate_has_one_batch_and_no_mixing_finding() -> None:
    aggregate = _json_aggregate(_rows([(-400.0, 2.0), (-350.0, 2.5), (-380.0, 1.5)], 100))
    report = cv_batch_report(aggregate)
    assert len(report.analysis.sets) == 1 and not report.analysis.mixed
    assert "cv-aggregate-mixes-batches" not in [f.id for f in report.findings]
    assert report.analysis.mean_snr == report.analysis.sets[0].mean_snr


def test_rows_with_other_features_are_another_batch() -> None:
    rows = _rows([(-400.0, 2.0), (-350.0, 2.5)], 100, "a,b")
    rows += _rows([(-380.0, 1.5), (-390.0, 1.7)], 100, "a, b, c")
    report = cv_batch_report(_json_aggregate(rows))
    assert [(s.b_total, s.features) for s in report.analysis.sets] == [(100, "a,b"), (100, "a,b,c")]
    (mixes,) = [f for f in report.findings if f.id == "cv-aggregate-mixes-batches"]
    assert "features a,b,c" in mixes.message


def test_heterogeneous_runs_get_the_dersimonian_laird_se() -> None:
    sums_and_ses = [(-400.0, 0.02), (-300.0, 0.025), (-500.0, 0.015), (-420.0, 0.03)]
    batch = analyze_cv_batch(_json_aggregate(_rows(sums_and_ses, 100)))
    (part,) = batch.sets
    g = np.array([s for s, _ in sums_and_ses])
    v = (100 * np.array([se for _, se in sums_and_ses])) ** 2
    w = 1 / v
    fixed = float(np.sum(w * g) / np.sum(w))
    q = float(np.sum(w * (g - fixed) ** 2))
    tau2 = (q - 3) / (w.sum() - (w**2).sum() / w.sum())  # DerSimonian–Laird, written out
    w_random = 1 / (v + tau2)
    assert part.spread.chi2 == pytest.approx(q, rel=1e-12) and part.spread.reading == "larger"
    assert part.tau2 == pytest.approx(tau2, rel=1e-9)
    assert part.weighting == RANDOM
    assert part.weighted_sum == pytest.approx(float(np.sum(w_random * g) / w_random.sum()))
    assert part.se_weighted_sum == pytest.approx(float(w_random.sum() ** -0.5), rel=1e-9)
    # the fixed-effect SE would be too small
    assert (part.se_weighted_sum or 0.0) > 3 * float(w.sum() ** -0.5)
    assert batch.se_weighted_sum == part.se_weighted_sum  # one batch: the top level is it


def test_runs_within_their_noise_keep_the_fixed_effect_se(mixed: Path) -> None:
    for part in analyze_cv_batch(_aggregate(mixed)).sets:
        assert part.tau2 == 0.0 and part.weighting == FIXED


def test_the_partial_shows_the_batches_side_by_side(mixed: Path) -> None:
    html = _render(cv_batch_report(_aggregate(mixed), RUN_IDS))
    table = html[html.index('id="cv-batch-sets"') :]
    table = table[: table.index("</table>")]
    for size in MIXED_SIZES:
        assert f"B_total = {size}" in table and f"exactly {size}× (B_total)" in table
    assert "not averaged together" in html
    assert 'data-check="cv-aggregate-mixes-batches"' in html


def _render(report: Any) -> str:
    view = cv_batch_view(report, MIXED_BASE)
    return str(environment().get_template("_cv_batch.html").render(cv_batch=view, base="../"))


# --- 4. rows checked against the runs and the stated means against the rows --------------------


def test_a_row_that_disagrees_with_its_run_is_left_out_with_a_warning(tampered: Path) -> None:
    own = _own(tampered)
    tampered_id = f"{MIXED_BASE}/{TAMPERED_RUN}"
    report, findings = group_cv_batch(_files(tampered), RUN_IDS, own)
    assert report is not None
    batch = report.analysis
    row = batch.runs[0]
    assert row.run_id == tampered_id and row.checked and not row.used
    (mismatch,) = row.mismatches
    true_sum = own[tampered_id].gdotv_batch
    assert (mismatch.column, mismatch.aggregate, mismatch.run) == (
        "gdotv_batch", TAMPERED_SUM, true_sum,
    )  # fmt: skip
    assert all(r.checked and r.used for r in batch.runs[1:])
    assert batch.sets[0].n_used == MIXED_RUNS_PER_SIZE - 1 and batch.sets[0].spread.df == 2
    assert TAMPERED_SUM not in [batch.runs[i].gdotv_batch for i in batch.sets[0].used_rows]
    (disagrees,) = [f for f in findings if f.id == "cv-aggregate-disagrees"]
    assert disagrees.severity == "warning"
    assert true_sum is not None and f"{true_sum:.10g}".replace("-", "−") in disagrees.message
    assert "−999" in disagrees.message and TAMPERED_RUN in disagrees.message
    published = json.loads(json.dumps(batch.to_json()))
    assert published["runs"][0]["mismatches"] == [
        {"column": "gdotv_batch", "aggregate": TAMPERED_SUM, "run": true_sum}
    ]
    assert published["runs"][0]["used"] is False and published["runs"][1]["checked"] is True
    html = _render(report)
    assert "left out" in html and "−999" in html


def test_rows_that_agree_with_their_runs_give_no_warning(mixed: Path) -> None:
    report, findings = group_cv_batch(_files(mixed), RUN_IDS, _own(mixed))
    assert report is not None and all(r.checked and r.used for r in report.analysis.runs)
    assert "cv-aggregate-disagrees" not in [f.id for f in findings]


def test_without_the_runs_records_rows_are_not_checked(tampered: Path) -> None:
    report, findings = group_cv_batch(_files(tampered), RUN_IDS)
    assert report is not None and not any(r.checked for r in report.analysis.runs)
    assert "cv-aggregate-disagrees" not in [f.id for f in findings]


def test_a_stated_mean_that_its_rows_do_not_give_is_a_warning_naming_both() -> None:
    rows = _rows([(-400.0, 2.0), (-350.0, 2.5), (-380.0, 1.5)], 100)
    rows_mean = float(np.mean([r["SNR"] for r in rows]))
    assert cv_batch_report(_json_aggregate(rows, mean_SNR=rows_mean)).findings[0].id == (
        "cv-se-is-mean-se"
    )
    report = cv_batch_report(_json_aggregate(rows, mean_SNR=751.5, n_runs=3))
    (stated,) = report.analysis.stated_mismatches
    assert (stated.name, stated.stated) == ("mean_SNR", 751.5)
    assert stated.rows == pytest.approx(rows_mean, rel=1e-15)
    (disagrees,) = [f for f in report.findings if f.id == "cv-aggregate-disagrees"]
    assert "mean_SNR = 751.5" in disagrees.message and f"{rows_mean:.10g}" in disagrees.message


def test_a_row_is_matched_to_the_run_beside_the_aggregate_first() -> None:
    rows = _rows([(-400.0, 2.0), (-350.0, 2.5)], 100)
    content = json.dumps({"rows": rows}).encode()
    aggregate = read_cv_aggregate(None, InputFile("g/agg.json", content))
    assert aggregate is not None
    ids = ["g/sub/run_0", "g/run_0", "other/run_1", "more/run_1"]
    batch = analyze_cv_batch(aggregate, ids)
    # run_0 beside the file; run_1 names two runs elsewhere: neither is guessed
    assert [r.run_id for r in batch.runs] == ["g/run_0", None]
    assert math.isfinite(batch.runs[1].snr or math.nan)


def test_the_report_survives_the_group_records_codec(tampered: Path) -> None:
    """The group record caches the report: every new field decodes to what was encoded."""
    report, _ = group_cv_batch(_files(tampered), RUN_IDS, _own(tampered))
    assert report is not None
    data = encode({"format": 1, "record": report})
    assert decode_versioned(CvBatchReport, 1, data) == report


def test_a_build_checks_the_rows_against_its_runs_records(tampered: Path, tmp_path: Path) -> None:
    """The group stage hands the runs' cached records to the check: the tampered row is left
    out of the site's statistics with a warning, the others are checked and used."""
    out = tmp_path / "site"
    build(BuildOptions(results=tampered, out=out, jobs=1))
    summary = json.loads((out / "groups" / MIXED_BASE / "summary.json").read_text())
    runs = summary["cv_batch"]["runs"]
    assert [r["checked"] for r in runs] == [True] * len(runs)
    assert [r["used"] for r in runs] == [False] + [True] * (len(runs) - 1)
    assert "cv-aggregate-disagrees" in [f["id"] for f in summary["findings"]]
