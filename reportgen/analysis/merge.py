"""Statistics of a group that merge upward: what a parent takes from its child groups.

A run's own rows (its fit, paired agreement, quadratic help and doubling ratios: ``RunStats``)
are a pure function of the run, so a parent group takes them from its child groups' records
instead of computing them again, and its agreement counts are the sum of theirs. Both merge
exactly: the merged partials equal those computed from every run (integers add exactly, rows
are copied).

Statistics that do not merge are computed from the runs every time: spreads (their medians and
quartiles need every value; their means and standard deviations are summed in one fixed order,
which a sum of partial sums would change in the last bits), populations and "what differs"
(a key that is constant within each child may still differ between children), the batch-size
comparison (a pooled distribution of draws) and the tails' spreads.

A very large group keeps its rows packed (``PackedRows``): each run's encoded line, compressed
on its own, is decoded when it is read, and merged and stored again as it is.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import overload

import orjson

from reportgen.analysis.fits import Agreement, Fit, agreement, fit_run
from reportgen.analysis.group_stats import AgreementTally, QuadHelp, quad_help, tally
from reportgen.analysis.members import GroupMember
from reportgen.analysis.per_run import PerRun
from reportgen.analysis.uncertainty import Doubling
from reportgen.codec import decoder, encode
from reportgen.treefile import FitWindow


@dataclass(frozen=True, slots=True)
class RunStats:
    """One run's rows on the pages of the groups that hold it."""

    run_id: str
    batch_size: int | None
    fit: Fit
    agreements: tuple[Agreement, ...]  # per η of the run
    quads: tuple[QuadHelp, ...]  # per η of the run
    doublings: tuple[Doubling, ...]

    @property
    def tally(self) -> AgreementTally:
        return tally(self.agreements)


def run_stats(member: GroupMember, window: FitWindow | None = None) -> RunStats:
    """The rows of one run with ΔH(η) points; its fits over the η of ``window`` (every η when
    ``None``; the bootstrap's slope intervals, which fit every η, only then)."""
    points = member.points
    errors = member.eta_errors
    uncertainty = member.uncertainty
    if window is None:
        fit = fit_run(points, uncertainty)
    else:
        fit = fit_run(replace(points, etas=tuple(s for s in points.etas if window.contains(s.eta))))
    return RunStats(
        run_id=member.id,
        batch_size=points.batch_size,
        fit=fit,
        agreements=agreement(points, errors),
        quads=tuple(quad_help(s, e) for s, e in zip(points.etas, errors, strict=True)),
        doublings=uncertainty.doublings if uncertainty is not None else (),
    )


@dataclass(frozen=True)
class Partials:
    """The mergeable part of a group's statistics.

    ``run_ids`` are every run the partials account for (read or not, with ΔH(η) points or
    not), so a parent knows which of its runs no child covers; ``runs`` hold the rows of those
    with points, in the group's order; ``tally`` counts the paired verdicts of all of them.
    """

    run_ids: tuple[str, ...]
    runs: Sequence[RunStats]  # a tuple, or ``PackedRows`` (a very large group's)
    tally: AgreementTally

    @property
    def row_ids(self) -> tuple[str, ...]:
        """The run id of each of ``runs``, in order (read without decoding packed rows)."""
        if isinstance(self.runs, PackedRows):
            return self.runs.ids
        return tuple(r.run_id for r in self.runs)


def add_tallies(tallies: Iterable[AgreementTally]) -> AgreementTally:
    pairs = within_1se = within_2se = 0
    for t in tallies:
        pairs, within_1se, within_2se = (
            pairs + t.pairs,
            within_1se + t.within_1se,
            within_2se + t.within_2se,
        )
    return AgreementTally(pairs, within_1se, within_2se)


def partials(run_ids: Sequence[str], runs: Sequence[RunStats]) -> Partials:
    """Partials computed from every run's rows (``runs`` in the group's order)."""
    return Partials(tuple(run_ids), tuple(runs), add_tallies(r.tally for r in runs))


