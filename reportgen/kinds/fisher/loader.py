"""Loading a Fisher-kernel directory into a ``FisherRun``; failures are values.

Only ``kernel_update.npy`` is required (a square numeric matrix): without it the study is a
``StudyFailure``. Every other file that is missing, unreadable or malformed costs only itself.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from reportgen.kinds.claims import Claim
from reportgen.kinds.common import (
    ClaimReader,
    StoredArray,
    failure,
    finite_float,
    scalar_fields,
)
from reportgen.kinds.fisher.model import (
    UPDATE,
    Correlation,
    FisherRun,
    NamedArrays,
    Outlier,
    PairDetail,
    SequenceInfo,
    Split,
)
from reportgen.kinds.fisher.recognise import KIND
from reportgen.kinds.fisher.recognise import MARKER as KERNEL
from reportgen.kinds.reading import Read, StudyFailure

PAIRS = "outlier_pair_details.json"
SPLIT_FILES = (
    (re.compile(r"kernel_([A-Za-z0-9]+)\.npy"), "kernel"),
    (re.compile(r"influence_([A-Za-z0-9]+)\.npy"), "influence"),
    (re.compile(r"([A-Za-z0-9]+)_sequences\.json"), "sequences"),
    (re.compile(r"([A-Za-z0-9]+)_sequence_metrics\.json"), "metrics"),
    (re.compile(r"([A-Za-z0-9]+)_kernel_metric_correlations\.json"), "correlations"),
    (re.compile(r"([A-Za-z0-9]+)_top_outliers\.json"), "outliers"),
)
SEQUENCE_ID = re.compile(r"[A-Za-z]+-(.+)-([^-]+)")
MAX_TEXT = 10_000  # characters of a prompt or response kept (the page says when cut)
_HINT = (
    "A Fisher-kernel directory needs kernel_update.npy: the square kernel between the update "
    "sequences, stored as a NumPy array of numbers."
)


def load(claim: Claim, read: Read) -> FisherRun | StudyFailure:
    """The kernels, influences, sequences, metrics and outlier files; never raises."""
    reader = ClaimReader(claim, read)
    files = reader.files
    by_split = _split_files(files)
    kernel = reader.array(KERNEL, (None, None)) if KERNEL in files else None
    if kernel is None or kernel.values.shape[0] != kernel.values.shape[1]:
        if kernel is not None:
            rows, columns = kernel.values.shape
            reader.reject(KERNEL, f"shape {rows}×{columns}, not square")
        reason = reader.reasons.get(KERNEL, "it is missing")
        return failure(KIND, claim, f"{KERNEL}: {reason}. {_HINT}", reader, KERNEL)
    n = kernel.values.shape[0]
    names = [UPDATE, *sorted(s for s in by_split if s != UPDATE)]
    problems: list[str] = []
    splits = tuple(
        _split(
            reader, name, by_split.get(name, {}), n, problems, kernel if name == UPDATE else None
        )
        for name in names
    )
    pairs = _pairs(reader.json(PAIRS)) if PAIRS in files else ()
    return FisherRun(
        directory=claim.directory,
        splits=splits,
        pairs=pairs,
        inputs=claim.files,
        not_read=reader.not_read(),
        problems=tuple(problems),
    )


def _split_files(files: tuple[str, ...]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for rel in files:
        for pattern, role in SPLIT_FILES:
            match = pattern.fullmatch(rel)
            if match is not None:
                found.setdefault(match.group(1), {})[role] = rel
                break
    return found


def _split(
    reader: ClaimReader,
    name: str,
    roles: dict[str, str],
    n: int,
    problems: list[str],
    kernel: StoredArray | None,
) -> Split:
    """One split's files; ``kernel`` is the update kernel, already read (None otherwise)."""
    sequences = _sequences(reader.json(roles["sequences"])) if "sequences" in roles else ()
    rows = n if name == UPDATE else (len(sequences) or None)
    if kernel is None and "kernel" in roles:
        kernel = reader.array(roles["kernel"], (rows, n))
    if kernel is not None:
        rows = kernel.values.shape[0]
    influence = reader.array(roles["influence"], (rows,)) if "influence" in roles else None
    if sequences and rows is not None and len(sequences) != rows:
        problems.append(
            f"{roles['sequences']} lists {len(sequences)} sequences but the {name} kernel has "
            f"{rows} rows: its texts and advantages are not used"
        )
        sequences = ()
    metrics = _metrics(reader.json(roles["metrics"]), rows) if "metrics" in roles else ()
    correlations = (
        _correlations(reader.json(roles["correlations"])) if "correlations" in roles else ()
    )
    outliers = _outliers(reader.json(roles["outliers"])) if "outliers" in roles else ()
    return Split(
        name=name,
        kernel=None if kernel is None else kernel.values,
        kernel_eps=2.0**-52 if kernel is None else kernel.eps,
        kernel_path=None if kernel is None else kernel.path,
        influence=None if influence is None else influence.values,
        influence_eps=2.0**-52 if influence is None else influence.eps,
        influence_path=None if influence is None else influence.path,
        sequences=sequences,
        metrics=metrics,
        correlations=correlations,
        outliers=outliers,
    )


