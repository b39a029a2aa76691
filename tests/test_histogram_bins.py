"""Charts' equal-width histograms: the bins and counts ``np.histogram`` gives, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reportgen.charts.data import equal_bins

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
MODERATE = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)


def assert_as_numpy(values: np.ndarray, bins: int, lo: float, hi: float) -> None:
    if np.any(np.diff(np.linspace(lo, hi, bins + 1)) <= 0):  # bins narrower than a float's step
        with pytest.raises(ValueError, match="bins"):
            np.histogram(values, bins=bins, range=(lo, hi))
        with pytest.raises(ValueError, match="bins"):
            equal_bins(values, bins, lo, hi)
        return
    expected_counts, expected_edges = np.histogram(values, bins=bins, range=(lo, hi))
    counts, edges = equal_bins(values, bins, lo, hi)
    assert np.array_equal(edges, expected_edges)
    assert np.array_equal(counts, expected_counts) and counts.dtype == expected_counts.dtype


@settings(max_examples=300, deadline=None)
@given(
    values=arrays(np.float64, st.integers(0, 300), elements=MODERATE),
    bins=st.integers(1, 60),
    extra=st.lists(MODERATE, max_size=2),
)
def test_counts_and_edges_are_numpys(values: np.ndarray, bins: int, extra: list[float]) -> None:
    lo, hi = (values.min(), values.max()) if values.size else (0.0, 1.0)
    lo, hi = min([float(lo), *extra]), max([float(hi), *extra])
    if hi <= lo:
        hi = lo + 1.0
    assert_as_numpy(values, bins, lo, hi)
    # values on the edges themselves: each belongs to the bin it opens, the last one closes
    edges = np.linspace(lo, hi, bins + 1)
    assert_as_numpy(np.concatenate([values, edges, np.nextafter(edges, -np.inf)]), bins, lo, hi)


@settings(max_examples=200, deadline=None)
@given(values=arrays(np.float64, st.integers(1, 100), elements=FINITE), bins=st.integers(1, 40))
def test_any_range_inside_the_values_is_numpys(values: np.ndarray, bins: int) -> None:
    """A range narrower than the data (values outside are left out), at any magnitude."""
    ordered = np.sort(values)
    lo, hi = float(ordered[len(ordered) // 4]), float(ordered[-1 - len(ordered) // 4])
    if not hi > lo or not np.isfinite(hi - lo):
        return
    assert_as_numpy(values, bins, lo, hi)


def test_edges_too_close_to_differ_are_refused_as_numpy_refuses_them() -> None:
    with pytest.raises(ValueError, match="bins"):
        equal_bins(np.array([1e16, 1e16 + 2.0]), 40, 1e16, 1e16 + 2.0)
