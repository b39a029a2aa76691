"""Memos of work done away from the writer (a group page, perhaps in a worker process): read
from the previous site when its bytes are those its build recorded, else computed."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.write import VerifiedFiles, memo_path

if TYPE_CHECKING:  # numpy only for draws memos: a no-op build never imports it
    import numpy as np
    import numpy.typing as npt


class MemoReader:
    """Memos for work done away from the writer (a group page, perhaps in a worker process).

    A memo the previous site holds with the bytes its previous build recorded (``digests``, by
    memo path) is read from it and listed in ``reused`` (``previous`` is ``None`` for
    ``--force``: recompute everything); any other is computed and kept in ``computed``. Both go
    to ``SiteWriter.store_memos``. Thread-safe; ``compute`` runs outside the lock.
    """

    def __init__(self, previous: Path | None, digests: Mapping[str, str] | None = None) -> None:
        self.previous = previous
        self.stored = VerifiedFiles(previous or Path(), digests or {})
        self.computed: dict[str, bytes] = {}
        self.reused: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def memo(self, name: str, compute: Callable[[], bytes]) -> bytes:
        with self._lock:
            known = self.computed.get(name, self.reused.get(name))
        if known is not None:
            return known
        content = self._stored(name)
        if content is not None:
            with self._lock:
                return self.reused.setdefault(name, content)
        content = compute()
        with self._lock:
            return self.computed.setdefault(name, content)

    def _stored(self, name: str) -> bytes | None:
        return None if self.previous is None else self.stored.read(memo_path(name))


def npy_memo(
    memo: Callable[[str, Callable[[], bytes]], bytes], prefix: str
) -> Callable[[str, Callable[[], npt.NDArray[np.float64]]], npt.NDArray[np.float64]]:
    """``memo`` for float arrays, stored as ``.npy`` (no pickles); a key ``"kind:name"`` names its
    file by ``kind`` instead of ``prefix``."""
    import numpy as np

    def array_memo(
        key: str, compute: Callable[[], npt.NDArray[np.float64]]
    ) -> npt.NDArray[np.float64]:
        # sharded by the key's first two characters, as git stores objects: a 10,000-run
        # tree's thousands of draws never pile up in one directory
        computed: list[npt.NDArray[np.float64]] = []

        def as_npy() -> bytes:
            computed.append(compute())
            buffer = io.BytesIO()
            np.save(buffer, computed[0], allow_pickle=False)
            return buffer.getvalue()

        kind, _, name = key.rpartition(":")
        content = memo(f"{name[:2]}/{kind or prefix}-{name}.npy", as_npy)
        if computed:
            return computed[0]
        try:
            array: npt.NDArray[np.float64] = np.load(io.BytesIO(content), allow_pickle=False)
        except (ValueError, OSError):  # unreadable memo: compute, do not store
            return compute()
        return array

    return array_memo
