"""SNIS runs of the next runner: clip sweeps, the symmetric finite difference and the update's
gradient clipping, with answers known by construction.

Every value is computed from the stored arrays by the field guide's formula, so a test can
recompute it: a clip override at threshold c weights sequence i by min(exp(log_w_i), c); the
symmetric finite difference keeps Δ₊ = the entry's ΔH_true and sets Δ₋ so that
(Δ₊ + Δ₋)/(2η²) = ½·vHvv and (Δ₊ − Δ₋)/(2η) = Δ₊/η − ½·vHvv·η. The disagreeing run's Δ₋ is
planted so that its FD is off by a further 3·|g·v| (its even part then moves by −that/η, as a
bad −η measurement would move both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reportgen.demo.common import CLIP_C, SAMPLE_ETAS, FloatArray, JsonDict, f32, json_bytes, write
from reportgen.demo.snis import generate_snis_results

NEXT_BASE = "next_runner/snis"
CLIP_THRESHOLDS = (1.5, 2.0, 3.0, 5.0, 20.0)  # besides the published clip_c = 10
HEAVY_WEIGHTS = (3.0, 4.0, 5.0, 6.0, 7.0, 8.0)  # planted weights of six sequences
HEAVY_SURPLUS = 0.06  # their per-token entropy above the base: clipping them moves ΔH_true
FD_OFFSET_IN_GDOTV = 3.0  # the disagreeing run's FD is off by 3·|g·v|


@dataclass(frozen=True)
class NextCase:
    """One run of the next runner: which new blocks it carries and how they behave."""

    name: str
    clip_sensitive: bool = False  # planted heavy weights at the largest η
    fd_offset: float = 0.0  # in units of |g·v|
    fd_unmeasured_etas: int = 0  # the smallest η whose symmetric η is 0
    gradient_clipped: bool = False


NEXT_CASES = (
    NextCase("run_01_clip_sensitive", clip_sensitive=True, gradient_clipped=True),
    NextCase("run_02_fd_disagrees", fd_offset=FD_OFFSET_IN_GDOTV, fd_unmeasured_etas=1),
    NextCase("run_03_stable"),
)


def snis_weights(
    log_w: FloatArray, clip: float, h_new: FloatArray, t: FloatArray, base: float
) -> JsonDict:
    """ΔH_true and the weight diagnostics at one clip threshold (per-token normalisation)."""
    raw = np.exp(log_w)
    w = np.minimum(raw, clip)
    clipped_log = np.log(w)
    return {
        "delta_h_true": float((w @ h_new) / (w @ t) - base),
        "ess": float(w.sum() ** 2 / np.sum(w**2)),
        "logweight_stats": {
            "min": float(clipped_log.min()),
            "median": float(np.median(clipped_log)),
            "max": float(clipped_log.max()),
        },
        "clip_fraction": float(np.mean(raw > clip)),
        "weights_sum": float(w.sum()),
    }


def _arrays(entry: JsonDict) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    d = entry["diagnostics"]
    return (
        np.asarray(d["log_weights"], dtype=np.float64),
        np.asarray(d["h_new"], dtype=np.float64),
        np.asarray(d["token_counts"], dtype=np.float64),
        float(d["base_entropy"]),
    )


def _plant_heavy_weights(entry: JsonDict) -> None:
    """Six sequences whose per-token entropy is HEAVY_SURPLUS above the base get the weights
    HEAVY_WEIGHTS; the entry's weights and ΔH_true are rewritten to match (clip_c = 10)."""
    log_w, h_new, t, base = _arrays(entry)
    surplus = h_new / t - base
    heavy = np.argsort(np.abs(surplus - HEAVY_SURPLUS), kind="stable")[: len(HEAVY_WEIGHTS)]
    log_w[heavy] = np.log(HEAVY_WEIGHTS)
    log_w = f32(log_w)
    published = snis_weights(log_w, CLIP_C, h_new, t, base)
    w = np.minimum(np.exp(log_w), CLIP_C)
    d = entry["diagnostics"]
    d.update(published)
    d["log_weights"] = log_w.tolist()
    d["normalized_weights"] = (w / w.sum()).tolist()
    d["logweight_stats"] = {
        "min": float(log_w.min()),
        "median": float(np.median(log_w)),
        "max": float(log_w.max()),
    }
    entry["delta_h_true"] = published["delta_h_true"]


