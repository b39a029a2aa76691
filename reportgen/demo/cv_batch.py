"""A CV batch with its ``cv_runs_aggregate`` files and answers known by construction.

Each run's target satisfies y_i = scale·(wjlogp_sum + jH_sum) exactly. The runs' g·v sums are
planted about a common value G: with SE_i = B·se_batch_i (the SE of a run's sum),
gdotv_batch_i = G + SE_i·e_i where Σ e_i/SE_i = 0 (so G is their inverse-variance weighted
mean) and Σ e_i² = PLANTED_CHI2 (so Cochran's χ² about G is exactly that).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reportgen.demo.common import CV_DIRS, FloatArray, JsonDict, json_bytes, write
from reportgen.demo.cv import cv_aggregate, generate_cv_results

CV_BATCH_BASE = "next_runner/cv_batch"
CV_BATCH_RUNS = 6
CV_BATCH_SEQUENCES = 64
PLANTED_SUM = -420.0  # G
PLANTED_CHI2 = 4.5  # on CV_BATCH_RUNS − 1 degrees of freedom


def planted_sums(se_sums: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Sums whose weighted mean is PLANTED_SUM and whose χ² about it is PLANTED_CHI2."""
    draws: FloatArray = rng.standard_normal(size=(len(se_sums),))
    weights: FloatArray = np.reciprocal(se_sums)
    centred = draws - float(draws @ weights) / float(weights @ weights) * weights  # Σ e_i/SE_i = 0
    e = centred * np.sqrt(PLANTED_CHI2 / float(centred @ centred))
    sums: FloatArray = PLANTED_SUM + se_sums * e
    return sums


def _run(seed: int, k: int, gdotv_sum: float | None) -> tuple[JsonDict, dict[str, bytes]]:
    rng = np.random.default_rng([seed, 700 + k])
    return generate_cv_results(
        rng,
        n_seqs=CV_BATCH_SEQUENCES,
        run_name=f"run_{k + 1:02d}",
        cv_dir=CV_DIRS[k % len(CV_DIRS)],
        gdotv_sum=gdotv_sum,
        exact_target=True,
    )


def write_cv_batch(root: Path, seed: int) -> None:
    """Six CV runs under ``next_runner/cv_batch/`` and their aggregate files beside them."""
    first = [_run(seed, k, None)[0] for k in range(CV_BATCH_RUNS)]  # their SEs only
    se_sums = np.asarray(
        [r["summary"]["n_seqs"] * r["summary"]["diagnostics"]["se_batch"] for r in first]
    )
    sums = planted_sums(se_sums, np.random.default_rng([seed, 799]))
    results = []
    for k in range(CV_BATCH_RUNS):
        result, artifacts = _run(seed, k, float(sums[k]))
        results.append(result)
        rel = f"{CV_BATCH_BASE}/run_{k + 1:02d}"
        write(root, f"{rel}/results.json", json_bytes(result))
        cv_dir = CV_DIRS[k % len(CV_DIRS)]
        for name, data in artifacts.items():
            write(root, f"{rel}/{cv_dir}/{name}", data)
    csv_bytes, json_data = cv_aggregate(results)
    write(root, f"{CV_BATCH_BASE}/cv_runs_aggregate.csv", csv_bytes)
    write(root, f"{CV_BATCH_BASE}/cv_runs_aggregate.json", json_data)
