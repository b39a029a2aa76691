"""The cases a group verdict must not get wrong, as a tree does after a few months of work.

Written under ``denominator_fix/`` beside the sample tree (``generate_sample_tree(...,
inference_cases=True)``), with a ``reportgen.toml`` at the root:

* ``old/E_256/run_01, run_02``: written before the SNIS denominator fix (no
  ``denom_corr_scaled``/``denom_corr_unscaled`` in the per-sequence extras, no ``H_base_mean``):
  linear/true ≈ 0.25, labelled ``epoch = "pre-denominator-fix"`` by the tree file;
* ``old/E_256/run_03, run_04``: the same epoch with per-sequence capture off;
* ``run_with_denom_fix/E_256/run_01, run_02``: after the fix, linear/true ≈ 1.2, the same
  configuration apart from ``eta_list``;
* ``run_with_denom_fix/E_256/run_03``: a byte-identical copy of ``old/E_256/run_01``;
* ``run_with_denom_fix/E_256/run_04``: a post-fix run differing only in ``model.name``;
* ``run_with_denom_fix/E_2048/run_01…04``: 2,048 sequences each, the linear term overshooting
  |ΔH_true| by 30 % with the noise of real runs of that size (per run z ≈ −2, so a run alone
  is often inconclusive while the four pooled are not);
* the tree file fits ``old/E_256``'s runs over 1e−6 ≤ η ≤ 7e−6 only (three of their five η);
* ``sweep_without_approx/run_01``: an η sweep whose ``deltaH_approx`` is 0.0 at every η (not
  recorded);
* ``hidden_change/E_2048/run_01…04`` (beside ``denominator_fix/``): one configuration and one
  field fingerprint, but a change nothing records between runs 02 and 03: the first two
  overshoot |ΔH_true| by 30 %, the last two undershoot it by 30 %, so Cochran's Q across the
  four is far beyond their noise (one population, heterogeneous);
* ``many_keys/E_256/run_01, run_02``: two runs whose configurations differ in
  ``MANY_KEYS`` keys, more than "what differs" lists (the rest are counted, and all are in
  the group's ``what_differs.csv``).
* ``unpaired_batches/E_256/run_01`` and ``unpaired_batches/E_512/run_01``: two batch sizes
  whose runs also differ in the learning-rate schedule (``UNPAIRED_SCHEDULES``), so no runs
  are alike but for B_E and the group compares no batch sizes (it says why).
* ``unsampled_batches/E_256/run_01`` and ``unsampled_batches/E_512/run_01``: two batch sizes
  alike in everything else, written without per-sequence contributions, so no smaller batch
  can be drawn from the larger run (the group says so).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reportgen.demo.common import (
    SAMPLE_ETAS,
    JsonDict,
    json_bytes,
    orjson_bytes,
    snis_config_text,
    write,
)
from reportgen.demo.snis import generate_snis_results
from reportgen.demo.sweep import generate_sweep_results

BASE = "denominator_fix"
PRE_FIX = f"{BASE}/old/E_256"
POST_FIX = f"{BASE}/run_with_denom_fix/E_256"
LARGE = f"{BASE}/run_with_denom_fix/E_2048"
SWEEP = f"{BASE}/sweep_without_approx/run_01"
HIDDEN = "hidden_change/E_2048"
HIDDEN_RATIOS = (1.3, 1.3, 0.7, 0.7)  # linear/true of each run: a change between 02 and 03
MANY = "many_keys/E_256"
MANY_KEYS = 60  # keys whose values differ between its two runs
UNPAIRED = "unpaired_batches"
UNPAIRED_SCHEDULES = {256: "cosine", 512: "constant"}  # B_E → its runs' lr schedule
UNSAMPLED = "unsampled_batches"
LARGE_ETAS = (1.6e-6, 3.2e-6)
LARGE_RATIO = 1.3  # linear/true of the large batch: linear overshoots |ΔH_true| by 30 %
LARGE_NOISE = 0.3  # per-run se(linear/true) ≈ 0.14–0.3 at 2,048 sequences, as in real runs
LARGE_SPREAD = 0.12  # each large run's ΔH_true off by this relative SD (its sampling error)

TREE_FILE = """\
# What the data cannot say about themselves (see the guide)
title = "Entropy experiments (sample)"

[[labels]]
runs = "denominator_fix/old/*"
epoch = "pre-denominator-fix"
note = "Written before the SNIS denominator fix: ΔH_true is not comparable with later runs."

