"""One value of each of a group's runs, read from the run when it is looked up.

A group's statistics and page pass many per-run mappings (ΔH points, per-η SEs, tails). Made
as dicts they would hold every run's values at once; these views hold only the run ids, so a
group whose members read their record from the build's store on each access (a very large
group) never holds more than one run's record, and one whose members are held records pays a
property read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar, overload

V = TypeVar("V")


class PerRun(Mapping[str, V]):
    """``read(run_id)`` for each of ``run_ids`` (in their order), on each lookup."""

    def __init__(self, run_ids: Sequence[str], read: Callable[[str], V]) -> None:
        self._ids = tuple(run_ids)
        self._known = frozenset(self._ids)
        self._read = read

    def __getitem__(self, run_id: str) -> V:
        if run_id not in self._known:
            raise KeyError(run_id)
        return self._read(run_id)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def each(self) -> Each[V]:
        """The values as a sequence, in the runs' order, each read when it is reached."""
        return Each(self)


class Each(Sequence[V]):
    """A ``PerRun``'s values in its runs' order, read on access."""

    def __init__(self, values: PerRun[V]) -> None:
        self._values = values
        self._ids = tuple(values)

    @overload
    def __getitem__(self, index: int) -> V: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[V]: ...

    def __getitem__(self, index: int | slice) -> V | Sequence[V]:
        if isinstance(index, slice):
            return [self._values[r] for r in self._ids[index]]
        return self._values[self._ids[index]]

    def __iter__(self) -> Iterator[V]:
        return (self._values[r] for r in self._ids)

    def __len__(self) -> int:
        return len(self._ids)
