"""Whether an influence directory agrees with itself: the summary's numbers against the arrays
they were computed from, to the rounding of the arrays' stored precision."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from reportgen.kinds.common import FloatArray
from reportgen.kinds.influence.model import EtaArrays, Evaluation
from reportgen.numfmt import format_eta, format_number

MatrixReading = str


def close(a: float, b: float, scale: float, eps: float, count: int) -> bool:
    """Equal up to the rounding of a sum of ``count`` terms whose magnitudes sum to ``scale``
    (the standard bound (count + 2)·eps·Σ|terms|), with float64's floor."""
    tolerance = (count + 2) * max(eps, 2.0**-52) * abs(scale)
    return abs(a - b) <= tolerance + 1e-300


def usable(arrays: EtaArrays | None, n: int, m: int | None) -> bool:
    """The full, baseline and baseline_plus_grad arrays are present and line up."""
    if arrays is None or arrays.full is None or arrays.baseline is None:
        return False
    plus = arrays.baseline_plus_grad
    if plus is None or plus.shape != (n, arrays.full.shape[0]):
        return False
    return arrays.baseline.shape == arrays.full.shape and m in (None, arrays.full.shape[0])


def has_grad(arrays: EtaArrays, n: int) -> bool:
    return (
        arrays.grad is not None
        and arrays.full is not None
        and arrays.grad.shape == (n, arrays.full.shape[0])
    )


def adjusted(arrays: EtaArrays) -> FloatArray:
    """baseline_plus_grad − baseline per direction and evaluation sequence (n × m)."""
    assert arrays.baseline_plus_grad is not None and arrays.baseline is not None
    return arrays.baseline_plus_grad - arrays.baseline[None, :]


def matrix_reading(evaluation: Evaluation, n: int) -> MatrixReading | None:
    """Which per-sequence array the delta matrix reproduces at η_ref, in words (None: no arrays
    at that η to compare with)."""
    matrix = evaluation.matrix
    if matrix is None or matrix.eta_reference is None:
        return None
    arrays = next((a for a in evaluation.arrays if _same_eta(a.eta, matrix.eta_reference)), None)
    if arrays is None or not usable(arrays, n, evaluation.num_sequences):
        return None
    assert arrays.full is not None and arrays.baseline is not None
    if matrix.values.shape != (n, arrays.full.shape[0]):
        return "none"
    eps = max(matrix.eps, arrays.eps)
    candidates = {
        "baseline-adjusted": adjusted(arrays),
        "grad-only": arrays.grad,
        "baseline_plus_grad": arrays.baseline_plus_grad,
    }
    for name, values in candidates.items():
        if values is not None and values.shape == matrix.values.shape:
            scale = np.abs(values) + np.abs(arrays.baseline)[None, :]
            if np.all(np.abs(values - matrix.values) <= 4 * eps * scale + 1e-300):
                return name
    return "none"


def _same_eta(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * abs(a)


def disagreements(evaluation: Evaluation, n: int) -> tuple[str, ...]:
    """Every number of the summary that its own arrays contradict beyond rounding."""
    found = list(_aggregate_disagreements(evaluation, n))
    found += _matrix_disagreements(evaluation, n)
    return tuple(found)


def _aggregate_disagreements(evaluation: Evaluation, n: int) -> Iterator[str]:
    arrays = {a.eta: a for a in evaluation.arrays}
    baseline = dict(evaluation.baseline_eta_delta)
    m = evaluation.num_sequences
    for row in evaluation.aggregate:
        at = f"at η = {format_eta(row.eta)}"
        a = arrays.get(row.eta)
        if a is None:
            continue
        if a.full is not None and row.delta_h is not None and (m in (None, a.full.size)):
            yield from _mean_differs("delta_h", row.delta_h, a.full, a.eps, "full", at)
        if a.baseline is not None and row.eta in baseline:
            yield from _mean_differs(
                "baseline_eta_delta", baseline[row.eta], a.baseline, a.eps, "baseline", at
            )
        if a.grad_eta is not None and has_grad(a, n):
            assert a.grad is not None
            means = a.grad.mean(axis=1)
            scale = np.abs(a.grad).mean(axis=1)
            bad = ~(np.abs(means - a.grad_eta) <= (a.grad.shape[1] + 2) * a.eps * scale + 1e-300)
            if bad.any():
                yield (
                    f"eval_NN_grad_eta {at} differs from the row means of the grad array for "
                    f"{int(bad.sum())} of {n} directions"
                )


def _mean_differs(
    field: str, value: float, array: FloatArray, eps: float, name: str, at: str
) -> Iterator[str]:
    mean = float(array.mean())
    if not close(value, mean, float(np.abs(array).mean()), eps, array.size):
        yield (
            f"{field} {at} is {format_number(value)} but the mean of the {name} array is "
            f"{format_number(mean)}"
        )


def _matrix_disagreements(evaluation: Evaluation, n: int) -> Iterator[str]:
    matrix = evaluation.matrix
    if matrix is None:
        return
    values = matrix.values
    for field, stored, computed, axis in (
        ("row_sums", matrix.row_sums, values.sum(axis=1), 1),
        ("column_sums", matrix.column_sums, values.sum(axis=0), 0),
    ):
        if stored is None:
            continue
        scale = np.abs(values).sum(axis=axis)
        count = values.shape[axis]
        bad = np.abs(stored - computed) > (count + 2) * matrix.eps * scale + 1e-300
        if bad.any():
            yield f"{field} differs from the delta matrix's own sums at {int(bad.sum())} places"
    largest = float(np.abs(values).max()) if values.size else 0.0
    if matrix.max_abs is not None and not close(matrix.max_abs, largest, largest, matrix.eps, 1):
        yield (
            f"max_abs is {format_number(matrix.max_abs)} but the delta matrix's largest "
            f"|entry| is {format_number(largest)}"
        )
    if matrix_reading(evaluation, n) == "none":
        yield (
            "the delta matrix matches none of baseline_plus_grad − baseline, grad or "
            "baseline_plus_grad at η_ref"
        )
