"""Every run's cross-run record, encoded once into a scratch file of the build's staging
directory: the build process keeps only where each one is, and decodes a record when a later
stage asks for it.

A record is stored as the cross-run records file holds it (``cross_runs.py``): its JSON with the
fields whose values repeat across runs left empty, those values held once in tables here. So
the file is written from the stored bytes without decoding them, a group job carries its runs'
bytes to a worker, and a carried-over run's bytes from the previous build's file are stored as
they are. Each entry's CRC is kept: bytes that come back otherwise (or do not decode) make that
run's record the error record ``lost`` gives, never an error of the build.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any, NamedTuple, cast

import orjson

from reportgen.codec import RecordError, encode
from reportgen.decoders import filling_decoder, with_shared_strings

if TYPE_CHECKING:
    from reportgen.analysis.record import RunRecord

# fields whose values repeat across runs: stored once per distinct value
SHARED = ("fields", "parameters", "parameter_digests", "normalization")
EMPTY: dict[str, Any] = {
    "fields": (),
    "parameters": (),
    "parameter_digests": (),
    "normalization": None,
}


class Entry(NamedTuple):
    """Where a record's bytes are in the spool, their CRC, and its shared values' indices."""

    offset: int
    length: int
    crc: int
    refs: tuple[int, ...]

    def packed(self) -> bytes:
        """The entry as the store's index holds it (one object a run instead of six)."""
        return _PACKED_ENTRY.pack(self.offset, self.length, self.crc, *self.refs)

    @classmethod
    def unpacked(cls, packed: bytes) -> Entry:
        offset, length, crc, *refs = _PACKED_ENTRY.unpack(packed)
        return cls(offset, length, crc, tuple(refs))


_PACKED_ENTRY = struct.Struct(f"<QII{len(SHARED)}I")


def slim_bytes(record: RunRecord) -> bytes:
    """A cross-run record's JSON without its shared values (as a cross-run row holds it)."""
    return encode(replace(record, **EMPTY))


def decode_slim(body: bytes, shared: Sequence[Any]) -> RunRecord:
    """Inverse of ``slim_bytes`` with the shared values (of the fields ``SHARED``, in that
    order) put back; ``RecordError`` otherwise."""
    from reportgen.analysis.record import RunRecord

    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from exc
    record: RunRecord = filling_decoder(RunRecord, SHARED)(value, *shared)
    return record


class RecordStore(Mapping[str, "RunRecord"]):
    """Records by run id (iterated in id order), decoded from the spool on each access."""

    def __init__(self, spool: IO[bytes], lost: Callable[[str], RunRecord]) -> None:
        self._fd = spool.fileno()
        self._spool = spool  # held open: the file has no name, closing it frees it
        self._end = 0
        self._refs: dict[str, dict[Any, int]] = {name: {} for name in SHARED}
        self._values: dict[str, list[Any]] = {name: [] for name in SHARED}
        self._tables = tuple(self._values.values())  # in the order of SHARED
        self._index: dict[str, bytes] = {}  # packed entries
        self._sorted: list[str] | None = None
        self._lost = lost
        self.lost: set[str] = set()  # runs whose record did not come back (their error records)

    def ref(self, name: str, value: Any) -> int:
        """The index of ``value`` in the table of the shared field ``name`` (added if new)."""
        refs = self._refs[name]
        found = refs.get(value)
        if found is None:  # held with its strings those every decoded record shares
            value = with_shared_strings(value)
            found = refs[value] = len(refs)
            self._values[name].append(value)
        return found

    def spool(self, body: bytes, refs: tuple[int, ...]) -> Entry:
        """Append a record's bytes (not yet any run's: ``adopt`` makes it one)."""
        entry = Entry(self._end, len(body), zlib.crc32(body), refs)
        written = os.pwrite(self._fd, body, self._end)
        if written != len(body):
            raise OSError("the record spool took fewer bytes than it was given")
        self._end += written
        return entry

    def adopt(self, run_id: str, entry: Entry) -> None:
        self._index[run_id] = entry.packed()
        self._sorted = None

    def add(self, record: RunRecord, run_id: str | None = None) -> None:
        """Store a cross-run record under its run's id (``run_id``: that id as the build already
        holds it, so the store's key is not one more string)."""
        key = record.id if run_id is None else run_id
        self.adopt(key, self.spool(slim_bytes(record), _refs_of(self, record)))

    def body(self, entry: Entry) -> bytes | None:
        """An entry's bytes, ``None`` if they are not those stored."""
        try:
            body = os.pread(self._fd, entry.length, entry.offset)
        except OSError:
            return None
        return body if zlib.crc32(body) == entry.crc and len(body) == entry.length else None

    def shared(self, refs: tuple[int, ...]) -> tuple[Any, ...]:
        """The values of the fields ``SHARED`` at ``refs``."""
        return tuple(values[ref] for values, ref in zip(self._tables, refs, strict=True))

    def __getitem__(self, run_id: str) -> RunRecord:
        entry = Entry.unpacked(self._index[run_id])
        body = self.body(entry)
        try:
            if body is not None:
                record = decode_slim(body, self.shared(entry.refs))
                if record.id == run_id:
                    return record
        except RecordError:
            pass
        return self.stand_in(run_id)

    def stand_in(self, run_id: str) -> RunRecord:
        """The error record of a run whose stored record did not come back (noted in ``lost``)."""
        self.lost.add(run_id)
        return self._lost(run_id)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._index

    def __iter__(self) -> Iterator[str]:
        if self._sorted is None:
            self._sorted = sorted(self._index)
        return iter(self._sorted)

    def __len__(self) -> int:
        return len(self._index)

    def entry(self, run_id: str) -> Entry:
        return Entry.unpacked(self._index[run_id])

    def values_of(self, name: str, refs: Iterable[int]) -> list[Any]:
        """The shared values of field ``name`` at ``refs``."""
        values = self._values[name]
        return [values[ref] for ref in refs]

    def shipped(self, run_ids: Iterable[str]) -> EncodedRecords:
        """The records of ``run_ids`` (those stored) as bytes with the shared values they use,
        for a worker to decode; a record whose bytes did not come back is its error record."""
        tables: dict[str, dict[int, int]] = {name: {} for name in SHARED}
        bodies = {}
        for run_id in run_ids:
            packed = self._index.get(run_id)
            if packed is None:
                continue
            entry = Entry.unpacked(packed)
            body = self.body(entry)
            if body is None:
                lost = self.stand_in(run_id)
                body, entry = slim_bytes(lost), entry._replace(refs=_refs_of(self, lost))
            pairs = zip(tables.values(), entry.refs, strict=True)
            local = tuple(t.setdefault(ref, len(t)) for t, ref in pairs)
            bodies[run_id] = (body, local)
        values = {name: tuple(self.values_of(name, t)) for name, t in tables.items()}
        return EncodedRecords(values, bodies)

    def close(self) -> None:
        """Free the spool (it has no name in the staging directory: nothing is left there)."""
        self._spool.close()


