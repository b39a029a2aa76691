"""The public outputs of a built site in comparable form, for the before/after snapshot test.

JSON twins are kept whole; each ``contributions.csv`` is reduced to its header and a digest of
its cells parsed as floats, so "the same numbers" means equal as floats, not equal as text.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np


def csv_digest(content: str) -> dict[str, Any]:
    rows = list(csv.reader(io.StringIO(content)))
    header, body = rows[0], rows[1:]
    cells = np.array([[float(c) if c else np.nan for c in row] for row in body], dtype=np.float64)
    return {
        "header": header,
        "rows": len(body),
        "float_sha256": hashlib.sha256(cells.reshape(-1).tobytes()).hexdigest(),
    }


def public_outputs(site: Path) -> dict[str, Any]:
    """Every public JSON twin by path, and every contributions CSV as a digest."""
    outputs: dict[str, Any] = {"manifest.json": json.loads((site / "manifest.json").read_text())}
    for path in sorted(site.glob("runs/**/summary.json")) + sorted(
        site.glob("groups/**/summary.json")
    ):
        outputs[path.relative_to(site).as_posix()] = json.loads(path.read_text())
    for path in sorted(site.glob("runs/**/contributions.csv")):
        outputs[path.relative_to(site).as_posix()] = csv_digest(path.read_text())
    return outputs
