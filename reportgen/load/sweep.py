"""The older η-sweep schema generation."""

from __future__ import annotations

import math

import numpy as np

from reportgen.load.fields import Fields, to_float
from reportgen.load.inputs import (
    LoadError,
)
from reportgen.load.inventory import KnownFields, under
from reportgen.load.models import DroppedValue, Fact, FloatArray, SweepData
from reportgen.load.snis import keep_eta, load_curvature

# --- η sweep ---------------------------------------------------------------------------------


def load_sweep(data: Fields, dropped: list[DroppedValue] | None = None) -> SweepData:
    rows = []
    for row in data.items("sweep"):
        eta = row.float("eta")
        if keep_eta(math.nan if eta is None else eta, row.where("eta"), dropped):
            rows.append(row)
    rows.sort(key=lambda r: r.float("eta") or 0.0)

    def column(*keys: str) -> FloatArray:
        values = []
        for row in rows:
            value = next((v for k in keys if (v := row.float(k)) is not None), None)
            values.append(math.nan if value is None else value)
        return np.asarray(values, dtype=np.float64)

    variance = data.data.get("variance")
    return SweepData(
        etas=column("eta"),
        delta_h_true=column("deltaH_true"),
        delta_h_linear=column("deltaH_approx_linear", "deltaH_approx"),
        delta_h_linquad=column("deltaH_approx_linquad"),
        curvature=load_curvature(data.sub("curvature"), dropped),
        variance=to_float(variance, "variance") if not isinstance(variance, (dict, list)) else None,
    )


def timing_facts(block: Fields | None, label: str) -> list[Fact]:
    """Numeric timings as facts; nested or textual entries are not timings and are left out."""
    if block is None:
        return []
    facts = []
    for key in block.data:
        try:
            value = block.float(key)
        except LoadError:
            continue
        if value is not None:
            facts.append(Fact(f"{label}: {key}", value, "s"))
    return facts


SWEEP_FIELDS = KnownFields(
    used=(
        *under("", "B_E B_U G_U variance timing.*"),
        *under("precision", "runtime_dtype entropy_dtype"),
        *under("sweep[]", "eta deltaH_true deltaH_approx deltaH_approx_linear"),
        *under("sweep[]", "deltaH_approx_linquad"),
        *under(
            "curvature",
            """gdotv vHvv eta_star ratio_pred.# per_sequence_vhvv variance.se_gdotv
            variance.se_vHvv variance.num_shards method""",
        ),
    ),
    unused={
        "approx.h_approx_normalized": "a placeholder (0.0 in the files seen); sweep rows carry "
        "the approximations",
        "curvature.audit": "the scale audit of the curvature pass",
        "curvature.baseline": "the baseline of the curvature pass",
        "curvature.num_sequences": "the batch size (B_E and the sweep give the numbers shown)",
        "curvature.num_tokens": "the token total of the curvature pass",
    },
)
