"""A synthetic jackknife-vs-batch-size study with known answers, in the users' layout.

One pretty-printed JSON object per ``*_results.jsonl`` file (or real JSON Lines): a test-split
study at B = 32 … 1024 whose estimate climbs far beyond its standard errors (χ² on 5 df as
asked), and a flat train-split point at B = 4096 with a per-sequence ``distribution_analysis``.
Per-prompt means are right-skewed (lognormal), shifted and scaled so that their mean and SE
are exactly the designed estimate and SE. The train point's per-sequence values are its
per-prompt means times lognormal noise of mean e^0.045, so their mean is about 4.6 % (5 SE)
above the estimate although G is equal for every prompt (planted; ``distribution_matches``
scales each prompt's noise to mean 1, so that the two agree).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TEST_BATCHES = (32, 64, 128, 256, 512, 1024)
BASE_MEANS = (1.11, 1.28, 1.55, 1.93, 2.40, 2.92)  # the climb the real study showed
TEST_SES = (0.04, 0.045, 0.05, 0.05, 0.055, 0.06)
HOMOGENEOUS_MEAN = 1.5
HOMOGENEOUS_SD = 0.6  # spread of per-prompt means in the homogeneous variant: SE = SD/√B
TRAIN_BATCH = 4096
TRAIN_MEAN = 3.4
TRAIN_SE = 0.03
GENERATIONS = 8
QUANTILES = (0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99)
TEST_FILE = "entropy_jackknife_test_results.jsonl"
TRAIN_FILE = "entropy_jackknife_train_B4096_results.jsonl"


@dataclass(frozen=True)
class JackknifeDemo:
    """What was written and the answers a reader of it must find."""

    directory: Path
    files: tuple[str, ...]  # relative to ``directory``
    batches: tuple[int, ...]  # the test split's, in order
    estimates: tuple[float, ...]
    ses: tuple[float, ...]
    train_estimate: float | None


def header(split: str) -> dict[str, Any]:
    return {
        "experiment_type": "jackknife_vs_batch_size",
        "dataset": "gsm8k_r1_template",
        "split": split,
        "checkpoint": "/content/drive/MyDrive/RL_Practice_Files/new_rl_checkpoint/step_40/model",
        "generation_config": {"temperature": 1.0, "top_p": 1.0, "max_new_tokens": 512},
    }


def designed_means(chi2: float | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The test split's estimates and SEs: the real climb scaled to ``chi2``, or one mean
    measured with SEs that shrink as 1/√B, plus noise of exactly those SEs."""
    if chi2 is None:
        ses = HOMOGENEOUS_SD / np.sqrt(np.array(TEST_BATCHES, dtype=np.float64))
        return HOMOGENEOUS_MEAN + ses * rng.standard_normal(len(ses)), ses
    ses = np.array(TEST_SES)
    base, weights = np.array(BASE_MEANS), 1.0 / ses**2
    centre = float(np.sum(weights * base) / np.sum(weights))
    scale = math.sqrt(chi2 / float(np.sum(weights * (base - centre) ** 2)))
    return centre + (base - centre) * scale, ses


def skewed_values(mean: float, sd: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Lognormal draws moved to exactly this sample mean and sample SD (ddof = 1)."""
    sigma2 = math.log1p((sd / mean) ** 2)
    draws = rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), size)
    standard = (draws - draws.mean()) / draws.std(ddof=1)
    values: np.ndarray = mean + sd * standard
    if values.min() <= 0:  # the shift must keep entropies positive
        raise ValueError("demo per-prompt means would not all be positive")
    return values


def _experiment(
    batch: int, mean: float, se: float, seed: int, rng: np.random.Generator, extra: bool
) -> tuple[dict[str, Any], np.ndarray]:
    values = skewed_values(mean, se * math.sqrt(batch), batch, rng)
    estimate = float(values.mean())
    variance = float(values.var(ddof=1) / batch)  # the jackknife variance of a mean
    experiment: dict[str, Any] = {
        "B": batch,
        "G": GENERATIONS,
        "seed": seed,
        "estimate_mean_per_seq_entropy": estimate,
        "variance_estimate": variance,
        "std_dev_estimate": math.sqrt(variance),
        "per_prompt_means": values.tolist(),
    }
    if extra:
        experiment["elapsed_s"] = round(0.35 * batch * GENERATIONS, 1)
    return experiment, values


def _train_point(rng: np.random.Generator, matches: bool) -> dict[str, Any]:
    experiment, values = _experiment(TRAIN_BATCH, TRAIN_MEAN, TRAIN_SE, 7, rng, False)
    experiment["G"] = 4
    noise = rng.lognormal(0.0, 0.3, (values.size, 4))
    if matches:  # each prompt's G sequences average to its per-prompt mean
        noise /= noise.mean(axis=1, keepdims=True)
    sequences = (values[:, None] * noise).ravel()
    distribution = {
        "count": int(sequences.size),
        "mean": float(sequences.mean()),
        "std": float(sequences.std()),
        "min": float(sequences.min()),
        **{f"q{round(q * 100):02d}": float(np.quantile(sequences, q)) for q in QUANTILES},
        "max": float(sequences.max()),
    }
    return {**header("train"), **experiment, "distribution_analysis": distribution}


def write_jackknife_study(
    directory: Path,
    seed: int = 0,
    *,
    chi2: float | None = 973.0,
    train_point: bool = True,
    json_lines: bool = False,
    extra_fields: bool = True,
    distribution_matches: bool = False,
) -> JackknifeDemo:
    """Write the study into ``directory`` (created); returns the designed answers."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    means, ses = designed_means(chi2, rng)
    experiments = [
        _experiment(batch, float(mean), float(se), 100 + i, rng, extra_fields)[0]
        for i, (batch, mean, se) in enumerate(zip(TEST_BATCHES, means, ses, strict=True))
    ]
    study = {**header("test"), "experiments": experiments, "summary": _summary(experiments)}
    if json_lines:
        text = "".join(json.dumps({**header("test"), **e}) + "\n" for e in experiments)
    else:
        text = json.dumps(study, indent=2) + "\n"
    (directory / TEST_FILE).write_text(text, encoding="utf-8")
    files = [TEST_FILE]
    train_estimate = None
    if train_point:
        train = _train_point(rng, distribution_matches)
        (directory / TRAIN_FILE).write_text(json.dumps(train, indent=2) + "\n", encoding="utf-8")
        files.append(TRAIN_FILE)
        train_estimate = float(train["estimate_mean_per_seq_entropy"])
    return JackknifeDemo(
        directory=directory,
        files=tuple(sorted(files)),
        batches=TEST_BATCHES,
        estimates=tuple(float(e["estimate_mean_per_seq_entropy"]) for e in experiments),
        ses=tuple(float(e["std_dev_estimate"]) for e in experiments),
        train_estimate=train_estimate,
    )


def _summary(experiments: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "B_values": [e["B"] for e in experiments],
        "estimates": [e["estimate_mean_per_seq_entropy"] for e in experiments],
        "std_devs": [e["std_dev_estimate"] for e in experiments],
    }
