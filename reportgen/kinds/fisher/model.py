"""A Fisher-kernel outlier-diagnostics directory as loaded: frozen dataclasses, no I/O.

Reading of the layout: a *split* is a set of sequences named by a file prefix (``update``,
``eval``). ``kernel_update.npy`` is the n × n kernel between the update sequences
(K_ab = g_a·g_b, gradients of their log-probabilities); ``kernel_<split>.npy`` of another split
has one row per sequence of that split and one column per update sequence. ``influence_<split>``
is K · advantages (the update's first-order effect on each sequence), ``<split>_sequences.json``
lists the sequences (ids ``U-<prompt>-<completion>``, texts, rewards, advantages, log-probs),
``<split>_sequence_metrics.json`` per-sequence metrics and
``<split>_kernel_metric_correlations.json`` Pearson correlations between a kernel quantity and a
metric.
"""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.kinds.common import FloatArray
from reportgen.kinds.reading import NotRead

UPDATE = "update"
NamedArrays = tuple[tuple[str, FloatArray], ...]


@dataclass(frozen=True)
class SequenceInfo:
    id: str
    prompt_key: str  # the <prompt> of U-<prompt>-<completion> (else the prompt text)
    prompt: str
    response: str
    reward: float | None
    advantage: float | None
    logprob: float | None
    diagnostics: tuple[tuple[str, float], ...]  # extra.sequence_diagnostics, numeric fields


@dataclass(frozen=True)
class Correlation:
    """One row of a ``*_kernel_metric_correlations.json`` file."""

    quantity: str
    metric: str
    pearson: float | None
    extra: tuple[tuple[str, float], ...]  # any other numbers the row holds (n, p, …)


@dataclass(frozen=True)
class Outlier:
    """One entry of a ``*_top_outliers.json`` file."""

    id: str | None
    index: int | None
    values: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class PairDetail:
    """One entry of ``outlier_pair_details.json``."""

    a: int | None
    b: int | None
    id_a: str | None
    id_b: str | None
    kernel: float | None
    cosine: float | None


@dataclass(frozen=True, eq=False)
class Split:
    name: str
    kernel: FloatArray | None  # update: n × n; others: rows × n
    kernel_eps: float
    kernel_path: str | None
    influence: FloatArray | None
    influence_eps: float
    influence_path: str | None
    sequences: tuple[SequenceInfo, ...]
    metrics: NamedArrays  # per-sequence metric columns (length = sequences or kernel rows)
    correlations: tuple[Correlation, ...]
    outliers: tuple[Outlier, ...]


@dataclass(frozen=True, eq=False)
class FisherRun:
    """A loaded Fisher-kernel directory; ``inputs`` lists every claimed file (``not_read`` too)."""

    directory: str  # tree-relative
    splits: tuple[Split, ...]  # the update split first
    pairs: tuple[PairDetail, ...]
    inputs: tuple[str, ...]
    not_read: tuple[NotRead, ...]
    problems: tuple[str, ...]

    @property
    def update(self) -> Split:
        return self.splits[0]
