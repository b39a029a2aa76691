"""The influence page claims linearity, the sum rule and the proxies' agreement only as
equivalence statements within a stated margin: each case on a demo tree, its numbers against an
independent computation from the files (plain Python loops)."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.demo.influence import INFLUENCE_ETAS, POWER_DIRECTION, write_influence_run
from reportgen.demo.studies import INFLUENCE_DIR, write_studies
from reportgen.kinds import influence
from reportgen.kinds.influence import analysis as ia
from reportgen.kinds.influence import diagnostics as ic
from reportgen.kinds.influence import view as page
from reportgen.kinds.influence.curvature import curvatures
from reportgen.kinds.reading import StudyFailure
from reportgen.kinds.sample_stats import t_quantile
from reportgen.numfmt import format_number, format_with_se
from tests import kind_helpers as kh

Built = tuple[Path, ia.InfluenceAnalysis]
PERCENT = f"±{100 * DEFAULT_MARGIN:g} %"


def _analysed(path: Path) -> ia.InfluenceAnalysis:
    loaded = kh.load_study(influence, path)
    assert not isinstance(loaded, StudyFailure), loaded
    return ia.analyze(loaded)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The influence study of the demo tree, written as ``reportgen demo`` writes it."""
    root = tmp_path_factory.mktemp("tree")
    write_studies(root, 0)
    return root / INFLUENCE_DIR, _analysed(root / INFLUENCE_DIR)


def _built(directory: Path, **options: Any) -> Built:
    write_influence_run(directory, **options)
    return directory, _analysed(directory)


def _html(analysis: ia.InfluenceAnalysis) -> str:
    return kh.page_text(page.page(analysis, kh.site_context(), "inf"))


def _per_sequence(path: Path, index: int) -> list[list[float]]:
    """δH of one direction per evaluation sequence j (rows) and η (columns), from the files."""
    columns = []
    for eta in INFLUENCE_ETAS:
        base = path / "eval_00_per_sequence"
        plus = np.load(base / "baseline_plus_grad" / f"eta_{eta!r}.npy").tolist()[index]
        baseline = np.load(base / "baseline" / f"eta_{eta!r}.npy").tolist()
        columns.append([p - b for p, b in zip(plus, baseline, strict=True)])
    return [list(row) for row in zip(*columns, strict=True)]


def _quadratic(etas: list[float], y: list[float]) -> tuple[float, float]:
    """a, b of y = a·η + b·η² by the 2 × 2 normal equations."""
    s2 = math.fsum(e**2 for e in etas)
    s3 = math.fsum(e**3 for e in etas)
    s4 = math.fsum(e**4 for e in etas)
    t1 = math.fsum(e * v for e, v in zip(etas, y, strict=True))
    t2 = math.fsum(e**2 * v for e, v in zip(etas, y, strict=True))
    det = s2 * s4 - s3 * s3
    return (s4 * t1 - s3 * t2) / det, (s2 * t2 - s3 * t1) / det


def _independent_share(rows: list[list[float]]) -> tuple[float, float]:
    """κ = b·η_max / (|a| + |b|·η_max) and its delta-method SE from the per-sequence fits."""
    etas, top = list(INFLUENCE_ETAS), max(INFLUENCE_ETAS)
    fits = [_quadratic(etas, row) for row in rows]
    m = len(fits)
    a = math.fsum(f[0] for f in fits) / m
    b = math.fsum(f[1] * top for f in fits) / m
    va = math.fsum((f[0] - a) ** 2 for f in fits) / (m - 1) / m
    vb = math.fsum((f[1] * top - b) ** 2 for f in fits) / (m - 1) / m
    cab = math.fsum((f[0] - a) * (f[1] * top - b) for f in fits) / (m - 1) / m
    d = abs(a) + abs(b)
    return b / d, math.sqrt(a * a * vb + b * b * va - 2 * a * b * cab) / d**2


# --- 1. linearity: a curvature test, not an R² ------------------------------------------------


def test_the_demo_trees_quadratic_direction_is_curved_though_a_line_fits_it_with_r2_0_9(
    tree: Built,
) -> None:
    path, analysis = tree
    directions = analysis.evaluations[0].directions
    verdicts = [d.curvature.verdict for d in directions]
    assert verdicts == ["curved" if d.index == POWER_DIRECTION else "linear" for d in directions]
    bent = directions[POWER_DIRECTION]
    assert bent.fit.r2 is not None and 0.9 < bent.fit.r2 < 0.93  # the old test called it linear
    for d in directions:
        share, se = _independent_share(_per_sequence(path, d.index))
        assert d.curvature.share is not None and d.curvature.share_se is not None
        assert math.isclose(d.curvature.share, share, rel_tol=1e-6, abs_tol=1e-9)
        assert math.isclose(d.curvature.share_se, se, rel_tol=1e-6)
        assert d.curvature.source == "sequences" and d.curvature.dof == 63
    assert abs(abs(bent.curvature.share or 0.0) - 1.0) < 0.01  # δH ∝ η²
    finding = next(f for f in ic.checks(analysis) if f.id == "influence-nonlinear")
    assert bent.id in finding.message and "κ = " in finding.message


