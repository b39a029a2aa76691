"""Loading an entropy-influence directory into an ``InfluenceRun``; failures are values.

Only ``summary.json`` is required: without it (or when it is not an object with a list of
evaluations) the study is a ``StudyFailure``. Every other file that is missing, unreadable or
of the wrong shape costs only itself, named with the reason.
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
    numeric_lists,
    scalar_fields,
)
from reportgen.kinds.influence.model import (
    AggregateRow,
    DeltaMatrix,
    EtaArrays,
    EtaValues,
    Evaluation,
    InfluenceRun,
    Plan,
)
from reportgen.kinds.influence.recognise import KIND
from reportgen.kinds.influence.recognise import MARKER as SUMMARY
from reportgen.kinds.reading import Read, StudyFailure

PER_SEQUENCE = re.compile(
    r"eval_(\d+)_per_sequence/(full|baseline|grad|baseline_plus_grad)/eta_([^/]+)\.npy"
)
GRAD_ETA = re.compile(r"eval_(\d+)_grad_eta/delta_([^/]+)\.npy")
MATRIX = re.compile(r"eval_(\d+)_delta_matrix\.npy")
DIAGNOSTICS = re.compile(r"eval_(\d+)_diagnostics\.json")
ETA_RTOL = 1e-9


def load(claim: Claim, read: Read) -> InfluenceRun | StudyFailure:
    """The claimed directory's summary, arrays and diagnostics; never raises."""
    reader = ClaimReader(claim, read)
    present = SUMMARY in reader.files
    summary = reader.json(SUMMARY) if present else None
    problem = _summary_problem(summary, present, reader.reasons.get(SUMMARY))
    if problem is not None:
        return failure(KIND, claim, f"{problem}. {_HINT}", reader, SUMMARY)
    assert isinstance(summary, dict)
    workspace = summary.get("workspace") if isinstance(summary.get("workspace"), dict) else {}
    stats = workspace.get("update_stats", {}) if isinstance(workspace, dict) else {}
    n = _count(workspace.get("num_sequences")) if isinstance(workspace, dict) else None
    problems: list[str] = []
    evaluations = []
    for position, node in enumerate(summary["evaluations"]):
        if not isinstance(node, dict):
            problems.append(f"evaluations[{position}] is not an object")
            continue
        evaluations.append(_evaluation(node, position, n, stats, reader))
    _claim_unknown_evaluations(reader, {e.index for e in evaluations})
    return InfluenceRun(
        directory=claim.directory,
        plan=_plan(summary.get("plan")),
        num_directions=n,
        update_stats=scalar_fields(stats),
        evaluations=tuple(evaluations),
        inputs=claim.files,
        not_read=reader.not_read(),
        problems=tuple(problems),
    )


_HINT = (
    "An influence directory needs summary.json: an object with plan, workspace and a list of "
    "evaluations, as the influence runner writes it."
)


def _summary_problem(summary: Any, present: bool, reason: str | None) -> str | None:
    if not present:
        return "summary.json is missing"
    if reason is not None:
        return f"summary.json: {reason}"
    if not isinstance(summary, dict):
        return "summary.json is not a JSON object"
    if not isinstance(summary.get("evaluations"), list):
        return "summary.json has no list of evaluations"
    return None


def _count(value: Any) -> int | None:
    number = finite_float(value)
    return int(number) if number is not None and number.is_integer() and number >= 0 else None


def _plan(node: Any) -> Plan:
    if not isinstance(node, dict):
        return Plan((), None, None, None)
    etas = _list(node.get("etas"))
    return Plan(
        etas=tuple(e for e in (finite_float(v) for v in etas) if e is not None),
        microbatch_size=finite_float(node.get("microbatch_size")),
        workspace=_text(node.get("workspace")),
        evaluation=_text(node.get("evaluation")),
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)[:200]


# --- η-keyed blocks of the summary -----------------------------------------------------------


