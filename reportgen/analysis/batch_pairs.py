"""Which runs the batch-size comparison may pair: runs alike in everything but the batch size.

A group's populations (``populations``) split on B_E too; here each run's population is found
with its batch size set aside (B_E and every configuration value that is the run's batch size),
so runs of one such population differ in B_E alone and may be compared. Runs of a population
holding a single batch size are compared with nothing; each is named with why, and when no
population holds two batch sizes (``not_compared``) the group says why none is compared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reportgen.analysis.batch import BatchComparison, SmallErrors, compare_batch_sizes
from reportgen.analysis.points import RunPoints, SampleSource
from reportgen.analysis.populations import PopulationMember, populations
from reportgen.load.parameters import Incidental


@dataclass(frozen=True)
class BatchPopulation:
    """Runs alike but for B_E (``label``: what tells them apart from the group's others)."""

    label: str
    run_ids: tuple[str, ...]
    key: tuple[tuple[str, str], ...]


def without_batch_size(members: Sequence[PopulationMember]) -> list[PopulationMember]:
    """The members with B_E set aside: ``batch_size`` and each parameter whose value is every
    member's own batch size (``config.batch_config.B_E``), which would split them again."""
    sized = [m for m in members if m.batch_size is not None]
    keys = {k for m in sized for k, _ in m.parameter_values}
    tracking = {
        k for k in keys if all(dict(m.parameter_values).get(k) == str(m.batch_size) for m in sized)
    }
    return [
        replace(
            m,
            batch_size=None,
            parameter_digests=tuple(p for p in m.parameter_digests if p[0] not in tracking),
            parameter_values=tuple(p for p in m.parameter_values if p[0] not in tracking),
        )
        for m in members
    ]


def batch_populations(
    members: Sequence[PopulationMember], incidental: Incidental
) -> tuple[BatchPopulation, ...]:
    """The members grouped by population with B_E set aside, in order of first appearance."""
    found = populations(without_batch_size(members), incidental)
    many = len(found) > 1
    return tuple(
        BatchPopulation(p.label if many else "", p.run_ids, p.key if many else ()) for p in found
    )


@dataclass(frozen=True)
class UnpairedPopulation:
    """A batch population holding a single batch size, and where it differs from the others."""

    label: str
    sizes: tuple[int, ...]
    runs: int
    reason: str  # ``left_out_reason`` against every population of another batch size


@dataclass(frozen=True)
class BatchesNotCompared:
    """Runs of two or more batch sizes none of which are compared: no population of runs
    alike but for B_E holds two batch sizes (each population, with why, in ``populations``),
    or one does but nothing could be drawn (``why``)."""

    sizes: tuple[int, ...]
    populations: tuple[UnpairedPopulation, ...] = ()
    why: str | None = None


def left_out_reason(
    run: BatchPopulation,
    compared: BatchPopulation | Sequence[tuple[BatchPopulation, str]],
) -> str:
    """Why a run of ``run`` is not compared with the runs of ``compared``: where they differ.
    ``compared`` may be several populations, each with the name its values are given under
    (``"compared runs"`` for a single one)."""
    others = [(compared, "compared runs")] if isinstance(compared, BatchPopulation) else compared
    differ: list[str] = []
    for other, name in others:
        theirs = dict(other.key)
        differ += [f"{k} = {v} ({name}: {theirs.get(k, '?')})" for k, v in run.key
                   if theirs.get(k) != v]  # fmt: skip
    return "differs in more than the batch size: " + ("; ".join(dict.fromkeys(differ)) or run.label)


def not_compared(
    pops: Sequence[BatchPopulation], points: Mapping[str, RunPoints]
) -> BatchesNotCompared | None:
    """Why runs of two or more batch sizes are not compared, when no population holds two of
    them: each population of one batch size with where it differs from those of another
    (``None``: some population is compared, or the runs hold fewer than two batch sizes)."""
    held = [(p, sizes) for p in pops if (sizes := _sizes(p, points))]
    every = tuple(sorted({s for _, sizes in held for s in sizes}))
    if len(every) < 2 or any(len(sizes) >= 2 for _, sizes in held):
        return None
    return BatchesNotCompared(
        every,
        tuple(
            UnpairedPopulation(p.label, sizes, len(p.run_ids), left_out_reason(p, _others(held, p)))
            for p, sizes in held
        ),
    )


def not_drawn(
    pops: Sequence[BatchPopulation],
    points: Mapping[str, RunPoints],
    samples: Callable[[str], SampleSource | None],
) -> BatchesNotCompared | None:
    """Why a comparison of runs alike but for B_E came out empty: no larger run has the
    per-sequence sample its subsets are drawn from, or the sizes share no η (``None``: no
    population holds two batch sizes)."""
    held = [(p, sizes) for p in pops if len(sizes := _sizes(p, points)) >= 2]
    if not held:
        return None
    every = tuple(sorted({s for _, sizes in held for s in sizes}))
    larger = [r for p, sizes in held for r in p.run_ids
              if r in points and (points[r].batch_size or 0) > sizes[0]]  # fmt: skip
    if not any(samples(r) is not None for r in larger):
        why = (
            "the runs alike but for B_E have no per-sequence sample (per-sequence "
            "contributions) in their larger batch sizes to draw smaller batches from"
        )
    else:
        why = "the runs alike but for B_E share no η between their batch sizes"
    return BatchesNotCompared(every, why=why)


def _others(
    held: Sequence[tuple[BatchPopulation, tuple[int, ...]]], pop: BatchPopulation
) -> list[tuple[BatchPopulation, str]]:
    """The populations of other batch sizes than ``pop``'s, each named by its ("B_E 512")."""
    mine = next(sizes for p, sizes in held if p is pop)
    return [(p, "B_E " + ", ".join(map(str, sizes))) for p, sizes in held if sizes != mine]


def _sizes(pop: BatchPopulation, points: Mapping[str, RunPoints]) -> tuple[int, ...]:
    """The batch sizes of a population's runs (those with points)."""
    return tuple(sorted({s for r in pop.run_ids if r in points and (s := points[r].batch_size)}))


def compare_alike(
    pops: Sequence[BatchPopulation],
    points: Mapping[str, RunPoints],
    samples: Callable[[str], SampleSource | None],
    errors: SmallErrors,
    **options: Any,
) -> tuple[BatchComparison, ...]:
    """``compare_batch_sizes`` within each population of two or more batch sizes; each row names
    the group's runs it leaves out and why (``options``: draws, seed, workers, memo)."""
    sizes = {p.label: sorted({s for r in p.run_ids if (s := points[r].batch_size)}) for p in pops}
    rows: list[BatchComparison] = []
    for pop in (p for p in pops if len(sizes[p.label]) >= 2):
        left = tuple(
            (r, _reason(other, pop, sizes[other.label]))
            for other in pops
            if other is not pop
            for r in other.run_ids
        )
        loaded = [x for r in pop.run_ids if (x := samples(r)) is not None]
        found = compare_batch_sizes(
            [points[r] for r in pop.run_ids], loaded, errors=errors, **options
        )
        rows += [replace(b, left_out=left, population=pop.label) for b in found]
    return tuple(rows)


def _reason(run: BatchPopulation, compared: BatchPopulation, sizes: Sequence[int]) -> str:
    reason = left_out_reason(run, compared)
    if len(sizes) >= 2:
        return f"{reason}; compared among its own population"
    return reason