def _refs_of(store: RecordStore, record: RunRecord) -> tuple[int, ...]:
    return tuple(store.ref(name, getattr(record, name)) for name in SHARED)


@dataclass(frozen=True)
class EncodedRecords(Mapping[str, "RunRecord"]):
    """Some runs' records as bytes with the shared values they refer to (picklable, small):
    decoded on each access; a ``RecordError`` for bytes that are not a record."""

    tables: Mapping[str, tuple[Any, ...]]
    bodies: Mapping[str, tuple[bytes, tuple[int, ...]]]

    def __getitem__(self, run_id: str) -> RunRecord:
        body, refs = self.bodies[run_id]
        tables = self.tables
        return decode_slim(
            body, [tables[name][ref] for name, ref in zip(SHARED, refs, strict=True)]
        )

    def __contains__(self, run_id: object) -> bool:
        return run_id in self.bodies

    def __iter__(self) -> Iterator[str]:
        return iter(self.bodies)

    def __len__(self) -> int:
        return len(self.bodies)


class PreviousRecords(Mapping[str, "RunRecord"]):
    """The previous build's records: those of ``changed`` as they were, and every run of
    ``same`` the one ``current`` holds (its record unchanged)."""

    def __init__(
        self,
        changed: Mapping[str, RunRecord],
        same: Collection[str],
        current: Mapping[str, RunRecord],
    ) -> None:
        self.changed = changed
        self.same = frozenset(same)
        self._current = current

    def __getitem__(self, run_id: str) -> RunRecord:
        if run_id in self.same:
            return self._current[run_id]
        return self.changed[run_id]

    def __contains__(self, run_id: object) -> bool:
        return run_id in self.same or run_id in self.changed

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.same | self.changed.keys()))

    def __len__(self) -> int:
        return len(self.same) + len(self.changed)


class LastDecoded(Mapping[str, "RunRecord"]):
    """``records`` with the record read last kept decoded: a pass over a large group reads
    several attributes of one run before the next run's."""

    def __init__(self, records: Mapping[str, RunRecord]) -> None:
        self._records = records
        self._last: tuple[str, RunRecord] | None = None

    def __getitem__(self, run_id: str) -> RunRecord:
        last = self._last
        if last is not None and last[0] == run_id:
            return last[1]
        record = self._records[run_id]
        self._last = (run_id, record)
        return record

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._records

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


class StoredMember:
    """A run of a large group standing in for its record: each attribute is read from
    ``records`` (a store decodes it then), so the group holds no run's record."""

    __slots__ = ("_records", "id")

    def __init__(self, run_id: str, records: Mapping[str, RunRecord]) -> None:
        self.id = run_id
        self._records = records

    def __getattr__(self, name: str) -> Any:
        return getattr(self._records[self.id], name)


def stored_members(
    run_ids: Iterable[str], records: Mapping[str, RunRecord]
) -> dict[str, RunRecord]:
    """Stand-ins for the records of ``run_ids`` (those in ``records``): they have every
    attribute of a record, read anew on each access."""
    source = LastDecoded(records)
    # a stand-in is typed as the record it reads: it has every attribute of one
    return {r: cast("RunRecord", StoredMember(r, source)) for r in run_ids if r in records}


class HeldRecords(Mapping[str, "RunRecord"]):
    """A record store's records, some of them already decoded."""

    def __init__(self, store: Mapping[str, RunRecord], held: Mapping[str, RunRecord]) -> None:
        self._store, self._held = store, held

    def __getitem__(self, run_id: str) -> RunRecord:
        held = self._held.get(run_id)
        return self._store[run_id] if held is None else held

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)
