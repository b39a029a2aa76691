"""Synthetic η-sweep results (the older schema generation)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reportgen.demo.common import MICROBATCH, JsonDict, precision
from reportgen.demo.snis import predicted_eta_star, ratio_pred, truth_model


def generate_sweep_results(
    rng: np.random.Generator, *, etas: Sequence[float], b_e: int = 512
) -> JsonDict:
    """One ``comparison_across_learning_rates`` results dict (older η-sweep format)."""
    etas = [float(e) for e in etas]
    g = float(rng.uniform(-700.0, -300.0))
    c, a, v = truth_model(rng, g, max(etas), False)
    t_total = int(b_e * rng.uniform(98.0, 105.0))
    num_shards = max(1, b_e // MICROBATCH)
    eta_star = predicted_eta_star(g, v)
    sweep = []
    for eta in etas:
        ratio = (c + a * eta / max(etas)) * (1.0 + 0.015 * float(rng.standard_normal()))
        linear = g * eta
        sweep.append(
            {
                "eta": eta,
                "deltaH_true": g * eta * ratio,
                "deltaH_approx": linear,
                "deltaH_approx_linear": linear,
                "deltaH_approx_linquad": linear + 0.5 * v * eta**2,
            }
        )
    timing = {
        "total": 0.0,
        "sampling": float(rng.uniform(200.0, 220.0)),
        "update_vector": float(rng.uniform(20.0, 23.0)),
        "true_total": 55.0 * len(etas) * float(rng.uniform(0.95, 1.05)),
        "h_approx": float(rng.uniform(5e-5, 9e-5)),
    }
    timing["total"] = sum(timing.values()) + float(rng.uniform(300.0, 350.0))
    curvature = {
        "gdotv": g,
        "vHvv": v,
        "eta_star": eta_star,
        "ratio_pred": ratio_pred(etas, eta_star),
        "num_sequences": b_e,
        "num_tokens": t_total,
        "method": "jvp_nested",
        "baseline": {"kind": "hk_ema"},
        "audit": {"scale_sum": num_shards / t_total, "total_tokens_used": t_total},
        "variance": {
            "num_shards": num_shards,
            "se_gdotv": float(rng.uniform(2.5, 5.0)) * 512.0 / b_e,
            "se_vHvv": abs(v) * float(rng.uniform(0.02, 0.05)) + 1.0e5,
        },
    }
    return {
        "sweep": sweep,
        "B_E": b_e,
        "B_U": 64,
        "G_U": 8,
        "precision": precision(),
        "timing": timing,
        "variance": 0.0,
        "approx": {"h_approx_normalized": 0.0},
        "curvature": curvature,
    }


# --- control-variate schema ------------------------------------------------------------------
