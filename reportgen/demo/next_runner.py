"""The next runner's results under ``next_runner/``: SNIS runs with clip sweeps, symmetric
finite differences and gradient clipping, a run whose published ΔH_true is itself clipped, and
a CV batch with its aggregate files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reportgen.demo.common import CLIP_C, SAMPLE_ETAS, JsonDict, json_bytes, write
from reportgen.demo.cv_batch import write_cv_batch
from reportgen.demo.snis_next import (
    NextCase,
    next_config_text,
    next_snis_results,
    snis_weights,
    write_next_snis,
)

CLIP_PUBLISHED_RUN = "next_runner/snis_clip_c3/run_01"
PUBLISHED_CLIP = 3.0  # the config's clip_c: it clips the planted heavy weights
CLIP_SWEEP = (1.5, 2.0, 5.0, 10.0, 20.0)  # besides the published threshold


def write_next_runner(root: Path, seed: int, config: str) -> None:
    """All of them, into an existing tree; ``config`` is the SNIS batch's config.yaml text."""
    write_next_snis(root, seed, config)
    write_clip_published(root, seed, config)
    write_cv_batch(root, seed)


def _republish(entry: JsonDict, clip: float) -> None:
    """The entry's ΔH_true and weights at ``clip``, its sweep at the other thresholds."""
    d = entry["diagnostics"]
    log_w = np.asarray(d["log_weights"], dtype=np.float64)
    h_new = np.asarray(d["h_new"], dtype=np.float64)
    t = np.asarray(d["token_counts"], dtype=np.float64)
    base = float(d["base_entropy"])
    raw_stats = d["logweight_stats"]
    d.update(snis_weights(log_w, clip, h_new, t, base))
    d["logweight_stats"] = raw_stats  # the published stats are the raw log-weights'
    w = np.minimum(np.exp(log_w), clip)
    d["normalized_weights"] = (w / w.sum()).tolist()
    d["clip_overrides"] = {f"{c:.6g}": snis_weights(log_w, c, h_new, t, base) for c in CLIP_SWEEP}
    d.pop("symmetric_fd", None)  # its Δ₊ was the unclipped value
    entry["delta_h_true"] = d["delta_h_true"]


def write_clip_published(root: Path, seed: int, config: str) -> None:
    """One run whose config's clip_c = 3 clips the planted heavy weights at the largest η, so
    the thresholds next to it (2 and 5) move the published ΔH_true by more than its SE."""
    rng = np.random.default_rng([seed, 850])
    results = next_snis_results(rng, NextCase("clip_published", clip_sensitive=True), SAMPLE_ETAS)
    for entry in results["true"]["entries"]:
        _republish(entry, PUBLISHED_CLIP)
    text = next_config_text(config).replace(f"clip_c: {CLIP_C}", f"clip_c: {PUBLISHED_CLIP}")
    write(root, f"{CLIP_PUBLISHED_RUN}/results.json", json_bytes(results))
    write(root, f"{CLIP_PUBLISHED_RUN}/config.yaml", text)
