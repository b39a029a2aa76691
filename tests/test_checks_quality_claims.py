"""The approximation-quality checks claim only what their standard errors show (demo runs)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.analysis.contributions import run_contributions, run_eta_summaries
from reportgen.analysis.diagnostics import CHECKS, DEFAULT_OPTIONS, CheckOptions, check_run, fmt_eta
from reportgen.analysis.uncertainty import run_uncertainty
from reportgen.demo import generate_snis_results, generate_sweep_results
from reportgen.demo.common import SAMPLE_ETAS
from reportgen.demo.snis import RESOLVED_OVERSHOOT
from reportgen.findings import Finding
from reportgen.load.models import Run
from reportgen.pages.guide import explanation_html
from tests.test_diagnostics import load, snis_results, write_run

SWEEP_ETAS = tuple(4e-7 * 2**k for k in range(8))  # 4e−7 … 5.12e−5, as the real sweeps
Data = dict[str, Any]


def findings(
    root: Path, data: Data, *, bootstrap: int = 0, options: CheckOptions = DEFAULT_OPTIONS
) -> dict[str, Finding]:
    """The run's findings by check id (one per run and check)."""
    write_run(root, data)
    run = load(root)
    assert isinstance(run, Run)
    contributions = run_contributions(run)
    summaries = run_eta_summaries(run, contributions)
    uncertainty = run_uncertainty(run, summaries, bootstrap=bootstrap)
    found = check_run(run, contributions, summaries, options, uncertainty)
    assert len({f.id for f in found}) == len(found)
    return {f.id: f for f in found}


def explanation(check_id: str) -> str:
    return " ".join(next(c for c in CHECKS if c.id == check_id).explanation.split())


# --- 1. η beyond η*: only beyond η*'s own uncertainty ------------------------------------------


def sweep_with_eta_star(seed: int, star: float, rel_g: float, rel_vhv: float) -> Data:
    """A demo sweep whose η* = 2|g·v/vHv| is ``star``, with K·se/|value| of g·v and vHv given."""
    data = generate_sweep_results(np.random.default_rng(seed), etas=SWEEP_ETAS)
    curvature = data["curvature"]
    g, k = curvature["gdotv"], curvature["variance"]["num_shards"]
    curvature["vHvv"] = 2 * abs(g) / star
    curvature["eta_star"] = star
    curvature["variance"]["se_gdotv"] = rel_g * abs(g) / k
    curvature["variance"]["se_vHvv"] = rel_vhv * curvature["vHvv"] / k
    return data


def test_eta_star_not_resolved_is_no_warning(tmp_path: Path) -> None:
    """The real sweep run_01's case: |g|/(K·se_g) = 0.247, |vHv|/(K·se_vHv) = 0.621, so η* has a
    relative SE of 4.4 and η = 2.56e−5, 5.12e−5 are not beyond it by more than that."""
    found = findings(tmp_path, sweep_with_eta_star(4, 1.354e-5, 1 / 0.247, 1 / 0.621))
    assert "eta-beyond-curvature" not in found
    info = found["eta-star-unresolved"]
    assert info.severity == "info" and info.etas == (2.56e-5, 5.12e-5)
    assert "inconclusive" in info.message and "± 5.9e−5" in info.message
    assert "relative SE 4.4" in info.message and "K = 64" in info.message


def test_eta_beyond_a_resolved_eta_star_is_a_warning_with_its_se(tmp_path: Path) -> None:
    found = findings(tmp_path, sweep_with_eta_star(4, 1.354e-5, 0.05, 0.05))
    warning = found["eta-beyond-curvature"]
    assert warning.etas == (2.56e-5, 5.12e-5)
    assert "η* = 1.354e−5 ± 9.6e−7" in warning.message and "K = 64" in warning.message
    assert "eta-star-unresolved" not in found


def test_eta_star_without_standard_errors_never_warns(tmp_path: Path) -> None:
    data = snis_results()
    data["approx"]["quadratic"]["eta_star"] = 1.5e-6  # no variance block: η* has no SE
    found = findings(tmp_path, data)
    assert "eta-beyond-curvature" not in found
    assert "no standard error" in found["eta-star-unresolved"].message


