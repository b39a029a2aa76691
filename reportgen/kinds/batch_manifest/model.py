"""What a batch-manifest check finds: each listed path mapped to the tree, or not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reportgen.findings import Finding

Shape = Literal["timing", "cv", "runs", "unknown"]
Match = Literal["exact", "relative", "suffix", "ambiguous", "missing"]


@dataclass(frozen=True)
class ListedPath:
    """A path the manifest lists, and the tree path it names (None: missing or ambiguous)."""

    field: str  # "path", "run_dir", "cv_csv", "plots[2]", …
    listed: str  # as written, often an absolute path on the machine that ran the batch
    tree_path: str | None
    match: Match
    matched_parts: int  # trailing path components shared with the tree path
    candidates: tuple[str, ...]  # the equally good tree paths when ambiguous

    @property
    def found(self) -> bool:
        return self.tree_path is not None


@dataclass(frozen=True)
class ManifestEntry:
    """One row: a run, its directory, the files it names and its zeros."""

    index: int
    run: str | None
    run_path: ListedPath | None
    files: tuple[ListedPath, ...]
    placeholder_zeros: tuple[str, ...]  # key paths of values exactly 0

    @property
    def name(self) -> str:
        return self.run or (self.run_path.listed if self.run_path else f"row {self.index}")

    @property
    def present(self) -> bool:
        return self.run_path is not None and self.run_path.found


@dataclass(frozen=True)
class ManifestCheck:
    """A manifest checked against the tree; ``findings`` say what is wrong with it."""

    path: str  # the manifest's tree path
    shape: Shape
    entries: tuple[ManifestEntry, ...]
    unlisted_runs: tuple[str, ...]  # run directories beside it that it does not list
    problem: str | None  # why it could not be read as a manifest
    findings: tuple[Finding, ...]

    @property
    def missing(self) -> tuple[ManifestEntry, ...]:
        return tuple(e for e in self.entries if not e.present)
