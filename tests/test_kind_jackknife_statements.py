"""What the jackknife page states across B: a weighted mean only where the estimates are not
shown to differ, agreement only within a stated margin, the χ² the slope's SE is scaled by, and a
distribution that cannot describe the estimate's values; each recomputed from the demo files."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.demo.jackknife import TEST_FILE, TRAIN_FILE
from reportgen.kinds import jackknife
from reportgen.kinds.jackknife.analysis import JackknifeAnalysis
from reportgen.kinds.jackknife.charts import MEANS, TAILS, charts
from reportgen.kinds.jackknife.diagnostics import DISTRIBUTION_MEAN
from reportgen.kinds.jackknife.view import verdict, view
from reportgen.pages import serialize
from tests.kind_helpers import Margin
from tests.test_kind_jackknife import analysed, edit, ids, load, write

Z90 = statistics.NormalDist().inv_cdf(0.95)


def twin(analysis: JackknifeAnalysis) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(serialize.dumps(jackknife.summary_json(analysis)))
    return loaded


# --- the weighted mean across B: withheld when the estimates differ ---------------------------


def test_no_weighted_mean_is_published_when_the_estimates_differ(tmp_path: Path) -> None:
    write(tmp_path)
    analysis = analysed(tmp_path)
    main = analysis.populations[0]
    assert main.differs and main.weighted_mean is not None  # the χ² test's centre, kept inside
    setting = twin(analysis)["settings"][0]
    assert setting["weighted_mean"] is None and setting["weighted_mean_se"] is None
    assert setting["weighted_mean_withheld"] == (
        "the estimates differ across B (χ² = 973 on 5 df, p = 4.2e−208): no one value "
        "summarises them"
    )
    _, datasets = charts(analysis)
    assert MEANS not in datasets  # nothing drawn across B
    page = view(analysis, ())
    assert page.settings[0].mean is None and page.settings[0].withheld is not None
    assert not any("weighted mean" in d for d in page.verdict.details[:1])
    assert any(d.startswith("No weighted mean across B is given") for d in page.verdict.details)


def test_a_weighted_mean_is_drawn_where_the_estimates_are_not_shown_to_differ(
    tmp_path: Path,
) -> None:
    write(tmp_path, chi2=None)
    analysis = analysed(tmp_path)
    assert not analysis.populations[0].differs
    assert twin(analysis)["settings"][0]["weighted_mean_withheld"] is None
    _, datasets = charts(analysis)
    (means,) = datasets[MEANS]
    assert means["setting"] == ["split test"]  # the train point alone has no mean
    assert list(means["mean"]) == [pytest.approx(analysis.populations[0].weighted_mean)]


# --- agreement across B only within a stated margin -------------------------------------------


def _bound(analysis: JackknifeAnalysis) -> float:
    """max over B of (|x − x̄| + z₉₀·SE(x − x̄)) / |x̄|, SE(x − x̄)² = SE² − 1/Σw."""
    test = analysis.populations[0]
    points = [analysis.points[i].point for i in test.points]
    x = np.array([p.estimate for p in points])
    se = np.array([p.se for p in points], dtype=np.float64)
    mean = float(np.sum(x / se**2) / np.sum(1 / se**2))
    spread = np.sqrt(se**2 - 1 / np.sum(1 / se**2))
    return float(np.max((np.abs(x - mean) + Z90 * spread) / abs(mean)))


def test_estimates_agree_across_b_only_within_the_stated_margin(tmp_path: Path) -> None:
    write(tmp_path, seed=1, json_lines=True, chi2=None)  # the sample tree's jackknife_lines
    analysis = analysed(tmp_path)
    test = analysis.populations[0]
    assert analysis.margin == DEFAULT_MARGIN
    bound = _bound(analysis)
    assert test.spread_bound == pytest.approx(bound, rel=1e-12)
    assert bound < DEFAULT_MARGIN and test.equivalent
    headline = verdict(analysis).headline
    assert "within their standard errors" not in headline
    assert headline == (
        "The estimates from B = 32 to 1,024 agree within ±20 % of their weighted mean "
        "1.508 ± 0.013: every B’s 90 % interval of its difference from it lies within "
        f"±{bound * 100:.1f} % of it (χ² = 3.281 on 5 df, p = 0.66)."
    )
    narrow = jackknife.analyze(load(tmp_path), Margin(0.05))
    assert narrow.margin == 0.05 and not narrow.populations[0].equivalent
    assert "agreement within ±5 % of their weighted mean is not shown" in verdict(narrow).headline


def test_estimates_not_shown_to_differ_with_wide_ses_are_inconclusive(tmp_path: Path) -> None:
    demo = write(tmp_path, chi2=None)

    def widen(data: dict[str, Any]) -> None:
        for e in data["experiments"]:
            e["std_dev_estimate"] *= 4
            e["variance_estimate"] *= 16

    edit(demo.directory / TEST_FILE, widen)
    analysis = analysed(tmp_path)
    test = analysis.populations[0]
    assert not test.differs and not test.equivalent
    bound = _bound(analysis)
    assert test.spread_bound == pytest.approx(bound, rel=1e-12) and bound > DEFAULT_MARGIN
    headline = verdict(analysis).headline
    assert "agree " not in headline
    assert headline.startswith("The estimates from B = 32 to 1,024 are not shown to differ (χ² = ")
    assert "a difference needs p < 0.001" in headline
    assert headline.endswith(
        "but agreement within ±20 % of their weighted mean is not shown either: the widest 90 % "
        f"interval of a B’s difference from it reaches ±{bound * 100:.0f} % of it. "
        "Inconclusive."
    )


# --- the slope's SE: scaled by the χ² about the fitted line, named and shown -------------------


def test_the_slope_se_names_and_shows_the_chi2_about_the_line(tmp_path: Path) -> None:
    demo = write(tmp_path)
    analysis = analysed(tmp_path)
    test = analysis.populations[0]
    x, y, se = np.log2(demo.batches), np.array(demo.estimates), np.array(demo.ses)
    slope, intercept = np.polyfit(x, y, 1, w=1 / se)
    residual = float(np.sum(((y - intercept - slope * x) / se) ** 2))
    assert test.residual_chi2 == pytest.approx(residual, rel=1e-9)
    assert test.residual_chi2 == pytest.approx(34.73, abs=0.005) and test.residual_df == 4
    setting = twin(analysis)["settings"][0]
    assert setting["residual_chi2"] == pytest.approx(residual, rel=1e-9)
    assert setting["residual_df"] == 4
    explanation = next(
        c.explanation for c in jackknife.CHECKS if c.id == "jackknife-estimate-depends-on-b"
    )
    assert "√(χ²/(k − 2))" not in explanation
    assert "χ² about the fitted line" in explanation
    row = view(analysis, ()).settings[0]
    assert row.residual_chi2 == test.residual_chi2 and row.residual_df == 4


@pytest.mark.slow  # Altair builds the chart specs once per test session
def test_the_page_shows_the_chi2_the_slope_se_uses(tmp_path: Path) -> None:
    from tests.kind_pages import site_for

    write(tmp_path / "tree")
    analysis = analysed(tmp_path / "tree")
    output = jackknife.page(analysis, site_for(tmp_path / "tree", tmp_path / "site"))
    html = output.content(output.paths[0]).decode()
    html = html[: html.index('<script type="application/json" id="page-data">')]  # text only
    assert "inflated by √(χ²/(k − 2))" not in html
    assert "√(χ²_line/(k − 2))" in html and "χ² about the line" in html
    assert "<td>34.73</td>" in html
    assert "1.710" not in html  # the withheld weighted mean
    assert "withheld: the estimates differ across B" in html


# --- a distribution_analysis whose mean cannot be the estimate's --------------------------------


def test_a_per_sequence_mean_that_cannot_be_the_estimates_is_flagged(tmp_path: Path) -> None:
    write(tmp_path)
    analysis = analysed(tmp_path)
    train = next(s for s in analysis.points if s.point.batch == 4096)
    dist = train.point.distribution
    assert dist is not None and dist.mean is not None and train.point.se is not None
    assert dist.count == 4096 * 4
    assert train.prompt_mean == pytest.approx(train.point.estimate, rel=1e-12)
    z = (dist.mean - train.point.estimate) / train.point.se
    assert z == pytest.approx(5.0, abs=0.1)
    (message,) = [f.message for f in jackknife.checks(analysis) if f.id == DISTRIBUTION_MEAN]
    assert message == (
        f"B = 4,096 (studies/jk/{TRAIN_FILE}): distribution_analysis.mean is "
        f"{dist.mean:.3f} over 16,384 = 4,096 × G = 4 sequences, but the estimate is "
        f"{train.point.estimate:.3f} ± 0.030 (the mean of its 4,096 per-prompt means "
        f"{train.prompt_mean:.3f}): with G sequences per prompt these are one number; they "
        f"differ by {dist.mean - train.point.estimate:.3f}, {z:.1f} SE"
    )


def test_a_matching_or_unequal_g_distribution_is_not_flagged(tmp_path: Path) -> None:
    write(tmp_path / "matching", distribution_matches=True)
    matching = analysed(tmp_path / "matching")
    train = next(s for s in matching.points if s.point.batch == 4096)
    assert train.point.distribution is not None and train.point.distribution.mean is not None
    assert train.point.distribution.mean == pytest.approx(train.point.estimate, rel=1e-12)
    assert DISTRIBUTION_MEAN not in ids(matching)
    demo = write(tmp_path / "unequal")
    edit(demo.directory / TRAIN_FILE, lambda d: d["distribution_analysis"].update(count=16000))
    assert DISTRIBUTION_MEAN not in ids(analysed(tmp_path / "unequal"))


def test_the_tails_chart_draws_per_prompt_means_only(tmp_path: Path) -> None:
    write(tmp_path)
    analysis = analysed(tmp_path)
    _, datasets = charts(analysis)
    (tails,) = datasets[TAILS]
    by_b: dict[float, dict[str, float]] = {}
    for b, statistic, value in zip(tails["B"], tails["statistic"], tails["value"], strict=True):
        by_b.setdefault(b, {})[statistic] = value
    assert sorted(by_b) == [32, 64, 128, 256, 512, 1024, 4096]
    for stats in analysis.points:
        values = [float(v) for v in stats.point.per_prompt_means]  # type: ignore[union-attr]
        drawn = by_b[stats.point.batch]
        assert drawn["max"] == max(values)
        q99 = statistics.quantiles(values, n=100, method="inclusive")[98]
        assert drawn["q99"] == pytest.approx(q99)
    page = view(analysis, ())
    of = sorted({(r.batch, r.source) for r in page.tails if r.batch == 4096})
    assert of == [
        (4096, "per-prompt means"),
        (4096, "per-sequence values (distribution_analysis)"),
    ]
    assert page.sequence_tails_apart == "4,096"
    assert math.isfinite(by_b[4096]["median"])
