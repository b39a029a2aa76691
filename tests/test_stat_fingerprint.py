"""Stat fingerprints: one packed bytes per list of files, matching only the same files with the
same stats under the same names, and read back from the status exactly as written."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import reportgen.build.status as status_module
from reportgen.build.status import (
    RunStatus,
    StatRow,
    files_stats,
    stat_rows,
)


@pytest.fixture(autouse=True)
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by a test have a ctime of now: let them have fingerprints."""
    monkeypatch.setattr(status_module, "RACY_NS", 0)


def _files(root: Path, names: dict[str, bytes]) -> None:
    for name, content in names.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)


def _status(stats: bytes | None) -> RunStatus:
    return RunStatus("h" * 64, stats, "r" * 64, ("runs/a/index.html",), None, ok=True)


def test_rows_are_each_files_stat_in_order(tmp_path: Path) -> None:
    _files(tmp_path, {"a/results.json": b"{}", "a/plan.json": b"[1, 2]"})
    stats = files_stats(["a/results.json", "a/plan.json"], tmp_path)
    assert stats is not None
    expected = []
    for name in ("a/results.json", "a/plan.json"):
        info = os.stat(tmp_path / name)
        expected.append(StatRow(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino))
    assert stat_rows(stats) == tuple(expected)


def test_the_same_files_under_other_names_or_order_do_not_match(tmp_path: Path) -> None:
    _files(tmp_path, {"x.md": b"x", "y.md": b"y"})
    both = files_stats(["x.md", "y.md"], tmp_path)
    assert both is not None
    assert files_stats(["x.md", "y.md"], tmp_path) == both
    assert files_stats(["y.md", "x.md"], tmp_path) != both
    assert files_stats(["x.md"], tmp_path) != both[: len(both) - 32]
    os.link(tmp_path / "x.md", tmp_path / "z.md")  # same inode, size and times, another name
    assert stat_rows(files_stats(["z.md"], tmp_path) or b"") == stat_rows(
        files_stats(["x.md"], tmp_path) or b""
    )
    assert files_stats(["z.md"], tmp_path) != files_stats(["x.md"], tmp_path)


def test_a_missing_or_just_written_file_has_no_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _files(tmp_path, {"old.json": b"{}", "new.json": b"{}"})
    assert files_stats(["old.json", "gone.json"], tmp_path) is None
    monkeypatch.setattr(status_module, "RACY_NS", 3_600 * 10**9)
    assert files_stats(["old.json", "new.json"], tmp_path) is None


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**64 - 1),
            st.integers(-(2**63), 2**63 - 1),
            st.integers(-(2**63), 2**63 - 1),
            st.integers(0, 2**64 - 1),
        ),
        max_size=5,
    ),
    st.binary(min_size=16, max_size=16),
)
def test_a_fingerprint_reads_back_from_the_status_as_written(
    rows: list[tuple[int, int, int, int]], paths: bytes
) -> None:
    stats = paths + b"".join(struct.pack("<QqqQ", *row) for row in rows)
    back = RunStatus.from_json(_status(stats).to_json())
    assert back.stats == stats and stat_rows(stats) == tuple(map(StatRow._make, rows))


def test_a_fingerprint_of_another_shape_is_a_miss_never_a_match() -> None:
    data = _status(None).to_json()
    assert RunStatus.from_json(data).stats is None
    old = data | {"stats": [["a/results.json", 2, 0, 0, 7]]}  # as format 8 wrote it
    assert RunStatus.from_json(old).stats is None
    for damaged in ("zz", "00" * 17, "00" * 15):
        with pytest.raises(ValueError):
            RunStatus.from_json(data | {"stats": damaged})
