"""``GroupRecord``: a group's statistics as the build keeps them between builds.

Derived from the group's analysis (``GroupRecord.of``) and kept as two private files of the
group (``to_files``; their sha256 in the status), it is what the group's public
``summary.json`` is derived from (``serialize.group_summary_json``), and its partials, in the
second file, are what its parent merges (``merge``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import orjson

from reportgen.analysis.batch import BatchComparison
from reportgen.analysis.diagnostics.checks_supplement import CvBatchReport
from reportgen.analysis.group import GroupAnalysis
from reportgen.analysis.group_stats import (
    AgreementTally,
    CvFeatureStats,
    EtaStats,
    PopulationStats,
    RelativeErrors,
)
from reportgen.analysis.merge import PackedRows, Partials, RunStats, decode_row, pack_line
from reportgen.analysis.populations import DuplicateSet, ParameterDiff
from reportgen.analysis.tails import TailGroupRow
from reportgen.codec import RecordError, decode_versioned, decoder, encode, encode_pieces
from reportgen.findings import Finding
from reportgen.treefile import FitWindow

# a deflated, encoded GroupRecord; 2: pooled rows, findings, copies, the fits' η window;
# 3: the CV batch aggregate; 4: the tails' spreads over the runs whose ΔH_true is resolved;
# 5: control-variate statistics per population, populations' short labels, the draws' MC SE;
# 6: truncated tails left out of the spreads where they are not comparable; 7: the CV batch
# aggregate per batch size, its rows checked against their runs; 8: the batch-size comparison
# per population, with the between-run and the smaller runs' SEs
GROUP_RECORD_FORMAT = 8


@dataclass(frozen=True)
class GroupRecord:
    """Everything a group's summary publishes, typed (``GroupAnalysis`` less what only its page
    draws)."""

    group_id: str
    partials: Partials
    per_eta: tuple[EtaStats, ...]
    relative: RelativeErrors
    populations: tuple[PopulationStats, ...]
    differs: tuple[ParameterDiff, ...]
    batch: tuple[BatchComparison, ...]
    tails: tuple[TailGroupRow, ...]
    cv: tuple[CvFeatureStats, ...]
    duplicates: tuple[DuplicateSet, ...] = ()
    differs_more: int = 0
    findings: tuple[Finding, ...] = ()
    fit_window: FitWindow | None = None
    cv_batch: CvBatchReport | None = None

    @classmethod
    def of(cls, analysis: GroupAnalysis) -> GroupRecord:
        return cls(
            group_id=analysis.group_id,
            partials=analysis.partials,
            per_eta=analysis.per_eta,
            relative=analysis.relative,
            populations=analysis.populations,
            differs=analysis.differs,
            batch=analysis.batch,
            tails=analysis.tails,
            cv=analysis.cv,
            duplicates=analysis.duplicates,
            differs_more=analysis.differs_more,
            findings=analysis.findings,
            fit_window=analysis.fit_window,
            cv_batch=analysis.cv_batch,
        )

    @property
    def runs(self) -> Sequence[RunStats]:
        return self.partials.runs

    @property
    def tally(self) -> AgreementTally:
        return self.partials.tally

    def to_files(self, partials: bytes | None = None) -> StoredGroup:
        """The record as the build keeps it: its partials in a file of their own (all a parent
        reads of it), the rest in another; canonical JSON, deflated (a large group's record
        travels from its worker and is kept on disk at a fraction of its size).

        ``partials``: those of its partials already stored (another group's, the same runs).
        """
        statistics, stored = self.file_pieces()
        return StoredGroup(b"".join(statistics), b"".join(stored) if partials is None else partials)

    def file_pieces(self) -> tuple[Iterator[bytes], Iterator[bytes]]:
        """``to_files``'s two files, each made piece by piece as it is written."""
        rest = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "partials"}
        return _stored(rest), stored_partials_pieces(self.partials)

    @classmethod
    def from_files(cls, stored: StoredGroup) -> GroupRecord:
        """Inverse of ``to_files``; ``RecordError`` (a ``ValueError``) for anything else."""
        rest = decode_versioned(_Statistics, GROUP_RECORD_FORMAT, _inflate(stored.statistics))
        return cls(partials=stored_partials(stored.partials), **vars(rest))


@dataclass(frozen=True)
class StoredGroup:
    """A group record's two files (their bytes)."""

    statistics: bytes
    partials: bytes


@dataclass(frozen=True)
class _Statistics:
    """A ``GroupRecord`` but its partials."""

    group_id: str
    per_eta: tuple[EtaStats, ...]
    relative: RelativeErrors
    populations: tuple[PopulationStats, ...]
    differs: tuple[ParameterDiff, ...]
    batch: tuple[BatchComparison, ...]
    tails: tuple[TailGroupRow, ...]
    cv: tuple[CvFeatureStats, ...]
    duplicates: tuple[DuplicateSet, ...] = ()
    differs_more: int = 0
    findings: tuple[Finding, ...] = ()
    fit_window: FitWindow | None = None
    cv_batch: CvBatchReport | None = None


def _stored(value: object) -> Iterator[bytes]:
    """Deflated JSON of a versioned record, made and compressed piece by piece."""
    deflate = zlib.compressobj(1)
    pieces = encode_pieces({"format": GROUP_RECORD_FORMAT, "record": value}, depth=4)
    yield from map(deflate.compress, pieces)
    yield deflate.flush()


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error as exc:
        raise RecordError(f"not a deflated record: {exc}") from exc


def stored_partials_bytes(partials: Partials) -> bytes:
    """Partials as the build keeps them: a line with the format, run ids and counts, then one
    line per run's rows (JSON Lines, deflated), so reading them holds one run's JSON at once."""
    return b"".join(stored_partials_pieces(partials))


def stored_partials_pieces(partials: Partials) -> Iterator[bytes]:
    """``stored_partials_bytes`` made piece by piece."""
    head = {"format": GROUP_RECORD_FORMAT, "run_ids": partials.run_ids, "tally": partials.tally}
    deflate = zlib.compressobj(1)
    for i, line in enumerate(_lines(head, partials)):
        yield deflate.compress(b"\n" * bool(i) + line)
    yield deflate.flush()


def _lines(head: object, partials: Partials) -> Iterator[bytes]:
    yield encode(head)
    if isinstance(partials.runs, PackedRows):
        yield from partials.runs.lines()
    else:
        yield from map(encode, partials.runs)


def stored_partials(data: bytes, packed: bool = False) -> Partials:
    """Inverse of ``stored_partials_bytes`` (``packed``: the rows as ``PackedRows``);
    ``RecordError`` (a ``ValueError``) for anything else."""
    first, *lines = _inflate(data).split(b"\n")
    try:
        head = orjson.loads(first)
        if not isinstance(head, dict) or head.keys() != {"format", "run_ids", "tally"}:
            raise RecordError("not the partials of a group record")
        if head["format"] != GROUP_RECORD_FORMAT:
            raise RecordError(f"partials format {head['format']!r}")
        runs = _packed_rows(lines) if packed else tuple(map(decode_row, lines))
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from exc
    run_ids = decoder(tuple[str, ...])(head["run_ids"])
    return Partials(run_ids, runs, decoder(AgreementTally)(head["tally"]))


def _packed_rows(lines: list[bytes]) -> PackedRows:
    """The rows, each checked as it is decoded once, then kept as its compressed line."""
    ids = tuple(decode_row(line).run_id for line in lines)
    return PackedRows(ids, [pack_line(line) for line in lines])
