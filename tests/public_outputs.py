"""The public outputs of a built site in comparable form, for the before/after snapshot test.

JSON twins are kept whole; each ``contributions.csv`` is reduced to its header, its row count
and per column the count of empty cells and sums that cannot cancel (Σ|x|, Σx², and Σ wᵢ|xᵢ|
with weights that vary by row, so reordered rows change it), plus min and max. These compare
as floats to a relative tolerance (the snapshot test's), so a numpy release that reorders a
reduction does not fail them while any changed, dropped or moved value does.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np


def csv_digest(content: str) -> dict[str, Any]:
    rows = list(csv.reader(io.StringIO(content)))
    header, body = rows[0], rows[1:]
    cells = np.array([[float(c) if c else np.nan for c in row] for row in body], dtype=np.float64)
    cells = cells.reshape(len(body), len(header))
    weights = 1.0 + (np.arange(len(body)) % 7) / 7.0
    columns = {}
    for name, column in zip(header, cells.T, strict=True):
        finite = np.isfinite(column)
        values = np.abs(column[finite])
        columns[name] = {
            "empty": int((~finite).sum()),
            "abs_sum": float(values.sum()),
            "square_sum": float((values**2).sum()),
            "weighted_abs_sum": float((weights[finite] * values).sum()),
            "min": float(column[finite].min()) if finite.any() else None,
            "max": float(column[finite].max()) if finite.any() else None,
        }
    return {"header": header, "rows": len(body), "columns": columns}


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
