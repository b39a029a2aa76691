"""The record store: every run's cross-run record encoded once into a scratch file of the build,
decoded on access, so the build process does not hold every run's record.

It must give back exactly the records put in it, write the cross-run records file with the bytes
encoding the records gives, and a record whose bytes do not come back is that run's error
record (and left out of the file), never an error of the build.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import orjson
import pytest
from hypothesis import strategies as st

from reportgen.analysis.record import RunRecord
from reportgen.build import build
from reportgen.build.cross_runs import (
    CROSS_RUNS_PATH,
    spool_cross_runs,
    stored_cross_runs,
    write_cross_runs,
)
from reportgen.build.record_store import SHARED, Entry, RecordStore
from reportgen.build.status import STATUS_PATH
from reportgen.demo import scale_tree
from reportgen.settings import BuildOptions
from tests.conftest import small_scale_options
from tests.test_cross_runs import (
    CHANGED,
    change_run,
    decode_cross_runs,
    encode_cross_runs,
    records_of,
    tree_files,
)

LOST_REASON = "its record could not be read back"


def lost_record(run_id: str) -> RunRecord:
    return RunRecord(run_id, run_id, "error", "", "test", ())


@pytest.fixture
def store() -> Iterator[RecordStore]:
    with tempfile.TemporaryFile() as spool:
        yield RecordStore(spool, lost_record)


def stored(out: Path) -> dict[str, tuple[str, RunRecord]]:
    return decode_cross_runs(iter((out / CROSS_RUNS_PATH).read_bytes().split(b"\n")))


def test_the_store_gives_back_each_record_and_writes_the_files_bytes(
    small_scale: tuple[Path, Path], store: RecordStore
) -> None:
    _, out = small_scale
    expected = records_of(out)
    for _, record in reversed(expected.values()):  # put in out of order: read back by id
        store.add(record)
    assert list(store) == sorted(expected)
    assert dict(store.items()) == {k: r for k, (_, r) in expected.items()}
    digests = {k: d for k, (d, _) in expected.items()}
    assert b"".join(stored_cross_runs(store, digests)) == (out / CROSS_RUNS_PATH).read_bytes()
    again = encode_cross_runs(store, digests)
    assert b"".join(again) == (out / CROSS_RUNS_PATH).read_bytes()
    # a job's share: the bytes of its runs and the shared values they use, decoded elsewhere
    some = sorted(expected)[:3]
    shipped = pickle.loads(pickle.dumps(store.shipped([*some, "no/such/run"])))
    assert dict(shipped.items()) == {k: expected[k][1] for k in some}


def test_a_record_whose_bytes_do_not_come_back_is_that_runs_error_record(
    small_scale: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = small_scale
    expected = records_of(out)
    spool = (tmp_path / "spool").open("w+b")
    store = RecordStore(spool, lost_record)
    for _, record in expected.values():
        store.add(record)
    damaged, *rest = sorted(expected)
    entry: Entry = store.entry(damaged)
    os.pwrite(spool.fileno(), b"x" * entry.length, entry.offset)
    assert store[damaged] == lost_record(damaged)
    assert store.lost == {damaged}
    assert all(store[r] == expected[r][1] for r in rest)
    assert store.shipped([damaged])[damaged] == lost_record(damaged)
    digests = {k: d for k, (d, _) in expected.items()}
    lines = b"".join(stored_cross_runs(store, digests)).split(b"\n")
    file = decode_cross_runs(iter(lines))  # the run's row is left out, the rest as they were
    assert file == {r: expected[r] for r in rest}
    store.close()


def live_records() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, RunRecord))


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_the_build_process_holds_no_runs_record_after_the_run_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """Counted when the cross-run records file is written (the run stage done): every run's
    record is in the store's file, none in this process."""
    runs = 24
    results = scale_tree(tmp_path / "results", seed=1, runs=runs)
    counted: list[int] = []
    original = write_cross_runs

    def counting(*args: Any) -> tuple[str, str | None]:
        counted.append(live_records())
        return original(*args)

    monkeypatch.setattr("reportgen.build.write_cross_runs", counting)
    out = tmp_path / "site"
    before = live_records()  # held by other tests of this process (their fixtures)
    build(BuildOptions(results=results, out=out, jobs=jobs, bootstrap=200))
    assert len(stored(out)) == runs  # every run's record went through the store
    assert counted and counted[0] - before <= 1  # before the store: one a run


@pytest.mark.slow
def test_pooled_and_in_process_builds_write_the_same_bytes(
    small_scale: tuple[Path, Path], tmp_path: Path, always_pooled: None
) -> None:
    """Group jobs carry their runs' stored bytes to the workers: the site is the one a build
    that renders every group here writes."""
    results, out = small_scale  # built with one job
    pooled = tmp_path / "pooled"
    build(BuildOptions(results=results, out=pooled, jobs=2, bootstrap=200))
    mine, theirs = tree_files(out), tree_files(pooled)
    assert mine == theirs
    assert (out / CROSS_RUNS_PATH).read_bytes() == (pooled / CROSS_RUNS_PATH).read_bytes()


