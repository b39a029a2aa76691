"""The jackknife study's machine-readable twin (``summary.json``; see its JSON Schema)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportgen.analysis.record import finding_to_json
from reportgen.findings import Finding
from reportgen.kinds.jackknife.analysis import Homogeneity, JackknifeAnalysis, PointStats, Tail
from reportgen.kinds.jackknife.diagnostics import HETEROGENEITY_P, checks, withheld_reason
from reportgen.kinds.jackknife.model import Setting
from reportgen.kinds.jackknife.recognise import KIND
from reportgen.kinds.stats import Z95
from reportgen.kinds.study_page import not_read_json

SUMMARY_FORMAT = 1
SE_NOTE = (
    "se is the file's std_dev_estimate = √variance_estimate, the jackknife standard error of "
    "the estimate (not the spread of entropies); ci95 = estimate ± 1.96·se. Homogeneity per "
    "setting: w = 1/se², chi2 = Σw(x − Σwx/Σw)² on df = k − 1; settings are never pooled. "
    "weighted_mean is null (weighted_mean_withheld says why) where p < heterogeneity_p. "
    "spread_bound = max over B of (|x − x̄| + 1.645·√(se² − 1/Σw))/|x̄|; the estimates agree "
    "within equivalence_margin of x̄ (agree_within_margin) when it is ≤ the margin. "
    "residual_chi2 = Σw(x − a − b·log2 B)² about the fitted line on residual_df = k − 2; "
    "slope_se is scaled by √(residual_chi2/residual_df) when that exceeds 1."
)


def summary_json(
    analysis: JackknifeAnalysis, findings: Sequence[Finding] | None = None
) -> dict[str, Any]:
    """Everything the page states, as plain JSON values (NaN/∞ never appear: None instead)."""
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
        "se_note": SE_NOTE,
        "equivalence_margin": analysis.margin,
        "heterogeneity_p": HETEROGENEITY_P,
        "points": [_point_json(s) for s in analysis.points],
        "settings": [_population_json(h) for h in analysis.populations],
        "main_setting": analysis.main,
        "log_scale": analysis.log_scale,
        "findings": [finding_to_json(f) for f in found],
    }


def setting_json(setting: Setting) -> dict[str, Any]:
    return {
        "experiment_type": setting.experiment_type,
        "dataset": setting.dataset,
        "split": setting.split,
        "checkpoint": setting.checkpoint,
        "temperature": setting.temperature,
        "generation": setting.generation,
    }


def _point_json(stats: PointStats) -> dict[str, Any]:
    point, tail = stats.point, stats.tail
    return {
        "source": point.source,
        "line": point.line,
        "index": point.index,
        "setting": stats.population,
        "B": point.batch,
        "G": point.generations,
        "seed": point.seed,
        "estimate": point.estimate,
        "se": point.se,
        "variance_estimate": point.variance,
        "ci95": list(stats.ci95) if stats.ci95 is not None else None,
        "tested": stats.tested,
        "per_prompt": {
            "count": stats.prompt_count,
            "mean": stats.prompt_mean,
            "sd": stats.prompt_sd,
            "se_of_mean": stats.prompt_se,
            "skewness": stats.skewness,
        },
        "tail": _tail_json(tail),
        "prompt_tail": _tail_json(stats.prompt_tail),
        "distribution_mean_minus_estimate": stats.distribution_gap,
    }


def _tail_json(tail: Tail | None) -> dict[str, Any] | None:
    if tail is None:
        return None
    return {"source": tail.source, "median": tail.median, "q99": tail.q99, "max": tail.maximum}


def _population_json(test: Homogeneity) -> dict[str, Any]:
    withheld = withheld_reason(test)
    return {
        "label": test.label,
        **setting_json(test.setting),
        "points": list(test.points),
        "weighted_mean": test.weighted_mean if withheld is None else None,
        "weighted_mean_se": test.weighted_mean_se if withheld is None else None,
        "weighted_mean_withheld": withheld,
        "chi2": test.chi2,
        "df": test.df,
        "p_value": test.p_value,
        "log10_p_value": test.log10_p_value,
        "slope_per_doubling": test.slope_per_doubling,
        "slope_se": test.slope_se,
        "residual_chi2": test.residual_chi2,
        "residual_df": test.residual_df,
        "spread_bound": test.spread_bound,
        "agree_within_margin": test.equivalent,
    }