def parse_eta(text: str) -> float | None:
    """An η from a key or a file name: ``1e-06``, or ``1em06``, ``1p6em06`` (. → p, - → m)."""
    for candidate in (text, text.replace("p", ".").replace("m", "-")):
        try:
            value = float(candidate)
        except ValueError:
            continue
        return value if np.isfinite(value) and value > 0 else None
    return None


def _eta_items(node: Any) -> list[tuple[float, Any]]:
    """``{"1e-06": x}`` or ``[{"eta": 1e-06, …}]`` as (η, value) pairs; bad keys are dropped."""
    if isinstance(node, dict):
        pairs = [(parse_eta(str(key)), value) for key, value in node.items()]
    elif isinstance(node, list):
        pairs = [(finite_float(item.get("eta")), item) for item in node if isinstance(item, dict)]
    else:
        return []
    return sorted(((eta, value) for eta, value in pairs if eta is not None), key=lambda p: p[0])


def _values(value: Any, n: int | None) -> np.ndarray | None:
    items = value.get("values", value.get("deltas")) if isinstance(value, dict) else value
    if not isinstance(items, list) or (n is not None and len(items) != n):
        return None
    numbers = [finite_float(v) for v in items]
    return None if any(x is None for x in numbers) else np.array(numbers, dtype=np.float64)


def _eta_values(node: Any, n: int | None) -> tuple[EtaValues, ...]:
    return tuple(
        EtaValues(eta, values=_values(value, n), stats=scalar_fields(value))
        for eta, value in _eta_items(node)
    )


def _eta_scalars(node: Any) -> tuple[tuple[float, float], ...]:
    found = []
    for eta, value in _eta_items(node):
        raw = value.get("delta_h", value.get("value")) if isinstance(value, dict) else value
        number = finite_float(raw)
        if number is not None:
            found.append((eta, number))
    return tuple(found)


# --- one evaluation --------------------------------------------------------------------------


def _evaluation(
    node: dict[str, Any], position: int, n: int | None, stats: Any, reader: ClaimReader
) -> Evaluation:
    index = _count(node.get("index"))
    index = position if index is None else index
    prefix = f"eval_{index:02d}"
    sequence_ids = tuple(str(s)[:200] for s in _list(node.get("sequence_ids")))
    problems = _id_problems(sequence_ids, n)
    n = n if n is not None else (len(sequence_ids) or None)
    m = _count(node.get("num_sequences"))
    aggregate = tuple(
        AggregateRow(
            eta=eta,
            delta_h=finite_float(row.get("delta_h")),
            per_sequence_delta_sum=finite_float(row.get("per_sequence_delta_sum")),
            diagnostics=scalar_fields(row.get("diagnostics")),
        )
        for eta, row in _eta_items(node.get("aggregate"))
    )
    etas = tuple(row.eta for row in aggregate)
    arrays = _arrays(reader, index, etas, n, m)
    per_sequence = node.get("eta_per_sequence")
    flat = _values(per_sequence, n) if isinstance(per_sequence, list) else None
    diagnostics_file = f"{prefix}_diagnostics.json"
    diagnostics = reader.json(diagnostics_file) if _has(reader, diagnostics_file) else None
    features = (*numeric_lists(stats, n or 0), *numeric_lists(diagnostics, n or 0))
    return Evaluation(
        index=index,
        prefix=prefix,
        num_sequences=m,
        num_directions=n,
        aggregate=aggregate,
        sequence_ids=sequence_ids,
        eta_per_sequence=() if flat is not None else _eta_values(per_sequence, n),
        direction_etas=flat,
        baseline_eta_delta=_eta_scalars(node.get("baseline_eta_delta")),
        grad_summaries=_eta_values(node.get("grad_eta_summaries"), n),
        grad_baseline_summaries=_eta_values(node.get("grad_baseline_summaries"), n),
        matrix=_matrix(reader, prefix, node, n, m),
        arrays=arrays,
        diagnostics=scalar_fields(diagnostics),
        features=tuple(features),
        problems=problems,
    )