def test_a_run_whose_stored_record_is_lost_costs_that_run_not_the_build(
    small_scale_copy: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results, out = small_scale_copy
    change_run(results, CHANGED)
    reference = shutil.copytree(out, tmp_path / "reference")
    build(small_scale_options(results, reference))
    lost = "scale/block_00/sweep_00/E_16/run_01"
    original = RecordStore.body

    def losing(self: RecordStore, entry: Entry) -> bytes | None:
        return None if lost in self and entry == self.entry(lost) else original(self, entry)

    with monkeypatch.context() as patched:
        patched.setattr(RecordStore, "body", losing)
        result = build(small_scale_options(results, out))
    assert result.rebuilt == 1
    assert lost in (out / "index.html").read_text()
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    entry = next(r for r in manifest["runs"] if r["id"] == lost)
    assert entry["status"] == "error" and LOST_REASON in entry["error"]["reason"]
    assert lost not in stored(out)  # the next build reads its own record file
    status = orjson.loads((out / STATUS_PATH).read_bytes())
    assert status["runs"][lost]["ok"] is True  # its page and record file are still good
    assert status["runs"][lost]["read_failed"] is True  # the next build reads it again
    again = build(small_scale_options(results, out))
    assert again.rebuilt == 1 and not again.failed_runs
    # the site is the reference's again (the change log: since the build before, which it was)
    assert without_changes(tree_files(out)) == without_changes(tree_files(reference))
    assert (out / CROSS_RUNS_PATH).read_bytes() == (reference / CROSS_RUNS_PATH).read_bytes()


def without_changes(files: dict[str, bytes]) -> dict[str, bytes]:
    return {path: content for path, content in files.items() if not path.startswith("changes.")}


def test_rows_of_the_previous_file_go_to_the_store_as_they_are_or_encoded_again(
    small_scale: tuple[Path, Path], store: RecordStore
) -> None:
    """A row laid out as this code writes it is stored as its bytes; one laid out otherwise
    (the same JSON with spaces) is decoded, checked and encoded again: the same records."""
    _, out = small_scale
    expected = stored(out)
    lines = (out / CROSS_RUNS_PATH).read_bytes().split(b"\n")
    spaced = [lines[0], *(json.dumps(orjson.loads(line)).encode() for line in lines[1:])]
    for given in (lines, spaced):
        for run_id, row in spool_cross_runs(iter(given), store):
            assert row.digest == expected[run_id][0]
            store.adopt(run_id, row.entry)
        assert {r: (expected[r][0], store[r]) for r in store} == expected
    digests = {k: d for k, (d, _) in expected.items()}
    assert b"".join(stored_cross_runs(store, digests)) == (out / CROSS_RUNS_PATH).read_bytes()


def test_a_one_change_build_decodes_each_record_once(
    small_scale_copy: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The changed run's groups up to the root are rendered in the build process: the root
    decodes every run's record, and the site's pages take those instead of decoding them again."""
    results, out = small_scale_copy
    decoded: list[str] = []
    original = RecordStore.__getitem__

    def counting(self: RecordStore, run_id: str) -> RunRecord:
        decoded.append(run_id)
        return original(self, run_id)

    monkeypatch.setattr(RecordStore, "__getitem__", counting)
    change_run(results, CHANGED)
    build(small_scale_options(results, out))
    monkeypatch.undo()  # the build's decodes counted: reading its file below is not the build's
    runs = len(stored(out))
    assert sorted(set(decoded)) == sorted(stored(out))
    assert len(decoded) == runs


def test_the_stores_shared_values_hold_each_string_once(store: RecordStore) -> None:
    """Runs' parameter pairs made apart (as records from the workers are) come back from the
    store equal, their keys one object across runs and tables."""

    def record(run_id: str, seed: str) -> RunRecord:
        pairs = (("".join(["config.", "lr"]), "0.1"), ("".join(["config.", "seed"]), seed))
        return RunRecord(run_id, run_id, "ok", "", "test", (), parameters=pairs)

    first, second = record("a", "1"), record("b", "2")
    assert first.parameters[0][0] is not second.parameters[0][0]
    store.add(first)
    store.add(second)
    a, b = store["a"], store["b"]
    assert (a, b) == (first, second)
    assert a.parameters[0][0] is b.parameters[0][0] and a.parameters[1][0] is b.parameters[1][0]


def test_the_stores_shared_values_hold_each_pair_once(store: RecordStore) -> None:
    """Two runs' parameters that differ in one pair hold the pairs they have in common once."""

    def record(run_id: str, seed: str) -> RunRecord:
        pairs = tuple(
            ("".join(["config.", key]), "".join(["0.", value]))
            for key, value in (("lr", "1"), ("wd", "2"), ("seed", seed))
        )
        return RunRecord(run_id, run_id, "ok", "", "test", (), parameters=pairs)

    first, second = record("a", "1"), record("b", "2")
    store.add(first)
    store.add(second)
    a, b = store["a"], store["b"]
    assert (a, b) == (first, second) and a.parameters is not b.parameters
    assert a.parameters[0] is b.parameters[0] and a.parameters[1] is b.parameters[1]
    assert a.parameters[2] is not b.parameters[2]


@hypothesis.given(
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.tuples(*(st.integers(0, 2**32 - 1) for _ in SHARED)),
)
def test_an_entry_packs_and_unpacks_to_itself(
    offset: int, length: int, crc: int, refs: tuple[int, ...]
) -> None:
    entry = Entry(offset, length, crc, refs)
    assert Entry.unpacked(entry.packed()) == entry


def test_the_store_keys_a_record_by_the_id_string_it_is_given(store: RecordStore) -> None:
    run_id = "".join(["a/", "run_01"])
    record = RunRecord("a/run_01", "a/run_01", "ok", "", "test", ())
    store.add(record, run_id)
    store.add(RunRecord("b", "b", "ok", "", "test", ()))
    assert [key is run_id for key in store] == [True, False]
    assert store[run_id] == record and store.entry("b") == store.entry("b")
    assert store.entry(run_id).offset == 0 and store.entry("b").offset == store.entry(run_id).length
