"""The experiment kinds' part of the sample tree: one study of each kind, with planted problems
their checks find, and files no kind reads (a notebook), for the inventory."""

from __future__ import annotations

import json
from pathlib import Path

from reportgen.demo.batch_manifest import write_timing_manifest
from reportgen.demo.fisher import write_fisher_run
from reportgen.demo.influence import write_influence_run
from reportgen.demo.jackknife import write_jackknife_study
from reportgen.demo.rb_convergence import write_rb_study

INFLUENCE_DIR = "influence/run_sum_rule"
FISHER_DIR = "fisher_kernel/outliers"
JACKKNIFE_DIR = "variance/jackknife"
JACKKNIFE_LINES_DIR = "variance/jackknife_lines"
RB_DIR = "variance/rb_convergence"
NOTEBOOK = "notebooks/influence_scratch.ipynb"
MANIFEST_DIR = "diagnostics_run/full_data/E_256"  # beside the sample's runs run_01…run_03


def _notebook() -> str:
    cell = {"cell_type": "code", "metadata": {}, "source": ["import numpy as np\n"]}
    cells = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(cells, indent=1, sort_keys=True) + "\n"


def write_studies(root: Path, seed: int) -> None:
    """An influence run counting the baseline once per direction, a Fisher kernel dominated by
    one prompt, two jackknife studies (one pretty-printed, one JSON Lines), a Rao-Blackwell
    study (pickles, read by the restricted unpickler), a batch manifest of the E_256 runs that
    lists a run never copied (run_05) and placeholder zeros (run_02), and a notebook no kind
    claims."""
    write_influence_run(root / INFLUENCE_DIR, seed=seed, baseline_counted_per_sequence=True)
    write_fisher_run(root / FISHER_DIR, seed=seed, dominated=True)
    write_jackknife_study(root / JACKKNIFE_DIR, seed)
    write_jackknife_study(root / JACKKNIFE_LINES_DIR, seed + 1, json_lines=True, chi2=None)
    write_rb_study(root / RB_DIR, seed)
    write_timing_manifest(root / MANIFEST_DIR, ("run_01", "run_02", "run_03"))
    (root / NOTEBOOK).parent.mkdir(parents=True, exist_ok=True)
    (root / NOTEBOOK).write_text(_notebook(), encoding="utf-8")
