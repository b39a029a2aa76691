"""A synthetic entropy-influence directory in the influence runner's layout, with known answers.

The model, per evaluation sequence j and direction i (v = v_baseline + Σᵢ vᵢ):
baseline_j(η) = βⱼη + γⱼη², grad_ij(η) = aᵢⱼη + qᵢⱼη², baseline_plus_grad_ij = baseline_j
+ grad_ij + xᵢⱼη² (a small interaction with the baseline), and full_j = baseline_j
+ Σᵢ(baseline_plus_grad_ij − baseline_j) + ρⱼη². The sum-rule residual is the mean of ρⱼη²,
built so that its z (mean over its standard error across the m evaluation sequences) is exactly
``residual_z``; the interactions are planted the same way, so that Σᵢ(baseline-adjusted −
grad-only) has z = ``proxy_gap_z``. One direction (``power_direction``) follows a power law
instead, grad_ij(η) = āᵢ·η_max·(η/η_max)^p + (aᵢⱼ − āᵢ)η + qᵢⱼη² (āᵢ the mean over j): with
p = 2 its δH is a parabola that a line through the origin still fits with R² ≈ 0.92.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from reportgen.demo.common import FloatArray, JsonDict, orjson_bytes, write

INFLUENCE_ETAS: tuple[float, ...] = (1e-6, 2e-6, 4e-6, 8e-6)
ETA_REFERENCE = 4e-6
BASELINE_SLOPE = -40.0  # δH_baseline ≈ −40·η: the baseline dominates the total
ADVANTAGE_SLOPE = -30.0  # aᵢ ≈ −30·advantageᵢ: δHᵢ follows the advantage
POWER_DIRECTION = 2  # the direction whose δH ∝ η^power (a parabola by default)
RESIDUAL_SD = 2e5  # spread over j of the sum-rule residual ρⱼ (× η²)
INTERACTION_SD = 3e4  # spread over i, j of the interaction with the baseline xᵢⱼ (× η²)


@dataclass(frozen=True)
class InfluenceDemo:
    """Where the directory is and what its analysis must find."""

    path: Path
    n: int
    m: int
    etas: tuple[float, ...]
    residual_z: float
    proxy_gap_z: float
    baseline_counted_per_sequence: bool
    nonlinear_direction: int | None
    power_direction: int | None = None
    power: float = 1.0


@dataclass(frozen=True, eq=False)
class _Draws:
    beta: FloatArray  # (m,)
    gamma: FloatArray  # (m,)
    slopes: FloatArray  # (n, m)
    curvature: FloatArray  # (n, m)
    interaction: FloatArray  # (n, m)
    residual: FloatArray  # (m,) before scaling by η²
    advantage: FloatArray  # (n,)
    length: FloatArray  # (n,)
    power: tuple[int, float, float] | None = None  # (direction, exponent, η_max)


def _draws(
    rng: np.random.Generator,
    n: int,
    m: int,
    special: tuple[int | None, int | None],
    spreads: tuple[float, float],
) -> _Draws:
    """The random parts; ``special`` names the turning and the power-law direction."""
    nonlinear, power = special
    rewards = (np.arange(n) % 2).astype(np.float64)
    rng.shuffle(rewards)
    advantage = rewards - rewards.mean() + rng.normal(0, 0.05, n)
    direction = ADVANTAGE_SLOPE * advantage + rng.normal(0, 0.5, n)
    if nonlinear is not None:
        direction[nonlinear] = 20.0
    direction -= direction.mean()  # Σᵢ δHᵢ ≈ 0 to first order, as with centred advantages
    if power is not None:  # its first-order term is gone: the others sum to 0 without it
        others = np.arange(n) != power
        direction[others] -= direction[others].mean()
    slopes = direction[:, None] + rng.normal(0, 2.0, (n, m))
    curvature = rng.normal(0, 2e4, (n, m))
    if nonlinear is not None:  # δH of this direction turns over within the η range
        curvature[nonlinear] = -2.5e6 + rng.normal(0, 5e4, m)
    return _Draws(
        beta=BASELINE_SLOPE + rng.normal(0, 8.0, m),
        gamma=rng.normal(0, 1e5, m),
        slopes=slopes,
        curvature=curvature,
        interaction=rng.normal(0, spreads[1], (n, m)),
        residual=rng.normal(0, spreads[0], m),
        advantage=advantage,
        length=rng.integers(40, 400, n).astype(np.float64),
    )


def _planted(residual: FloatArray, z: float) -> FloatArray:
    """``residual`` shifted so that mean / (sd/√m) is exactly ``z``."""
    m = residual.shape[0]
    centred: FloatArray = residual - residual.mean()
    shift = z * float(centred.std(ddof=1)) / float(np.sqrt(m))
    planted: FloatArray = centred + shift
    return planted


def _planted_total(values: FloatArray, z: float) -> FloatArray:
    """``values`` (n × m) shifted evenly per column so that their column sums have z = ``z``."""
    totals: FloatArray = values.sum(axis=0)
    shifted: FloatArray = values + (_planted(totals, z) - totals)[None, :] / values.shape[0]
    return shifted


def _per_sequence(d: _Draws, eta: float, z: float, gap_z: float) -> dict[str, FloatArray]:
    baseline = d.beta * eta + d.gamma * eta**2
    grad = d.slopes * eta + d.curvature * eta**2
    if d.power is not None:  # the mean follows the power law; each sequence's own spread stays
        i, exponent, top = d.power
        mean = float(d.slopes[i].mean())
        power = mean * top * (eta / top) ** exponent
        grad[i] = (d.slopes[i] - mean) * eta + power + d.curvature[i] * eta**2
    plus = baseline[None, :] + grad + _planted_total(d.interaction, gap_z) * eta**2
    full = baseline + (plus - baseline[None, :]).sum(axis=0) + _planted(d.residual, z) * eta**2
    return {"full": full, "baseline": baseline, "grad": grad, "baseline_plus_grad": plus}


def _file_eta(eta: float) -> str:
    return repr(float(eta)).replace(".", "p").replace("-", "m")


def _npy(array: FloatArray, dtype: type[np.floating]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array.astype(dtype), allow_pickle=False)
    return buffer.getvalue()


def _stats(values: FloatArray) -> JsonDict:
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)),
        "min": float(values.min()),
        "max": float(values.max()),
        "sum": float(values.sum()),
    }


def write_influence_run(
    directory: Path,
    *,
    seed: int = 0,
    n: int = 8,
    m: int = 64,
    etas: tuple[float, ...] = INFLUENCE_ETAS,
    residual_z: float = 0.5,
    proxy_gap_z: float = 0.0,
    baseline_counted_per_sequence: bool = False,
    nonlinear_direction: int | None = None,
    power_direction: int | None = POWER_DIRECTION,
    power: float = 2.0,
    residual_sd: float = RESIDUAL_SD,
    interaction_sd: float = INTERACTION_SD,
    dtype: type[np.floating] = np.float64,
) -> InfluenceDemo:
    """Write one influence directory (one evaluation) and return what it must show.

    ``baseline_counted_per_sequence`` plants the runner mistake: the per-direction deltas and
    their sum are δH(v_baseline + vᵢ), so the sum counts δH_baseline n times instead of once.
    ``power_direction`` (None: none) has δH ∝ η^``power``; ``residual_sd`` and
    ``interaction_sd`` widen the sum-rule residual and the proxies' difference.
    """
    rng = np.random.default_rng(seed)
    special = (nonlinear_direction, power_direction)
    draws = _draws(rng, n, m, special, (residual_sd, interaction_sd))
    if power_direction is not None:
        draws = replace(draws, power=(power_direction, power, max(etas)))
    stored = {
        eta: _stored(_per_sequence(draws, eta, residual_z, proxy_gap_z), dtype) for eta in etas
    }
    matrix, reference = _write_arrays(directory, stored, draws, dtype)
    evaluation = _evaluation(stored, matrix, reference, n, m, baseline_counted_per_sequence)
    write(directory, "summary.json", orjson_bytes(_summary(draws, etas, n, evaluation)))
    return InfluenceDemo(
        directory, n, m, etas, residual_z, proxy_gap_z, baseline_counted_per_sequence,
        nonlinear_direction, power_direction, power if power_direction is not None else 1.0,
    )  # fmt: skip


def _write_arrays(
    directory: Path,
    stored: dict[float, dict[str, FloatArray]],
    draws: _Draws,
    dtype: type[np.floating],
) -> tuple[FloatArray, float]:
    """The evaluation's array files and diagnostics; the delta matrix and its η."""
    prefix = "eval_00"
    for eta, arrays in stored.items():
        for proxy, values in arrays.items():
            write(directory, f"{prefix}_per_sequence/{proxy}/eta_{eta!r}.npy", _npy(values, dtype))
        grad_means = arrays["grad"].mean(axis=1)
        write(directory, f"{prefix}_grad_eta/delta_{_file_eta(eta)}.npy", _npy(grad_means, dtype))
    etas = list(stored)
    reference = ETA_REFERENCE if ETA_REFERENCE in stored else etas[len(etas) // 2]
    ref = stored[reference]
    matrix = _stored({"m": ref["baseline_plus_grad"] - ref["baseline"][None, :]}, dtype)["m"]
    write(directory, f"{prefix}_delta_matrix.npy", _npy(matrix, dtype))
    diagnostics = {
        "grad_norms": [float(v) for v in np.abs(draws.slopes).mean(axis=1)],
        "eta_reference": reference,
        "seconds": 812.5,
    }
    write(directory, f"{prefix}_diagnostics.json", orjson_bytes(diagnostics))
    return matrix, reference


def _summary(draws: _Draws, etas: tuple[float, ...], n: int, evaluation: JsonDict) -> JsonDict:
    return {
        "plan": {
            "workspace": "workspace_step40_U8.pt",
            "evaluation": "gsm8k_test_E64",
            "etas": list(etas),
            "microbatch_size": 4,
        },
        "workspace": {
            "num_sequences": n,
            "update_stats": {
                "vec_norm": 2431.5,
                "advantage": [float(v) for v in draws.advantage],
                "length": [float(v) for v in draws.length],
            },
        },
        "evaluations": [evaluation],
    }


def _stored(arrays: dict[str, FloatArray], dtype: type[np.floating]) -> dict[str, FloatArray]:
    """The arrays as the files hold them (rounded to ``dtype``), so the summary agrees."""
    return {name: values.astype(dtype).astype(np.float64) for name, values in arrays.items()}


def _evaluation(
    stored: dict[float, dict[str, FloatArray]],
    matrix: FloatArray,
    reference: float,
    n: int,
    m: int,
    counted_per_sequence: bool,
) -> JsonDict:
    aggregate = []
    per_sequence: JsonDict = {}
    grad_summaries: JsonDict = {}
    baseline_summaries: JsonDict = {}
    baseline_delta: JsonDict = {}
    for eta, arrays in stored.items():
        baseline = arrays["baseline"].mean()
        plus = arrays["baseline_plus_grad"].mean(axis=1)
        deltas = plus if counted_per_sequence else plus - baseline
        key = repr(float(eta))
        per_sequence[key] = [float(v) for v in deltas]
        grad_summaries[key] = _stats(arrays["grad"].mean(axis=1))
        baseline_summaries[key] = _stats(deltas)
        baseline_delta[key] = float(baseline)
        aggregate.append(
            {
                "eta": eta,
                "delta_h": float(arrays["full"].mean()),
                "per_sequence_delta_sum": float(deltas.sum()),
                "diagnostics": {"kl": float(1.5e7 * eta**2), "num_sequences": m},
            }
        )
    return {
        "index": 0,
        "num_sequences": m,
        "aggregate": aggregate,
        "eta_reference": reference,
        "row_sums": [float(v) for v in matrix.sum(axis=1)],
        "column_sums": [float(v) for v in matrix.sum(axis=0)],
        "max_abs": float(np.abs(matrix).max()),
        "sequence_ids": [f"U-{i // 2}-{i % 2}" for i in range(n)],
        "eta_per_sequence": per_sequence,
        "grad_eta_summaries": grad_summaries,
        "grad_baseline_summaries": baseline_summaries,
        "baseline_eta_delta": baseline_delta,
    }
