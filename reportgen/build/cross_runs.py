"""Every run's cross-run record in one private file, so that a build carrying runs over decodes
them in one pass instead of reading, checking and slimming each run's own record file.

The values that repeat across runs (key paths, parameters, their digests, the normalisation)
are stored once in tables that each run's row refers to by index; a decoded record holds the
table's one object, so the records of a tree share them in memory too. Each row names the
digest of the run's full record: a row is used only for a run whose status names that same
digest, and the file only when its bytes hash to the digest the status holds (anything else is
a cache miss, and the runs' own record files are read).

Each row's record is decoded to check it, unless the status also holds this install's seal of
the file's digest (an HMAC under the key of the per-install cache, which never leaves this
user's state directory): then this install wrote the file, from records it had encoded or
checked, and a row is checked for its shape only; its record is decoded when a stage asks.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_type_hints

import orjson

from reportgen.build.record_store import SHARED, Entry, RecordStore, slim_bytes
from reportgen.build.status import BuildStatus, RunStatus
from reportgen.codec import RecordError, decoder, encode
from reportgen.write import SiteWriter

if TYPE_CHECKING:  # the analysis stack: a no-op build imports none of it
    from reportgen.analysis.record import RunRecord

CROSS_RUNS_PATH = ".reportgen/cross_runs.jsonl"
CROSS_RUNS_FORMAT = 1


@dataclass(frozen=True)
class CarriedRow:
    """A run's row of the previous build's file, its record's bytes put in the record store."""

    digest: str  # its full record's
    input_hash: str  # its record's
    entry: Entry


def read_cross_runs(
    writer: SiteWriter, previous: BuildStatus | None, store: RecordStore
) -> dict[str, CarriedRow]:
    """The previous build's file, its rows checked (their records decoded, unless this install
    sealed the file) and their bytes put in ``store``, if the status names its digest and its
    bytes still have it and its format; empty otherwise (each run's own record file is read)."""
    if previous is None or previous.cross_runs is None:
        return {}
    sealed = _sealed(previous.cross_runs, previous.settings_hash, previous.cross_runs_seal)

    def consume(lines: Iterator[bytes]) -> dict[str, CarriedRow]:
        return dict(spool_cross_runs(lines, store, sealed))

    try:
        cross = writer.previous_verified_lines(CROSS_RUNS_PATH, previous.cross_runs, consume)
    except ValueError:
        return {}
    return {} if cross is None else cross


def cross_runs_seal(digest: str, settings_hash: str) -> str | None:
    """This install's seal of the cross-run file of ``digest``, written by the code and settings
    of ``settings_hash`` (``None`` where the per-install cache is off)."""
    from reportgen.install_cache import install_cache  # not imported by an up-to-date build

    return install_cache().seal("cross_runs", f"{settings_hash}\0{digest}".encode())


def _sealed(digest: str, settings_hash: str, seal: str | None) -> bool:
    """Whether this install wrote the file of ``digest``, with those code and settings."""
    expected = cross_runs_seal(digest, settings_hash)
    return seal is not None and expected is not None and hmac.compare_digest(seal, expected)


