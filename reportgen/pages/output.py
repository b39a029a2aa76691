"""What every page function returns: the files it made and, for a run, its record."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.record import RunRecord


@dataclass(frozen=True)
class PageOutput:
    """Site-relative paths and their bytes, in writing order; only the build writes them."""

    files: tuple[tuple[str, bytes], ...]
    record: RunRecord | None = None

    @property
    def ok(self) -> bool:
        return self.record is None or self.record.ok

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.files)