def test_the_sample_trees_planted_overshoot_warns_beyond_the_se_only(tmp_path: Path) -> None:
    """E_256/run_02 plants η* far below its largest η: the warning names η* ± SE; an η above
    η* but within 1.96·SE of it is the inconclusive info. The same run with η* nearer η_max
    (η_max/η* ≈ 1.35, as the sample planted it before 0.5.0) is not resolved: the info alone."""
    rng = np.random.default_rng([0, 101])  # as generate_sample_tree(seed=0) draws run_02
    data = generate_snis_results(
        rng, n_sequences=256, etas=SAMPLE_ETAS, overshoot=True,
        overshoot_strength=RESOLVED_OVERSHOOT,
    )  # fmt: skip
    found = findings(tmp_path / "resolved", data)
    warning = found["eta-beyond-curvature"]
    assert warning.etas == (6.4e-6, 1.28e-5) and " ± " in warning.message
    assert found["eta-star-unresolved"].etas == (3.2e-6,)
    rng = np.random.default_rng([0, 101])
    data = generate_snis_results(rng, n_sequences=256, etas=SAMPLE_ETAS, overshoot=True)
    found = findings(tmp_path / "unresolved", data)
    assert "eta-beyond-curvature" not in found and "eta-star-unresolved" in found


def test_the_guide_states_eta_stars_se_and_the_rule() -> None:
    text = explanation("eta-beyond-curvature")
    assert "(K·se_gdotv/g·v)² + (K·se_vHvv/vHv)²" in text and "η > η* + 1.96·SE" in text
    assert "inconclusive" in explanation("eta-star-unresolved")


# --- 2. a large error not shown to differ: inconclusive, with the MDE --------------------------


def test_large_error_not_shown_to_differ_is_inconclusive_with_its_mde(tmp_path: Path) -> None:
    data = generate_snis_results(
        np.random.default_rng([0, 9]), n_sequences=256, etas=SAMPLE_ETAS, truth_ratio=0.6
    )
    found = findings(tmp_path, data)
    info = found["linear-error-within-noise"]
    assert "not shown to differ (inconclusive)" in info.message
    assert "within noise" not in info.message
    assert info.message.count("MDE = ") == len(SAMPLE_ETAS) and "|z| = 0.54" in info.message
    text = explanation("linear-error-within-noise")
    assert "within noise" not in text and "looks large only because" not in text
    assert "80 % power" in text


def test_error_judged_by_an_incomplete_se_is_never_within_noise(tmp_path: Path) -> None:
    """An η sweep: (linear − true)/se_linear = 0.5, where ΔH_true has no SE."""
    data = generate_sweep_results(np.random.default_rng(3), etas=SWEEP_ETAS)
    shards = data["curvature"]["variance"]["num_shards"]
    data["curvature"]["variance"]["se_gdotv"] = 3 * abs(data["curvature"]["gdotv"]) / shards
    for row in data["sweep"]:
        row["deltaH_true"] = row["deltaH_approx_linear"] * 2.5  # (linear − true)/se_linear = 0.5
    found = findings(tmp_path, data)
    assert "linear-error-within-noise" not in found
    assert not any("within noise" in f.message for f in found.values())
    unjudged = found["linear-error-se-incomplete"]
    assert unjudged.message.count("(linear − true)/se_linear = 0.5") == len(SWEEP_ETAS)
    assert "incomplete" in unjudged.message and "no difference is shown" in unjudged.message


# --- 3. the log-log slope: a fact only with its interval ---------------------------------------


def sweep_with_slope(seed: int, slope: float, scatter: float) -> Data:
    """A demo sweep whose |ΔH_true| follows η^slope, times log-normal scatter."""
    data = generate_sweep_results(np.random.default_rng(seed), etas=SWEEP_ETAS)
    noise = np.random.default_rng([seed, 1]).normal(0.0, scatter, len(SWEEP_ETAS))
    for row, e in zip(data["sweep"], noise.tolist(), strict=True):
        factor = 2.0 * (row["eta"] / SWEEP_ETAS[0]) ** (slope - 1) * math.exp(e)
        row["deltaH_true"] = row["deltaH_approx_linear"] * factor
    return data


def test_slope_without_an_interval_is_judged_by_its_residual_se(tmp_path: Path) -> None:
    found = findings(tmp_path, sweep_with_slope(1, 1.35, 0.02))
    message = found["nonlinear-in-eta"].message
    assert "is 1.35" in message and "95 % interval" in message
    assert "fit's residuals" in message and "6 df" in message


def test_slope_whose_residual_interval_contains_one_is_silent(tmp_path: Path) -> None:
    """Slope 1.37 over 128× η, but so scattered that its 95 % interval (0.94 … 1.8) contains 1."""
    data = sweep_with_slope(2, 1.35, 0.6)
    assert "nonlinear-in-eta" not in findings(tmp_path, data)


