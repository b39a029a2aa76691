"""An entropy-influence directory as loaded: frozen dataclasses, no I/O.

Reading of the layout (the page and the guide state it): the update is written
v = v_baseline + Σᵢ vᵢ over the n workspace (update) sequences i, and every entropy change is
measured on an evaluation batch of m sequences j. Per η the directory holds, per evaluation
sequence j, the change under the whole update (``full``), under the baseline alone
(``baseline``), under each direction alone (``grad``, n × m) and under the baseline plus one
direction (``baseline_plus_grad``, n × m). The delta matrix is one η (``eta_reference``):
rows are the directions i (``sequence_ids``, ``row_sums``), columns the evaluation sequences j
(``column_sums``).
"""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.kinds.common import FloatArray
from reportgen.kinds.reading import NotRead

PROXIES = ("full", "baseline", "grad", "baseline_plus_grad")
NamedFloats = tuple[tuple[str, float], ...]
NamedArrays = tuple[tuple[str, FloatArray], ...]


@dataclass(frozen=True, eq=False)
class EtaArrays:
    """One η's arrays of one evaluation; a missing or unusable file is ``None``."""

    eta: float
    full: FloatArray | None  # (m,)
    baseline: FloatArray | None  # (m,)
    grad: FloatArray | None  # (n, m)
    baseline_plus_grad: FloatArray | None  # (n, m)
    grad_eta: FloatArray | None  # (n,): each direction's grad-only δH from eval_NN_grad_eta/
    eps: float  # the coarsest rounding unit of the arrays (their stored dtype)


@dataclass(frozen=True)
class AggregateRow:
    eta: float
    delta_h: float | None
    per_sequence_delta_sum: float | None
    diagnostics: NamedFloats


@dataclass(frozen=True, eq=False)
class DeltaMatrix:
    path: str
    values: FloatArray  # as stored: directions × evaluation sequences
    eps: float
    eta_reference: float | None
    row_sums: FloatArray | None
    column_sums: FloatArray | None
    max_abs: float | None


@dataclass(frozen=True, eq=False)
class EtaValues:
    """A per-η block of the summary: per-direction values or summary statistics."""

    eta: float
    values: FloatArray | None = None
    stats: NamedFloats = ()


@dataclass(frozen=True, eq=False)
class Evaluation:
    index: int
    prefix: str  # "eval_00"
    num_sequences: int | None  # m, evaluation sequences
    num_directions: int | None  # n, update directions (workspace sequences)
    aggregate: tuple[AggregateRow, ...]
    sequence_ids: tuple[str, ...]
    eta_per_sequence: tuple[EtaValues, ...]  # read as: per η, each direction's δHᵢ
    direction_etas: FloatArray | None  # eta_per_sequence as a flat list: one η per direction
    baseline_eta_delta: tuple[tuple[float, float], ...]
    grad_summaries: tuple[EtaValues, ...]
    grad_baseline_summaries: tuple[EtaValues, ...]
    matrix: DeltaMatrix | None
    arrays: tuple[EtaArrays, ...]
    diagnostics: NamedFloats  # the scalars of eval_NN_diagnostics.json
    features: NamedArrays  # per-direction numeric lists (update_stats, diagnostics file)
    problems: tuple[str, ...]  # what did not line up while loading (a finding each)


@dataclass(frozen=True)
class Plan:
    etas: tuple[float, ...]
    microbatch_size: float | None
    workspace: str | None
    evaluation: str | None


@dataclass(frozen=True, eq=False)
class InfluenceRun:
    """A loaded influence directory; ``inputs`` lists every claimed file (``not_read`` too)."""

    directory: str  # tree-relative
    plan: Plan
    num_directions: int | None
    update_stats: NamedFloats
    evaluations: tuple[Evaluation, ...]
    inputs: tuple[str, ...]
    not_read: tuple[NotRead, ...]
    problems: tuple[str, ...]
