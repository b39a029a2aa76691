"""The status file: one JSON document laid out an entry a line, read back an entry at a time.

It must read back to exactly what a whole-document parse gives (of its own layout and of any
other, such as a hand-edited file), hold no more than one entry's parse at once, and treat a
broken layout as a malformed file (a full rebuild), never as a crash.
"""

from __future__ import annotations

import tracemalloc
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportgen.build.status import STATUS_PATH, BuildStatus
from reportgen.build.status_file import read_status, status_pieces


def status_of(out: Path) -> BuildStatus:
    status = read_status(out)
    assert status is not None
    return status


def test_the_file_is_one_document_an_entry_a_line(small_scale: tuple[Path, Path]) -> None:
    _, out = small_scale
    raw = (out / STATUS_PATH).read_bytes()
    data = orjson.loads(raw)  # one JSON document
    status = status_of(out)
    entries = len(data["files"]) + len(data["groups"]) + len(data["runs"]) + len(data["studies"])
    assert raw.count(b"\n") == 1 + 4 * 2 + entries + 1  # head, sections opened and closed, end
    assert data["runs"].keys() == status.runs.keys() and len(status.runs) == 10
    assert b"".join(status_pieces(status)) == raw  # what it reads is what it wrote


@pytest.mark.parametrize("layout", ["compact", "indented"])
def test_any_other_layout_reads_the_same(
    small_scale: tuple[Path, Path], tmp_path: Path, layout: str
) -> None:
    _, out = small_scale
    data = orjson.loads((out / STATUS_PATH).read_bytes())
    option = orjson.OPT_INDENT_2 if layout == "indented" else 0
    (tmp_path / STATUS_PATH).parent.mkdir(parents=True)
    (tmp_path / STATUS_PATH).write_bytes(orjson.dumps(data, option=option))
    assert status_of(tmp_path) == status_of(out)


def test_a_malformed_entry_is_left_out_and_a_broken_layout_is_no_status(
    small_scale: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = small_scale
    lines = (out / STATUS_PATH).read_bytes().split(b"\n")
    victim = next(i for i, line in enumerate(lines) if line.startswith(b',"scale/'))
    run_id = orjson.loads(b"{" + lines[victim][1:] + b"}").popitem()[0]
    (tmp_path / ".reportgen").mkdir()
    broken = [*lines[:victim], b"," + orjson.dumps(run_id) + b':{"ok":"no"}', *lines[victim + 1 :]]
    (tmp_path / STATUS_PATH).write_bytes(b"\n".join(broken))
    read = status_of(tmp_path)
    assert set(read.runs) == set(status_of(out).runs) - {run_id}
    no_comma = [*lines[:victim], lines[victim][1:], *lines[victim + 1 :]]
    for damaged in (no_comma, lines[:victim], [*lines[:victim], b"not json", *lines[victim:]]):
        (tmp_path / STATUS_PATH).write_bytes(b"\n".join(damaged))
        assert read_status(tmp_path) is None


def transient_bytes(status: BuildStatus, out: Path) -> int:
    """What reading the status file allocates beyond what the status it gives holds."""
    (out / STATUS_PATH).parent.mkdir(parents=True, exist_ok=True)
    (out / STATUS_PATH).write_bytes(b"".join(status_pieces(status)))
    tracemalloc.start()
    try:
        read = read_status(out)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read is not None and len(read.runs) == len(status.runs)
    return peak - held


def test_reading_holds_one_entry_at_a_time(small_scale: tuple[Path, Path], tmp_path: Path) -> None:
    """Ten times the runs, about the same transient: under 100 bytes more a run (the dict of
    entries growing), where a whole-document parse holds ~18 KB more a run."""
    status = status_of(small_scale[1])
    entry = next(iter(status.runs.values()))

    def with_runs(count: int) -> BuildStatus:
        return replace(status, runs={f"run_{i:05d}": entry for i in range(count)})

    small = transient_bytes(with_runs(300), tmp_path / "small")
    large = transient_bytes(with_runs(3000), tmp_path / "large")
    assert large - small < 100 * (3000 - 300), (small, large)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_damaged_status_file_is_a_status_or_none_never_an_error(
    small_scale: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Cut short, a byte changed, a line dropped or doubled: the reader gives a status (each
    entry it keeps well-formed) or none, and never raises."""
    raw = (small_scale[1] / STATUS_PATH).read_bytes()
    lines = raw.split(b"\n")
    damage = data.draw(st.sampled_from(["cut", "byte", "drop", "double"]))
    if damage == "cut":
        damaged = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif damage == "byte":
        at = data.draw(st.integers(0, len(raw) - 1))
        damaged = raw[:at] + bytes([data.draw(st.integers(0, 255))]) + raw[at + 1 :]
    else:
        at = data.draw(st.integers(0, len(lines) - 1))
        kept = lines[:at] + lines[at + 1 :] if damage == "drop" else lines[: at + 1] + lines[at:]
        damaged = b"\n".join(kept)
    out = tmp_path_factory.mktemp("damaged")
    (out / STATUS_PATH).parent.mkdir(parents=True)
    (out / STATUS_PATH).write_bytes(damaged)
    status = read_status(out)
    if status is not None:
        assert all(isinstance(run.files, tuple) for run in status.runs.values())


@pytest.mark.parametrize("layout", ["lines", "compact"])
def test_a_path_is_one_string_however_many_entries_name_it(
    small_scale: tuple[Path, Path], tmp_path: Path, layout: str
) -> None:
    _, out = small_scale
    if layout == "compact":
        data = orjson.loads((out / STATUS_PATH).read_bytes())
        (tmp_path / STATUS_PATH).parent.mkdir(parents=True)
        (tmp_path / STATUS_PATH).write_bytes(orjson.dumps(data))
        out = tmp_path
    status = status_of(out)
    site = {id(path) for path in status.files}
    named = [path for run in status.runs.values() for path in run.files]
    named += [path for run in status.runs.values() for path, _ in run.private]
    named += [path for group in status.groups.values() for path in group.files]
    assert named and all(id(path) in site for path in named)
    stamps = {id(run.last_good) for run in status.runs.values()}
    counts = {id(run.findings) for run in status.runs.values()}
    assert len(stamps) == 1 and len(counts) < len(status.runs)
