"""The next runner's results under ``next_runner/``: SNIS runs with clip sweeps, symmetric
finite differences and gradient clipping, and a CV batch with its aggregate files."""

from __future__ import annotations

from pathlib import Path

from reportgen.demo.cv_batch import write_cv_batch
from reportgen.demo.snis_next import write_next_snis


def write_next_runner(root: Path, seed: int, config: str) -> None:
    """Both, into an existing tree; ``config`` is the SNIS batch's config.yaml text."""
    write_next_snis(root, seed, config)
    write_cv_batch(root, seed)
