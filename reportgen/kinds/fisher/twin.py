"""The Fisher-kernel page's machine-readable twin, ``summary.json`` (schema: fisher.schema.json).

Fields are only ever added. NaN is written as null.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from reportgen.findings import Finding
from reportgen.kinds.fisher.analysis import FisherAnalysis, TopPair
from reportgen.kinds.fisher.diagnostics import checks, dominant_prompt, far_from_identity
from reportgen.kinds.fisher.recognise import KIND
from reportgen.kinds.fisher.verdict import COSINE_MARGIN, close_to_identity, contrast_verdict
from reportgen.kinds.study_page import not_read_json
from reportgen.pages.serialize import findings_rows

FORMAT = 1


def _floats(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values.tolist()]


def summary_json(
    analysis: FisherAnalysis, findings: Sequence[Finding] | None = None
) -> dict[str, Any]:
    """The twin as plain JSON values (``findings`` default to the kind's checks)."""
    run = analysis.run
    s = analysis.spectrum
    top = dominant_prompt(analysis)
    return {
        "kind": KIND,
        "format": FORMAT,
        "directory": run.directory,
        "n": analysis.n,
        "shape": {
            "close_to_identity": close_to_identity(analysis),
            "far_from_identity": far_from_identity(analysis),
            "dominant_prompt": None if top is None else top.prompt,
        },
        "spectrum": {
            "eigenvalues": _floats(s.eigenvalues),
            "shares": _floats(s.shares),
            "effective_rank": s.effective_rank,
            "top_share": s.top_share,
            "trace": s.trace,
            "negative_tolerance": s.tolerance,
            "rounding_negatives": s.rounding_negatives,
            "negatives": s.negatives,
            "most_negative": s.most_negative,
            "asymmetry": s.asymmetry,
            "resolved": s.resolved,
            "share_floor": s.share_floor,
        },
        "prompts": {
            "source": analysis.prompt_source,
            "shares": [asdict(share) for share in analysis.shares],
        },
        "cosine": {
            **(asdict(analysis.contrast) if analysis.contrast is not None else {}),
            "mean_abs_off_diagonal": analysis.off_diagonal_abs_cosine,
            "margin": COSINE_MARGIN,
            "verdict": _contrast_verdict(analysis),
        },
        "identity": [asdict(i) for i in analysis.identities],
        "correlations": [asdict(r) for r in analysis.correlations],
        "surprisal": [asdict(note) for note in analysis.surprisal],
        "top_pairs": [_pair(p) for p in analysis.top_pairs],
        "disagreements": list(analysis.disagreements),
        "findings": findings_rows(checks(analysis) if findings is None else findings),
        "inputs": list(run.inputs),
        "not_read": [not_read_json(item) for item in run.not_read],
    }


def _pair(p: TopPair) -> dict[str, Any]:
    return {
        "a": p.a,
        "b": p.b,
        "id_a": None if p.a_info is None else p.a_info.id,
        "id_b": None if p.b_info is None else p.b_info.id,
        "prompt_a": None if p.a_info is None else p.a_info.prompt_key,
        "prompt_b": None if p.b_info is None else p.b_info.prompt_key,
        "kernel": p.kernel,
        "cosine": p.cosine,
    }


def _contrast_verdict(analysis: FisherAnalysis) -> str | None:
    """within / beyond / inconclusive: the cosine difference against ±COSINE_MARGIN."""
    return None if analysis.contrast is None else contrast_verdict(analysis.contrast)
