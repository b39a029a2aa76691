"""Whole synthetic trees: the sample tree of the demo and the benchmark tree."""

from __future__ import annotations

import copy
import functools
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from reportgen.demo.common import (
    CV_DIRS,
    FEATURES,
    NOTES_MD,
    SAMPLE_ETAS,
    SCALES,
    Dumper,
    JsonDict,
    json_bytes,
    orjson_bytes,
    prepare_root,
    snis_config_text,
    write,
)
from reportgen.demo.cv import cv_aggregate, generate_cv_results
from reportgen.demo.inference import write_inference_cases
from reportgen.demo.next_runner import write_next_runner
from reportgen.demo.snis import RESOLVED_OVERSHOOT, generate_snis_results
from reportgen.demo.studies import write_studies
from reportgen.demo.sweep import generate_sweep_results


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
    return json_bytes(nb)


def _npy_bytes() -> bytes:
    """A tiny valid ``.npy`` file (version 1.0 header, 4 little-endian float64)."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }"
    header = header.ljust(117) + "\n"  # magic (6) + version (2) + len (2) + header = 128 bytes
    body = np.array([0.5, 0.25, 0.125, 0.0625], dtype="<f8").tobytes()
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + body


def _write_noise(root: Path) -> None:
    write(root, "diagnostics_run/full_data/notebooks/analysis.ipynb", _notebook())
    write(root, "diagnostics_run/helper.py", "def load(path):\n    return open(path).read()\n")
    write(root, "comparison_across_learning_rates/data.npy", _npy_bytes())


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
    write(root, f"{rel}/results.json", dump(results))
    write(root, f"{rel}/plan.json", dump(_plan(capture)))
    if config is not None:
        write(root, f"{rel}/config.yaml", config)


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
            overshoot=over, overshoot_strength=RESOLVED_OVERSHOOT,
        )  # fmt: skip
        config = snis_config_text(n, SAMPLE_ETAS) if run == "run_01" else None
        rel = f"{SNIS_BASE}/{group}/{run}"
        _write_snis_run(root, rel, res, capture=per_seq, config=config, dump=json_bytes)
    write(root, f"{SNIS_BASE}/E_512/run_01/notes.md", NOTES_MD)


def _write_sweeps(root: Path, seed: int, eta_sets: Sequence[Sequence[float]], dump: Dumper) -> None:
    for k, etas in enumerate(eta_sets):
        rng = np.random.default_rng([seed, 200 + k])
        rel = f"{SWEEP_BASE}/run_{k + 1:02d}"
        write(root, f"{rel}/results.json", dump(generate_sweep_results(rng, etas=etas)))
        write(root, f"{rel}/config.yaml", _dumped_config(512, etas, sweep=True, cv=False))


def _write_cvs(root: Path, seed: int, runs: int, n_seqs: int, dump: Dumper) -> None:
    cv_etas = [1e-6 * 2**k for k in range(8)]
    all_results = []
    for k in range(runs):
        rng = np.random.default_rng([seed, 300 + k])
        name, cv_dir = f"run_{k + 1:02d}", CV_DIRS[k % len(CV_DIRS)]
        res, artifacts = generate_cv_results(rng, n_seqs=n_seqs, run_name=name, cv_dir=cv_dir)
        all_results.append(res)
        rel = f"{CV_BASE}/{name}"
        write(root, f"{rel}/results.json", dump(res))
        write(root, f"{rel}/config.yaml", _dumped_config(512, cv_etas, sweep=False, cv=True))
        for fname, data in artifacts.items():
            write(root, f"{rel}/{cv_dir}/{fname}", data)
    agg_csv, agg_json = cv_aggregate(all_results)
    write(root, f"{CV_BASE}/cv_runs_aggregate.csv", agg_csv)
    write(root, f"{CV_BASE}/cv_runs_aggregate.json", agg_json)


def _sweep_etas(counts: Sequence[int]) -> list[list[float]]:
    starts = (4e-7, 8e-7, 4e-7)
    return [[starts[i % 3] * 2**k for k in range(c)] for i, c in enumerate(counts)]


def generate_sample_tree(
    root: Path,
    *,
    seed: int = 0,
    scale: str = "small",
    inference_cases: bool = False,
    next_runner: bool = False,
    studies: bool = False,
) -> Path:
    """Write the sample results tree (all three schemas plus noise) into an empty ``root``;
    ``inference_cases`` adds ``denominator_fix/`` and a ``reportgen.toml`` (``inference.py``),
    ``next_runner`` the next runner's blocks under ``next_runner/`` (``next_runner.py``),
    ``studies`` one study of each experiment kind and a notebook (``studies.py``).

    The same arguments always give byte-identical files.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")
    medium = scale == "medium"
    root = prepare_root(root)
    _sample_snis(root, seed, medium)
    _write_sweeps(root, seed, _sweep_etas((8, 6, 7) if medium else (8, 6)), json_bytes)
    _write_cvs(root, seed, 3 if medium else 2, 512 if medium else 48, json_bytes)
    _write_noise(root)
    if inference_cases:
        write_inference_cases(root, seed)
    if next_runner:
        write_next_runner(root, seed, snis_config_text(256, SAMPLE_ETAS))
    if studies:
        write_studies(root, seed)
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
    root = prepare_root(root)
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
        _write_snis_run(root, rel, res, capture=per_seq, config=config, dump=orjson_bytes)
    _write_sweeps(root, seed, _sweep_etas((8, 6)), orjson_bytes)
    _write_cvs(root, seed, 2, 512, orjson_bytes)
    _write_noise(root)
    return root


# runs of one batch size per sweep directory of the scale tree: groups stay small whatever the
# tree's size, as in real trees that grow by adding experiments, not by piling runs into one
SCALE_RUNS_PER_GROUP = 5
SCALE_SIZES = (16, 32)


def scale_tree(root: Path, *, seed: int = 0, runs: int = 100) -> Path:
    """``runs`` small SNIS runs (16 or 32 sequences, 2–4 η) for the benchmark's scale curve.

    Laid out ``scale/block_KK/sweep_SS/E_16|E_32/run_RR``: at most 100 entries in any directory
    of the tree (and so of the site, whose run pages mirror it), however many runs there are.
    """
    root = prepare_root(root)
    per_sweep = SCALE_RUNS_PER_GROUP * len(SCALE_SIZES)
    for i in range(runs):
        sweep, within = divmod(i, per_sweep)
        size_index, run = divmod(within, SCALE_RUNS_PER_GROUP)
        n = SCALE_SIZES[size_index]
        rng = np.random.default_rng([seed, 5000 + i])
        ks = np.sort(rng.choice(8, size=int(rng.integers(2, 5)), replace=False))
        etas = [8e-7 * 2 ** int(k) for k in ks]
        res = generate_snis_results(rng, n_sequences=n, etas=etas)
        block, local = divmod(sweep, 100)
        rel = f"scale/block_{block:02d}/sweep_{local:02d}/E_{n}/run_{run + 1:02d}"
        config = snis_config_text(n, etas) if run == 0 else None
        _write_snis_run(root, rel, res, capture=True, config=config, dump=orjson_bytes)
    return root
