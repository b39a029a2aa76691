"""Synthetic SNIS-diagnostics results (the newest schema generation)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from reportgen.demo.common import (
    CLIP_C,
    FEATURES,
    FloatArray,
    IntArray,
    JsonDict,
    eta_key,
    f32,
    precision,
    shard_errors,
    update_stats,
)

OVERSHOOT = (1.32, 1.38)  # η_max/η*: every η of a 2×-spaced grid ≥ 30 % away from η*
# η_max/η* ≈ 5.4: η_max/2 and η_max lie beyond η* + 1.96·SE(η*) at a 256-sequence batch's noise
RESOLVED_OVERSHOOT = (5.3, 5.5)


def truth_model(
    rng: np.random.Generator,
    g: float,
    eta_max: float,
    overshoot: bool,
    strength: tuple[float, float] = OVERSHOOT,
) -> tuple[float, float, float]:
    """``(c, a, vHvv)``: ΔH_true(η) ≈ g·η·(c + a·η/η_max); vHvv is the curvature estimate.

    Normally the linear term is off by 10–45% and η* = 2|g|/|vHvv| lies well above η_max;
    with ``overshoot`` the estimated curvature opposes g so strongly that η* < η_max (η_max/η*
    drawn from ``strength``).
    """
    if overshoot:
        c, a = rng.uniform(1.15, 1.2), rng.uniform(-0.38, -0.3)
        return float(c), float(a), float(-2.0 * rng.uniform(*strength) * g / eta_max)
    if rng.random() < 0.5:
        c, a = rng.uniform(1.12, 1.25), rng.uniform(0.05, 0.3)
    else:
        c, a = rng.uniform(0.78, 0.88), rng.uniform(-0.08, -0.02)
    return float(c), float(a), float(2.0 * a * g / eta_max * rng.uniform(0.5, 1.5))


def predicted_eta_star(g: float, vhvv: float) -> float | None:
    return 2.0 * abs(g) / abs(vhvv) if vhvv != 0.0 else None


def ratio_pred(etas: Sequence[float], eta_star: float | None) -> dict[str, float]:
    """``ratio_pred`` in the form the real η-sweep files record: ``1 / (1 − η/η*)``."""
    if eta_star is None:
        return {}
    return {eta_key(e): 1.0 / (1.0 - e / eta_star) for e in etas if e != eta_star}


# --- SNIS schema -----------------------------------------------------------------------------


def token_counts(rng: np.random.Generator, n: int) -> IntArray:
    """Generated lengths 20–150 with a pile-up at ``max_new_tokens``."""
    return np.clip(np.rint(rng.gamma(4.0, 26.0, n)), 20, 150).astype(np.int64)


def _centred(raw: FloatArray, total: float) -> FloatArray:
    """Shift ``raw`` so that it sums to ``total``."""
    out: FloatArray = total / raw.shape[0] + (raw - raw.mean())
    return out


def _gdotv(
    rng: np.random.Generator, n: int, total: float, unit: float, noise: float = 1.0
) -> FloatArray:
    """Heavy-tailed per-sequence linear terms (Student t, df 3) summing to ``total``."""
    raw: FloatArray = rng.standard_t(3.0, n) * (15.0 * 256.0 / n) * unit * noise
    return _centred(raw, total)


def _vhvv(rng: np.random.Generator, n: int, total: float, unit: float) -> FloatArray:
    raw: FloatArray = rng.standard_t(3.0, n) * (4.0e5 * 256.0 / n) * unit
    return _centred(raw, total)


def _snis_delta(
    w: FloatArray, h_new: FloatArray, t: IntArray, base: float, per_token: bool
) -> float:
    """ΔH_true exactly as the field guide computes it from the stored arrays."""
    if per_token:
        return float((w @ h_new) / (w @ t) - base)
    return float((w @ h_new) / w.sum() - base)


def _true_entry(
    rng: np.random.Generator,
    eta: float,
    target: float,
    seq: dict[str, Any],
    per_token: bool,
) -> JsonDict:
    """One SNIS entry whose stored arrays reproduce ``delta_h_true`` through the guide's formula."""
    t, h_base, base = seq["T"], seq["h_base"], seq["base_entropy"]
    sigma = 0.017 * (eta / 8e-7) ** 0.85 * rng.uniform(0.9, 1.1)
    # Log-weights orthogonal to the per-sequence entropy surplus, so that reweighting h_base
    # does not swamp the entropy change at small η (keeps delta_h_seq ~ linear in η).
    z = rng.standard_normal(t.shape[0])
    surplus = base * t - h_base
    z -= (z @ surplus) / (surplus @ surplus) * surplus
    log_w = f32(sigma * z)
    raw_w = np.exp(log_w)
    clipped = np.minimum(raw_w, CLIP_C)
    weights_sum = float(clipped.sum())
    normalized = clipped / weights_sum
    w = normalized * weights_sum  # the guide's reconstruction, used for every number below
    # Solve for the step s along the per-sequence pattern u that hits the target ΔH.
    u = seq["pattern"]
    denom = (w @ t) if per_token else w.sum()
    step = ((target + base) * denom - w @ h_base) / (w @ u)
    h_new = f32(h_base + step * u)
    delta = _snis_delta(w, h_new, t, base, per_token)
    diagnostics = {
        "delta_h_true": delta,
        "base_entropy": base,
        "ess": float(clipped.sum() ** 2 / np.sum(clipped**2)),
        "logweight_stats": {
            "min": float(log_w.min()),
            "median": float(np.median(log_w)),
            "max": float(log_w.max()),
        },
        "clip_fraction": float(np.mean(raw_w > CLIP_C)),
        "weights_sum": weights_sum,
        "normalized_weights": normalized.tolist(),
        "log_weights": log_w.tolist(),
        "h_base": h_base.tolist(),
        "h_new": h_new.tolist(),
        "delta_h_seq": (h_new - h_base).tolist(),
        "token_counts": t.tolist(),
    }
    return {"eta": float(eta), "delta_h_true": delta, "diagnostics": diagnostics}


