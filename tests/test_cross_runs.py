"""The file of every run's cross-run record: what a build carrying runs over decodes in one pass.

It must give exactly the records that reading each run's own record file gives, be used only
while its bytes hash to the digest the status holds and have the shape of its format, and
anything else is a cache miss (each run's record file is read), never an error, never published.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from reportgen.analysis.record import RECORD_FORMAT, RunRecord
from reportgen.build import build, cross_runs
from reportgen.build.cross_runs import CROSS_RUNS_FORMAT, CROSS_RUNS_PATH, spool_cross_runs
from reportgen.build.record_store import EMPTY, SHARED, RecordStore
from reportgen.build.status import STATUS_PATH
from reportgen.build.status_file import read_status
from reportgen.codec import RecordError, encode
from reportgen.pages.paths import run_record
from tests.conftest import small_scale_options

TAMPERED = 12345.678
CHANGED = "scale/block_00/sweep_00/E_16/run_02"


def tree_files(out: Path) -> dict[str, bytes]:
    """Every published file (outside ``.reportgen``)."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".reportgen" not in p.parts
    }


def change_run(results: Path, run_id: str) -> None:
    path = results / run_id / "results.json"
    data = orjson.loads(path.read_bytes())
    data["true"]["entries"][0]["delta_h_true"] *= 1.01
    path.write_bytes(orjson.dumps(data))


def records_of(out: Path) -> dict[str, tuple[str, RunRecord]]:
    """Each run's record read from its own file, slimmed, with the digest the status holds."""
    runs = orjson.loads((out / STATUS_PATH).read_bytes())["runs"]
    return {
        run_id: (
            entry["record_hash"],
            RunRecord.from_bytes((out / run_record(run_id)).read_bytes()).for_cross_run(),
        )
        for run_id, entry in runs.items()
    }


def decode_cross_runs(lines: Iterator[bytes]) -> dict[str, tuple[str, RunRecord]]:
    """The file's records by run id with their full records' digests, every row checked as a
    build checks a file it did not seal (a ``RecordError`` for anything but such a file)."""

    def unexpected(run_id: str) -> RunRecord:
        raise AssertionError(f"{run_id}: a checked row's record did not come back")

    with tempfile.TemporaryFile() as spool:
        store = RecordStore(spool, unexpected)
        rows = dict(spool_cross_runs(lines, store))
        for run_id, row in rows.items():
            store.adopt(run_id, row.entry)
        return {run_id: (row.digest, store[run_id]) for run_id, row in rows.items()}


def encode_cross_runs(
    records: Mapping[str, RunRecord], digests: Mapping[str, str]
) -> tuple[bytes, ...]:
    """The file's format written out apart from the build's writer (the oracle of its bytes): a
    line with the format and the tables of shared values, then a line per run with a digest."""
    tables: dict[str, dict[Any, int]] = {name: {} for name in SHARED}
    lines = []
    for run_id, record in records.items():
        if (digest := digests.get(run_id)) is not None:
            refs = [tables[n].setdefault(getattr(record, n), len(tables[n])) for n in SHARED]
            lines.append(b"\n" + encode([run_id, digest, refs, replace(record, **EMPTY)]))
    head = {
        "format": [CROSS_RUNS_FORMAT, RECORD_FORMAT],
        "tables": {name: list(table) for name, table in tables.items()},
    }
    return (encode(head), *lines)


def test_the_file_holds_each_runs_record_as_its_own_file_gives_it(
    small_scale: tuple[Path, Path],
) -> None:
    _, out = small_scale
    expected = records_of(out)
    stored = decode_cross_runs(iter((out / CROSS_RUNS_PATH).read_bytes().split(b"\n")))
    assert stored == expected
    again = encode_cross_runs(
        {k: r for k, (_, r) in expected.items()}, {k: d for k, (d, _) in expected.items()}
    )
    assert b"".join(again) == (out / CROSS_RUNS_PATH).read_bytes()  # deterministic bytes
    assert len(again) == 1 + len(expected)  # a line of tables, then a line per run
    # the values repeated across runs are held once
    first, second = (record for _, record in list(stored.values())[:2])
    assert first.fields is second.fields and first.parameters is second.parameters
    assert first.uncertainty and second.uncertainty
    methods = {
        id(u.se_method) for r in (first, second) if r.uncertainty for u in r.uncertainty.etas
    }
    assert len(methods) == 1
    status = orjson.loads((out / STATUS_PATH).read_bytes())
    assert status["cross_runs"] == hashlib.sha256((out / CROSS_RUNS_PATH).read_bytes()).hexdigest()