def test_the_page_says_linear_only_within_the_stated_margin_and_never_r2_1(tree: Built) -> None:
    _, analysis = tree
    html = _html(analysis)
    bent = analysis.evaluations[0].directions[POWER_DIRECTION]
    assert "(R² 1)" not in html and "R² ≥ 0.9" not in html
    assert f"7 of 8 directions are linear in η within {PERCENT}" in html
    assert f"1 is curved beyond {PERCENT}: {bent.id}" in html
    assert "b·η_max / (|a| + |b|·η_max)" in html


@pytest.mark.parametrize(("power", "curved"), [(2.0, True), (1.5, True), (1.0, False)])
def test_a_power_law_direction_is_judged_by_its_curvature(
    tmp_path: Path, power: float, curved: bool
) -> None:
    _, analysis = _built(tmp_path / "run", power=power)
    bent = analysis.evaluations[0].directions[POWER_DIRECTION]
    assert bent.curvature.verdict == ("curved" if curved else "linear")


def test_without_arrays_the_fit_residuals_give_the_se_with_k_minus_2_degrees(
    tmp_path: Path,
) -> None:
    etas = np.array(INFLUENCE_ETAS)
    wobble = 1.0 + 0.01 * np.array([1.0, -1.0, 1.0, -1.0])
    deltas = np.stack([3.0 * etas, 3.0 * etas**2 / etas.max(), 3.0 * etas * wobble])
    found = curvatures(etas, deltas, None, DEFAULT_MARGIN)
    assert [c.source for c in found] == ["residuals"] * 3 and found[0].dof == 2
    assert [c.verdict for c in found] == ["linear", "curved", "linear"]
    # the SE of a noisy line: σ²·(XᵀX)⁻¹ with σ² from the residuals on k − 2 = 2 degrees
    x = np.stack([etas, etas**2 / etas.max()], axis=1)  # coefficients a and b·η_max
    y = deltas[2]
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    sigma2 = float(np.sum((y - x @ coef) ** 2)) / 2
    cov = sigma2 * np.linalg.inv(x.T @ x)
    a, b = coef
    d = abs(a) + abs(b)
    se = math.sqrt(a * a * cov[1, 1] + b * b * cov[0, 0] - 2 * a * b * cov[0, 1]) / d**2
    assert math.isclose(found[2].share_se or 0.0, se, rel_tol=1e-6)
    assert t_quantile(0.95, 2) == pytest.approx(2.919986, abs=1e-6)


# --- 2. the sum rule and the proxies: equivalence with a margin relative to δH_full ----------


def test_the_recomputed_sum_rule_holds_within_the_margin_not_within_2_se(tree: Built) -> None:
    _, analysis = tree
    rules = analysis.evaluations[0].sum_rules
    assert [r.arrays_verdict for r in rules] == ["holds"] * len(rules)
    for r in rules:
        half = t_quantile(0.95, 63) * (r.arrays_residual_se or 0.0)
        assert abs(r.arrays_residual or 0.0) + half <= DEFAULT_MARGIN * abs(r.full or 0.0)
    html = _html(analysis)
    assert "within 2 standard errors" not in html and "within 2 SE" not in html
    assert f"the sum rule holds within {PERCENT} of δH_full at every η" in html


def test_a_wide_residual_that_does_not_reject_is_inconclusive_not_holding(tmp_path: Path) -> None:
    _, analysis = _built(tmp_path / "run", residual_z=0.5, residual_sd=1e7)
    rules = analysis.evaluations[0].sum_rules
    verdicts = {r.eta: r.verdict for r in rules}
    assert all(abs((r.z or 0.0) - 0.5) < 1e-6 for r in rules)  # |z| ≤ 2: "held" before
    assert verdicts[1e-6] == "holds" and verdicts[8e-6] == "inconclusive"
    assert "fails" not in verdicts.values()
    assert "influence-sum-rule-untested" in {f.id for f in ic.checks(analysis)}
    html = _html(analysis)
    assert f"holds within {PERCENT} of δH_full at η = 1e−6" in html
    assert "inconclusive at η = " in html