def _sequence_basics(
    rng: np.random.Generator, n: int, per_token: bool, noise: float = 1.0
) -> dict[str, Any]:
    """Lengths, base integrands and the aggregate linear/quadratic terms of one E batch;
    ``noise`` scales the sequences' spread around the batch's trend (1: the sample runs')."""
    t = token_counts(rng, n)
    rho = np.clip(rng.normal(0.5, 0.12, n), 0.08, 1.2)
    h_base = f32(t * rho)
    t_total = int(t.sum())
    unit = 1.0 if per_token else float(t.mean())
    g = _gdotv(rng, n, float(rng.uniform(-700.0, -300.0)) * unit, unit, noise)
    g_z = (g - g.mean()) / g.std()
    pattern = t * (1.0 + 0.3 * noise * rng.standard_normal(n) + 0.3 * noise * g_z)
    base = float(h_base.sum() / t_total) if per_token else float(h_base.mean())
    return {
        "T": t,
        "rho": rho,
        "h_base": h_base,
        "T_total": t_total,
        "unit": unit,
        "gdotv": g,
        "pattern": pattern,
        "base_entropy": base,
        "scale": 1.0 / t_total if per_token else 1.0 / n,
    }


def _per_sequence_columns(rng: np.random.Generator, seq: dict[str, Any]) -> dict[str, FloatArray]:
    """Per-sequence diagnostics; ``gdotv = scale·(wjlogp_sum + jH_sum + denom_corr_unscaled)``."""
    t = seq["T"].astype(np.float64)
    n = t.shape[0]
    mean_lp = -seq["rho"] * np.exp(rng.normal(0.0, 0.25, n))
    sum_logp = f32(mean_lp * t)
    sum_w = f32(0.2 * t**2 * np.exp(rng.normal(0.0, 0.5, n)))
    wjlogp = f32(4.0e5 * np.sqrt(t / 100.0) * rng.standard_normal(n))
    jh_sum = f32(-350.0 * t * np.exp(rng.normal(0.0, 0.4, n)))
    sum_abs = f32(450.0 * t * np.exp(rng.normal(0.0, 0.3, n)))
    denom_unscaled = seq["gdotv"] / seq["scale"] - wjlogp - jh_sum
    return {
        "length": t,
        "sum_logp": sum_logp,
        "mean_logp": sum_logp / t,
        "var_logp": f32(np.abs(mean_lp) * 2.2 * np.exp(rng.normal(0.0, 0.3, n))),
        "max_logp": f32(-(10.0 ** rng.uniform(-6.5, -3.6, n))),
        "min_logp": f32(-(1.2 + rng.gamma(4.0, 1.1, n))),
        "rb_entropy_sum": f32(seq["h_base"] * (1.0 + rng.normal(0.0, 3e-4, n))),
        "sum_w": sum_w,
        "sum_w2": f32(sum_w**2 / t * 1.4 * np.exp(rng.normal(0.0, 0.2, n))),
        "wjlogp_sum": wjlogp,
        "jH_sum": jh_sum,
        "sum_abs_jlogp": sum_abs,
        "mean_abs_jlogp": sum_abs / t,
        "token_share": t / seq["T_total"],
        "denom_corr_scaled": denom_unscaled * seq["scale"],
        "denom_corr_unscaled": denom_unscaled,
    }


