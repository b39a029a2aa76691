"""Whether the outlier files agree with the arrays they were drawn from."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from reportgen.kinds.common import FloatArray
from reportgen.kinds.fisher.model import FisherRun, Split
from reportgen.numfmt import format_number

COSINE_RTOL = 1e-5  # cosines recomputed from a float32 kernel


def _close(a: float, b: float, eps: float) -> bool:
    return abs(a - b) <= 8 * max(eps, 2.0**-52) * max(abs(a), abs(b)) + 1e-300


def file_disagreements(run: FisherRun, cosine: FloatArray) -> tuple[str, ...]:
    found: list[str] = []
    for split in run.splits:
        found += _outliers(split, run.update)
    found += _pairs(run, cosine)
    return tuple(found)


def _outliers(split: Split, update: Split) -> Iterator[str]:
    rows = split.kernel.shape[0] if split.kernel is not None else len(split.sequences)
    name = f"{split.name}_top_outliers.json"
    for k, outlier in enumerate(split.outliers):
        i = outlier.index
        if i is None:
            continue
        if i >= rows:
            yield f"{name} entry {k}: index {i} is beyond the {rows} sequences"
            continue
        if outlier.id is not None and split.sequences and split.sequences[i].id != outlier.id:
            yield f"{name} entry {k}: id {outlier.id} but sequence {i} is {split.sequences[i].id}"
        values = dict(outlier.values)
        if "influence" in values and split.influence is not None:
            stored = float(split.influence[i])
            if not _close(values["influence"], stored, split.influence_eps):
                yield (
                    f"{name} entry {k}: influence {format_number(values['influence'])} but "
                    f"influence_{split.name}.npy holds {format_number(stored)}"
                )
        kernel = update.kernel
        if "self_influence" in values and split is update and kernel is not None:
            stored = float(kernel[i, i])
            if not _close(values["self_influence"], stored, update.kernel_eps):
                yield (
                    f"{name} entry {k}: self_influence {format_number(values['self_influence'])}"
                    f" but the kernel's diagonal holds {format_number(stored)}"
                )


def _pairs(run: FisherRun, cosine: FloatArray) -> Iterator[str]:
    update = run.update
    kernel = update.kernel
    if kernel is None:
        return
    n = kernel.shape[0]
    ids = [s.id for s in update.sequences] if len(update.sequences) == n else []
    for k, pair in enumerate(run.pairs):
        a, b = pair.a, pair.b
        where = f"outlier_pair_details.json entry {k}"
        if a is None or b is None:
            continue
        if a >= n or b >= n:
            yield f"{where}: indices ({a}, {b}) beyond the {n} sequences"
            continue
        if ids and ((pair.id_a not in (None, ids[a])) or (pair.id_b not in (None, ids[b]))):
            yield (
                f"{where}: ids {pair.id_a}, {pair.id_b} but sequences {a}, {b} are "
                f"{ids[a]}, {ids[b]}"
            )
        if pair.kernel is not None and not _close(
            pair.kernel, float(kernel[a, b]), update.kernel_eps
        ):
            yield (
                f"{where}: kernel {format_number(pair.kernel)} but K[{a}, {b}] is "
                f"{format_number(float(kernel[a, b]))}"
            )
        c = float(cosine[a, b])
        if (
            pair.cosine is not None
            and np.isfinite(c)
            and abs(pair.cosine - c) > COSINE_RTOL * max(1.0, abs(c))
        ):
            yield f"{where}: cosine {format_number(pair.cosine)} but K gives {format_number(c)}"