def test_a_residual_beyond_the_margin_violates_the_rule(tmp_path: Path) -> None:
    _, analysis = _built(tmp_path / "run", residual_z=6.0, residual_sd=1.2e7)
    rules = analysis.evaluations[0].sum_rules
    assert [r.verdict for r in rules] == ["fails"] * len(rules)
    for r in rules:
        assert abs(r.residual or 0.0) > DEFAULT_MARGIN * abs(r.full or 0.0)
    html = _html(analysis)
    assert f"The sum rule is violated beyond {PERCENT} of δH_full" in html


def test_the_proxies_agree_only_within_the_margin(tree: Built, tmp_path: Path) -> None:
    path, analysis = tree
    rows = analysis.evaluations[0].proxies
    assert [p.verdict for p in rows] == ["within"] * len(rows)
    for p in rows:
        gaps = []
        full = np.load(path / "eval_00_per_sequence" / "full" / f"eta_{p.eta!r}.npy").tolist()
        for j in range(64):
            base = path / "eval_00_per_sequence"
            plus = np.load(base / "baseline_plus_grad" / f"eta_{p.eta!r}.npy")[:, j].tolist()
            grad = np.load(base / "grad" / f"eta_{p.eta!r}.npy")[:, j].tolist()
            baseline = float(np.load(base / "baseline" / f"eta_{p.eta!r}.npy")[j])
            gaps.append(math.fsum(a - baseline - g for a, g in zip(plus, grad, strict=True)))
        assert math.isclose(p.full or 0.0, statistics.fmean(full), rel_tol=1e-9)
        assert math.isclose(p.gap or 0.0, statistics.fmean(gaps), rel_tol=1e-6, abs_tol=1e-18)
    html = _html(analysis)
    assert "agree in total within 2 standard errors" not in html
    assert f"agree in total within {PERCENT} of δH_full at every η" in html
    _, wide = _built(tmp_path / "wide", interaction_sd=3e6)
    verdicts = [p.verdict for p in wide.evaluations[0].proxies]
    assert "inconclusive" in verdicts and "beyond" not in verdicts
    assert "influence-proxies-differ" not in {f.id for f in ic.checks(wide)}


# --- a correlation is never shown without its uncertainty ---------------------------------------


def test_each_feature_correlation_carries_its_95_percent_interval(tree: Built) -> None:
    _, analysis = tree
    features = analysis.evaluations[0].features
    assert features
    for f in features:
        rho, n = f.test.rho, int(np.isfinite(f.values).sum())
        assert rho is not None and n == 8
        half = 1.959963984540054 * math.sqrt((1 + rho**2 / 2) / (n - 3))
        low, high = math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)
        assert f.interval == pytest.approx((low, high), rel=1e-12)
    top = next(f for f in features if f.name == "advantage")
    start, end = (format_number(v) for v in top.interval)
    assert f"(ρ = {format_number(top.test.rho)}, 95 % interval {start} to {end}, p = " in _html(
        analysis
    )


def test_the_reported_sums_ratio_to_the_truth_carries_its_se(tree: Built) -> None:
    path, analysis = tree
    first = min(analysis.evaluations[0].sum_rules, key=lambda r: r.eta)
    base = path / "eval_00_per_sequence"
    eta = first.eta
    full = np.load(base / "full" / f"eta_{eta!r}.npy").tolist()
    plus = np.load(base / "baseline_plus_grad" / f"eta_{eta!r}.npy").tolist()
    reported = [math.fsum(row[j] for row in plus) for j in range(len(full))]  # Σᵢ δH(v_b + vᵢ)
    ratio = statistics.fmean(reported) / statistics.fmean(full)
    paired = [r - ratio * f for r, f in zip(reported, full, strict=True)]
    se = statistics.stdev(paired) / math.sqrt(len(full)) / abs(statistics.fmean(full))
    assert first.ratio is not None and math.isclose(first.ratio, ratio, rel_tol=1e-9)
    assert first.ratio_se is not None and math.isclose(first.ratio_se, se, rel_tol=1e-6)
    assert f"it is {format_with_se(first.ratio, first.ratio_se)} × δH_full" in _html(analysis)


def test_the_margin_is_the_one_given_and_the_page_states_it(tree: Built) -> None:
    path, _ = tree
    loaded = kh.load_study(influence, path)
    narrow = ia.analyze(loaded, kh.Margin(0.001))
    rules = narrow.evaluations[0].sum_rules
    assert all(r.margin == 0.001 for r in rules) and narrow.evaluations[0].margin == 0.001
    assert [d.curvature.verdict for d in narrow.evaluations[0].directions].count("linear") < 7
    html = _html(narrow)
    assert "±0.1 %" in html and PERCENT not in html
    twin_data = json.loads(json.dumps(influence.summary_json(narrow)))
    assert twin_data["evaluations"][0]["equivalence_margin"] == 0.001
    assert kh.twin_problems(influence.SCHEMA, twin_data) == []
