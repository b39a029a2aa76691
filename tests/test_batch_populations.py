"""The batch-size comparison pairs only runs alike but for B_E, and shows every run's own SE."""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.analysis import batch
from reportgen.analysis.uncertainty import EtaUncertainty
from reportgen.build import BuildOptions, build
from reportgen.demo.inference import LARGE, POST_FIX, write_inference_cases
from reportgen.pages import paths
from tests.test_crossrun import small_points, synthetic_sample

GROUP = "denominator_fix/run_with_denom_fix"


@pytest.fixture(scope="module")
def cases_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("batch-pop") / "results"
    write_inference_cases(root)
    out = root.parent / "site"
    assert build(BuildOptions(results=root, out=out, jobs=2, bootstrap=0)).failed_runs == []
    return out


def group_summary(site: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((site / paths.group_summary(GROUP)).read_text())
    return data


def page_text(site: Path) -> str:
    page = (site / paths.group_summary(GROUP)).with_name("index.html").read_text()
    start = page.index('id="batch"')
    text = re.sub(r"<[^>]+>", "", page[start : page.index("</section>", start)])
    return " ".join(html.unescape(text).split())


def test_only_runs_alike_but_for_b_e_are_compared(cases_site: Path) -> None:
    rows = group_summary(cases_site)["batch_comparison"]
    assert rows
    for row in rows:
        ids = {r["id"] for r in row["small_runs"]}
        assert ids == {f"{POST_FIX}/run_01", f"{POST_FIX}/run_02"}
        assert {r["id"] for r in row["full_run_values"]} == {
            f"{LARGE}/run_{k:02d}" for k in (1, 2, 3, 4)
        }
        left = {r["id"]: r["reason"] for r in row["left_out"]}
        assert set(left) == {f"{POST_FIX}/run_03", f"{POST_FIX}/run_04"}
        assert "llama-7b" in left[f"{POST_FIX}/run_04"]
        assert "denom_corr" in left[f"{POST_FIX}/run_03"]
    text = page_text(cases_site)
    assert "run_03" in text and "run_04" in text and "left out" in text


def test_small_runs_err_rel_has_its_paired_se(cases_site: Path) -> None:
    for row in group_summary(cases_site)["batch_comparison"]:
        for r in row["small_runs"]:
            assert r["se"] is not None and r["se"] > 0
        assert row["se_between_runs"] is not None and row["se_between_runs"] > 0
        assert row["reestimated"]["se_between_runs"] > row["reestimated"]["se_mean"]
    text = page_text(cases_site)
    assert "no SE" not in text
    assert "se_diff_linear / |mean ΔH_true of the larger runs|" in text
    assert "between-run SE" in text


def test_page_says_denom_corr_is_kept_at_full_batch_value(cases_site: Path) -> None:
    assert "denom_corr" in page_text(cases_site)


def errors(se: float) -> dict[str, tuple[EtaUncertainty, ...]]:
    return {"S/run_01": (EtaUncertainty(eta=1e-6, se_diff_linear=se),)}


def test_small_run_se_is_paired_se_over_mean_larger_true() -> None:
    large = [synthetic_sample("L/run_01", 100, 1), synthetic_sample("L/run_02", 100, 2)]
    small = [small_points("S/run_01", 25, -1e-3, -7e-4), small_points("S/run_02", 25, -2e-3, -1e-3)]
    (row,) = batch.batch_comparison(small, large, draws=50, errors=errors(2e-4))
    mean_true = np.mean([s.etas[0].delta_h_true for s in large])
    assert list(row.small_run_ses) == [pytest.approx(2e-4 / abs(mean_true)), None]
    assert row.to_json()["small_runs"][1] == {
        "id": "S/run_02",
        "err_rel": row.small_runs[1][1],
        "se": None,
    }


def test_between_run_se_is_the_se_of_the_larger_runs_means() -> None:
    large = [synthetic_sample(f"L/run_{k}", 100, k) for k in (1, 2, 3)]
    small = [small_points("S/run_01", 25, -1e-3, -7e-4)]
    (row,) = batch.batch_comparison(small, large, draws=200)
    for dist, pieces in ((row.raw, "raw"), (row.reestimated, "reestimated")):
        assert dist is not None
        means = [
            np.mean(getattr(batch._draw_run(s, [1e-6], 25, 200, 0)[1e-6], pieces)) for s in large
        ]
        assert dist.se_between_runs == pytest.approx(np.std(means, ddof=1) / math.sqrt(3))
        assert dist.n_runs == 3
    (one,) = batch.batch_comparison(small, large[:1], draws=200)
    assert one.raw.se_between_runs is None and one.raw.n_runs == 1


def test_chart_names_the_statistic_it_draws() -> None:
    from reportgen.pages.group_charts import batch_charts

    large = [synthetic_sample("L/run_01", 100, 1)]
    small = [small_points("S/run_01", 25, -1e-3, -7e-4)]
    (row,) = batch.batch_comparison(small, large, draws=20)
    chart, _ = batch_charts([row], str)[0]
    text = json.dumps(chart.spec, ensure_ascii=False) + chart.title
    assert "re-estimated" in text and "notebook's" not in text
    raw_only = batch.BatchComparison(**{**row.__dict__, "reestimated": None})
    chart, _ = batch_charts([raw_only], str)[0]
    text = json.dumps(chart.spec, ensure_ascii=False) + chart.title
    assert "raw err_rel" in text and "re-estimated" not in text