def _items(node: Any, key: str) -> list[Any]:
    """``node[key]`` when ``node`` is an object holding a list there, or ``node`` itself."""
    if isinstance(node, dict):
        node = node.get(key)
    return node if isinstance(node, list) else []


def _first(item: dict[str, Any], *keys: str) -> Any:
    return next((item[k] for k in keys if k in item), None)


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_TEXT]


def _sequences(node: Any) -> tuple[SequenceInfo, ...]:
    found = []
    for k, item in enumerate(_items(node, "sequences")):
        if not isinstance(item, dict):
            item = {}
        seq_id = _text(_first(item, "id", "sequence_id", "uid"))[:200] or f"#{k}"
        prompt = _text(_first(item, "prompt", "prompt_text"))
        match = SEQUENCE_ID.fullmatch(seq_id)
        extra = item.get("extra")
        found.append(
            SequenceInfo(
                id=seq_id,
                prompt_key=match.group(1) if match else (prompt[:200] or seq_id),
                prompt=prompt,
                response=_text(_first(item, "response", "completion", "response_text")),
                reward=finite_float(item.get("reward")),
                advantage=finite_float(item.get("advantage")),
                logprob=finite_float(_first(item, "logprob", "log_prob", "sum_logprob")),
                diagnostics=scalar_fields(
                    extra.get("sequence_diagnostics") if isinstance(extra, dict) else None
                ),
            )
        )
    return tuple(found)


def _metrics(node: Any, rows: int | None) -> NamedArrays:
    """Per-sequence metric columns, from ``{"metrics": {name: [..]}}``, ``{name: [..]}`` or a
    list of per-sequence objects; a column of the wrong length is left out."""
    columns: dict[str, list[Any]] = {}
    if isinstance(node, dict):
        source = node.get("metrics", node)
        if isinstance(source, dict):
            columns = {str(k): v for k, v in source.items() if isinstance(v, list)}
        elif isinstance(source, list):
            node = source
    if isinstance(node, list):
        keys = sorted({k for item in node if isinstance(item, dict) for k in item})
        columns = {k: [i.get(k) if isinstance(i, dict) else None for i in node] for k in keys}
    found = []
    for name, values in columns.items():
        numbers = [finite_float(v) for v in values]
        if (rows is None or len(numbers) == rows) and any(v is not None for v in numbers):
            found.append((name, np.array([np.nan if v is None else v for v in numbers])))
    return tuple(found)


def _correlation(quantity: Any, metric: Any, value: Any) -> Correlation:
    if isinstance(value, dict):
        pearson = finite_float(_first(value, "pearson", "pearson_r", "r", "corr"))
        extra = tuple(
            (k, v) for k, v in scalar_fields(value) if k not in ("pearson", "pearson_r", "r")
        )
    else:
        pearson, extra = finite_float(value), ()
    return Correlation(str(quantity)[:100], str(metric)[:100], pearson, extra)


def _correlations(node: Any) -> tuple[Correlation, ...]:
    rows = _items(node, "correlations")
    if rows:
        return tuple(
            _correlation(
                _first(row, "quantity", "kernel_quantity", "kernel"),
                _first(row, "metric", "sequence_metric"),
                row,
            )
            for row in rows
            if isinstance(row, dict)
        )
    if isinstance(node, dict):  # {quantity: {metric: r}}
        return tuple(
            _correlation(quantity, metric, value)
            for quantity, block in node.items()
            if isinstance(block, dict)
            for metric, value in block.items()
        )
    return ()


def _index(value: Any) -> int | None:
    number = finite_float(value)
    return int(number) if number is not None and number.is_integer() and number >= 0 else None


def _outliers(node: Any) -> tuple[Outlier, ...]:
    return tuple(
        Outlier(
            id=_text(item.get("id"))[:200] or None,
            index=_index(item.get("index")),
            values=tuple((k, v) for k, v in scalar_fields(item, depth=1) if k != "index"),
        )
        for item in _items(node, "outliers")
        if isinstance(item, dict)
    )


def _pairs(node: Any) -> tuple[PairDetail, ...]:
    return tuple(
        PairDetail(
            a=_index(_first(item, "i", "a", "index_a")),
            b=_index(_first(item, "j", "b", "index_b")),
            id_a=_text(_first(item, "id_a", "a_id"))[:200] or None,
            id_b=_text(_first(item, "id_b", "b_id"))[:200] or None,
            kernel=finite_float(_first(item, "kernel", "value", "k")),
            cosine=finite_float(item.get("cosine")),
        )
        for item in _items(node, "pairs")
        if isinstance(item, dict)
    )