def _per_sequence_records(
    cols: dict[str, FloatArray], gdotv: FloatArray, vhvv: FloatArray | None, per_token: bool
) -> list[JsonDict]:
    """``approx.per_sequence`` records in the key order of the real files."""
    c = {k: v.tolist() for k, v in cols.items()}
    lengths = cols["length"].astype(np.int64).tolist()
    length_log = np.log(cols["length"]).tolist()
    vh = vhvv.tolist() if vhvv is not None else [None] * len(lengths)
    records: list[JsonDict] = []
    for i, (g, length, v) in enumerate(zip(gdotv.tolist(), lengths, vh, strict=True)):
        extras = {
            "rb_entropy_sum": c["rb_entropy_sum"][i],
            "sum_w": c["sum_w"][i],
            "sum_w2": c["sum_w2"][i],
            "sum_w_abs": c["sum_w"][i],
            "wjlogp_sum": c["wjlogp_sum"][i],
            "jH_sum": c["jH_sum"][i],
            "sum_abs_jlogp": c["sum_abs_jlogp"][i],
            "mean_abs_jlogp": c["mean_abs_jlogp"][i],
            "token_share": c["token_share"][i],
        }
        if per_token:
            extras["denom_corr_scaled"] = c["denom_corr_scaled"][i]
            extras["denom_corr_unscaled"] = c["denom_corr_unscaled"][i]
        rec: JsonDict = {"index": i, "gdotv": g, "length": length}
        rec.update({k: c[k][i] for k in ("sum_logp", "mean_logp", "var_logp")})
        rec.update({k: c[k][i] for k in ("max_logp", "min_logp")})
        rec["extras"] = extras
        rec["features"] = {
            "length_log": length_log[i],
            "sum_w": c["sum_w"][i],
            "sum_w2": c["sum_w2"][i],
            "rb_entropy_sum": c["rb_entropy_sum"][i],
            "var_logp": c["var_logp"][i],
        }
        if v is not None:
            rec["vhvv"] = v
        records.append(rec)
    return records


def _quadratic_block(
    rng: np.random.Generator,
    seq: dict[str, Any],
    vhvv: FloatArray,
    etas: Sequence[float],
    audit: JsonDict,
    per_sequence: bool,
) -> JsonDict:
    g_quad = float(seq["gdotv"].sum()) * (1.0 + float(rng.uniform(-0.0025, 0.0025)))
    v_total = float(vhvv.sum())
    eta_star = predicted_eta_star(g_quad, v_total)
    num_shards, se_g, _ = shard_errors(seq["gdotv"])
    _, se_v, _ = shard_errors(vhvv)
    block: JsonDict = {
        "gdotv": g_quad,
        "vHvv": v_total,
        "eta_star": eta_star,
        "ratio_pred": ratio_pred(etas, eta_star),
        "num_sequences": int(seq["T"].shape[0]),
        "num_tokens": seq["T_total"],
        "method": "jvp_nested",
        "baseline": {"kind": "hk_ema"},
        "audit": dict(audit),
        "variance": {"num_shards": num_shards, "se_gdotv": se_g * 1.0002, "se_vHvv": se_v},
    }
    if per_sequence:
        block["per_sequence_vhvv"] = vhvv.tolist()
    return block


