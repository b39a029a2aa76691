"""Shared constants, fixed texts and small writers of the synthetic results trees."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

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
SCATTER_FEATURES: tuple[str, ...] = ("wjlogp_sum", "var_logp")
# the runner also plots the more strongly correlated of these, so two runs of one experiment
# can list different plot files
SCATTER_CHOICES: tuple[str, str] = ("mean_logp", "jH_sum")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The commented config the SNIS runs copy next to run_01.
SNIS_CONFIG_TEMPLATE = """\
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

NOTES_MD = """\
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


def _yaml_eta(eta: float) -> str:
    """``8e-7`` / ``1.6e-6`` as the hand-written configs spell η (no zero-padded exponent)."""
    mantissa, _, exponent = f"{eta:g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def snis_config_text(b_e: int, etas: Sequence[float], per_token: bool = True) -> str:
    """The commented ``config.yaml`` of an SNIS batch."""
    return (
        SNIS_CONFIG_TEMPLATE.replace("@B_E@", str(b_e))
        .replace("@ETAS@", ", ".join(_yaml_eta(e) for e in etas))
        .replace("@PER_TOKEN@", "true" if per_token else "false")
        .replace("@NORMALIZE@", "per_token" if per_token else "per_sequence")
    )


def f32(x: FloatArray) -> FloatArray:
    """Round to float32 precision, as the experiment code stores most per-sequence values."""
    return x.astype(np.float32).astype(np.float64)


def json_bytes(obj: Any) -> bytes:
    """2-space indented JSON exactly as ``json.dump(indent=2)`` wrote the real files."""
    return json.dumps(obj, indent=2, allow_nan=False).encode()


def orjson_bytes(obj: Any) -> bytes:
    """Fast 2-space indented JSON (floats in shortest form; no NaN allowed by the caller)."""
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)


def eta_key(eta: float) -> str:
    return str(float(eta))


def write(root: Path, rel: str, data: bytes | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def prepare_root(root: Path) -> Path:
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root} exists and is not an empty directory")
    root.mkdir(parents=True, exist_ok=True)
    return root


def shard_errors(values: FloatArray) -> tuple[int, float, float]:
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


def update_stats(rng: np.random.Generator) -> JsonDict:
    return {
        "method": "adamw_from_grads",
        "vec_norm": float(rng.uniform(2400.0, 2460.0)),
        "num_params": 392,
        "avg_mb_loss": float(-rng.uniform(2.0e-4, 3.5e-4)),
        "num_microbatches": 64,
        "amp": {"enabled": False, "dtype": "bfloat16"},
    }


def precision() -> JsonDict:
    return {"runtime_dtype": "float32", "entropy_dtype": "float64"}


# --- curvature / truth model -----------------------------------------------------------------
