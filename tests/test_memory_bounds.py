"""Memory that must not grow with a limit or with the tree: reading a small input allocates
about its size, whatever ``--max-file-size`` allows."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from reportgen.load.inputs import LoadError, _read_up_to, read_bytes

LIMIT = 256 * 1024 * 1024  # the default --max-file-size


def test_a_small_input_is_read_without_allocating_the_limit(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_bytes(b"{}" * 512)
    tracemalloc.start()
    try:
        data = read_bytes(tmp_path, "results.json", None, LIMIT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data == b"{}" * 512
    assert peak < 1024 * 1024  # the 1 KiB file and the reader's own buffer, not 256 MiB


def test_a_file_at_the_limit_is_read_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    (tmp_path / "at.json").write_bytes(b"x" * 1000)
    (tmp_path / "above.json").write_bytes(b"x" * 1001)
    assert len(read_bytes(tmp_path, "at.json", None, 1000)) == 1000
    with pytest.raises(LoadError, match="above the limit"):
        read_bytes(tmp_path, "above.json", None, 1000)


@pytest.mark.parametrize(("content", "expected"), [(b"abc", b"abc"), (b"a" * 20, b"a" * 9)])
def test_a_file_that_grew_since_its_stat_is_read_on_to_the_limit(
    content: bytes, expected: bytes
) -> None:
    # the stat said 3 bytes (so 4 are asked for first); the limit is 8: one byte more than the
    # limit is what tells the caller the file is too large
    assert _read_up_to(io.BufferedReader(io.BytesIO(content)), 4, 8) == expected
