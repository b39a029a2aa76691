"""Every run's cross-run record in one private file, so that a build carrying runs over decodes
them in one pass instead of reading, checking and slimming each run's own record file.

The values that repeat across runs (key paths, parameters, their digests, the normalisation)
are stored once in tables that each run's row refers to by index; a decoded record holds the
table's one object, so the records of a tree share them in memory too. Each row names the
digest of the run's full record: a row is used only for a run whose status names that same
digest, and the file only when its bytes hash to the digest the status holds (anything else is
a cache miss, and the runs' own record files are read).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, get_type_hints

import orjson

from reportgen.build.status import BuildStatus, RunStatus
from reportgen.codec import RecordError, decoder, encode
from reportgen.write import SiteWriter

if TYPE_CHECKING:  # the analysis stack: a no-op build imports none of it
    from reportgen.analysis.record import RunRecord

CROSS_RUNS_PATH = ".reportgen/cross_runs.jsonl"
CROSS_RUNS_FORMAT = 1
# fields whose values repeat across runs: stored once per distinct value
SHARED = ("fields", "parameters", "parameter_digests", "normalization")
_EMPTY: dict[str, Any] = {
    "fields": (),
    "parameters": (),
    "parameter_digests": (),
    "normalization": None,
}

CrossRuns = dict[str, tuple[str, "RunRecord"]]  # run id → (its full record's digest, its record)


def read_cross_runs(writer: SiteWriter, previous: BuildStatus | None) -> CrossRuns:
    """The previous build's file, if the status names its digest and its bytes still have it
    and its format; empty otherwise (each run's own record file is read)."""
    if previous is None or previous.cross_runs is None:
        return {}
    try:
        cross = writer.previous_verified_lines(
            CROSS_RUNS_PATH, previous.cross_runs, decode_cross_runs
        )
    except ValueError:
        return {}
    return {} if cross is None else cross


def write_cross_runs(
    writer: SiteWriter, statuses: Mapping[str, RunStatus], records: Mapping[str, RunRecord]
) -> str:
    """Store every run's cross-run record with its full record's digest; the file's digest."""
    digests = {run_id: status.record_hash for run_id, status in statuses.items()}
    return writer.write_private(CROSS_RUNS_PATH, encode_cross_runs(records, digests))


def encode_cross_runs(
    records: Mapping[str, RunRecord], digests: Mapping[str, str]
) -> tuple[bytes, ...]:
    """The file's bytes, in pieces: a line with the format and the tables, then one line per
    run of ``records`` (cross-run records, by run id) with its full record's digest (JSON
    Lines: reading it holds one run's JSON at once); runs without a digest are left out."""
    from reportgen.analysis.record import RECORD_FORMAT

    tables: dict[str, dict[Any, int]] = {name: {} for name in SHARED}
    rows = [
        (run_id, digest, [_index(tables[name], getattr(record, name)) for name in SHARED])
        for run_id, record in records.items()
        if (digest := digests.get(run_id)) is not None
    ]
    head = {
        "format": [CROSS_RUNS_FORMAT, RECORD_FORMAT],
        "tables": {name: list(table) for name, table in tables.items()},
    }
    lines = (
        encode([run_id, digest, refs, replace(records[run_id], **_EMPTY)])
        for run_id, digest, refs in rows
    )
    return (encode(head), *(b"\n" + line for line in lines))


def decode_cross_runs(lines: Iterator[bytes]) -> CrossRuns:
    """Inverse of ``encode_cross_runs``, from its lines (its pieces joined, split at each
    newline); a ``RecordError`` (a ``ValueError``) for anything else, a value of the wrong type
    or an index out of its table included."""
    from reportgen.analysis.record import RECORD_FORMAT, RunRecord

    head = _json(next(lines, b""))
    if not isinstance(head, dict) or head.get("format") != [CROSS_RUNS_FORMAT, RECORD_FORMAT]:
        raise RecordError("not a cross-run records file of this format")
    hints = get_type_hints(RunRecord)
    tables_json = head.get("tables")
    if not isinstance(tables_json, dict) or tables_json.keys() != set(SHARED):
        raise RecordError("no tables")
    tables = {name: _table(tables_json[name], hints[name]) for name in SHARED}
    decode_record = decoder(RunRecord)
    cross: CrossRuns = {}
    for line in lines:
        row = _json(line)
        if not (isinstance(row, list) and len(row) == 4):
            raise RecordError("a row that is not [id, digest, refs, record]")
        run_id, digest, refs, record_json = row
        if not (isinstance(run_id, str) and isinstance(digest, str) and isinstance(refs, list)):
            raise RecordError("a row of the wrong types")
        if len(refs) != len(SHARED) or not all(type(r) is int and r >= 0 for r in refs):
            raise RecordError("a row's table references")
        slim = decode_record(record_json)
        try:
            shared = {name: tables[name][ref] for name, ref in zip(SHARED, refs, strict=True)}
        except IndexError as exc:
            raise RecordError("a table reference out of range") from exc
        record: RunRecord = replace(slim, **shared)
        if record.id != run_id or run_id in cross:
            raise RecordError("a row whose record has another id, or a run listed twice")
        cross[run_id] = (digest, record)
    return cross


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
