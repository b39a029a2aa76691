"""A file written from pieces made as they are asked for, or from pieces already made: the same
bytes as a whole write, the previous site's file linked when the bytes are equal, and no piece
made before it is wanted."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reportgen.write as write_module
from reportgen.write import SiteWriter, WriteError

PATH = "group/summary.json"


def _publish(out: Path, pieces: list[bytes]) -> SiteWriter:
    with SiteWriter(out) as writer:
        writer.write_streamed(PATH, iter(pieces))
        writer.publish()
    return writer


def test_pieces_are_made_one_at_a_time_as_they_are_written(tmp_path: Path) -> None:
    made: list[int] = []
    written_before: list[int] = []
    target = tmp_path / "site" / PATH

    def pieces() -> Iterator[bytes]:
        for i in range(3):
            made.append(i)
            # what is on disk when the piece is made: every earlier piece, already written
            written_before.append(target.stat().st_size if target.exists() else 0)
            yield bytes([65 + i]) * 100_000

    with SiteWriter(tmp_path / "site") as writer:
        staging = Path(writer._staging)
        target = staging / PATH
        writer.write_streamed(PATH, pieces())
        assert target.read_bytes() == b"A" * 100_000 + b"B" * 100_000 + b"C" * 100_000
    assert made == [0, 1, 2]
    assert written_before[0] == 0
    assert written_before[2] > 0  # the first pieces reached the file before the last was made


def test_unchanged_bytes_link_the_previous_file_and_changed_bytes_are_written(
    tmp_path: Path,
) -> None:
    out = tmp_path / "site"
    first = _publish(out, [b"{", b'"a": 1', b"}\n"])
    assert first.log.written == [PATH]
    inode = (out / PATH).stat().st_ino

    same = _publish(out, [b'{"a"', b": 1}\n"])  # other cuts, the same bytes
    assert same.log.kept == [PATH] and same.log.written == []
    assert (out / PATH).stat().st_ino == inode

    for changed in ([b'{"a": 1}\n', b" "], [b'{"a": 1}'], [b'{"a": 2}\n'], []):
        writer = _publish(out, changed)
        assert writer.log.written == [PATH], changed
        assert (out / PATH).read_bytes() == b"".join(changed)


@settings(max_examples=40, deadline=None)
@given(
    before=st.lists(st.binary(max_size=20), max_size=5),
    after=st.lists(st.binary(max_size=20), max_size=5),
)
def test_the_file_holds_the_pieces_and_is_kept_exactly_when_equal(
    before: list[bytes], after: list[bytes]
) -> None:
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "site"
        _publish(out, before)
        writer = _publish(out, after)
        assert (out / PATH).read_bytes() == b"".join(after)
        kept = b"".join(before) == b"".join(after)
        assert writer.log.kept == ([PATH] if kept else [])
        assert writer.log.written == ([] if kept else [PATH])
        assert os.listdir(work) == ["site"]  # nothing left beside it


def _cut(content: bytes, cuts: list[int]) -> tuple[bytes, ...]:
    edges = [0, *sorted(min(c, len(content)) for c in cuts), len(content)]
    return tuple(content[a:b] for a, b in pairwise(edges))


@settings(max_examples=60, deadline=None)
@given(
    before=st.binary(max_size=40),
    cuts=st.lists(st.integers(0, 40), max_size=4),
    flipped=st.none() | st.integers(0, 39),
)
def test_a_write_in_pieces_of_the_previous_size_is_kept_exactly_when_equal(
    before: bytes, cuts: list[int], flipped: int | None
) -> None:
    """Pieces as long as the previous file (the only ones compared byte for byte): a link to
    it when every byte is the same, however the pieces cut them; a new file otherwise."""
    after = bytearray(before)
    if flipped is not None and flipped < len(after):
        after[flipped] ^= 1
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "site"
        for content in (before, bytes(after)):
            with SiteWriter(out) as writer:
                writer.write(PATH, _cut(content, cuts))
                writer.publish()
        assert (out / PATH).read_bytes() == bytes(after)
        kept = bytes(after) == before
        assert writer.log.kept == ([PATH] if kept else [])
        assert writer.log.written == ([] if kept else [PATH])


def test_a_piece_that_fails_leaves_nothing_written_or_claimed(tmp_path: Path) -> None:
    def pieces() -> Iterator[bytes]:
        yield b'{"runs": ['
        raise ValueError("no JSON form")

    with SiteWriter(tmp_path / "site") as writer:
        with pytest.raises(ValueError, match="no JSON form"):
            writer.write_streamed(PATH, pieces())
        assert not (Path(writer._staging) / PATH).exists() and PATH not in writer.claimed
        writer.write(PATH, b'{"error": "no JSON form"}')  # the path is free for what stands in
        writer.publish()
    assert (tmp_path / "site" / PATH).read_bytes() == b'{"error": "no JSON form"}'


def test_directories_forgotten_by_the_writer_are_made_again_when_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer remembers the latest directories it made only: a file in one it forgot (or
    in one it never made) is still written, and a path twice is still refused."""
    monkeypatch.setattr(write_module, "DIRECTORIES_HELD", 2)
    out = tmp_path / "site"
    paths = [f"runs/{n}/index.html" for n in ("a", "b", "c", "d")] + ["runs/a/summary.json"]
    paths += ["runs/a/deeper/x.csv", "runs/e/f.json"]
    with SiteWriter(out) as writer:
        for path in paths:
            writer.write(path, path.encode())
        with pytest.raises(WriteError):
            writer.write("runs/a/index.html", b"again")
        writer.publish()
    assert {p: (out / p).read_bytes() for p in paths} == {p: p.encode() for p in paths}
    assert writer.claimed == set(paths)
