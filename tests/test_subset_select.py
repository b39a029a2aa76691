"""The batch comparison's subsets: the fast cut picks the rows a full partition of the keys does."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis.resample import smallest_keys, subset_weights


def by_partition(keys: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.bool_]:
    """The definition: keys at most the row's size-th smallest key."""
    cut = np.partition(keys, size - 1, axis=1)[:, size - 1 : size]
    chosen: npt.NDArray[np.bool_] = keys <= cut
    return chosen


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 12),
    n=st.integers(1, 300),
    fraction=st.floats(0.0, 1.0),
    clustered=st.booleans(),
)
def test_smallest_keys_is_the_partition_cut(
    seed: int, rows: int, n: int, fraction: float, clustered: bool
) -> None:
    rng = np.random.default_rng(seed)
    size = 1 + int(fraction * (n - 1))
    keys = rng.random((rows, n))
    if clustered:
        # keys that share their upper 32 bits (ties on the fast path's key) around the cut
        bits = keys.view(np.uint64) & np.uint64(0xFFFFFFFF00000000)
        keys = (bits | rng.integers(0, 1 << 32, keys.shape, dtype=np.uint64)).view(np.float64)
        keys[:, : n // 2] = keys[:, :1]  # and exact ties of whole keys
    np.testing.assert_array_equal(smallest_keys(keys, size), by_partition(keys, size))


def test_rows_sharing_the_cuts_upper_bits_are_cut_on_full_keys() -> None:
    base = np.uint64(0x3FB0000000000000)  # 0.0625: every key below has the same upper 32 bits
    low = (base | np.arange(1, 9, dtype=np.uint64)).view(np.float64)
    keys = np.vstack([np.concatenate([low[::-1], [0.5, 0.75]]), np.linspace(0.1, 0.9, 10)])
    chosen = smallest_keys(keys, 3)
    np.testing.assert_array_equal(chosen, by_partition(keys, 3))
    assert chosen.sum(axis=1).tolist() == [3, 3]
    assert chosen[0, 5:8].all() and not chosen[0, :5].any()  # the three smallest of the tied


def test_subset_weights_choose_size_rows() -> None:
    out = np.full((9, 700), np.nan)
    subset_weights(700, 90)(np.random.default_rng(5), out)
    assert set(np.unique(out)) == {0.0, 1.0} and np.all(out.sum(axis=1) == 90)
