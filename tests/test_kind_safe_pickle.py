"""The restricted unpickler: numpy and plain data round-trip, code and memory bombs are refused.

The decisive test runs one payload twice in fresh interpreters: ``pickle.load`` executes it
(its marker file appears), the restricted unpickler refuses it by name (no marker).
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.kinds.safe_pickle import (
    MAX_DEPTH,
    PickleRefused,
    Unpickled,
    scan,
    unpickle,
)

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


class RunsCode:
    """Pickles as a call of os.system: loading it with pickle.load runs a shell command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (self.command,))


def loaded(value: object, protocol: int = pickle.DEFAULT_PROTOCOL) -> Any:
    result = unpickle(pickle.dumps(value, protocol=protocol))
    assert isinstance(result, Unpickled), result
    return result.value


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_numpy_scalars_and_arrays_round_trip_in_every_protocol(protocol: int) -> None:
    value: dict[Any, Any] = {
        "f64": np.float64(1.5),
        "f32": np.float32(0.25),
        "i64": np.int64(-3),
        "flag": np.bool_(True),
        "text": np.str_("T=0.7"),
        "complex": np.complex128(1 - 2j),
        "dtype": np.dtype("float32"),
        "vector": np.arange(5.0),
        "matrix": np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
        "record": np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]),
        "empty": np.zeros((0, 3)),
        "rows": [{"sample_size": np.int64(32), "rb_std_est": np.float64(0.1)}],
        "pair": (1, 2.5, None, "x", b"raw", b""),
        "sets": ({1, 2}, frozenset({3})),
        "plain_complex": 2 + 3j,
        0.7: "a float key",
    }
    got = loaded(value, protocol)
    assert got["f64"] == 1.5 and type(got["f64"]) is float
    assert got["f32"] == 0.25 and got["i64"] == -3 and type(got["i64"]) is int
    assert got["flag"] is True and got["text"] == "T=0.7" and got["complex"] == 1 - 2j
    assert got["dtype"] == np.dtype("float32")
    for name in ("vector", "matrix", "record", "empty"):
        assert type(got[name]) is np.ndarray
        assert got[name].dtype == value[name].dtype
        assert np.array_equal(got[name], value[name])
    assert got["rows"] == [{"sample_size": 32, "rb_std_est": 0.1}]
    assert got["pair"] == (1, 2.5, None, "x", b"raw", b"")
    assert got["sets"] == ({1, 2}, frozenset({3}))
    assert got["plain_complex"] == 2 + 3j and got[0.7] == "a float key"


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=5), children, max_size=4)
        ),
        max_leaves=30,
    ),
    st.sampled_from(list(PROTOCOLS)),
)
@settings(max_examples=150, deadline=None)
def test_plain_data_round_trips(value: Any, protocol: int) -> None:
    assert loaded(value, protocol) == value


def test_object_arrays_become_lists_of_their_restricted_items() -> None:
    assert loaded(np.array([1, "a", None], dtype=object)) == [1, "a", None]


@pytest.mark.parametrize(
    ("value", "asked_for"),
    [
        (RunsCode("true"), "posix.system"),
        (np.ma.masked_array([1, 2], [False, True]), "numpy.ma.core._mareconstruct"),
        (Path("x"), f"{type(Path('x')).__module__}.PosixPath"),  # pathlib._local on 3.13
        (bytearray(b"ab"), "builtins.bytearray"),
    ],
)
def test_anything_else_is_refused_by_the_global_it_asks_for(value: object, asked_for: str) -> None:
    for protocol in (2, pickle.DEFAULT_PROTOCOL):
        result = unpickle(pickle.dumps(value, protocol=protocol))
        assert isinstance(result, PickleRefused)
        assert result.asked_for == asked_for and asked_for in result.reason


