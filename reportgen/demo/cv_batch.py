"""CV batches with their ``cv_runs_aggregate`` files and answers known by construction.

Each run's target satisfies y_i = scale·(wjlogp_sum + jH_sum) exactly. The runs' g·v sums are
planted about a common value G: with SE_i = B·se_batch_i (the SE of a run's sum),
gdotv_batch_i = G + SE_i·e_i where Σ e_i/SE_i = 0 (so G is their inverse-variance weighted
mean) and Σ e_i² = PLANTED_CHI2 (so Cochran's χ² about G is exactly that).

The mixed batch holds runs of two sizes in one aggregate, each size planted about its own G
(a sum over more sequences is larger); optionally one aggregate row disagrees with its run.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reportgen.demo.common import CV_DIRS, FloatArray, JsonDict, json_bytes, write
from reportgen.demo.cv import cv_aggregate, generate_cv_results

CV_BATCH_BASE = "next_runner/cv_batch"
CV_BATCH_RUNS = 6
CV_BATCH_SEQUENCES = 64
PLANTED_SUM = -420.0  # G
PLANTED_CHI2 = 4.5  # on CV_BATCH_RUNS − 1 degrees of freedom

MIXED_BASE = "next_runner/cv_batch_mixed"
MIXED_SIZES = (48, 64)  # B_total of the first and the second half of the runs
MIXED_RUNS_PER_SIZE = 4
MIXED_SUM_PER_SEQUENCE = -6.5  # G of a size: −6.5·B_total
MIXED_CHI2 = 2.0  # each size's, on MIXED_RUNS_PER_SIZE − 1 df: below them, so τ² = 0
TAMPERED_RUN = "run_01"  # its aggregate row says gdotv_batch = TAMPERED_SUM
TAMPERED_SUM = -999.0


def planted_sums(
    se_sums: FloatArray,
    rng: np.random.Generator,
    centre: float = PLANTED_SUM,
    chi2: float = PLANTED_CHI2,
) -> FloatArray:
    """Sums whose weighted mean is ``centre`` and whose χ² about it is ``chi2``."""
    draws: FloatArray = rng.standard_normal(size=(len(se_sums),))
    weights: FloatArray = np.reciprocal(se_sums)
    centred = draws - float(draws @ weights) / float(weights @ weights) * weights  # Σ e_i/SE_i = 0
    e = centred * np.sqrt(chi2 / float(centred @ centred))
    sums: FloatArray = centre + se_sums * e
    return sums


def _run(
    seed: int, k: int, gdotv_sum: float | None, n_seqs: int = CV_BATCH_SEQUENCES, stream: int = 700
) -> tuple[JsonDict, dict[str, bytes]]:
    rng = np.random.default_rng([seed, stream + k])
    return generate_cv_results(
        rng,
        n_seqs=n_seqs,
        run_name=f"run_{k + 1:02d}",
        cv_dir=CV_DIRS[k % len(CV_DIRS)],
        gdotv_sum=gdotv_sum,
        exact_target=True,
    )


def _write_runs(
    root: Path,
    base: str,
    seed: int,
    sizes: Sequence[int],
    stream: int,
    planted: tuple[Sequence[float], float],
) -> list[JsonDict]:
    """Runs ``run_01``… of the given sizes under ``base``; each size's sums planted about its
    centre with the χ² given (``planted``: the centres by size, the χ²). Their results."""
    centres, chi2 = planted
    first = [_run(seed, k, None, b, stream)[0] for k, b in enumerate(sizes)]  # their SEs only
    se_sums = np.asarray(
        [b * r["summary"]["diagnostics"]["se_batch"] for b, r in zip(sizes, first, strict=True)]
    )
    sums = np.zeros(len(sizes))
    for i, (size, centre) in enumerate(zip(sorted(set(sizes)), centres, strict=True)):
        mine = np.asarray(sizes) == size
        rng = np.random.default_rng([seed, stream + 99 + i])
        sums[mine] = planted_sums(se_sums[mine], rng, centre, chi2)
    results = []
    for k, size in enumerate(sizes):
        result, artifacts = _run(seed, k, float(sums[k]), size, stream)
        results.append(result)
        rel = f"{base}/run_{k + 1:02d}"
        write(root, f"{rel}/results.json", json_bytes(result))
        for name, data in artifacts.items():
            write(root, f"{rel}/{CV_DIRS[k % len(CV_DIRS)]}/{name}", data)
    return results


def _write_aggregate(root: Path, base: str, results: Sequence[JsonDict]) -> None:
    csv_bytes, json_data = cv_aggregate(results)
    write(root, f"{base}/cv_runs_aggregate.csv", csv_bytes)
    write(root, f"{base}/cv_runs_aggregate.json", json_data)


def write_cv_batch(root: Path, seed: int) -> None:
    """Six CV runs under ``next_runner/cv_batch/`` and their aggregate files beside them."""
    sizes = [CV_BATCH_SEQUENCES] * CV_BATCH_RUNS
    _write_aggregate(
        root,
        CV_BATCH_BASE,
        _write_runs(root, CV_BATCH_BASE, seed, sizes, 700, ([PLANTED_SUM], PLANTED_CHI2)),
    )


def mixed_sizes() -> list[int]:
    """B_total of each run of the mixed batch, in run order."""
    return [b for b in MIXED_SIZES for _ in range(MIXED_RUNS_PER_SIZE)]


def write_mixed_cv_batch(root: Path, seed: int, *, tampered: bool = False) -> None:
    """Eight CV runs under ``MIXED_BASE``, four of 48 sequences then four of 64, and one
    aggregate of all; ``tampered``: the aggregate's row of ``TAMPERED_RUN`` (and the file's
    means, recomputed from its rows) says gdotv_batch = TAMPERED_SUM, its run does not."""
    centres = [MIXED_SUM_PER_SEQUENCE * b for b in MIXED_SIZES]
    results = _write_runs(root, MIXED_BASE, seed, mixed_sizes(), 900, (centres, MIXED_CHI2))
    if tampered:
        results[0] = copy.deepcopy(results[0])
        results[0]["summary"]["diagnostics"]["gdotv_batch"] = TAMPERED_SUM
    _write_aggregate(root, MIXED_BASE, results)