def write_cross_runs(
    writer: SiteWriter, statuses: Mapping[str, RunStatus], records: RecordStore, settings_hash: str
) -> tuple[str, str | None]:
    """Store every run's cross-run record with its full record's digest; the file's digest and
    this install's seal of it (with the build's ``settings_hash``). The file is written from the
    store's bytes, never held whole."""
    digests = {run_id: status.record_hash for run_id, status in statuses.items()}
    hashed = hashlib.sha256()

    def hashing(pieces: Iterator[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            hashed.update(piece)
            yield piece

    writer.write_streamed(CROSS_RUNS_PATH, hashing(stored_cross_runs(records, digests)))
    digest = hashed.hexdigest()
    return digest, cross_runs_seal(digest, settings_hash)


def _head(tables: Mapping[str, Iterable[Any]]) -> bytes:
    from reportgen.analysis.record import RECORD_FORMAT

    head = {
        "format": [CROSS_RUNS_FORMAT, RECORD_FORMAT],
        "tables": {name: list(table) for name, table in tables.items()},
    }
    return encode(head)


def _row(run_id: str, digest: str, refs: list[int], body: bytes) -> bytes:
    """A run's line: ``encode([run_id, digest, refs, record])`` with the record's bytes given."""
    return b"\n" + encode([run_id, digest, refs])[:-1] + b"," + body + b"]"


def stored_cross_runs(store: RecordStore, digests: Mapping[str, str]) -> Iterator[bytes]:
    """The file's bytes, in pieces, from the store's records as they are stored: a line with the
    format and the tables, then one line per run with its full record's digest (JSON Lines:
    reading it holds one run's JSON at once); runs without a digest are left out, and so is a
    run whose bytes did not come back (the next build reads its own record file)."""
    tables: dict[str, dict[int, int]] = {name: {} for name in SHARED}
    rows = []
    for run_id in store:
        digest = digests.get(run_id)
        if digest is not None:
            entry = store.entry(run_id)
            refs = [_index(t, r) for t, r in zip(tables.values(), entry.refs, strict=True)]
            rows.append((run_id, digest, refs, entry))
    yield _head({name: store.values_of(name, table) for name, table in tables.items()})
    for run_id, digest, refs, entry in rows:
        body = store.body(entry)
        if body is not None:
            yield _row(run_id, digest, refs, body)


def spool_cross_runs(
    lines: Iterator[bytes], store: RecordStore, sealed: bool = False
) -> Iterator[tuple[str, CarriedRow]]:
    """Each row of the file checked (its record decoded, or only the shape of a row laid out
    as this code writes it, if the file is ``sealed``), its record's bytes put in
    ``store`` as they are (re-encoded only when they are not laid out as this code writes
    them); a ``RecordError`` for anything but such a file."""
    tables, rows = _rows(lines)
    decode_slim = _slim_decoder()
    seen: set[str] = set()
    to_store = {name: [store.ref(name, v) for v in tables[name]] for name in SHARED}
    for run_id, digest, refs, record_json, line in rows:
        try:
            mapped = tuple(to_store[name][ref] for name, ref in zip(SHARED, refs, strict=True))
        except IndexError as exc:
            raise RecordError("a table reference out of range") from exc
        if run_id in seen:
            raise RecordError("a run listed twice")
        seen.add(run_id)
        prefix = encode([run_id, digest, refs])[:-1] + b","
        if line.startswith(prefix) and line.endswith(b"]"):
            body = line[len(prefix) : -1]
            if sealed:
                input_hash = _written_input_hash(run_id, record_json)
            else:
                input_hash = decode_slim(run_id, record_json).input_hash
        else:
            slim = decode_slim(run_id, record_json)
            body, input_hash = slim_bytes(slim), slim.input_hash
        yield run_id, CarriedRow(digest, input_hash, store.spool(body, mapped))


def _written_input_hash(run_id: str, record_json: object) -> str:
    """The input hash of a row's record as this install wrote it: the shape of a record of
    ``run_id`` is checked, not every value (a value that is not a record's makes that record's
    later decode fail, and its run an error record, never a wrong page)."""
    if not (isinstance(record_json, dict) and record_json.get("id") == run_id):
        raise RecordError("a row whose record has another id")
    input_hash = record_json.get("input_hash")
    if not isinstance(input_hash, str):
        raise RecordError("a row whose record has no input hash")
    return input_hash


def _slim_decoder() -> Callable[[str, object], RunRecord]:
    """A decoder of a row's record, checked to be ``run_id``'s."""
    from reportgen.analysis.record import RunRecord

    decode_record = decoder(RunRecord)

    def decode(run_id: str, record_json: object) -> RunRecord:
        slim: RunRecord = decode_record(record_json)
        if slim.id != run_id:
            raise RecordError("a row whose record has another id")
        return slim

    return decode


def _rows(
    lines: Iterator[bytes],
) -> tuple[dict[str, list[Any]], Iterator[tuple[str, str, list[int], object, bytes]]]:
    """The file's tables, and its rows (id, digest, table references, the record's JSON, the
    line) as their shape is checked."""
    from reportgen.analysis.record import RECORD_FORMAT, RunRecord

    head = _json(next(lines, b""))
    if not isinstance(head, dict) or head.get("format") != [CROSS_RUNS_FORMAT, RECORD_FORMAT]:
        raise RecordError("not a cross-run records file of this format")
    hints = get_type_hints(RunRecord)
    tables_json = head.get("tables")
    if not isinstance(tables_json, dict) or tables_json.keys() != set(SHARED):
        raise RecordError("no tables")
    tables = {name: _table(tables_json[name], hints[name]) for name in SHARED}

    def rows() -> Iterator[tuple[str, str, list[int], object, bytes]]:
        for line in lines:
            row = _json(line)
            if not (isinstance(row, list) and len(row) == 4):
                raise RecordError("a row that is not [id, digest, refs, record]")
            run_id, digest, refs, record_json = row
            if not (isinstance(run_id, str) and isinstance(digest, str) and isinstance(refs, list)):
                raise RecordError("a row of the wrong types")
            if len(refs) != len(SHARED) or not all(type(r) is int and r >= 0 for r in refs):
                raise RecordError("a row's table references")
            yield run_id, digest, refs, record_json, line

    return tables, rows()


def _json(line: bytes) -> object:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from exc


def _index(table: dict[Any, int], value: Any) -> int:
    return table.setdefault(value, len(table))


def _table(values: object, kind: Any) -> list[Any]:
    if not isinstance(values, list):
        raise RecordError("a table that is not a list")
    decode = decoder(kind)
    return [decode(v) for v in values]