def test_a_one_change_build_reads_no_carried_over_runs_record(
    small_scale_copy: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the file intact, no unchanged run's record is decoded, and the site is the one a
    build that decodes every record makes."""
    results, out = small_scale_copy
    change_run(results, CHANGED)
    reference = shutil.copytree(out, tmp_path / "reference")
    (reference / CROSS_RUNS_PATH).unlink()  # this one decodes each run's record file
    build(small_scale_options(results, reference))
    decoded: list[str] = []
    original = RunRecord.from_bytes

    def counted(data: bytes) -> RunRecord:
        record = original(data)
        decoded.append(record.id)
        return record

    monkeypatch.setattr(RunRecord, "from_bytes", staticmethod(counted))
    result = build(small_scale_options(results, out))
    assert result.rebuilt == 1
    assert set(decoded) <= {CHANGED}  # the change log reads the changed run's old record only
    assert tree_files(out) == tree_files(reference)


def tamper_number(lines: list[Any]) -> None:
    lines[1][3]["etas"][0]["delta_h_true"] = TAMPERED


def tamper_index(lines: list[Any]) -> None:
    lines[1][2][0] = 10**6  # a table reference out of range


def tamper_type(lines: list[Any]) -> None:
    lines[1][3]["etas"][0]["delta_h_true"] = str(TAMPERED)


def tamper_format(lines: list[Any]) -> None:
    lines[0]["format"] = [0, 0]


def tamper_twice(lines: list[Any]) -> None:
    lines.append(lines[1])  # a run listed twice


def restamp(out: Path) -> None:
    """Record the file's present bytes in the status, as if the build wrote them."""
    status = orjson.loads((out / STATUS_PATH).read_bytes())
    status["cross_runs"] = hashlib.sha256((out / CROSS_RUNS_PATH).read_bytes()).hexdigest()
    (out / STATUS_PATH).write_bytes(orjson.dumps(status))


@pytest.mark.parametrize(
    ("tamper", "believed"),
    [
        (tamper_number, False),  # bytes the status does not name
        (tamper_index, True),  # the status names them, but they have not the format's shape
        (tamper_type, True),
        (tamper_format, True),
        (tamper_twice, True),
    ],
    ids=["number", "index", "type", "format", "twice"],
)
def test_a_tampered_file_is_a_cache_miss_never_published(
    small_scale_copy: tuple[Path, Path],
    tmp_path: Path,
    tamper: Callable[[list[Any]], None],
    believed: bool,
) -> None:
    results, out = small_scale_copy
    change_run(results, CHANGED)
    reference = shutil.copytree(out, tmp_path / "reference")
    build(small_scale_options(results, reference))
    lines = [orjson.loads(line) for line in (out / CROSS_RUNS_PATH).read_bytes().split(b"\n")]
    tamper(lines)
    (out / CROSS_RUNS_PATH).write_bytes(b"\n".join(map(orjson.dumps, lines)))
    if believed:
        restamp(out)
        with pytest.raises(RecordError):
            decode_cross_runs(iter((out / CROSS_RUNS_PATH).read_bytes().split(b"\n")))
    result = build(small_scale_options(results, out))
    assert result.rebuilt == 1
    assert tree_files(out) == tree_files(reference)
    assert not any(str(TAMPERED).encode() in c for c in tree_files(out).values())
    # the next build's file is whole again
    assert (out / CROSS_RUNS_PATH).read_bytes() == (reference / CROSS_RUNS_PATH).read_bytes()


@pytest.mark.parametrize("consumed", [0, 1, 3])
def test_a_file_read_by_lines_is_checked_whole_however_much_is_consumed(
    tmp_path: Path, consumed: int
) -> None:
    """The hash covers the bytes the consumer never asked for: a change after them is a miss."""
    from itertools import islice

    from reportgen.write import SiteWriter

    out = tmp_path / "out"
    lines = [b'{"a": 1}', b"[2]", b"", b"last line"]
    content = b"\n".join(lines)
    with SiteWriter(out) as writer:
        writer.write_private(".reportgen/f.jsonl", content)
        writer.write("index.html", b"x")
        writer.publish()
    with SiteWriter(out) as writer:

        def take(found: Any) -> list[bytes]:
            return list(islice(found, consumed))

        digest = hashlib.sha256(content).hexdigest()
        assert writer.previous_verified_lines(".reportgen/f.jsonl", digest, list) == lines
        assert (
            writer.previous_verified_lines(".reportgen/f.jsonl", digest, take) == lines[:consumed]
        )
        other = hashlib.sha256(content + b"\n").hexdigest()
        assert writer.previous_verified_lines(".reportgen/f.jsonl", other, take) is None
        assert writer.previous_verified_lines(".reportgen/gone.jsonl", digest, take) is None


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the rows whose records the cross-run reader decodes from here on."""
    decoded: list[str] = []
    make = cross_runs._slim_decoder

    def counting() -> Callable[[str, object], RunRecord]:
        decode = make()

        def counted(run_id: str, record_json: object) -> RunRecord:
            decoded.append(run_id)
            return decode(run_id, record_json)

        return counted

    monkeypatch.setattr(cross_runs, "_slim_decoder", counting)
    return decoded


def test_a_file_this_install_sealed_is_checked_for_its_shape_only(
    small_scale: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sealed or not, the store gets the same bytes for each row; only an unsealed file has
    every row's record decoded."""
    _, out = small_scale
    status = read_status(out)
    assert status is not None and status.cross_runs is not None
    digest, settings, seal = status.cross_runs, status.settings_hash, status.cross_runs_seal
    assert seal == cross_runs.cross_runs_seal(digest, settings)
    assert cross_runs._sealed(digest, settings, seal)
    assert not cross_runs._sealed(digest, settings, "0" * 64)
    assert not cross_runs._sealed(hashlib.sha256(b"other").hexdigest(), settings, seal)
    assert not cross_runs._sealed(digest, hashlib.sha256(b"other").hexdigest(), seal)
    lines = (out / CROSS_RUNS_PATH).read_bytes().split(b"\n")
    decoded = count_decodes(monkeypatch)
    spooled = {}
    first = orjson.loads(lines[1])[0]
    other_id = [lines[0], lines[1].replace(b'"id":' + orjson.dumps(first), b'"id":"other"')]
    assert other_id[1] != lines[1]
    for sealed in (True, False):
        with tempfile.TemporaryFile() as spool:
            store = RecordStore(spool, lambda run_id: pytest.fail(f"{run_id} lost"))
            for run_id, row in spool_cross_runs(iter(lines), store, sealed):
                store.adopt(run_id, row.entry)
            spooled[sealed] = ({r: store.body(store.entry(r)) for r in store}, dict(store.items()))
            assert len(decoded) == (0 if sealed else len(lines) - 1)
            with pytest.raises(RecordError):  # the shape is checked all the same
                dict(spool_cross_runs(iter(other_id), store, sealed))
        decoded.clear()
    assert spooled[True] == spooled[False]


def test_a_build_decodes_the_rows_of_an_unsealed_file_only(
    small_scale_copy: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    results, out = small_scale_copy
    change_run(results, CHANGED)
    decoded = count_decodes(monkeypatch)
    assert build(small_scale_options(results, out)).rebuilt == 1
    assert decoded == []
    status = orjson.loads((out / STATUS_PATH).read_bytes())
    del status["cross_runs_seal"]  # as a status written by hand, or by another install
    (out / STATUS_PATH).write_bytes(orjson.dumps(status))
    change_run(results, CHANGED)
    assert build(small_scale_options(results, out)).rebuilt == 1
    assert len(decoded) == len(status["runs"])


def test_without_a_per_install_key_the_file_is_unsealed_and_every_row_decoded(
    small_scale_copy: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from reportgen import install_cache

    results, out = small_scale_copy
    monkeypatch.setattr(
        install_cache, "install_cache", lambda: install_cache.InstallCache(None, None)
    )
    change_run(results, CHANGED)
    assert build(small_scale_options(results, out)).rebuilt == 1
    status = orjson.loads((out / STATUS_PATH).read_bytes())
    assert "cross_runs" in status and "cross_runs_seal" not in status
    decoded = count_decodes(monkeypatch)
    change_run(results, CHANGED)
    assert build(small_scale_options(results, out)).rebuilt == 1
    assert sorted(decoded) == sorted(status["runs"])
