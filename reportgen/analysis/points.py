"""What one run contributes to cross-run analysis: its η points and per-sequence arrays."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np

from reportgen.analysis.contributions import EtaContributions, EtaSummary
from reportgen.analysis.stats import Json, num, same_eta, summary_at
from reportgen.load.models import FloatArray, Run


def summary_to_json(summary: EtaSummary) -> Json:
    return {f.name: num(getattr(summary, f.name)) for f in fields(EtaSummary)}


def summary_from_json(data: Mapping[str, Any]) -> EtaSummary:
    eta = num(data.get("eta"))
    if eta is None:
        raise ValueError("EtaSummary needs a finite eta")
    values = {f.name: num(data.get(f.name)) for f in fields(EtaSummary) if f.name != "eta"}
    return EtaSummary(eta, **values)


@dataclass(frozen=True)
class RunPoints:
    """What cross-run analysis needs from one run (small; cached between builds)."""

    run_id: str
    batch_size: int | None  # B_E (evaluation batch size) or number of sequences
    etas: tuple[EtaSummary, ...]  # from contributions.run_eta_summaries
    se_shard: float | None  # approx.variance.se_shard (per unit η)
    # (η, sample std (ddof 1) of per-sequence true_contrib / √n)
    true_se: tuple[tuple[float, float], ...] = ()

    def to_json(self) -> Json:
        return {
            "run_id": self.run_id,
            "batch_size": self.batch_size,
            "etas": [summary_to_json(s) for s in self.etas],
            "se_shard": num(self.se_shard),
            "true_se": [{"eta": eta, "se": num(se)} for eta, se in self.true_se],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunPoints:
        batch = data.get("batch_size")
        pairs = ((num(row.get("eta")), num(row.get("se"))) for row in data.get("true_se") or ())
        return cls(
            run_id=str(data["run_id"]),
            batch_size=int(batch) if batch is not None else None,
            etas=tuple(summary_from_json(row) for row in data.get("etas") or ()),
            se_shard=num(data.get("se_shard")),
            true_se=tuple((eta, se) for eta, se in pairs if eta is not None and se is not None),
        )

    def true_se_at(self, eta: float) -> float | None:
        return next((se for e, se in self.true_se if same_eta(e, eta)), None)


def batch_size_of(run: Run) -> int | None:
    """B_E when the file records it, else the number of evaluated sequences."""
    for fact in run.facts:
        if fact.label == "B_E" and isinstance(fact.value, int) and not isinstance(fact.value, bool):
            return fact.value
    if run.snis is not None:
        approx = run.snis.approx
        if approx.num_sequences is not None:
            return approx.num_sequences
        if approx.per_sequence is not None:
            return len(approx.per_sequence)
    return run.cv.n_seqs if run.cv is not None else None


def true_standard_errors(
    contributions: Sequence[EtaContributions],
) -> tuple[tuple[float, float], ...]:
    """Per η: sample std (ddof 1) of the finite per-sequence true contributions / √n."""
    rows: list[tuple[float, float]] = []
    for contrib in contributions:
        values = contrib.true_contrib[np.isfinite(contrib.true_contrib)]
        if values.size >= 2:
            se = num(values.std(ddof=1) / math.sqrt(values.size))
            if se is not None:
                rows.append((contrib.eta, se))
    return tuple(rows)


def run_points(
    run: Run,
    contributions: Sequence[EtaContributions],
    summaries: Sequence[EtaSummary],
) -> RunPoints:
    se_shard = run.snis.approx.se_shard if run.snis is not None else None
    return RunPoints(
        run_id=run.ref.id,
        batch_size=batch_size_of(run),
        etas=tuple(summaries),
        se_shard=num(se_shard),
        true_se=true_standard_errors(contributions),
    )


@dataclass(frozen=True, eq=False)
class SequenceEta:
    """Per-sequence arrays of one larger run at one η, as subsampling needs them.

    The optional arrays let a subset re-estimate ΔH_true on its own (see ``batch_comparison``):
    w·h_new, w·u and h_base per sequence, with u the normalisation unit of ΔH_true (tokens
    per-token, 1 per-sequence) and ``linear_units`` the unit of the approximation's normaliser.
    """

    eta: float
    linear: FloatArray
    true_contrib: FloatArray
    delta_h_true: float
    weighted_h_new: FloatArray | None = None
    weighted_units: FloatArray | None = None
    h_base: FloatArray | None = None
    units: FloatArray | None = None
    linear_units: FloatArray | None = None

    @property
    def can_reestimate(self) -> bool:
        parts = (self.weighted_h_new, self.weighted_units, self.h_base, self.units)
        return all(p is not None for p in parts) and self.linear_units is not None


# SequenceEta's arrays, in the order its stored form (``serialize.sample_npy``) keeps them
SEQUENCE_ARRAYS = (
    "linear",
    "true_contrib",
    "weighted_h_new",
    "weighted_units",
    "h_base",
    "units",
    "linear_units",
)


@dataclass(frozen=True, eq=False)
class SequenceSample:
    """A larger run's per-sequence data for every η that has it."""

    run_id: str
    batch_size: int
    etas: tuple[SequenceEta, ...]

    @property
    def eta_values(self) -> tuple[float, ...]:
        return tuple(d.eta for d in self.etas)

    def at(self, eta: float) -> SequenceEta | None:
        return next((d for d in self.etas if same_eta(d.eta, eta)), None)

    def load(self) -> SequenceSample:
        return self

    def content_digest(self) -> str:
        digest = hashlib.sha256(self.run_id.encode())
        for d in self.etas:  # η values, not sequences
            digest.update(np.array([d.eta, d.delta_h_true]).tobytes())
            for name in SEQUENCE_ARRAYS:
                array = getattr(d, name)
                digest.update(b"-" if array is None else np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


class SampleSource(Protocol):
    """A larger run's per-sequence data (a ``SequenceSample``, or one read lazily from disk so a
    group's batch comparison never holds every run's arrays at once)."""

    @property
    def run_id(self) -> str: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def eta_values(self) -> tuple[float, ...]: ...

    def at(self, eta: float) -> SequenceEta | None: ...

    def load(self) -> SequenceSample | None:
        """Every η's arrays at once (``None``: they cannot be had)."""
        ...

    def content_digest(self) -> str:
        """A digest of everything ``at`` can return: draws kept under it need no arrays read."""
        ...


def sequence_sample(
    run: Run,
    contributions: Sequence[EtaContributions],
    summaries: Sequence[EtaSummary],
) -> SequenceSample | None:
    """The run's per-sequence arrays; ``None`` when no η has both linear and true contributions."""
    entries = run.snis.entries if run.snis is not None else ()
    per_token_true = run.normalization.true_mode == "per_token"
    per_token_approx = run.normalization.approx_mode == "per_token"
    rows = []
    for contrib in contributions:
        summary = summary_at(summaries, contrib.eta)
        delta = num(summary.delta_h_true) if summary is not None else None
        if contrib.linear is None or delta is None:
            continue
        entry = next((e for e in entries if same_eta(e.eta, contrib.eta)), None)
        ones = np.ones_like(contrib.weight)
        units = contrib.token_count if per_token_true else ones
        h_new = entry.h_new if entry is not None else None
        h_base = entry.h_base if entry is not None else None
        if h_new is None or h_base is None or not h_base.shape == h_new.shape == units.shape:
            h_new = h_base = None
        rows.append(
            SequenceEta(
                eta=contrib.eta,
                linear=contrib.linear,
                true_contrib=contrib.true_contrib,
                delta_h_true=delta,
                weighted_h_new=contrib.weight * h_new if h_new is not None else None,
                weighted_units=contrib.weight * units if h_new is not None else None,
                h_base=h_base,
                units=units if h_new is not None else None,
                linear_units=contrib.token_count if per_token_approx else ones,
            )
        )
    if not rows:
        return None
    return SequenceSample(run.ref.id, len(rows[0].linear), tuple(rows))
