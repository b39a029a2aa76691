"""A synthetic Fisher-kernel outlier-diagnostics directory, with known answers.

The kernel is a Gram matrix K = G Gᵀ of per-sequence gradients G (n × dim), stored as float32
like the real files. ``dominated=True`` reproduces a real update batch: the 8 completions of one
prompt have gradients 20 times larger than the rest and aligned with one direction u, the
others a small random component along u plus noise; 64 sequences in a 32-dimensional gradient
space give an effective rank of about 1.07, a top eigenvalue of about 99.3 % of the trace and
one prompt touching about 94 % of Σ|K| (the float32 rounding of a rank-32 64 × 64 matrix leaves
tiny negative eigenvalues too). ``dominated=False`` gives a kernel close to the identity.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reportgen.demo.common import FloatArray, JsonDict, orjson_bytes, write

PROMPTS = 8
COMPLETIONS = 8
DOMINANT_PROMPT = 3
EVAL_SEQUENCES = 16
UNSAFE_TEXT = '<script>alert("kernel")</script> & <b>not bold</b>'


@dataclass(frozen=True)
class FisherDemo:
    path: Path
    n: int
    dim: int
    dominated: bool
    dominant_prompt: str | None
    influence_scale: float
    entropy_is_surprisal: bool


def _gradients(rng: np.random.Generator, n: int, dominated: bool) -> tuple[FloatArray, int]:
    """Per-sequence gradients (n × dim) and dim."""
    if not dominated:
        return np.eye(n) + 0.02 * rng.normal(size=(n, n)), n
    dim = 32
    noise = rng.normal(size=(n, dim))
    noise[:, 0] = 0.0
    size = 1.0 + 0.2 * rng.normal(size=n)
    signs = rng.choice(np.array([-1.0, 1.0]), size=n)
    magnitude = rng.uniform(0.5, 1.5, size=n)
    u = np.zeros(dim)
    u[0] = 1.0
    gradients = 0.49 * (signs * magnitude)[:, None] * u[None, :] + 0.052 * noise
    dominant = np.arange(n) // COMPLETIONS == DOMINANT_PROMPT
    gradients[dominant] = 10.0 * (size[dominant, None] * u[None, :] + 0.01 * noise[dominant])
    return gradients, dim


def _npy(array: FloatArray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32), allow_pickle=False)
    return buffer.getvalue()


def _f32(array: FloatArray) -> FloatArray:
    return array.astype(np.float32).astype(np.float64)


def _sequences(
    rng: np.random.Generator, prefix: str, prompts: int, completions: int
) -> list[JsonDict]:
    rewards = rng.integers(0, 2, size=(prompts, completions)).astype(np.float64)
    rewards[:, 0], rewards[:, 1] = 1.0, 0.0  # every prompt has both outcomes
    advantages = rewards - rewards.mean(axis=1, keepdims=True)
    logprobs = -rng.uniform(5.0, 60.0, size=(prompts, completions))
    items = []
    for p in range(prompts):
        question = f"Prompt {p}: a train leaves at {p + 1} o'clock; when does it arrive?"
        if p == DOMINANT_PROMPT:
            question += " " + UNSAFE_TEXT
        for c in range(completions):
            answer = f"Completion {c} of prompt {p}. " + "Let us reason step by step. " * (
                4 + 3 * c
            )
            items.append(
                {
                    "id": f"{prefix}-{p}-{c}",
                    "prompt": question,
                    "response": answer,
                    "reward": float(rewards[p, c]),
                    "advantage": float(advantages[p, c]),
                    "logprob": float(logprobs[p, c]),
                    "extra": {"sequence_diagnostics": {"num_tokens": 40 + 12 * c}},
                }
            )
    return items


def _pearson(x: FloatArray, y: FloatArray) -> float:
    return float(np.corrcoef(x, y)[0, 1])


def _metrics(
    rng: np.random.Generator, sequences: list[JsonDict], surprisal: bool
) -> dict[str, FloatArray]:
    n = len(sequences)
    length = rng.integers(20, 200, size=n).astype(np.float64)
    length[np.arange(n) // COMPLETIONS == DOMINANT_PROMPT] += 300.0
    logprob = np.array([s["logprob"] for s in sequences])
    entropy = -logprob if surprisal else rng.uniform(0.2, 2.0, size=n) * length
    reward = np.array([s["reward"] for s in sequences])
    return {"length": length, "entropy": entropy, "logprob": logprob, "reward": reward}


def _correlations(
    kernel: FloatArray, influence: FloatArray, metrics: dict[str, FloatArray]
) -> list[JsonDict]:
    quantities = {
        "self_influence": np.diag(kernel),
        "row_abs_sum": np.abs(kernel).sum(axis=1),
        "influence": influence,
    }
    pairs = (("self_influence", "length"), ("row_abs_sum", "entropy"), ("influence", "reward"))
    return [
        {
            "quantity": q,
            "metric": m,
            "pearson": _pearson(quantities[q], metrics[m]),
            "n": int(kernel.shape[0]),
        }
        for q, m in pairs
    ]


def _top_pairs(kernel: FloatArray, ids: list[str], count: int = 5) -> list[JsonDict]:
    n = kernel.shape[0]
    a, b = np.triu_indices(n, k=1)
    order = np.argsort(-np.abs(kernel[a, b]), kind="stable")[:count]
    diag = np.sqrt(np.diag(kernel))
    return [
        {
            "i": int(a[k]),
            "j": int(b[k]),
            "id_a": ids[a[k]],
            "id_b": ids[b[k]],
            "kernel": float(kernel[a[k], b[k]]),
            "cosine": float(kernel[a[k], b[k]] / (diag[a[k]] * diag[b[k]])),
        }
        for k in order.tolist()
    ]


def _diagnostic_files(
    kernel: FloatArray, influence: FloatArray, metrics: dict[str, FloatArray], ids: list[str]
) -> dict[str, bytes]:
    """The metrics, correlations and outlier files, computed from the arrays as written."""
    order = np.argsort(-np.abs(influence), kind="stable")[:5]
    outliers = [
        {
            "id": ids[i],
            "index": int(i),
            "influence": float(influence[i]),
            "self_influence": float(kernel[i, i]),
        }
        for i in order.tolist()
    ]
    columns = {k: [float(v) for v in values] for k, values in metrics.items()}
    return {
        "update_sequence_metrics.json": orjson_bytes({"metrics": columns}),
        "update_kernel_metric_correlations.json": orjson_bytes(
            {"correlations": _correlations(kernel, influence, metrics)}
        ),
        "update_top_outliers.json": orjson_bytes({"outliers": outliers}),
        "outlier_pair_details.json": orjson_bytes({"pairs": _top_pairs(kernel, ids)}),
    }


def write_fisher_run(
    directory: Path,
    *,
    seed: int = 0,
    dominated: bool = True,
    influence_scale: float = 1.0,
    entropy_is_surprisal: bool = True,
) -> FisherDemo:
    """Write one Fisher-kernel directory and return what its analysis must find.

    ``influence_scale`` ≠ 1 plants influence files that are not K · advantages (scaled);
    ``entropy_is_surprisal`` writes an "entropy" metric that is minus the log-probability.
    """
    rng = np.random.default_rng(seed)
    n = PROMPTS * COMPLETIONS
    gradients, dim = _gradients(rng, n, dominated)
    kernel = _f32(gradients @ gradients.T)
    update = _sequences(rng, "U", PROMPTS, COMPLETIONS)
    advantages = np.array([s["advantage"] for s in update])
    influence = _f32(influence_scale * kernel @ advantages)
    eval_prompts = EVAL_SEQUENCES // 2
    evaluation = _sequences(rng, "E", eval_prompts, 2)
    eval_gradients = gradients[rng.integers(0, n, EVAL_SEQUENCES)] + 0.05 * rng.normal(
        size=(EVAL_SEQUENCES, gradients.shape[1])
    )
    eval_kernel = _f32(eval_gradients @ gradients.T)
    metrics = _metrics(rng, update, entropy_is_surprisal)
    files: dict[str, bytes] = {
        "kernel_update.npy": _npy(kernel),
        "kernel_eval.npy": _npy(eval_kernel),
        "influence_update.npy": _npy(influence),
        "influence_eval.npy": _npy(_f32(influence_scale * eval_kernel @ advantages)),
        "update_sequences.json": orjson_bytes({"split": "update", "sequences": update}),
        "eval_sequences.json": orjson_bytes({"split": "eval", "sequences": evaluation}),
        **_diagnostic_files(kernel, influence, metrics, [s["id"] for s in update]),
    }
    for rel, data in files.items():
        write(directory, rel, data)
    return FisherDemo(
        directory,
        n,
        dim,
        dominated,
        str(DOMINANT_PROMPT) if dominated else None,
        influence_scale,
        entropy_is_surprisal,
    )