def _clip_overrides(entry: JsonDict) -> dict[str, JsonDict]:
    log_w, h_new, t, base = _arrays(entry)
    return {f"{c:.6g}": snis_weights(log_w, c, h_new, t, base) for c in CLIP_THRESHOLDS}


def _symmetric_fd(entry: JsonDict, half_vhvv: float, offset: float) -> JsonDict:
    eta, plus = float(entry["eta"]), float(entry["delta_h_true"])
    fd = plus / eta - half_vhvv * eta + offset
    minus = plus - 2.0 * eta * fd
    d = entry["diagnostics"]
    return {
        "eta": eta,
        "delta_plus": plus,
        "delta_minus": minus,
        "finite_difference": (plus - minus) / (2.0 * eta),
        "ess_plus": d["ess"],
        "ess_minus": d["ess"] * 0.98,
        "logweight_stats_plus": dict(d["logweight_stats"]),
        "logweight_stats_minus": {k: -v for k, v in d["logweight_stats"].items()},
        "clip_fraction_plus": d["clip_fraction"],
        "clip_fraction_minus": 0.0,
        "weights_sum_plus": d["weights_sum"],
        "weights_sum_minus": d["weights_sum"] * 0.99,
    }


def _update_blocks(results: JsonDict, clipped: bool) -> None:
    extra: dict[str, Any] = {
        "baseline_norm": 0.8125,
        "per_sequence": {"count": int(results["B_U"]) * int(results["G_U"])},
        "gradient_clip": {
            "max_norm": 1.0,
            "applied_scale": 0.4202 if clipped else 1.0,
            "preclip_norm": 2.3798 if clipped else 0.6404,
        },
    }
    results["update"].update(extra)
    results["approx"]["update_stats"].update(extra)


def next_snis_results(rng: np.random.Generator, case: NextCase, etas: Sequence[float]) -> JsonDict:
    """One SNIS ``results.json`` of the next runner for ``case``."""
    results = generate_snis_results(rng, n_sequences=256, etas=etas)
    entries = results["true"]["entries"]
    if case.clip_sensitive:
        _plant_heavy_weights(entries[-1])
    gdotv = float(results["approx"]["delta_h_per_lr"])
    half_vhvv = 0.5 * float(results["approx"]["quadratic"]["vHvv"])
    for k, entry in enumerate(entries):
        entry["diagnostics"]["clip_overrides"] = _clip_overrides(entry)
        if k < case.fd_unmeasured_etas:
            entry["diagnostics"]["symmetric_fd"] = {"eta": 0.0, "finite_difference": 0.0}
        else:
            offset = case.fd_offset * abs(gdotv)
            entry["diagnostics"]["symmetric_fd"] = _symmetric_fd(entry, half_vhvv, offset)
    _update_blocks(results, case.gradient_clipped)
    return results


def next_config_text(config: str) -> str:
    """The batch's ``config.yaml`` with the next runner's ``true_delta_h.tf_batch_size``."""
    line = '  snapshot_device: "cpu"\n'
    return config.replace(line, f"{line}  tf_batch_size: 8\n")


def write_next_snis(root: Path, seed: int, config: str) -> None:
    """The next runner's SNIS runs under ``next_runner/snis/`` (``config`` for the first)."""
    for k, case in enumerate(NEXT_CASES):
        rng = np.random.default_rng([seed, 800 + k])
        rel = f"{NEXT_BASE}/{case.name}"
        write(root, f"{rel}/results.json", json_bytes(next_snis_results(rng, case, SAMPLE_ETAS)))
        if k == 0:
            write(root, f"{rel}/config.yaml", next_config_text(config))
