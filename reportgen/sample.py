"""Deterministic synthetic results trees in the three schema generations (SNIS, η sweep, CV)."""

from __future__ import annotations

import copy
import functools
import json
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import yaml

JsonDict = dict[str, Any]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Dumper = Callable[[Any], bytes]

SAMPLE_ETAS: tuple[float, ...] = (8e-7, 1.6e-6, 3.2e-6, 6.4e-6, 1.28e-5)
SCALES: tuple[str, ...] = ("small", "medium")
CLIP_C = 10.0
MICROBATCH = 8
FEATURES: tuple[str, ...] = ("length_log", "sum_w", "sum_w2", "rb_entropy_sum", "var_logp")
CV_COLUMNS: tuple[str, ...] = (
    "gdotv_i", "length", "sum_logp", "mean_logp", "var_logp", "max_logp", "min_logp",
    "rb_entropy_sum", "rb_entropy_mean", "sum_w", "sum_w2", "sum_w_abs", "wjlogp_sum", "jH_sum",
    "sum_abs_jlogp", "mean_abs_jlogp", "surprisal_sum", "surprisal_mean", "token_share",
    "length_inv", "length_log", "length_x_surprisal_mean", "length_x_rb_entropy_mean",
)  # fmt: skip
CV_FEATURES_ALL: tuple[str, ...] = (
    "length", "sum_logp", "mean_logp", "var_logp", "max_logp", "min_logp", "surprisal_sum",
    "surprisal_mean", "length_inv", "length_log", "rb_entropy_sum", "rb_entropy_mean", "sum_w",
    "sum_w2", "sum_w_abs", "wjlogp_sum", "jH_sum", "sum_abs_jlogp", "mean_abs_jlogp",
    "token_share", "length_x_surprisal_mean", "length_x_rb_entropy_mean",
)  # fmt: skip
CV_OUT_ROOT = "/content/drive/MyDrive/RL_Practice_Files/good_cvs_20250915_0000"
CV_DIRS: tuple[str, ...] = ("cv_20250915_000501", "cv_20250915_001413", "cv_20250915_002327")
SCATTER_FEATURES: tuple[str, ...] = ("wjlogp_sum", "var_logp", "mean_logp")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The commented config the SNIS runs copy next to run_01.
_SNIS_CONFIG = """\
# === MODEL AND CHECKPOINT ===
checkpoint:
  checkpoint_path: "/content/drive/MyDrive/RL_Practice_Files/new_rl_checkpoint/step_40/model"
  optimizer_path: "/content/drive/MyDrive/RL_Practice_Files/new_rl_checkpoint/step_40/optimizer.pt"
  backbone: "qwen2_5_15"
  device_map: "cuda"

# === BATCH CONFIGURATION ===
batch_config:
  dataset_name: "gsm8k_r1_template"
  E_split: "train" #use larger for less overlap
  U_split: "test"
  B_E: @B_E@
  B_U: 64
  G: 8

# === COMPUTATION OPTIONS ===
estimator:
  use_simple_entropy_for_x: false
  eta_sweep: true
  single_eta: 4e-6
  eta_list: [@ETAS@]

# Make RB entropies differentiable in the with-grad path
rb_requires_grad: true

# === GROUND TRUTH ENTROPY CHANGE ===
true_delta_h:
  microbatch_size: 1
  is_mode: "snis"
  clip_c: 10.0
  report_per_token: @PER_TOKEN@
  snapshot_device: "cpu"

# === APPROXIMATE ENTROPY CHANGE ===
approx_delta_h:
  # Method to compute approximate delta-H:
  #  - 'jvp'     (forward-mode JVP; full-softmax closure; hk/hk_ema/hk_ridge baselines)
  #  - 'grad_dot' (backprop on surrogate; hk/hk_ema/regression baselines)
  method: jvp

  # Microbatching and normalization of the surrogate across E-batch
  microbatch_size: 8
  normalize: @NORMALIZE@   # 'per_seq_token_mean' | 'per_sequence' | 'per_token' | 'none'

  # Baseline settings for RB estimator paths (both methods use this 'kind')
  baseline:
    # 'hk' | 'hk_ema' | 'regression' | 'hk_ridge' | 'none'
    kind: hk_ema

    # hk_ema controls (used when kind == 'hk_ema')
    ema_beta: 0.9
    pos_bins: 32

    # regression controls (used when kind in {'regression','reg','reg_ridge','regression_ridge'})
    # Per-sequence linear baseline b_k = phi_k^T beta; optional L2 via regression_l2
    regression_l2: 0.0           # set >0 to add ridge penalty to regression baseline
    include_intercept: true
    fit_dtype: float64           # 'float64' | 'float32'
    normalize: false             # standardize features before fitting/predicting
    clip_min: null               # clamp predictions if desired
    clip_max: null

  # Ridge fit settings used by JVP hk_ridge baseline (microbatch-pooled)
  ridge:
    lambda: 1.0e-3
    eps: 1.0e-8

  # Optional variance diagnostics aggregation across microbatches
  variance:
    enabled: true
    jackknife: true

  report_per_token: false

  curvature:
    enabled: true


# === GENERATION SETTINGS ===
generation:
  temperature: 1.0
  top_p: 1.0
  max_new_tokens: 150
  gen_batch_size: 128
  tf_batch_size: 16

# === NUMERICAL PRECISION SETTINGS ===
precision:
  allow_tf32: false
  matmul_precision: high
  runtime_dtype: float32
  entropy_dtype: float64

  update_vector:
    use_amp: false
    amp_dtype: bfloat16
    grads_fp32: true
"""

