"""The convergence study's machine-readable twin (``summary.json``; see its JSON Schema)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportgen.analysis.record import finding_to_json
from reportgen.findings import Finding
from reportgen.kinds.rb_convergence.analysis import (
    TARGET,
    ConvergenceAnalysis,
    EstimatorPoint,
    RowAnalysis,
    RunAnalysis,
    SamplesNeeded,
)
from reportgen.kinds.rb_convergence.diagnostics import Z_OFF, checks
from reportgen.kinds.rb_convergence.recognise import KIND
from reportgen.kinds.stats import Z95
from reportgen.kinds.study_page import not_read_json

SUMMARY_FORMAT = 1
FORMULAS = {
    "expected_se": "σ/√n (clt) and σ/√n·√(1 − n/N) (fpc: n of N drawn without replacement)",
    "observed_se_mc_error": "std_est/√(2(m − 1)), m = n_bootstrap (normal approximation)",
    "var_reduction": "1 − (rb std_est / basic std_est)²; MC SE 2r·√((1 − ρ²)/(m − 1))",
    "pooled_mc_var_reduction": "Σ(m − 1)·VR_n / Σ(m − 1) over the rows (weights from m alone, "
    "not from the estimates); SE 2r̄·√((1 − ρ²)/Σ(m − 1)), r̄ = 1 − the pooled value",
    "ratio_to_fpc": "observed SE / (σ/√n·√(1 − n/N)) ± its MC error; within the margin when "
    "its 90 % interval (± 1.645 SE) lies inside 1 ± equivalence_margin",
    "samples_saved": "1 − n₀_rb/n₀_basic = 1 − (σ_rb/σ_basic)²(μ_basic/μ_rb)²; delta-method SE "
    "(1 − saved)·√(4(1 − ρ²)/(N − 1) + 4·Var(log(μ_basic/μ_rb)))",
    "samples_needed": "fresh n₀ = (z·σ/(0.01·|μ|))²; pool n = n₀/(1 + n₀/N); z = 1.96",
}


def summary_json(
    analysis: ConvergenceAnalysis, findings: Sequence[Finding] | None = None
) -> dict[str, Any]:
    study = analysis.study
    found = checks(analysis) if findings is None else findings
    return {
        "format": SUMMARY_FORMAT,
        "kind": KIND,
        "directory": study.directory,
        "inputs": list(study.inputs),
        "not_read": [not_read_json(item) for item in study.not_read],
        "skipped": [{"path": s.path, "reason": s.reason} for s in study.skipped],
        "unrecognised_fields": list(study.unrecognised),
        "z95": Z95,
        "target_relative_half_width": TARGET,
        "equivalence_margin": analysis.margin,
        "se_differs_beyond_z": Z_OFF,
        "formulas": FORMULAS,
        "temperatures": [_run_json(run) for run in analysis.runs],
        "findings": [finding_to_json(f) for f in found],
    }


def _run_json(run: RunAnalysis) -> dict[str, Any]:
    pop = run.run.population
    return {
        "source": run.run.source,
        "key": run.run.key,
        "temperature": run.run.temperature,
        "exp_info": dict(run.run.exp_info),
        "population": {
            "n_samples": pop.n_samples,
            "basic_mean": pop.basic_mean,
            "basic_std": pop.basic_std,
            "rb_mean": pop.rb_mean,
            "rb_std": pop.rb_std,
            "correlation": pop.correlation,
        },
        "var_reduction": run.var_reduction,
        "var_reduction_se": run.var_reduction_se,
        "pooled_mc_var_reduction": run.pooled_var_reduction,
        "pooled_mc_var_reduction_se": run.pooled_var_reduction_se,
        "pooled_mc_minus_pool": run.pooled_minus_pool,
        "pooled_mc_minus_pool_se": run.pooled_minus_pool_se,
        "samples_saved": run.saved,
        "samples_saved_se": run.saved_se,
        "mean_difference": run.mean_difference,
        "mean_difference_se": run.mean_difference_se,
        "file_expected_se_is": run.file_expected_is,
        "samples_needed": [_needed_json(n) for n in run.needed],
        "rows": [_row_json(row) for row in run.rows],
    }


def _needed_json(needed: SamplesNeeded) -> dict[str, Any]:
    return {
        "estimator": needed.estimator,
        "cv": needed.cv,
        "fresh": needed.fresh,
        "fresh_se": needed.fresh_se,
        "pool": needed.pool,
        "grid": needed.grid,
    }


def _row_json(row: RowAnalysis) -> dict[str, Any]:
    return {
        "sample_size": row.sample_size,
        "fraction": row.fraction,
        "n_bootstrap": row.n_bootstrap,
        "basic": _point_json(row.basic),
        "rb": _point_json(row.rb),
        "var_reduction": row.var_reduction,
        "var_reduction_se": row.var_reduction_se,
        "file_var_reduction": row.file_var_reduction,
    }


def _point_json(point: EstimatorPoint) -> dict[str, Any]:
    return {
        "observed_se": point.observed,
        "observed_se_mc_error": point.observed_se,
        "expected_se_clt": point.clt,
        "expected_se_fpc": point.fpc,
        "ratio_to_clt": point.ratio,
        "ratio_to_clt_se": point.ratio_se,
        "z_against_fpc": point.z_fpc,
        "ratio_to_fpc": point.fpc_ratio,
        "ratio_to_fpc_se": point.fpc_ratio_se,
        "within_margin_of_fpc": point.fpc_within,
        "file_expected_se": point.file_expected,
        "file_expected_se_is": point.file_expected_is,
        "bias": point.bias,
        "mc_se": point.mc_se,
    }
