"""The symmetric finite difference's disagreement traced to a side (+η, −η or g·v itself), the
even part's scaling with η, and the SE of ½·vHvv (the total's, not the mean shard's)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.analysis import RunAnalysis, analyze_run
from reportgen.analysis.fd import even_scaling
from reportgen.demo.common import SAMPLE_ETAS, snis_config_text
from reportgen.demo.snis_next import NEXT_BASE, write_next_snis
from reportgen.discover import discover
from reportgen.load import load_run
from reportgen.load.models import Run

FD_CHECK = "linear-term-disagrees-with-fd"
Z_95 = 1.959963984540054


def _write_tree(root: Path) -> Path:
    write_next_snis(root, 0, snis_config_text(256, SAMPLE_ETAS))
    return root


def _analysis(tree: Path, name: str) -> RunAnalysis:
    found, _ = discover(tree)
    run = load_run(next(r for r in found.runs if r.id == f"{NEXT_BASE}/{name}"), tree)
    assert isinstance(run, Run)
    return analyze_run(run, bootstrap=0)


def _results(tree: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tree / NEXT_BASE / name / "results.json").read_text())
    return data


def _rewrite(tree: Path, name: str, data: dict[str, Any]) -> None:
    (tree / NEXT_BASE / name / "results.json").write_text(json.dumps(data))


@pytest.fixture(scope="module")
def next_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The next runner's SNIS runs alone (read-only: copy a run's file to mutate it)."""
    return _write_tree(tmp_path_factory.mktemp("fd") / "results")


def _measured(analysis: RunAnalysis) -> list[Any]:
    return [r for r in analysis.supplement.symmetric_fd if r.verdict != "not measured"]


def test_the_se_of_half_vhvv_is_the_totals_by_the_delta_method(next_tree: Path) -> None:
    """½·vHvv is ½ of a sum over sequences: its SE is ½·√n·sd(vhvv_i), not ½·se_vHvv (the
    SE of the mean shard, K times smaller)."""
    results = _results(next_tree, "run_02_fd_disagrees")
    vhvv = np.asarray(results["approx"]["quadratic"]["per_sequence_vhvv"])
    expected = 0.5 * math.sqrt(vhvv.size) * float(np.std(vhvv, ddof=1))
    shard_mean_se = results["approx"]["quadratic"]["variance"]["se_vHvv"]
    for row in _analysis(next_tree, "run_02_fd_disagrees").supplement.symmetric_fd:
        assert row.se_half_vhvv == pytest.approx(expected, rel=1e-9)
        assert row.se_half_vhvv > 10 * 0.5 * shard_mean_se
        assert row.se_half_vhvv_method is not None and "delta" in row.se_half_vhvv_method


def test_without_per_sequence_curvature_the_se_of_half_vhvv_is_half_k_se_vhvv(
    tmp_path: Path,
) -> None:
    tree = _write_tree(tmp_path / "results")
    results = _results(tree, "run_02_fd_disagrees")
    del results["approx"]["quadratic"]["per_sequence_vhvv"]
    for record in results["approx"]["per_sequence"]:
        record.pop("vhvv", None)
    _rewrite(tree, "run_02_fd_disagrees", results)
    variance = results["approx"]["quadratic"]["variance"]
    k, se = variance["num_shards"], variance["se_vHvv"]
    for row in _analysis(tree, "run_02_fd_disagrees").supplement.symmetric_fd:
        assert row.se_half_vhvv == pytest.approx(0.5 * k * se, rel=1e-12)
        assert row.se_half_vhvv_method is not None and f"{k}" in row.se_half_vhvv_method


def test_the_planted_minus_eta_measurement_is_named_not_the_linear_term(next_tree: Path) -> None:
    """run_02's Δ₋ is planted off; Δ₊ is the entry's own ΔH_true. The +η side matches the
    prediction g·v + ½·vHvv·η within noise, the −η side does not, and Δ₊ + Δ₋ grows as η¹."""
    analysis = _analysis(next_tree, "run_02_fd_disagrees")
    (finding,) = [f for f in analysis.findings if f.id == FD_CHECK]
    assert "the −η side" in finding.message and "Δ₋" in finding.message
    assert "normalisation" not in finding.message
    assert "Δ₊ + Δ₋ ∝ η^p, p = 1.039 ± 0.069" in finding.message
    etas = {u.eta: u for u in analysis.uncertainty.etas}
    rows = _measured(analysis)
    assert rows
    for row in rows:
        assert row.eta is not None and row.delta_plus is not None and row.delta_minus is not None
        eta, half = row.eta, row.half_vhvv
        se = etas[eta].se_diff_linquad / eta
        plus = row.delta_plus / eta - (row.gdotv + half * eta)
        minus = -row.delta_minus / eta - (row.gdotv - half * eta)
        assert row.deviation_plus == pytest.approx(plus, rel=1e-9)
        assert row.deviation_minus == pytest.approx(minus, rel=1e-9)
        assert row.se_deviation_plus == pytest.approx(se, rel=1e-12)
        assert row.se_deviation_minus == pytest.approx(se, rel=1e-12)
        # the two sides split the disagreement exactly: FD − g·v = ½(plus + minus)
        assert 0.5 * (plus + minus) == pytest.approx(row.difference, rel=1e-9)
        assert abs(row.z_plus) < Z_95 < row.z_minus
        assert row.implicated == "minus"
    scaling = even_scaling(analysis.supplement.symmetric_fd)
    assert scaling is not None
    low, high = rows[0], rows[-1]
    s_low, s_high = low.delta_plus + low.delta_minus, high.delta_plus + high.delta_minus
    span = math.log(high.eta / low.eta)
    assert scaling.exponent == pytest.approx(math.log(s_high / s_low) / span, rel=1e-9)
    se_low, se_high = etas[low.eta].se_true, etas[high.eta].se_true
    assert se_low is not None and se_high is not None
    rel_low, rel_high = 2 * se_low / abs(s_low), 2 * se_high / abs(s_high)
    assert scaling.se_exponent == pytest.approx((rel_low + rel_high) / span, rel=1e-9)
    assert abs(scaling.exponent - 1.0) < 2 * scaling.se_exponent
    assert (2.0 - scaling.exponent) > 5 * scaling.se_exponent


def test_a_linear_term_off_on_both_sides_implicates_g_dot_v(tmp_path: Path) -> None:
    """g·v shifted by 8 of its SEs while the truths stay: both sides depart alike."""
    tree = _write_tree(tmp_path / "results")
    results = _results(tree, "run_03_stable")
    records = results["approx"]["per_sequence"]
    shift = 3000.0
    for record in records:
        record["gdotv"] += shift / len(records)
    results["approx"]["delta_h_per_lr"] += shift
    results["approx"]["quadratic"]["gdotv"] += shift
    _rewrite(tree, "run_03_stable", results)
    analysis = _analysis(tree, "run_03_stable")
    rows = _measured(analysis)
    assert rows and all(r.verdict == "disagrees" for r in rows)
    for row in rows:
        assert row.z_plus < -Z_95 and row.z_minus < -Z_95
        assert row.implicated == "linear"
    (finding,) = [f for f in analysis.findings if f.id == FD_CHECK]
    assert "both sides" in finding.message and "g·v" in finding.message


def test_the_stable_runs_name_no_side(next_tree: Path) -> None:
    for name in ("run_01_clip_sensitive", "run_03_stable"):
        analysis = _analysis(next_tree, name)
        assert {r.implicated for r in _measured(analysis)} == {"unresolved"}
        assert FD_CHECK not in {f.id for f in analysis.findings}