_NOTES_MD = """\
# E_512 / run_01 — notes

Second 512-sequence batch from the step-40 checkpoint.

- SNIS ground truth at five learning rates (8e-7 … 1.28e-5)
- linear and quadratic approximations captured per sequence
- no control variates in this run

| η | expectation |
|---|-------------|
| 8e-7 | linear regime |
| 1.28e-5 | curvature starts to matter |
"""


# --- small utilities -------------------------------------------------------------------------


def _f32(x: FloatArray) -> FloatArray:
    """Round to float32 precision, as the experiment code stores most per-sequence values."""
    return x.astype(np.float32).astype(np.float64)


def _json_bytes(obj: Any) -> bytes:
    """2-space indented JSON exactly as ``json.dump(indent=2)`` wrote the real files."""
    return json.dumps(obj, indent=2, allow_nan=False).encode()


def _orjson_bytes(obj: Any) -> bytes:
    """Fast 2-space indented JSON (floats in shortest form; no NaN allowed by the caller)."""
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)


def _eta_key(eta: float) -> str:
    return str(float(eta))


def _write(root: Path, rel: str, data: bytes | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def _prepare_root(root: Path) -> Path:
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root} exists and is not an empty directory")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _shard_errors(values: FloatArray) -> tuple[int, float, float]:
    """Shard count, shard standard error and jackknife standard error of the shard sums."""
    n = values.shape[0]
    num_shards = max(1, n // MICROBATCH)
    sizes = np.full(num_shards, n // num_shards)
    sizes[: n % num_shards] += 1
    sums = np.add.reduceat(values, np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    if num_shards < 2:
        return num_shards, 0.0, 0.0
    se_shard = float(sums.std(ddof=1) / np.sqrt(num_shards))
    loo = (sums.sum() - sums) / (num_shards - 1)
    se_jack = float(np.sqrt((num_shards - 1) / num_shards * np.sum((loo - loo.mean()) ** 2)))
    return num_shards, se_shard, se_jack


def _update_stats(rng: np.random.Generator) -> JsonDict:
    return {
        "method": "adamw_from_grads",
        "vec_norm": float(rng.uniform(2400.0, 2460.0)),
        "num_params": 392,
        "avg_mb_loss": float(-rng.uniform(2.0e-4, 3.5e-4)),
        "num_microbatches": 64,
        "amp": {"enabled": False, "dtype": "bfloat16"},
    }


def _precision() -> JsonDict:
    return {"runtime_dtype": "float32", "entropy_dtype": "float64"}


# --- curvature / truth model -----------------------------------------------------------------


def _truth_model(
    rng: np.random.Generator, g: float, eta_max: float, overshoot: bool
) -> tuple[float, float, float]:
    """``(c, a, vHvv)``: ΔH_true(η) ≈ g·η·(c + a·η/η_max); vHvv is the curvature estimate.

    Normally the linear term is off by 10–45% and η* = 2|g|/|vHvv| lies well above η_max;
    with ``overshoot`` the estimated curvature opposes g so strongly that η* < η_max.
    """
    if overshoot:
        # η*/η_max ≈ 1/1.35 keeps every η of a 2×-spaced grid ≥ 30% away from η*.
        c, a = rng.uniform(1.15, 1.2), rng.uniform(-0.38, -0.3)
        return float(c), float(a), float(-2.0 * rng.uniform(1.32, 1.38) * g / eta_max)
    if rng.random() < 0.5:
        c, a = rng.uniform(1.12, 1.25), rng.uniform(0.05, 0.3)
    else:
        c, a = rng.uniform(0.78, 0.88), rng.uniform(-0.08, -0.02)
    return float(c), float(a), float(2.0 * a * g / eta_max * rng.uniform(0.5, 1.5))


def _eta_star(g: float, vhvv: float) -> float | None:
    return 2.0 * abs(g) / abs(vhvv) if vhvv != 0.0 else None


def _ratio_pred(etas: Sequence[float], eta_star: float | None) -> dict[str, float]:
    """``ratio_pred`` in the form the real η-sweep files record: ``1 / (1 − η/η*)``."""
    if eta_star is None:
        return {}
    return {_eta_key(e): 1.0 / (1.0 - e / eta_star) for e in etas if e != eta_star}


# --- SNIS schema -----------------------------------------------------------------------------


def _token_counts(rng: np.random.Generator, n: int) -> IntArray:
    """Generated lengths 20–150 with a pile-up at ``max_new_tokens``."""
    return np.clip(np.rint(rng.gamma(4.0, 26.0, n)), 20, 150).astype(np.int64)


def _centred(raw: FloatArray, total: float) -> FloatArray:
    """Shift ``raw`` so that it sums to ``total``."""
    out: FloatArray = total / raw.shape[0] + (raw - raw.mean())
    return out


def _gdotv(rng: np.random.Generator, n: int, total: float, unit: float) -> FloatArray:
    """Heavy-tailed per-sequence linear terms (Student t, df 3) summing to ``total``."""
    raw: FloatArray = rng.standard_t(3.0, n) * (15.0 * 256.0 / n) * unit
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
    log_w = _f32(sigma * z)
    raw_w = np.exp(log_w)
    clipped = np.minimum(raw_w, CLIP_C)
    weights_sum = float(clipped.sum())
    normalized = clipped / weights_sum
    w = normalized * weights_sum  # the guide's reconstruction, used for every number below
    # Solve for the step s along the per-sequence pattern u that hits the target ΔH.
    u = seq["pattern"]
    denom = (w @ t) if per_token else w.sum()
    step = ((target + base) * denom - w @ h_base) / (w @ u)
    h_new = _f32(h_base + step * u)
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


def _sequence_basics(rng: np.random.Generator, n: int, per_token: bool) -> dict[str, Any]:
    """Lengths, base integrands and the aggregate linear/quadratic terms of one E batch."""
    t = _token_counts(rng, n)
    rho = np.clip(rng.normal(0.5, 0.12, n), 0.08, 1.2)
    h_base = _f32(t * rho)
    t_total = int(t.sum())
    unit = 1.0 if per_token else float(t.mean())
    g = _gdotv(rng, n, float(rng.uniform(-700.0, -300.0)) * unit, unit)
    g_z = (g - g.mean()) / g.std()
    pattern = t * (1.0 + 0.3 * rng.standard_normal(n) + 0.3 * g_z)
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
    sum_logp = _f32(mean_lp * t)
    sum_w = _f32(0.2 * t**2 * np.exp(rng.normal(0.0, 0.5, n)))
    wjlogp = _f32(4.0e5 * np.sqrt(t / 100.0) * rng.standard_normal(n))
    jh_sum = _f32(-350.0 * t * np.exp(rng.normal(0.0, 0.4, n)))
    sum_abs = _f32(450.0 * t * np.exp(rng.normal(0.0, 0.3, n)))
    denom_unscaled = seq["gdotv"] / seq["scale"] - wjlogp - jh_sum
    return {
        "length": t,
        "sum_logp": sum_logp,
        "mean_logp": sum_logp / t,
        "var_logp": _f32(np.abs(mean_lp) * 2.2 * np.exp(rng.normal(0.0, 0.3, n))),
        "max_logp": _f32(-(10.0 ** rng.uniform(-6.5, -3.6, n))),
        "min_logp": _f32(-(1.2 + rng.gamma(4.0, 1.1, n))),
        "rb_entropy_sum": _f32(seq["h_base"] * (1.0 + rng.normal(0.0, 3e-4, n))),
        "sum_w": sum_w,
        "sum_w2": _f32(sum_w**2 / t * 1.4 * np.exp(rng.normal(0.0, 0.2, n))),
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
    eta_star = _eta_star(g_quad, v_total)
    num_shards, se_g, _ = _shard_errors(seq["gdotv"])
    _, se_v, _ = _shard_errors(vhvv)
    block: JsonDict = {
        "gdotv": g_quad,
        "vHvv": v_total,
        "eta_star": eta_star,
        "ratio_pred": _ratio_pred(etas, eta_star),
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
    num_shards, se_shard, se_jack = _shard_errors(g)
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
) -> JsonDict:
    """One SNIS ``results.json`` (diagnostics_run generation) as a dict.

    ``delta_h_true`` of every entry is computed from the stored arrays by the field guide's
    formula, ``approx.delta_h_per_lr`` is the sum of the per-sequence ``gdotv`` and, with
    ``overshoot``, ``quadratic.eta_star`` falls below the largest η.
    """
    etas = [float(e) for e in etas]
    seq = _sequence_basics(rng, n_sequences, per_token)
    g_total = float(seq["gdotv"].sum())
    c, a, v_total = _truth_model(rng, g_total, max(etas), overshoot)
    vhvv = _vhvv(rng, n_sequences, v_total, seq["unit"]) if quadratic else None
    update = _update_stats(rng)
    approx = _approx_block(rng, seq, vhvv, etas, per_sequence, per_token)
    approx["update_stats"] = dict(update)
    entries = []
    for eta in etas:
        ratio = (c + a * eta / max(etas)) * (1.0 + 0.015 * float(rng.standard_normal()))
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
        "precision": _precision(),
        "timing": {"total": sampling + approx["duration"] + true_duration + 10.0},
    }


# --- η-sweep schema --------------------------------------------------------------------------


def generate_sweep_results(
    rng: np.random.Generator, *, etas: Sequence[float], b_e: int = 512
) -> JsonDict:
    """One ``comparison_across_learning_rates`` results dict (older η-sweep format)."""
    etas = [float(e) for e in etas]
    g = float(rng.uniform(-700.0, -300.0))
    c, a, v = _truth_model(rng, g, max(etas), False)
    t_total = int(b_e * rng.uniform(98.0, 105.0))
    num_shards = max(1, b_e // MICROBATCH)
    eta_star = _eta_star(g, v)
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
        "ratio_pred": _ratio_pred(etas, eta_star),
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
        "precision": _precision(),
        "timing": timing,
        "variance": 0.0,
        "approx": {"h_approx_normalized": 0.0},
        "curvature": curvature,
    }


# --- control-variate schema ------------------------------------------------------------------


def _cv_columns(rng: np.random.Generator, n: int) -> tuple[dict[str, FloatArray], int]:
    """The columns of ``cv_per_seq.csv`` (gdotv correlates ~0.999 with ``wjlogp_sum``)."""
    t = _token_counts(rng, n).astype(np.float64)
    t_total = int(t.sum())
    scale = 1.0 / t_total
    rho = np.clip(rng.normal(0.45, 0.15, n), 0.05, 1.2)
    sum_logp = _f32(-rho * t)
    mean_logp = sum_logp / t
    var_logp = _f32(rho * 2.2 * np.exp(rng.normal(0.0, 0.3, n)))
    rb = _f32(t * np.clip(rho * 1.1 + rng.normal(0.0, 0.05, n), 0.05, 1.3))
    sum_w = _f32(0.2 * t**2 * np.exp(rng.normal(0.0, 0.5, n)))
    jh_sum = _f32(-350.0 * t * np.exp(rng.normal(0.0, 0.4, n)))
    sum_abs = _f32(450.0 * t * np.exp(rng.normal(0.0, 0.3, n)))
    z_v = (var_logp - var_logp.mean()) / var_logp.std()
    z_r = (rb / t - (rb / t).mean()) / (rb / t).std()
    sigma = 4.4e5 * scale
    mu = float(rng.uniform(-560.0, -350.0)) / n
    noise = -0.28 * z_v - 0.1 * z_r + 0.95 * rng.standard_normal(n)
    y = mu + sigma * (noise - noise.mean())
    wjlogp = _f32((y - mu + 0.045 * sigma * rng.standard_normal(n)) / scale)
    cols = {
        "gdotv_i": y,
        "length": t,
        "sum_logp": sum_logp,
        "mean_logp": mean_logp,
        "var_logp": var_logp,
        "max_logp": _f32(-(10.0 ** rng.uniform(-6.5, -3.6, n))),
        "min_logp": _f32(-(1.2 + rng.gamma(4.0, 1.1, n))),
        "rb_entropy_sum": rb,
        "rb_entropy_mean": rb / t,
        "sum_w": sum_w,
        "sum_w2": _f32(sum_w**2 / t * 1.4 * np.exp(rng.normal(0.0, 0.2, n))),
        "sum_w_abs": sum_w,
        "wjlogp_sum": wjlogp,
        "jH_sum": jh_sum,
        "sum_abs_jlogp": sum_abs,
        "mean_abs_jlogp": sum_abs / t,
        "surprisal_sum": -sum_logp,
        "surprisal_mean": -mean_logp,
        "token_share": t / t_total,
        "length_inv": 1.0 / t,
        "length_log": np.log(t),
        "length_x_surprisal_mean": t * -mean_logp,
        "length_x_rb_entropy_mean": t * (rb / t),
    }
    return cols, t_total


def _correlations(y: FloatArray, x: FloatArray) -> FloatArray:
    """Pearson correlation of ``y`` with every column of ``x``."""
    yc = y - y.mean()
    xc = x - x.mean(axis=0)
    num = yc @ xc
    return np.asarray(num / np.sqrt((yc @ yc) * np.sum(xc * xc, axis=0)), dtype=np.float64)


def _cv_stats(cols: dict[str, FloatArray], t_total: int) -> JsonDict:
    """The CV summary computed honestly from the per-sequence columns."""
    y, n = cols["gdotv_i"], cols["gdotv_i"].shape[0]
    var_y = float(y.var(ddof=1))
    x_all = np.column_stack([cols[f] for f in CV_FEATURES_ALL])
    corr_all = _correlations(y, x_all)
    x_sel = np.column_stack([np.ones(n)] + [cols[f] for f in FEATURES])
    beta, *_ = np.linalg.lstsq(x_sel, y, rcond=None)
    joint = float((y - x_sel @ beta).var(ddof=1) / var_y)
    se_batch = float(np.sqrt(var_y / n))
    corr = dict(zip(CV_FEATURES_ALL, corr_all.tolist(), strict=True))
    ratio = {k: 1.0 - v * v for k, v in corr.items()}
    diagnostics: JsonDict = {
        "features": list(FEATURES),
        "features_all": list(CV_FEATURES_ALL),
        "ridge": 1e-08,
        "crossfit_folds": 0,
        "y_mean": float(y.mean()),
        "gdotv_batch": float(y.sum()),
        "var_batch": var_y / n,
        "se_batch": se_batch,
        "se_batch_after_cv": {f: se_batch * float(np.sqrt(ratio[f])) for f in FEATURES},
        "se_batch_after_cv_joint": se_batch * float(np.sqrt(joint)),
        "all_features_stats": {
            "corr": corr,
            "var_ratio_single": ratio,
            "se_after_single": {k: se_batch * float(np.sqrt(v)) for k, v in ratio.items()},
            "rank_top_abs_corr": sorted(CV_FEATURES_ALL, key=lambda k: -abs(corr[k])),
            "rank_top_var_reduction": sorted(CV_FEATURES_ALL, key=lambda k: ratio[k]),
        },
        "meta": {
            "B_total": n,
            "T_total": t_total,
            "scale": 1.0 / t_total,
            "normalization": "per_token",
            "baseline_kind": "hk_ema",
            "total_tokens_used": t_total,
        },
    }
    return {
        "n_seqs": n,
        "normalization": "per_token",
        "mean_gdotv": float(y.mean()),
        "var_gdotv": var_y,
        "corr": {f: corr[f] for f in FEATURES},
        "ols_beta": dict(zip(FEATURES, beta[1:].tolist(), strict=True)),
        "var_after_cv": {f: ratio[f] for f in FEATURES},
        "var_after_cv_joint": joint,
        "diagnostics": diagnostics,
    }


def _per_seq_csv(cols: dict[str, FloatArray]) -> bytes:
    lists = [cols[c].tolist() for c in CV_COLUMNS]
    lists[1] = cols["length"].astype(np.int64).tolist()
    lines = [",".join(CV_COLUMNS)]
    lines += [",".join(map(repr, row)) for row in zip(*lists, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def _feature_stats_csv(summary: JsonDict) -> bytes:
    stats = summary["diagnostics"]["all_features_stats"]
    lines = ["feature,selected_in_joint,corr,var_ratio_single,se_after_single,beta_joint"]
    for f in CV_FEATURES_ALL:
        selected = f in FEATURES
        beta = repr(summary["ols_beta"][f]) if selected else ""
        row = [f, str(int(selected)), repr(stats["corr"][f])]
        row += [repr(stats["var_ratio_single"][f]), repr(stats["se_after_single"][f]), beta]
        lines.append(",".join(row))
    return ("\n".join(lines) + "\n").encode()


def png_bytes(pixels: npt.NDArray[np.uint8]) -> bytes:
    """Encode an ``(h, w, 3)`` uint8 RGB array as a PNG (no external imaging library)."""
    h, w, _ = pixels.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), pixels.reshape(h, w * 3)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(rows.tobytes(), 9)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _canvas(width: int = 96, height: int = 72) -> npt.NDArray[np.uint8]:
    img = np.full((height, width, 3), 255, np.uint8)
    img[height - 6, 4:] = 90  # x axis
    img[: height - 5, 5] = 90  # y axis
    return img


def _to_pixels(v: FloatArray, lo: int, hi: int) -> npt.NDArray[np.int64]:
    span = float(v.max() - v.min()) or 1.0
    pixels: npt.NDArray[np.int64] = np.rint(lo + (v - v.min()) / span * (hi - lo)).astype(np.int64)
    return pixels


def _scatter_png(x: FloatArray, y: FloatArray) -> bytes:
    img = _canvas()
    h, w, _ = img.shape
    px, py = _to_pixels(x, 8, w - 3), _to_pixels(y, h - 9, 2)
    img[py, px] = (31, 119, 180)
    return png_bytes(img)


def _hist_png(y: FloatArray, bins: int = 22) -> bytes:
    img = _canvas()
    h, w, _ = img.shape
    counts, _ = np.histogram(y, bins=bins)
    tops = h - 7 - np.rint(counts / max(int(counts.max()), 1) * (h - 12)).astype(np.int64)
    bar_w = (w - 10) // bins
    col_bin = (np.arange(w) - 8) // bar_w
    valid = (col_bin >= 0) & (col_bin < bins) & ((np.arange(w) - 8) % bar_w != bar_w - 1)
    top_per_col = np.where(valid, tops[np.clip(col_bin, 0, bins - 1)], h)
    mask = np.arange(h)[:, None] >= top_per_col[None, :]
    mask[h - 6 :, :] = False
    img[mask] = (255, 127, 14)
    return png_bytes(img)


def generate_cv_results(
    rng: np.random.Generator,
    *,
    n_seqs: int = 512,
    run_name: str = "run_01",
    cv_dir: str = CV_DIRS[0],
) -> tuple[JsonDict, dict[str, bytes]]:
    """A CV ``results.json`` dict plus the files of its ``cv_dir`` folder (name → bytes)."""
    cols, t_total = _cv_columns(rng, n_seqs)
    summary = _cv_stats(cols, t_total)
    out_dir = f"{CV_OUT_ROOT}/{run_name}"
    folder = f"{out_dir}/{cv_dir}"
    artifacts = {
        "cv_per_seq.csv": _per_seq_csv(cols),
        "cv_feature_stats.csv": _feature_stats_csv(summary),
        "cv_summary.json": _json_bytes({**summary, "timestamp": _cv_timestamp(cv_dir)}),
        "hist_yi.png": _hist_png(cols["gdotv_i"]),
    }
    paths = {
        "csv_path": f"{folder}/cv_per_seq.csv",
        "feature_stats_path": f"{folder}/cv_feature_stats.csv",
        "summary_path": f"{folder}/cv_summary.json",
    }
    for feat in SCATTER_FEATURES:
        artifacts[f"scatter_{feat}.png"] = _scatter_png(cols[feat], cols["gdotv_i"])
        paths[f"plot_{feat}"] = f"{folder}/scatter_{feat}.png"
    paths["plot_hist_yi"] = f"{folder}/hist_yi.png"
    timing = {
        "total": 0.0,
        "sampling": float(rng.uniform(210.0, 220.0)),
        "update_vector": float(rng.uniform(21.0, 25.0)),
        "cv_analysis": 0.59 * n_seqs * float(rng.uniform(0.95, 1.05)),
    }
    timing["total"] = sum(timing.values()) + float(rng.uniform(10.0, 16.0))
    config_used = {
        "normalization": "per_token",
        "features": list(FEATURES),
        "ridge": 1e-08,
        "crossfit_folds": 0,
        "out_dir": out_dir,
    }
    results = {
        "paths": paths,
        "summary": summary,
        "v_stats": _update_stats(rng),
        "timing_sec": timing,
        "config_used": config_used,
    }
    return results, dict(sorted(artifacts.items()))


def _cv_timestamp(cv_dir: str) -> str:
    """A fixed ISO timestamp derived from the folder name (``cv_YYYYMMDD_HHMMSS``)."""
    stamp = cv_dir.removeprefix("cv_")
    d, t = stamp[:8], stamp[9:15]
    return f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:4]}:{t[4:]}Z"


def _agg_cell(v: object) -> str:
    if isinstance(v, str):
        return f'"{v}"' if "," in v else v
    return repr(v)


def cv_aggregate(results: Sequence[JsonDict]) -> tuple[bytes, bytes]:
    """``cv_runs_aggregate.csv`` and ``.json`` for a list of CV results dicts."""
    rows = []
    for res in results:
        diag = res["summary"]["diagnostics"]
        g, se, se_after = diag["gdotv_batch"], diag["se_batch"], diag["se_batch_after_cv_joint"]
        rows.append(
            {
                "run_dir": res["config_used"]["out_dir"],
                "gdotv_batch": g,
                "se_batch": se,
                "se_batch_after": se_after,
                "VR_SE": se_after / se,
                "SNR": abs(g) / se,
                "SNR_after": abs(g) / se_after,
                "features": ",".join(diag["features"]),
                "B_total": diag["meta"]["B_total"],
                "T_total": diag["meta"]["T_total"],
            }
        )
    header = list(rows[0]) if rows else []
    lines = [",".join(header)] + [",".join(map(_agg_cell, row.values())) for row in rows]
    col = {k: np.array([r[k] for r in rows], dtype=np.float64) for k in header[1:7]}
    summary = {
        "n_runs": len(rows),
        "mean_abs_g": float(np.mean(np.abs(col["gdotv_batch"]))),
        "median_abs_g": float(np.median(np.abs(col["gdotv_batch"]))),
        "mean_se": float(col["se_batch"].mean()),
        "mean_se_after": float(col["se_batch_after"].mean()),
        "mean_VR_SE": float(col["VR_SE"].mean()),
        "median_VR_SE": float(np.median(col["VR_SE"])),
        "mean_SNR": float(col["SNR"].mean()),
        "mean_SNR_after": float(col["SNR_after"].mean()),
        "rows": rows,
    }
    return ("\n".join(lines) + "\n").encode(), _json_bytes(summary)


# --- configs and small files -----------------------------------------------------------------


def _yaml_eta(eta: float) -> str:
    """``8e-7`` / ``1.6e-6`` as the hand-written configs spell η (no zero-padded exponent)."""
    mantissa, _, exponent = f"{eta:g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def snis_config_text(b_e: int, etas: Sequence[float], per_token: bool = True) -> str:
    """The commented ``config.yaml`` of an SNIS batch."""
    return (
        _SNIS_CONFIG.replace("@B_E@", str(b_e))
        .replace("@ETAS@", ", ".join(_yaml_eta(e) for e in etas))
        .replace("@PER_TOKEN@", "true" if per_token else "false")
        .replace("@NORMALIZE@", "per_token" if per_token else "per_sequence")
    )


@functools.cache
def _base_config() -> JsonDict:
    config: JsonDict = yaml.safe_load(snis_config_text(512, SAMPLE_ETAS))
    return config


def _dumped_config(b_e: int, etas: Sequence[float], *, sweep: bool, cv: bool) -> str:
    """A ``yaml.safe_dump`` config as the η-sweep and CV runs wrote them (no comments)."""
    config = copy.deepcopy(_base_config())
    config["batch_config"]["B_E"] = b_e
    config["estimator"]["eta_sweep"] = sweep
    config["estimator"]["eta_list"] = [float(e) for e in etas]
    if cv:
        config["control_variates"] = {"features": list(FEATURES)}
    return str(yaml.safe_dump(config, sort_keys=False))


def _plan(capture_per_sequence: bool) -> JsonDict:
    return {
        "compute_true": True,
        "compute_linear": True,
        "compute_linquad": False,
        "run_control_variates": False,
        "capture_per_sequence": capture_per_sequence,
        "eta_list": None,
        "clip_overrides": None,
    }


def _notebook() -> bytes:
    cell: JsonDict = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": ["import json\n", "results = json.load(open('E_256/run_01/results.json'))"],
    }
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return _json_bytes(nb)


def _npy_bytes() -> bytes:
    """A tiny valid ``.npy`` file (version 1.0 header, 4 little-endian float64)."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }"
    header = header.ljust(117) + "\n"  # magic (6) + version (2) + len (2) + header = 128 bytes
    body = np.array([0.5, 0.25, 0.125, 0.0625], dtype="<f8").tobytes()
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + body


def _write_noise(root: Path) -> None:
    _write(root, "diagnostics_run/full_data/notebooks/analysis.ipynb", _notebook())
    _write(root, "diagnostics_run/helper.py", "def load(path):\n    return open(path).read()\n")
    _write(root, "comparison_across_learning_rates/data.npy", _npy_bytes())


# --- trees -----------------------------------------------------------------------------------

SNIS_BASE = "diagnostics_run/full_data"
SWEEP_BASE = "comparison_across_learning_rates"
CV_BASE = "CVs_and_gdotv/run1"


def _write_snis_run(
    root: Path,
    rel: str,
    results: JsonDict,
    *,
    capture: bool,
    config: str | None,
    dump: Dumper,
) -> None:
    _write(root, f"{rel}/results.json", dump(results))
    _write(root, f"{rel}/plan.json", dump(_plan(capture)))
    if config is not None:
        _write(root, f"{rel}/config.yaml", config)


def _sample_snis(root: Path, seed: int, medium: bool) -> None:
    # (group, run, sequences, per_sequence, quadratic, overshoot)
    specs = [
        ("E_256", "run_01", 256, True, True, False),
        ("E_256", "run_02", 256, True, True, True),
        ("E_256", "run_03", 256, True, False, False),
        ("E_512", "run_01", 512, True, True, False),
        ("E_512", "run_02", 512, False, True, False),
    ]
    if medium:
        specs.append(("E_256", "run_04", 256, True, True, False))
    for k, (group, run, n, per_seq, quad, over) in enumerate(specs):
        rng = np.random.default_rng([seed, 100 + k])
        res = generate_snis_results(
            rng, n_sequences=n, etas=SAMPLE_ETAS, per_sequence=per_seq, quadratic=quad,
            overshoot=over,
        )  # fmt: skip
        config = snis_config_text(n, SAMPLE_ETAS) if run == "run_01" else None
        rel = f"{SNIS_BASE}/{group}/{run}"
        _write_snis_run(root, rel, res, capture=per_seq, config=config, dump=_json_bytes)
    _write(root, f"{SNIS_BASE}/E_512/run_01/notes.md", _NOTES_MD)


def _write_sweeps(root: Path, seed: int, eta_sets: Sequence[Sequence[float]], dump: Dumper) -> None:
    for k, etas in enumerate(eta_sets):
        rng = np.random.default_rng([seed, 200 + k])
        rel = f"{SWEEP_BASE}/run_{k + 1:02d}"
        _write(root, f"{rel}/results.json", dump(generate_sweep_results(rng, etas=etas)))
        _write(root, f"{rel}/config.yaml", _dumped_config(512, etas, sweep=True, cv=False))


def _write_cvs(root: Path, seed: int, runs: int, n_seqs: int, dump: Dumper) -> None:
    cv_etas = [1e-6 * 2**k for k in range(8)]
    all_results = []
    for k in range(runs):
        rng = np.random.default_rng([seed, 300 + k])
        name, cv_dir = f"run_{k + 1:02d}", CV_DIRS[k % len(CV_DIRS)]
        res, artifacts = generate_cv_results(rng, n_seqs=n_seqs, run_name=name, cv_dir=cv_dir)
        all_results.append(res)
        rel = f"{CV_BASE}/{name}"
        _write(root, f"{rel}/results.json", dump(res))
        _write(root, f"{rel}/config.yaml", _dumped_config(512, cv_etas, sweep=False, cv=True))
        for fname, data in artifacts.items():
            _write(root, f"{rel}/{cv_dir}/{fname}", data)
    agg_csv, agg_json = cv_aggregate(all_results)
    _write(root, f"{CV_BASE}/cv_runs_aggregate.csv", agg_csv)
    _write(root, f"{CV_BASE}/cv_runs_aggregate.json", agg_json)


def _sweep_etas(counts: Sequence[int]) -> list[list[float]]:
    starts = (4e-7, 8e-7, 4e-7)
    return [[starts[i % 3] * 2**k for k in range(c)] for i, c in enumerate(counts)]


def generate_sample_tree(root: Path, *, seed: int = 0, scale: str = "small") -> Path:
    """Write the sample results tree (all three schemas plus noise) into an empty ``root``.

    The same ``seed`` and ``scale`` always give byte-identical files.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")
    medium = scale == "medium"
    root = _prepare_root(root)
    _sample_snis(root, seed, medium)
    _write_sweeps(root, seed, _sweep_etas((8, 6, 7) if medium else (8, 6)), _json_bytes)
    _write_cvs(root, seed, 3 if medium else 2, 512 if medium else 48, _json_bytes)
    _write_noise(root)
    return root


BENCH_GROUPS: tuple[tuple[str, int], ...] = (
    ("E_256", 256),
    ("E_512", 512),
    ("E_256", 256),
    ("E_512", 512),
    ("E_2048", 2048),
)


def _bench_etas(rng: np.random.Generator) -> list[float]:
    """2–8 η values picked from 8e-7·2^k, k = 0…7."""
    ks = np.sort(rng.choice(8, size=int(rng.integers(2, 9)), replace=False))
    return [8e-7 * 2 ** int(k) for k in ks]


def bench_tree(root: Path, *, seed: int = 0, runs: int = 50) -> Path:
    """A larger tree shaped like the real one: ``runs`` SNIS runs over E_256/E_512/E_2048."""
    root = _prepare_root(root)
    counters: dict[str, int] = {}
    for i in range(runs):
        group, n = BENCH_GROUPS[i % len(BENCH_GROUPS)]
        counters[group] = counters.get(group, 0) + 1
        rng = np.random.default_rng([seed, 1000 + i])
        etas = _bench_etas(rng)
        per_seq, quad = bool(rng.random() >= 0.1), bool(rng.random() >= 0.1)
        over = quad and bool(rng.random() < 0.1)
        res = generate_snis_results(
            rng, n_sequences=n, etas=etas, per_sequence=per_seq, quadratic=quad, overshoot=over
        )
        first = counters[group] == 1
        config = snis_config_text(n, etas) if first else None
        rel = f"{SNIS_BASE}/{group}/run_{counters[group]:02d}"
        _write_snis_run(root, rel, res, capture=per_seq, config=config, dump=_orjson_bytes)
    _write_sweeps(root, seed, _sweep_etas((8, 6)), _orjson_bytes)
    _write_cvs(root, seed, 2, 512, _orjson_bytes)
    _write_noise(root)
    return root


__all__ = [
    "PNG_SIGNATURE",
    "SAMPLE_ETAS",
    "bench_tree",
    "cv_aggregate",
    "generate_cv_results",
    "generate_sample_tree",
    "generate_snis_results",
    "generate_sweep_results",
    "png_bytes",
    "snis_config_text",
]