[fit]
"denominator_fix/old/E_256" = { eta_min = 1e-6, eta_max = 7e-6 }
"""


def _config(b_e: int, etas: tuple[float, ...], model: str = "gpt2") -> str:
    return f'model:\n  name: "{model}"\n\n' + snis_config_text(b_e, etas)


def _plan(capture: bool) -> bytes:
    plan = {"compute_true": True, "compute_linear": True, "capture_per_sequence": capture}
    return json_bytes(plan | {"eta_list": None})


def _pre_fix(results: JsonDict) -> JsonDict:
    """The fields the experiment code wrote before the denominator fix, and no others."""
    approx = results["approx"]
    for record in approx.get("per_sequence", ()):
        for key in ("denom_corr_scaled", "denom_corr_unscaled"):
            record["extras"].pop(key, None)
    approx.get("per_sequence_meta", {}).pop("H_base_mean", None)
    return results


def _run(root: Path, rel: str, results: JsonDict, *, capture: bool, config: str | None) -> bytes:
    data = json_bytes(results)
    write(root, f"{rel}/results.json", data)
    write(root, f"{rel}/plan.json", _plan(capture))
    if config is not None:
        write(root, f"{rel}/config.yaml", config)
    return data


def _e256(root: Path, seed: int) -> None:
    for k, (capture, ratio) in enumerate(((True, 4.0), (True, 4.0), (False, 4.0), (False, 4.0))):
        rng = np.random.default_rng([seed, 700 + k])
        res = generate_snis_results(rng, n_sequences=256, etas=SAMPLE_ETAS,
                                    per_sequence=capture, truth_ratio=ratio)  # fmt: skip
        config = _config(256, SAMPLE_ETAS) if k == 0 else None
        data = _run(root, f"{PRE_FIX}/run_{k + 1:02d}", _pre_fix(res), capture=capture,
                    config=config)  # fmt: skip
        if k == 0:
            copy = data
    post_etas = SAMPLE_ETAS[1:]  # the same experiment on another η grid
    for k in range(2):
        rng = np.random.default_rng([seed, 710 + k])
        res = generate_snis_results(rng, n_sequences=256, etas=post_etas, truth_ratio=1 / 1.2)
        config = _config(256, post_etas) if k == 0 else None
        _run(root, f"{POST_FIX}/run_{k + 1:02d}", res, capture=True, config=config)
    write(root, f"{POST_FIX}/run_03/results.json", copy)
    write(root, f"{POST_FIX}/run_03/plan.json", _plan(True))
    rng = np.random.default_rng([seed, 720])
    res = generate_snis_results(rng, n_sequences=256, etas=post_etas, truth_ratio=1 / 1.2)
    _run(root, f"{POST_FIX}/run_04", res, capture=True,
         config=_config(256, post_etas, model="llama-7b"))  # fmt: skip


def _e2048(root: Path, seed: int) -> None:
    offsets = np.random.default_rng([seed, 744]).normal(0.0, LARGE_SPREAD, 4)
    for k, offset in enumerate(offsets.tolist()):
        rng = np.random.default_rng([seed, 740 + k])
        res = generate_snis_results(
            rng, n_sequences=2048, etas=LARGE_ETAS, truth_ratio=1 / LARGE_RATIO,
            noise=LARGE_NOISE, offset=offset,
        )  # fmt: skip
        config = _config(2048, LARGE_ETAS) if k == 0 else None
        write(root, f"{LARGE}/run_{k + 1:02d}/results.json", orjson_bytes(res))
        write(root, f"{LARGE}/run_{k + 1:02d}/plan.json", _plan(True))
        if config is not None:
            write(root, f"{LARGE}/run_{k + 1:02d}/config.yaml", config)


def _hidden_change(root: Path, seed: int) -> None:
    for k, ratio in enumerate(HIDDEN_RATIOS):
        rng = np.random.default_rng([seed, 780 + k])
        res = generate_snis_results(
            rng, n_sequences=2048, etas=LARGE_ETAS, truth_ratio=1 / ratio, noise=LARGE_NOISE
        )
        write(root, f"{HIDDEN}/run_{k + 1:02d}/results.json", orjson_bytes(res))
        write(root, f"{HIDDEN}/run_{k + 1:02d}/plan.json", _plan(True))
        if k == 0:
            write(root, f"{HIDDEN}/run_{k + 1:02d}/config.yaml", _config(2048, LARGE_ETAS))


def _many_keys(root: Path, seed: int) -> None:
    for k in range(2):
        rng = np.random.default_rng([seed, 790 + k])
        res = generate_snis_results(rng, n_sequences=64, etas=SAMPLE_ETAS)
        extra = "".join(f"  k{i:02d}: {i + 100 * k}\n" for i in range(MANY_KEYS))
        config = _config(256, SAMPLE_ETAS) + "extra:\n" + extra
        _run(root, f"{MANY}/run_{k + 1:02d}", res, capture=True, config=config)


def _unpaired_batches(root: Path, seed: int) -> None:
    for k, (b_e, schedule) in enumerate(UNPAIRED_SCHEDULES.items()):
        rng = np.random.default_rng([seed, 800 + k])
        res = generate_snis_results(rng, n_sequences=b_e, etas=SAMPLE_ETAS)
        config = _config(b_e, SAMPLE_ETAS) + f'optimizer:\n  lr_schedule: "{schedule}"\n'
        _run(root, f"{UNPAIRED}/E_{b_e}/run_01", res, capture=True, config=config)


def _unsampled_batches(root: Path, seed: int) -> None:
    for k, b_e in enumerate((256, 512)):
        rng = np.random.default_rng([seed, 810 + k])
        res = generate_snis_results(rng, n_sequences=b_e, etas=SAMPLE_ETAS, per_sequence=False)
        _run(
            root,
            f"{UNSAMPLED}/E_{b_e}/run_01",
            res,
            capture=False,
            config=_config(b_e, SAMPLE_ETAS),
        )


def _unrecorded_sweep(root: Path, seed: int) -> None:
    res = generate_sweep_results(np.random.default_rng([seed, 760]), etas=SAMPLE_ETAS)
    for row in res["sweep"]:
        row["deltaH_approx"] = 0.0
        del row["deltaH_approx_linear"], row["deltaH_approx_linquad"]
    write(root, f"{SWEEP}/results.json", json_bytes(res))


def write_inference_cases(root: Path, seed: int = 0) -> None:
    """Write the cases into ``root`` (the sample tree's root) and its ``reportgen.toml``."""
    _e256(root, seed)
    _e2048(root, seed)
    _unrecorded_sweep(root, seed)
    _hidden_change(root, seed)
    _many_keys(root, seed)
    _unpaired_batches(root, seed)
    _unsampled_batches(root, seed)
    write(root, "reportgen.toml", TREE_FILE)