# --- 4. a constant ratio is a scale mismatch, not curvature ------------------------------------


@pytest.mark.parametrize("bootstrap", [0, 2000])
def test_a_ratio_constant_in_eta_is_named_a_scale_mismatch(tmp_path: Path, bootstrap: int) -> None:
    """The demo's pre-fix runs: linear/true ≈ 0.25 at every η (0.244 … 0.254 over 16× η)."""
    data = generate_snis_results(
        np.random.default_rng([0, 700]), n_sequences=256, etas=SAMPLE_ETAS, truth_ratio=4.0
    )
    found = findings(tmp_path, data, bootstrap=bootstrap)
    for check_id in ("linear-disagrees", "linear-error-large"):
        message = found[check_id].message
        assert "the ratio is constant in η" in message, message
        assert "a scale or normalisation mismatch, not curvature" in message
        assert "η*" not in message
    assert "scale or normalisation mismatch" in explanation("linear-error-large")
    assert "scale or normalisation mismatch" in explanation("linear-disagrees")


def test_a_ratio_that_changes_with_eta_points_to_curvature(tmp_path: Path) -> None:
    found = findings(tmp_path, snis_results((2.5, 5.0, 10.0)))  # ΔH_true ∝ η²
    message = found["linear-error-large"].message
    assert "not linear in η" in message and "η*" in message
    assert "constant in η" not in message


# --- 5. opposite signs in a sweep are named as such --------------------------------------------


def test_opposite_signs_in_a_sweep_are_counted(tmp_path: Path) -> None:
    """The real sweep run_02's case: linear and ΔH_true of opposite signs at all 8 η."""
    data = generate_sweep_results(np.random.default_rng(2), etas=SWEEP_ETAS)
    for row in data["sweep"]:
        row["deltaH_true"] = -1.15 * row["deltaH_approx_linear"]
    found = findings(tmp_path, data)
    assert "sign-disagreement" not in found
    message = found["linear-error-se-incomplete"].message
    assert "opposite signs at 8 of the 8 η" in message
    assert "opposite signs" in explanation("linear-error-se-incomplete")


# --- 6. identities state their tolerance -------------------------------------------------------

IDENTITY_CHECKS = (
    "contrib-sum-mismatch",
    "base-entropy-mismatch",
    "scale-mismatch",
    "weights-not-normalized",
    "delta-seq-mismatch",
    "linear-aggregate-mismatch",
    "token-total-mismatch",
)


@pytest.mark.parametrize("check_id", IDENTITY_CHECKS)
def test_identity_checks_state_their_tolerance(check_id: str) -> None:
    rtol, atol = fmt_eta(DEFAULT_OPTIONS.identity_rtol), fmt_eta(DEFAULT_OPTIONS.identity_atol)
    text = explanation(check_id)
    assert f"{rtol}·max(" in text and f"+ {atol}" in text, text


# --- the guide renders these explanations as written ---------------------------------------------

GUIDE_CHECKS = (
    "eta-beyond-curvature",
    "eta-star-unresolved",
    "sign-disagreement",
    "linear-disagrees",
    "linear-error-large",
    "linear-error-within-noise",
    "linear-error-se-incomplete",
    "nonlinear-in-eta",
    *IDENTITY_CHECKS,
)


@pytest.mark.parametrize("check_id", GUIDE_CHECKS)
def test_explanations_render_without_stray_emphasis(check_id: str) -> None:
    """η* twice in a paragraph must not turn the text between the stars into italics."""
    html = str(explanation_html(next(c for c in CHECKS if c.id == check_id).explanation))
    assert not [m for m in re.findall(r"<em>(.*?)</em>", html, re.S) if "η" in m], html


def test_the_run_page_lists_eta_beyond_eta_star_by_the_checks_rule(
    sample_site: tuple[Path, object],
) -> None:
    """The curvature section gives η* ± SE and splits the η above it as the check does."""
    run = sample_site[0] / "runs" / "diagnostics_run" / "full_data" / "E_256" / "run_02"
    page = (run / "index.html").read_text(encoding="utf-8")
    section = page[page.index('id="curvature"') :]
    beyond = section[section.index("η beyond η* + 1.96·SE") :].split("</dd>")[0]
    assert "6.4e−6, 1.28e−5" in beyond and "η* = " in section and " ± " in section
    above = section[section.index("η above η*, not resolved from it") :].split("</dd>")[0]
    assert "3.2e−6" in above