def _approx_block(
    rng: np.random.Generator,
    seq: dict[str, Any],
    vhvv: FloatArray | None,
    etas: Sequence[float],
    per_sequence: bool,
    per_token: bool,
) -> JsonDict:
    n, t_total, g = int(seq["T"].shape[0]), seq["T_total"], seq["gdotv"]
    num_shards, se_shard, se_jack = shard_errors(g)
    audit = {"scale_sum": num_shards * seq["scale"], "total_tokens_used": t_total}
    block: JsonDict = {
        "delta_h_per_lr": float(g.sum()),
        "num_sequences": n,
        "num_tokens": t_total,
        "estimator": "rb",
        "baseline": {"kind": "hk_ema"},
        "method": "jvp",
        "audit": audit,
        "variance": {"num_shards": num_shards, "se_shard": se_shard, "se_jackknife": se_jack},
    }
    cols = _per_sequence_columns(rng, seq)
    if per_sequence:
        block["per_sequence"] = _per_sequence_records(cols, g, vhvv, per_token)
        h_mean = seq["base_entropy"] * (1.0 + float(rng.normal(0.0, 1e-9)))
        block["per_sequence_meta"] = {
            "B_total": n,
            "T_total": t_total,
            "scale": seq["scale"],
            "baseline_kind": "hk_ema",
            "total_tokens_used": t_total,
            "features": list(FEATURES),
            "H_base_mean": h_mean if per_token else None,
        }
    if vhvv is not None:
        block["quadratic"] = _quadratic_block(rng, seq, vhvv, etas, audit, per_sequence)
    block["eta_star"] = block["quadratic"]["eta_star"] if vhvv is not None else None
    block["duration"] = 1.87 * n * float(rng.uniform(0.95, 1.05))
    block["used_quad"] = vhvv is not None
    block["update_seconds"] = float(rng.uniform(20.0, 22.5))
    return block


def generate_snis_results(
    rng: np.random.Generator,
    *,
    n_sequences: int,
    etas: Sequence[float],
    per_sequence: bool = True,
    quadratic: bool = True,
    per_token: bool = True,
    overshoot: bool = False,
    overshoot_strength: tuple[float, float] = OVERSHOOT,
    truth_ratio: float | None = None,
    noise: float = 1.0,
    offset: float = 0.0,
) -> JsonDict:
    """One SNIS ``results.json`` (diagnostics_run generation) as a dict.

    ``delta_h_true`` of every entry is computed from the stored arrays by the field guide's
    formula, ``approx.delta_h_per_lr`` is the sum of the per-sequence ``gdotv`` and, with
    ``overshoot``, ``quadratic.eta_star`` falls below the largest η (by ``overshoot_strength``,
    the range η_max/η* is drawn from). ``truth_ratio`` fixes
    ΔH_true/ΔH_linear at every η (else the truth model drifts with η), ``noise`` scales the
    sequences' spread (and so every standard error) and ``offset`` moves this run's ΔH_true
    by that relative amount at every η (its sampling error, shared by its η as in real runs).
    """
    etas = [float(e) for e in etas]
    seq = _sequence_basics(rng, n_sequences, per_token, noise)
    g_total = float(seq["gdotv"].sum())
    c, a, v_total = truth_model(rng, g_total, max(etas), overshoot, overshoot_strength)
    if truth_ratio is not None:
        c, a = truth_ratio, 0.0
    vhvv = _vhvv(rng, n_sequences, v_total, seq["unit"]) if quadratic else None
    update = update_stats(rng)
    approx = _approx_block(rng, seq, vhvv, etas, per_sequence, per_token)
    approx["update_stats"] = dict(update)
    entries = []
    for eta in etas:
        ratio = (c + a * eta / max(etas)) * (1.0 + 0.015 * float(rng.standard_normal()))
        ratio *= 1.0 + offset
        entries.append(_true_entry(rng, eta, g_total * eta * ratio, seq, per_token))
    sampling = 0.58 * n_sequences * float(rng.uniform(0.9, 1.1)) + 10.0
    true_duration = 0.114 * n_sequences * len(etas) * float(rng.uniform(0.95, 1.05))
    return {
        "B_E": n_sequences,
        "B_U": 64,
        "G_U": 8,
        "sampling_sec": sampling,
        "update": update,
        "approx": approx,
        "true": {"entries": entries, "duration": true_duration},
        "control_variates": None,
        "precision": precision(),
        "timing": {"total": sampling + approx["duration"] + true_duration + 10.0},
    }


# --- η-sweep schema --------------------------------------------------------------------------