def merge(
    run_ids: Sequence[str],
    children: Sequence[Partials],
    direct: Mapping[str, RunStats],
    packed: bool = False,
) -> Partials:
    """A group's partials from its children's and the rows of its own runs (``direct``);
    ``packed``: its rows as ``PackedRows``.

    ``run_ids`` is the group's run order; every run must be covered by one child or be a key
    of ``direct`` when it has points. The children's counts are added, not recounted.
    """
    total = add_tallies([*(c.tally for c in children), *(direct[r].tally for r in direct)])
    if packed:
        blobs = {r: pack_row(row) for r, row in direct.items()}
        for child in children:
            blobs.update(_packed(child.runs).by_id_blobs())
        ids = tuple(r for r in run_ids if r in blobs)
        return Partials(tuple(run_ids), PackedRows(ids, [blobs[r] for r in ids]), total)
    rows = dict(direct)
    for child in children:
        rows.update((r.run_id, r) for r in child.runs)
    ordered = tuple(rows[r] for r in run_ids if r in rows)
    return Partials(tuple(run_ids), ordered, total)


def uncovered(run_ids: Sequence[str], children: Sequence[Partials]) -> list[str]:
    """The runs of a group that none of ``children`` accounts for (its direct runs)."""
    covered = {r for child in children for r in child.run_ids}
    return [r for r in run_ids if r not in covered]


@cache
def _dictionary() -> bytes:
    """What every packed row's line is compressed against: the names of its fields (most of a
    line's bytes, were it compressed alone)."""
    kinds = (RunStats, Fit, Agreement, QuadHelp, Doubling)
    return b"".join(b'"%s":' % f.name.encode() for kind in kinds for f in fields(kind))


def pack_line(line: bytes) -> bytes:
    """A run's rows as their encoded line, compressed on its own."""
    deflate = zlib.compressobj(6, zdict=_dictionary())
    return deflate.compress(line) + deflate.flush()


def pack_row(row: RunStats) -> bytes:
    return pack_line(encode(row))


def unpack_line(blob: bytes) -> bytes:
    inflate = zlib.decompressobj(zdict=_dictionary())
    return inflate.decompress(blob) + inflate.flush()


class PackedRows(Sequence[RunStats]):
    """Runs' rows kept as their compressed lines and decoded on each read: a very large group's
    partials, in a fraction of the memory they take as objects."""

    def __init__(self, ids: tuple[str, ...], blobs: Sequence[bytes]) -> None:
        self.ids = ids
        self._blobs = blobs

    def __len__(self) -> int:
        return len(self._blobs)

    @overload
    def __getitem__(self, index: int) -> RunStats: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[RunStats]: ...
    def __getitem__(self, index: int | slice) -> RunStats | Sequence[RunStats]:
        if isinstance(index, slice):
            return PackedRows(self.ids[index], self._blobs[index])
        return decode_row(unpack_line(self._blobs[index]))

    def __iter__(self) -> Iterator[RunStats]:
        for blob in self._blobs:
            yield decode_row(unpack_line(blob))

    def lines(self) -> Iterator[bytes]:
        """Each row's encoded line, as ``encode`` made it."""
        return map(unpack_line, self._blobs)

    def by_id_blobs(self) -> Iterator[tuple[str, bytes]]:
        return zip(self.ids, self._blobs, strict=True)

    def by_id(self) -> Mapping[str, RunStats]:
        """The rows by run id, each decoded when it is looked up."""
        position = {r: i for i, r in enumerate(self.ids)}
        return PerRun(self.ids, lambda r: self[position[r]])


def decode_row(line: bytes) -> RunStats:
    """A run's rows from their encoded line (``RecordError`` if it is not one)."""
    row: RunStats = decoder(RunStats)(orjson.loads(line))
    return row


def _packed(runs: Sequence[RunStats]) -> PackedRows:
    if isinstance(runs, PackedRows):
        return runs
    return PackedRows(tuple(r.run_id for r in runs), [pack_row(r) for r in runs])


def rows_by_id(runs: Sequence[RunStats]) -> Mapping[str, RunStats]:
    """``runs`` by run id (packed rows decoded as they are looked up)."""
    if isinstance(runs, PackedRows):
        return runs.by_id()
    return {r.run_id: r for r in runs}
