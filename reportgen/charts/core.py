"""The Chart record, columnar datasets and the spec plumbing every chart kind shares."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import orjson

Spec = dict[str, Any]
Columns = list[dict[str, Any]]
Datasets = dict[str, Columns]
Norm = Literal["per token", "per sequence"]
ColumnValues = np.ndarray | Sequence[Any]


ETA_PARAM = "eta"
ETA_ELEMENT = "#eta-select"
SPEC_WALKS_KEPT = 512  # distinct specs whose walks are remembered (a page has a few dozen)


@dataclass(frozen=True)
class Chart:
    """One chart of a page: a data-free Vega-Lite spec plus the datasets it reads."""

    id: str
    title: str
    description: str
    spec: dict[str, Any]
    datasets: tuple[str, ...]
    note: str | None = None
    warning: str | None = None  # e.g. a figure file that could not be exported


# --- datasets ---------------------------------------------------------------------------------


def columnar(**columns: ColumnValues) -> Columns:
    """A dataset as ``[{column: values}]``; specs turn it back into rows with ``flatten``."""
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns must have equal lengths, got {lengths}")
    return [{name: _column(values) for name, values in columns.items()}]


def _column(values: ColumnValues) -> Any:
    """Keep numeric arrays as numpy (orjson writes them natively, NaN → null); else a list."""
    if not isinstance(values, np.ndarray):
        return list(values)
    if values.ndim != 1:
        raise ValueError(f"columns must be one-dimensional, got shape {values.shape}")
    kind, size = values.dtype.kind, values.dtype.itemsize
    if kind in "iub" or (kind == "f" and size in (4, 8)):
        # orjson refuses strided arrays, and float16/longdouble are not supported.
        return np.ascontiguousarray(values)
    if kind == "f":
        return np.ascontiguousarray(values, dtype=np.float64)
    return values.tolist()


def page_data_json(datasets: Datasets) -> bytes:
    """The page's ``{"datasets": …}`` block as deterministic JSON bytes."""
    options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS
    return orjson.dumps({"datasets": datasets}, option=options)


def merge_datasets(*parts: Datasets) -> Datasets:
    """Union of the datasets of several charts; a name may repeat only for shared data."""
    merged: Datasets = {}
    for part in parts:
        for name, data in part.items():
            if name in merged and merged[name] is not data and not _same(merged[name], data):
                raise ValueError(f"dataset {name!r} is defined twice with different data")
            merged[name] = data
    return merged


def _same(a: Columns, b: Columns) -> bool:
    # Kinds sharing a dataset wrap the very same arrays: compare identities before bytes.
    shared = len(a) == len(b) == 1 and a[0].keys() == b[0].keys()
    if shared and all(a[0][k] is b[0][k] for k in a[0]):
        return True
    return page_data_json({"x": a}) == page_data_json({"x": b})


# --- spec plumbing ---------------------------------------------------------------------------


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in ``node``, depth first in document order (a stack, not nested generators:
    a spec is walked several times per chart)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        stack.extend(reversed([c for c in children if isinstance(c, dict | list)]))


def spec_dicts(node: Any) -> list[dict[str, Any]]:
    """Every dict in ``node``, depth first in document order, as ``walk`` yields them, collected
    up front by recursion (cheaper than the generator, for callers that add no dicts as they go)."""
    found: list[dict[str, Any]] = []
    _collect_dicts(node, found)
    return found


_CONTAINERS = (dict, list)  # a tuple: isinstance with one is faster than with a union


def _collect_dicts(node: Any, found: list[dict[str, Any]]) -> None:
    if isinstance(node, dict):
        found.append(node)
        children: Iterable[Any] = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return
    for child in children:
        if isinstance(child, _CONTAINERS):
            _collect_dicts(child, found)


def dataset_names(spec: Spec) -> list[str]:
    """Names of the named datasets a spec reads, in order of first use."""
    try:
        encoded = orjson.dumps(spec)
    except TypeError:  # not JSON (a numpy value, a key that is not a string): walk it here
        return _dataset_names(spec)
    references = _named_references(encoded)
    if references is not None and len(names := {name for _, _, name in references}) <= 1:
        return list(names)  # one name: its place in the walk does not matter
    return list(_encoded_dataset_names(encoded))


# In orjson's compact output a reference to a named dataset, a "data" key whose object holds
# only its name, is this text followed by the name and "}". A quote right after "{" or "," opens
# a key: inside a string every quote is escaped, and after an array's string comes "," or "]".
_DATA_KEY = b'"data":{'
_NAME_ONLY = re.compile(rb'"name":("(?:[^"\\]|\\.)*")}')
Reference = tuple[int, int, str]  # the name: where its JSON string starts and ends, and its text


def _named_references(encoded: bytes) -> list[Reference] | None:
    """The dataset names referenced in the JSON spec ``encoded``, in the text's order, or
    ``None`` when some "data" object holds more than a name (the walk reads those)."""
    references: list[Reference] = []
    at = encoded.find(_DATA_KEY)
    while at >= 0:
        if encoded[at - 1 : at] in (b"{", b","):
            if (name := _NAME_ONLY.match(encoded, at + len(_DATA_KEY))) is None:
                return None
            references.append((name.start(1), name.end(1), orjson.loads(name[1])))
        at = encoded.find(_DATA_KEY, at + 1)
    return references


