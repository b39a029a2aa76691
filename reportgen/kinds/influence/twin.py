"""The influence page's machine-readable twin, ``summary.json`` (schema: influence.schema.json).

Fields are only ever added. Arrays are per η in the order of ``etas``; NaN is written as null.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from reportgen.findings import Finding
from reportgen.kinds.influence.analysis import (
    DirectionFit,
    EvaluationAnalysis,
    FeatureTest,
    InfluenceAnalysis,
    ProxyRow,
    SumRule,
)
from reportgen.kinds.influence.diagnostics import checks
from reportgen.kinds.influence.recognise import KIND
from reportgen.kinds.study_page import not_read_json
from reportgen.pages.serialize import findings_rows

FORMAT = 1


def summary_json(
    analysis: InfluenceAnalysis, findings: Sequence[Finding] | None = None
) -> dict[str, Any]:
    """The twin as plain JSON values (``findings`` default to the kind's checks)."""
    run = analysis.run
    plan = run.plan
    return {
        "kind": KIND,
        "format": FORMAT,
        "directory": run.directory,
        "plan": {
            "etas": list(plan.etas),
            "microbatch_size": plan.microbatch_size,
            "workspace": plan.workspace,
            "evaluation": plan.evaluation,
        },
        "num_directions": run.num_directions,
        "evaluations": [_evaluation(e) for e in analysis.evaluations],
        "findings": findings_rows(checks(analysis) if findings is None else findings),
        "inputs": list(run.inputs),
        "not_read": [not_read_json(item) for item in run.not_read],
    }


def _floats(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values.tolist()]


def _evaluation(e: EvaluationAnalysis) -> dict[str, Any]:
    matrix = e.evaluation.matrix
    return {
        "index": e.evaluation.index,
        "num_sequences": e.m,
        "num_directions": e.n,
        "etas": list(e.etas),
        "delta_source": e.delta_source,
        "eta_reference": None if matrix is None else matrix.eta_reference,
        "matrix_reading": e.matrix_reading,
        "sum_rule": [_rule(r) for r in e.sum_rules],
        "directions": [_direction(d) for d in e.directions],
        "proxies": [_proxy(p) for p in e.proxies],
        "features": {"eta": e.feature_eta, "tests": [_feature(f) for f in e.features]},
        "disagreements": list(e.disagreements),
        "missing_arrays": list(e.missing_arrays),
        "equivalence_margin": e.margin,
    }


def _rule(r: SumRule) -> dict[str, Any]:
    return {
        "eta": r.eta,
        "n": r.n,
        "full": r.full,
        "baseline": r.baseline,
        "reported_sum": r.reported_sum,
        "adjusted_sum": r.adjusted_sum,
        "unadjusted_sum": r.unadjusted_sum,
        "reported_matches": r.reported_matches,
        "source": r.source,
        "residual": r.residual,
        "residual_se": r.residual_se,
        "z": r.z,
        "arrays_residual": r.arrays_residual,
        "arrays_residual_se": r.arrays_residual_se,
        "excess": r.excess,
        "expected_excess": r.expected_excess,
        "verdict": r.verdict,
        "bound": r.bound,
        "dof": r.dof,
        "arrays_verdict": r.arrays_verdict,
        "ratio": r.ratio,
        "ratio_se": r.ratio_se,
    }


def _direction(d: DirectionFit) -> dict[str, Any]:
    c = d.curvature
    return {
        "index": d.index,
        "id": d.id,
        "delta_h": _floats(d.values),
        "slope": d.fit.slope,
        "slope_se": d.fit.slope_se,
        "r2": d.fit.r2,
        "points": d.fit.points,
        "curvature": {
            "linear": c.linear,
            "quadratic": c.quadratic,
            "share": c.share,
            "share_se": c.share_se,
            "se_source": c.source,
            "dof": c.dof,
            "verdict": c.verdict,
        },
    }


def _proxy(p: ProxyRow) -> dict[str, Any]:
    return {
        "eta": p.eta,
        "grad": _floats(p.grad),
        "adjusted": _floats(p.adjusted),
        "gap": p.gap,
        "gap_se": p.gap_se,
        "gap_z_max": p.gap_z_max,
        "parity_slope": p.parity.slope,
        "parity_slope_se": p.parity.slope_se,
        "full": p.full,
        "verdict": p.verdict,
    }


def _feature(f: FeatureTest) -> dict[str, Any]:
    return {
        "name": f.name,
        "values": _floats(f.values),
        "spearman": f.test.rho,
        "spearman_low": f.interval[0],
        "spearman_high": f.interval[1],
        "p_value": f.test.p_value,
        "permutations": f.test.permutations,
        "exact": f.test.exact,
    }