def _payload_script(loader: str, payload: Path) -> str:
    return textwrap.dedent(
        f"""
        import pickle, sys
        from reportgen.kinds.safe_pickle import PickleRefused, unpickle
        data = open({str(payload)!r}, "rb").read()
        if {loader!r} == "pickle.load":
            pickle.loads(data)
        else:
            result = unpickle(data)
            assert isinstance(result, PickleRefused), result
            print(result.asked_for)
        """
    )


def test_a_code_running_payload_runs_under_pickle_load_and_not_here(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    payload = tmp_path / "payload.pkl"
    payload.write_bytes(pickle.dumps({"population_stats": RunsCode(f"touch {marker}")}))

    refused = subprocess.run(
        [sys.executable, "-c", _payload_script("restricted", payload)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert refused.stdout.strip() == "posix.system"
    assert not marker.exists()

    subprocess.run([sys.executable, "-c", _payload_script("pickle.load", payload)], check=True)
    assert marker.exists()  # the same bytes do run code under pickle.load


def test_nested_tuples_that_crash_cpython_are_refused_before_unpickling() -> None:
    # a set holding one tuple nested 10⁵ deep: hashing it overflows the C stack
    bomb = b"\x80\x04\x8f(N" + b"\x85" * 100_000 + b"\x90."
    result = unpickle(bomb)
    assert isinstance(result, PickleRefused) and "nested deeper" in result.reason


def test_a_memo_index_far_out_of_order_is_refused() -> None:
    bomb = b"\x80\x04Nr" + struct.pack("<I", 0xFFFFFFF0) + b"."
    result = unpickle(bomb)
    assert isinstance(result, PickleRefused) and "memo index" in result.reason


def test_arrays_cannot_allocate_more_than_their_data() -> None:
    huge_shape = (  # _reconstruct(ndarray, (10**9,), b"b"): 1 GB allocated before any state
        b"\x80\x02cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
        b"J\x00\xca\x9a\x3b\x85C\x01b\x87R."
    )
    empty_objects = (  # an object array of 10⁸ elements whose state holds none
        b"\x80\x02cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R"
        b"(K\x01J\x00\xe1\xf5\x05\x85cnumpy\ndtype\nX\x01\x00\x00\x00O\x85R\x89]tb."
    )
    bare_scalar = (  # scalar(dtype('S100000000')) without data: 100 MB of zeros
        b"\x80\x02cnumpy._core.multiarray\nscalar\ncnumpy\ndtype\n"
        b"X\x0a\x00\x00\x00S100000000\x85R\x85R."
    )
    for bomb, words in (
        (huge_shape, "unexpected arguments"),
        (empty_objects, "does not match"),
        (bare_scalar, "unexpected arguments"),
    ):
        result = unpickle(bomb)
        assert isinstance(result, PickleRefused) and words in result.reason, result


def test_shared_references_cannot_multiply_into_a_huge_value() -> None:
    body = b"\x80\x02N"
    for i in range(40):  # t = (t, t), 40 times: 2⁴⁰ leaves once walked
        body += b"q" + bytes([i]) + b"h" + bytes([i]) + b"\x86"
    result = unpickle(body + b".")
    assert isinstance(result, PickleRefused) and "values" in result.reason


def test_a_list_containing_itself_is_refused() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    result = unpickle(pickle.dumps(cycle))
    assert isinstance(result, PickleRefused) and "itself" in result.reason


def test_depth_just_within_the_limit_is_read() -> None:
    value: Any = 1
    for _ in range(MAX_DEPTH - 1):
        value = [value]
    assert loaded(value) == value
    scan(pickle.dumps(value))  # no exception


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80",
        b"not a pickle",
        b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x80\x04)."[:3],
    ],
)
def test_malformed_bytes_are_refused_not_raised(data: bytes) -> None:
    assert isinstance(unpickle(data), PickleRefused)


def test_persistent_ids_are_refused() -> None:
    result = unpickle(b"\x80\x04X\x01\x00\x00\x00aQ.")  # BINPERSID
    assert isinstance(result, PickleRefused) and "persistent" in result.reason