def _id_problems(ids: tuple[str, ...], n: int | None) -> tuple[str, ...]:
    if ids and n is not None and len(ids) != n:
        return (f"sequence_ids has {len(ids)} entries but workspace.num_sequences is {n}",)
    return ()


def _has(reader: ClaimReader, rel: str) -> bool:
    return rel in reader.files


def _matrix(
    reader: ClaimReader, prefix: str, node: dict[str, Any], n: int | None, m: int | None
) -> DeltaMatrix | None:
    rel = f"{prefix}_delta_matrix.npy"
    if not _has(reader, rel):
        return None
    stored = reader.array(rel, (n, m))
    if stored is None:
        return None
    rows, columns = stored.values.shape
    return DeltaMatrix(
        path=rel,
        values=stored.values,
        eps=stored.eps,
        eta_reference=finite_float(node.get("eta_reference")),
        row_sums=_values(node.get("row_sums"), rows),
        column_sums=_values(node.get("column_sums"), columns),
        max_abs=finite_float(node.get("max_abs")),
    )


def _arrays(
    reader: ClaimReader,
    index: int,
    etas: tuple[float, ...],
    n: int | None,
    m: int | None,
) -> tuple[EtaArrays, ...]:
    """Each η's arrays; files at an η the summary does not list are left unused, with a reason."""
    found: dict[tuple[str, int], str] = {}
    for rel in reader.files:
        match = PER_SEQUENCE.fullmatch(rel) or GRAD_ETA.fullmatch(rel)
        if match is None or int(match.group(1)) != index:
            continue
        proxy = match.group(2) if match.re is PER_SEQUENCE else "grad_eta"
        eta = parse_eta(match.group(match.re.groups))
        position = _position(eta, etas)
        if position is None:
            reader.refuse(rel, "its η is not among the evaluation's aggregate η")
        else:
            found[(proxy, position)] = rel
    rows = []
    for position, eta in enumerate(etas):
        stored = {
            proxy: reader.array(rel, _shape(proxy, n, m))
            for (proxy, at), rel in found.items()
            if at == position
        }
        rows.append(_eta_arrays(eta, stored))
    return tuple(rows)


def _shape(proxy: str, n: int | None, m: int | None) -> tuple[int | None, ...]:
    return {"full": (m,), "baseline": (m,), "grad_eta": (n,)}.get(proxy, (n, m))


def _position(eta: float | None, etas: tuple[float, ...]) -> int | None:
    if eta is None:
        return None
    return next((i for i, e in enumerate(etas) if abs(e - eta) <= ETA_RTOL * abs(e)), None)


def _eta_arrays(eta: float, stored: dict[str, StoredArray | None]) -> EtaArrays:
    def values(name: str) -> np.ndarray | None:
        item = stored.get(name)
        return None if item is None else item.values

    eps = max((s.eps for s in stored.values() if s is not None), default=2.0**-52)
    return EtaArrays(
        eta=eta,
        full=values("full"),
        baseline=values("baseline"),
        grad=values("grad"),
        baseline_plus_grad=values("baseline_plus_grad"),
        grad_eta=values("grad_eta"),
        eps=eps,
    )


def _claim_unknown_evaluations(reader: ClaimReader, indices: set[int]) -> None:
    """Evaluation files whose index the summary does not list get that reason."""
    for rel in reader.files:
        if rel in reader.used or rel in reader.reasons:
            continue
        for pattern in (PER_SEQUENCE, GRAD_ETA, MATRIX, DIAGNOSTICS):
            match = pattern.fullmatch(rel)
            if match is not None and int(match.group(1)) not in indices:
                reader.refuse(rel, f"evaluation {int(match.group(1))} is not in summary.json")