@functools.lru_cache(maxsize=SPEC_WALKS_KEPT)
def _encoded_dataset_names(encoded: bytes) -> tuple[str, ...]:
    return tuple(_dataset_names(orjson.loads(encoded)))


def _dataset_names(spec: Spec) -> list[str]:
    names: list[str] = []
    for node in spec_dicts(spec):
        data = node.get("data")
        name = data.get("name") if isinstance(data, dict) else None
        if isinstance(name, str) and name not in names:
            names.append(name)
    return names


def with_initial_eta(spec: Spec, eta: float) -> Spec:
    """A copy of ``spec`` whose ``eta`` parameter starts at ``eta``.

    In the browser the bound ``<select>`` wins (Vega reads its value on embed); the initial value
    matters for offline rendering and for pages without the select.
    """
    encoded = orjson.dumps(spec)
    result: Spec = orjson.loads(encoded)  # the copy ``copy_spec`` makes
    holders = _eta_holders(encoded)
    if not holders:
        raise ValueError("spec has no 'eta' parameter")
    for path in holders:
        for param in _at(result, path)["params"]:
            if isinstance(param, dict) and param.get("name") == ETA_PARAM:
                param["value"] = float(eta)
    return result


KeyPath = tuple[str | int, ...]  # keys and list indices from the spec down to a dict


def _dicts_with_paths(encoded: bytes) -> Iterator[tuple[dict[str, Any], KeyPath]]:
    """Every dict of the JSON spec ``encoded``, with the path from the spec down to it."""
    stack: list[tuple[Any, KeyPath]] = [(orjson.loads(encoded), ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            yield node, path
            items: Iterable[tuple[str | int, Any]] = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        # only containers are stacked: a leaf holds no dict, and needs no path
        stack.extend((child, (*path, k)) for k, child in items if isinstance(child, _CONTAINERS))


def _at(spec: Spec, path: KeyPath) -> Any:
    node: Any = spec
    for step in path:
        node = node[step]
    return node


# Pages repeat a few dozen distinct specs hundreds of times: each is walked once.


@functools.lru_cache(maxsize=SPEC_WALKS_KEPT)
def _eta_holders(encoded: bytes) -> tuple[KeyPath, ...]:
    """Where in the JSON spec ``encoded`` the dicts are whose ``params`` hold the η parameter."""
    return tuple(
        path
        for node, path in _dicts_with_paths(encoded)
        if isinstance(params := node.get("params"), list)
        and any(isinstance(p, dict) and p.get("name") == ETA_PARAM for p in params)
    )


def with_key(chart: Chart, datasets: Datasets, key: str) -> tuple[Chart, Datasets]:
    """Namespace a chart and its datasets with ``key`` so a kind can repeat on one page."""
    renames = {name: f"{name}-{key}" for name in chart.datasets}
    encoded = orjson.dumps(chart.spec)
    spec = _renamed_copy(encoded, renames)
    renamed = replace(
        chart,
        id=f"{chart.id}-{key}",
        spec=spec,
        datasets=tuple(renames[name] for name in chart.datasets),
    )
    return renamed, {renames.get(name, name): data for name, data in datasets.items()}


def _renamed_copy(encoded: bytes, renames: Mapping[str, str]) -> Spec:
    """A copy of the JSON spec ``encoded`` with the datasets named in ``renames`` renamed: in its
    text where every "data" object holds only a name, else through the walk of its dicts."""
    references = _named_references(encoded)
    if references is None:
        spec: Spec = orjson.loads(encoded)  # the copy ``copy_spec`` makes
        for node in spec_dicts(spec):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(name := data.get("name"), str):
                data["name"] = renames.get(name, name)
        return spec
    pieces: list[bytes] = []
    done = 0
    for start, end, name in references:
        if name in renames:
            pieces += (encoded[done:start], orjson.dumps(renames[name]))
            done = end
    renamed: Spec = orjson.loads(b"".join((*pieces, encoded[done:])))
    return renamed


def copy_spec(spec: Spec) -> Spec:
    """A deep copy of a JSON spec (a JSON round trip: ~10× faster than ``copy.deepcopy``)."""
    copied: Spec = orjson.loads(orjson.dumps(spec))
    return copied


def make_chart(
    chart_id: str, spec: Spec, note: str | None = None, title: str | None = None
) -> Chart:
    """Wrap a (fresh) spec; ``title`` overrides the cached title for per-instance charts."""
    if title is not None:
        spec["title"] = title
    return Chart(
        id=chart_id,
        title=str(spec["title"]),
        description=str(spec["description"]),
        spec=spec,
        datasets=tuple(dataset_names(spec)),
        note=note,
    )


def bar_rows(spec: Spec, rows: int, step: int = 24) -> Spec:
    """Size a one-bar-per-row chart: a step height would make Vega-Lite drop ``fit-x`` (warning)."""
    spec["height"] = step * max(rows, 1)
    return spec


def downsample_note(shown: int, total: int, suffix: str = "") -> str | None:
    return None if shown >= total else f"showing {shown:,} of {total:,} points{suffix}"


def as_float(values: ColumnValues | None, n: int) -> np.ndarray:
    """A float64 column, or NaN (→ null) when the series is missing."""
    if values is None:
        return np.full(n, np.nan)
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"expected {n} values, got shape {array.shape}")
    return array
