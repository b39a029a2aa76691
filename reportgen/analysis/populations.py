"""Populations: the runs of a group that may be pooled (same schema, B_E, normalisation, config).

Statistics across runs (means, spreads, agreement counts) pool only runs of one population;
a group whose runs span several shows them side by side. Two runs belong to one population
when their schema, batch size, normalisation and every non-incidental configuration or plan
value agree (``parameters.is_incidental``: seeds, paths, timestamps, logging, the η grid).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportgen.analysis.record import RunRecord
from reportgen.load.parameters import is_incidental

MISSING = "(not set)"


@dataclass(frozen=True)
class ParameterDiff:
    """One key whose value differs between the runs of a group (``None``: the run lacks it)."""

    key: str
    values: tuple[tuple[str, str | None], ...]  # (run id, JSON value), in the group's run order
    splits: bool  # it separates populations (not a seed, path, timestamp or the η grid)


@dataclass(frozen=True)
class Population:
    key: tuple[tuple[str, str], ...]  # (what, value) pairs that define it, e.g. ("B_E", "256")
    run_ids: tuple[str, ...]

    @property
    def label(self) -> str:
        return ", ".join(f"{name} = {value}" for name, value in self.key) or "all runs"

    def key_json(self) -> dict[str, str]:
        return dict(self.key)


def differing_parameters(records: Sequence[RunRecord]) -> tuple[ParameterDiff, ...]:
    """The configuration and plan keys whose values are not the same in every read run."""
    read = [r for r in records if r.was_read]
    values = [dict(r.parameters) for r in read]
    keys = sorted({k for v in values for k in v})
    diffs = []
    for key in keys:
        seen = [v.get(key) for v in values]
        if len(set(seen)) > 1:
            per_run = tuple((r.id, s) for r, s in zip(read, seen, strict=True))
            diffs.append(ParameterDiff(key, per_run, splits=not is_incidental(key)))
    return tuple(diffs)


def population_key(record: RunRecord, splitting: Sequence[str]) -> tuple[tuple[str, str], ...]:
    norm = record.normalization
    parameters = dict(record.parameters)
    return (
        ("schema", record.schema or "unreadable"),
        ("B_E", str(record.batch_size) if record.batch_size is not None else MISSING),
        ("normalization", f"{norm.true}/{norm.approx}" if norm is not None else MISSING),
        *((key, parameters.get(key, MISSING)) for key in splitting),
    )


def populations(records: Sequence[RunRecord]) -> tuple[Population, ...]:
    """The read runs grouped by population, in order of first appearance; the key lists only
    what varies within the group (a uniform group is one population keyed by what all share)."""
    read = [r for r in records if r.was_read]
    splitting = [d.key for d in differing_parameters(read) if d.splits]
    keys = {r.id: population_key(r, splitting) for r in read}
    order: list[tuple[tuple[str, str], ...]] = []
    members: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for record in read:
        key = keys[record.id]
        if key not in members:
            order.append(key)
            members[key] = []
        members[key].append(record.id)
    if len(order) > 1:  # name a population by what tells it apart from the others
        varying = _distinct_columns(order)
        return tuple(
            Population(tuple(key[i] for i in varying), tuple(members[key])) for key in order
        )
    return tuple(Population(key[:3], tuple(members[key])) for key in order)


def _distinct_columns(keys: Sequence[tuple[tuple[str, str], ...]]) -> list[int]:
    """Positions of the key that vary, leaving out one that splits the populations exactly as an
    earlier one does (B_E and ``config.batch_config.B_E`` name the same split once)."""
    kept: list[int] = []
    seen: set[tuple[int, ...]] = set()
    for i in range(len(keys[0])):
        values = [k[i][1] for k in keys]
        if len(set(values)) < 2:
            continue
        partition = tuple(values.index(v) for v in values)  # which populations share a value
        if partition not in seen:
            seen.add(partition)
            kept.append(i)
    return kept
