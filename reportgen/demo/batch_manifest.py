"""Batch manifests (``index.json``) as the users' batch scripts write them, with known answers.

Two layouts: a diagnostics batch ``[{run, path, timing, variance, approx}]`` and a
control-variate batch ``[{run, run_dir, cv_csv, cv_summary, plots, summary}]``. Paths are
absolute on the machine that ran the batch; some listed runs were never copied into the tree,
and some rows still hold the zeros written before their numbers were known.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIAGNOSTICS_ROOT = "/content/drive/MyDrive/RL_Practice_Files/diag_batch_20250914_2300"
CV_ROOT = "/content/drive/MyDrive/RL_Practice_Files/good_cvs_20250915_0000"
PLOTS = ("hist_yi.png", "scatter_var_logp.png")


@dataclass(frozen=True)
class ManifestDemo:
    path: Path
    listed: tuple[str, ...]  # run names, in order
    missing: tuple[str, ...]  # listed runs the caller did not create
    zeros: Mapping[str, tuple[str, ...]]  # run → key paths written as 0


def _timing_row(run: str, index: int, placeholder: bool) -> dict[str, Any]:
    if placeholder:  # written when the run started; never filled in
        return {
            "run": run,
            "path": f"{DIAGNOSTICS_ROOT}/{run}",
            "timing": {"total_s": 0, "true_s": 0.0},
            "variance": {"se_shard": 0.0, "num_shards": 8},
            "approx": {"delta_h_per_lr": 0.0, "vhvv": 0.0},
        }
    return {
        "run": run,
        "path": f"{DIAGNOSTICS_ROOT}/{run}",
        "timing": {"total_s": 812.4 + 31.0 * index, "true_s": 402.9 + 11.0 * index},
        "variance": {"se_shard": 0.0123 + 0.001 * index, "num_shards": 8},
        "approx": {"delta_h_per_lr": -431.2 + 7.5 * index, "vhvv": 1.9e6 + 1e4 * index},
    }


def write_timing_manifest(
    directory: Path,
    runs: Sequence[str],
    missing: Sequence[str] = ("run_05",),
    placeholders: Sequence[str] = ("run_02",),
) -> ManifestDemo:
    """``index.json`` of a diagnostics batch listing ``runs`` and the never-copied ``missing``."""
    listed = (*runs, *missing)
    rows = [_timing_row(run, i, run in placeholders) for i, run in enumerate(listed)]
    return _write(
        directory,
        rows,
        listed,
        tuple(missing),
        {
            run: (
                "timing.total_s",
                "timing.true_s",
                "variance.se_shard",
                "approx.delta_h_per_lr",
                "approx.vhvv",
            )
            for run in placeholders
        },
    )


def write_cv_manifest(
    directory: Path, runs: Mapping[str, str], missing: Mapping[str, str] | None = None
) -> ManifestDemo:
    """``index.json`` of a control-variate batch; ``runs`` maps each run to its cv_* folder."""
    absent = dict(missing if missing is not None else {"run_03": "cv_20250915_002327"})
    rows = []
    for run, cv_dir in {**runs, **absent}.items():
        base = f"{CV_ROOT}/{run}"
        rows.append(
            {
                "run": run,
                "run_dir": base,
                "cv_csv": f"{base}/{cv_dir}/cv_per_seq.csv",
                "cv_summary": f"{base}/{cv_dir}/cv_summary.json",
                "plots": [f"{base}/{cv_dir}/{name}" for name in PLOTS],
                "summary": {"gdotv_batch": -401.7, "se_batch": 0.41, "VR_SE": 0.95},
            }
        )
    return _write(directory, rows, (*runs, *absent), tuple(absent), {})


def _write(
    directory: Path,
    rows: list[dict[str, Any]],
    listed: tuple[str, ...],
    missing: tuple[str, ...],
    zeros: Mapping[str, tuple[str, ...]],
) -> ManifestDemo:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "index.json"
    path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return ManifestDemo(path, listed, missing, dict(zeros))
