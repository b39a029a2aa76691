"""Quantiles and distinct counts as numpy computes them, bit for bit, without ``numpy.ma``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reportgen.analysis.order_stats import distinct_count, quantiles
from reportgen.analysis.resample import CI_LEVEL, percentile_interval

# ties, signed zeros, infinities and NaN: the cases where an order statistic or its interpolation
# could differ from numpy's
ELEMENTS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-300, 5e-324]),
)
ARRAYS = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=40),
    elements=ELEMENTS,
)
LEVELS = st.lists(
    st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.5, 1.0, 0.025000000000000022, 0.975])),
    min_size=1,
    max_size=5,
)


def _bits(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values).view(np.int64)


@given(ARRAYS, LEVELS)
def test_quantiles_are_numpys_bit_for_bit(values: np.ndarray, qs: list[float]) -> None:
    with np.errstate(all="ignore"):
        expected = np.quantile(values, qs, axis=0)
        found = quantiles(values, qs)
    assert found.shape == expected.shape
    assert np.array_equal(_bits(found), _bits(expected))


@given(hnp.arrays(np.float64, st.tuples(st.integers(2, 300), st.integers(1, 6)), elements=ELEMENTS))
def test_percentile_intervals_are_numpys(draws: np.ndarray) -> None:
    with np.errstate(all="ignore"):
        tail = 50.0 * (1.0 - CI_LEVEL)
        bounds = np.percentile(draws, [tail, 100.0 - tail], axis=0)
    expected = [
        (float(lo), float(hi)) if np.isfinite(lo) and np.isfinite(hi) else None
        for lo, hi in bounds.T.tolist()
    ]
    assert percentile_interval(draws) == expected


@given(hnp.arrays(np.float64, st.integers(0, 30), elements=ELEMENTS))
def test_distinct_count_is_numpys(values: np.ndarray) -> None:
    assert distinct_count(values) == np.unique(values).size


@pytest.mark.parametrize("call", ["quantiles(values, [0.25, 0.5])", "distinct_count(values)"])
def test_neither_imports_the_masked_array_module(call: str) -> None:
    probe = (
        "import sys, numpy as np\n"
        "from reportgen.analysis.order_stats import distinct_count, quantiles\n"
        "values = np.array([3.0, 1.0, np.nan, 2.0])\n"
        f"{call}\n"
        "print('numpy.ma' in sys.modules)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "False"
