"""The spec walks remembered per distinct spec, and the data references read from a spec's
JSON text, give what walking every spec each time gives."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportgen.charts.core import (
    ETA_PARAM,
    Chart,
    _dataset_names,
    dataset_names,
    spec_dicts,
    with_initial_eta,
    with_key,
)

NAMES = st.sampled_from(["a", "b", ETA_PARAM, "x"])
# texts that look like a data reference inside a string or a key, escapes, non-ASCII
TRICKY = st.sampled_from(['"data":{"name":"a"}', 'x"data', ',"data":{', "\\", 'a\\"', "é", "data"])
LEAF = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-1.0, 1.0) | NAMES | TRICKY
KEYS = st.sampled_from(["layer", "mark", "x", "value"]) | TRICKY
# dicts shaped like a spec's: data references (some holding more than a name, or a name that is
# not a string), parameter lists (some with η), anything else
SPECS = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(KEYS, inner, max_size=3)
        | st.fixed_dictionaries({"data": st.fixed_dictionaries({"name": NAMES | TRICKY})})
        | st.fixed_dictionaries(
            {"data": st.fixed_dictionaries({}, optional={"name": inner, "values": inner})},
            optional={"layer": st.lists(inner, max_size=3)},
        )
        | st.fixed_dictionaries(
            {"params": st.lists(st.fixed_dictionaries({"name": NAMES}) | inner, max_size=3)},
            optional={"layer": st.lists(inner, max_size=3)},
        )
    ),
    max_leaves=25,
)


def walked_with_eta(spec: Any, eta: float) -> Any:
    """A JSON copy of the spec, every dict walked for η parameters."""
    result = orjson.loads(orjson.dumps(spec))
    found = False
    for node in spec_dicts(result):
        for param in node.get("params", []) if isinstance(node.get("params"), list) else []:
            if isinstance(param, dict) and param.get("name") == ETA_PARAM:
                param["value"] = float(eta)
                found = True
    if not found:
        raise ValueError("spec has no 'eta' parameter")
    return result


@given(st.fixed_dictionaries({"spec": SPECS}), st.floats(1e-9, 1.0))
def test_remembered_walks_match_whole_walks(wrapped: dict[str, Any], eta: float) -> None:
    for _ in range(2):  # the first call walks, the second is remembered
        assert dataset_names(wrapped) == _dataset_names(wrapped)  # a whole walk each time
        try:
            expected = walked_with_eta(wrapped, eta)
        except ValueError:
            with pytest.raises(ValueError, match="no 'eta' parameter"):
                with_initial_eta(wrapped, eta)
            continue
        result = with_initial_eta(wrapped, eta)
        assert orjson.dumps(result) == orjson.dumps(expected)
        assert result is not wrapped


def walked_with_key(spec: Any, renames: dict[str, str]) -> Any:
    """A JSON copy of the spec, every dict walked for data names to rename."""
    result = orjson.loads(orjson.dumps(spec))
    for node in spec_dicts(result):
        data = node.get("data")
        if isinstance(data, dict) and isinstance(name := data.get("name"), str) and name in renames:
            data["name"] = renames[name]
    return result


@given(st.fixed_dictionaries({"spec": SPECS}), st.sampled_from(["k", "p2"]))
def test_remembered_data_names_key_as_whole_walks_do(wrapped: dict[str, Any], key: str) -> None:
    names = tuple(_dataset_names(wrapped))
    chart = Chart("c", "title", "description", wrapped, names)
    expected = walked_with_key(wrapped, {name: f"{name}-{key}" for name in names})
    for _ in range(2):  # the first call walks, the second is remembered
        keyed, datasets = with_key(chart, {name: [] for name in names}, key)
        assert orjson.dumps(keyed.spec) == orjson.dumps(expected)
        assert keyed.spec is not wrapped and keyed.datasets == tuple(datasets)
    assert orjson.dumps(chart.spec) == orjson.dumps(wrapped)  # the chart's own spec unchanged


def test_a_copy_is_never_the_remembered_one() -> None:
    spec: dict[str, Any] = {
        "params": [{"name": ETA_PARAM, "value": 1.0}],
        "layer": [{"data": {"name": "d"}}],
    }
    first, second = with_initial_eta(spec, 2.0), with_initial_eta(spec, 3.0)
    assert first["params"][0]["value"] == 2.0 and second["params"][0]["value"] == 3.0
    assert spec["params"][0]["value"] == 1.0
    assert dataset_names(spec) == ["d"]
    dataset_names(spec).append("changed")  # a fresh list each time
    assert dataset_names(spec) == ["d"]


def test_a_spec_that_is_not_json_is_walked_as_it_is() -> None:
    spec: dict[Any, Any] = {"layer": [{"data": {"name": "d"}}], 1: {"data": {"name": "e"}}}
    assert dataset_names(spec) == ["d", "e"]
