"""Who reads each file of the tree: the run kinds, then every registered kind in order of
precedence, each over the files no earlier one claimed; the rest is the *unclaimed* inventory,
with a guess at each file's kind from its name alone (nothing is opened, run or unpickled).

Standard library only: a no-op build claims the tree too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from reportgen.discover import GroupRef, RunRef, Tree
from reportgen.kinds.claims import SNIFF_BYTES, Claim
from reportgen.kinds.interface import Recogniser, RunKind
from reportgen.kinds.registry import PluginProblem, RegisteredKind
from reportgen.kinds.runs import run_kinds
from reportgen.treefile import TREE_FILE

RUN_KIND = "results-run"  # a run's claim: of whichever run kind its results object has
Head = Callable[[str], bytes]  # a file's first SNIFF_BYTES bytes (b"" when unreadable)
Size = Callable[[str], int]  # a file's size in bytes (0 when it cannot be read)

SUFFIX_CLASSES: Mapping[str, str] = {
    ".json": "JSON",
    ".jsonl": "JSON-per-line",
    ".ndjson": "JSON-per-line",
    ".npy": "NumPy array",
    ".npz": "NumPy archive",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".pt": "pickle",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".gif": "image",
    ".webp": "image",
    ".svg": "image",
    ".pdf": "PDF",
    ".ipynb": "notebook",
    ".py": "script",
    ".sh": "script",
    ".csv": "CSV",
    ".tsv": "CSV",
    ".yaml": "YAML",
    ".yml": "YAML",
    ".md": "text",
    ".txt": "text",
    ".log": "text",
}
CLASS_REASONS: Mapping[str, str] = {
    "pickle": "a pickle no kind recognises (never unpickled)",
    "notebook": "a notebook (never executed; its outputs are not read)",
    "script": "a script (never run)",
    "image": "an image beside no run",
}


@dataclass(frozen=True)
class Unclaimed:
    """A file no kind claimed: its guessed kind, size and why it was not used."""

    path: str
    kind: str
    bytes: int
    reason: str


@dataclass(frozen=True)
class TreeClaims:
    studies: tuple[Claim, ...]  # in precedence order, then by directory
    unclaimed: tuple[Unclaimed, ...]  # sorted by path
    problems: tuple[PluginProblem, ...]  # kinds whose recognition raised: their claims dropped


class RunClaims:
    """The run kinds (``kinds.runs``: SNIS, η sweep, control variates, generic) as one
    recogniser, first in precedence: their claims are discovery's runs, each with every file its
    page reads, and the files groups read of their own directory. Which run kind a run is of is
    decided when its results object is read (the run stage; the manifest's ``schema``), never
    while claiming, which opens no file."""

    KIND = RUN_KIND
    needs_head = False  # discovery has decided by name; the run's kind is decided on loading

    def __init__(
        self,
        runs: Sequence[RunRef],
        groups: Sequence[GroupRef] = (),
        kinds: Sequence[RunKind] | None = None,
    ) -> None:
        self.runs = runs
        self.groups = groups  # their own files (a CV batch aggregate) are read by the group stage
        self.kinds = tuple(run_kinds() if kinds is None else kinds)

    @property
    def PATTERNS(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for kind in self.kinds for p in kind.PATTERNS))

    def matches(self, path: str) -> bool:
        return any(kind.matches(path) for kind in self.kinds)

    def sniff(self, head: bytes) -> bool:
        return True

    def claims(
        self, paths: Iterable[str], markers: Collection[str] | None = None
    ) -> tuple[Claim, ...]:
        runs = (Claim(RUN_KIND, ref.directory, tuple(sorted(ref.inputs))) for ref in self.runs)
        groups = (
            Claim(RUN_KIND, g.aggregates[0].rpartition("/")[0], g.aggregates)
            for g in self.groups
            if g.aggregates
        )
        return (*runs, *groups)


def _claims_of(
    recogniser: Recogniser, remaining: list[str], tree: list[str], head: Head
) -> tuple[Claim, ...]:
    """The claims of one kind over the files still unclaimed (a kind with ``CLAIMS_SEE_TREE``
    is given every path of the tree, for its claims' context; it claims unclaimed files only)."""
    candidates = [p for p in remaining if recogniser.matches(p)]
    if not candidates:
        return ()
    if getattr(recogniser, "needs_head", True):
        markers = {p for p in candidates if recogniser.sniff(head(p)[:SNIFF_BYTES])}
    else:
        markers = set(candidates)
    seen = tree if getattr(recogniser, "CLAIMS_SEE_TREE", False) else remaining
    return recogniser.claims(seen, markers) if markers else ()


def claim_tree(tree: Tree, kinds: Sequence[RegisteredKind], head: Head, size: Size) -> TreeClaims:
    """Every file to one claim at most, in precedence order: the runs (of the run kinds),
    then ``kinds``."""
    everything = list(tree.files)
    remaining = [p for p in everything if p != TREE_FILE]
    built_in = RunClaims(tree.runs, tree.groups)
    order: list[tuple[str, str, Recogniser]] = [(RUN_KIND, "built-in", built_in)]
    order += [(k.name, k.origin, k.kind) for k in kinds]
    studies: list[Claim] = []
    problems: list[PluginProblem] = []
    near_misses: dict[str, str] = {}
    for name, origin, recogniser in order:
        try:
            found = _claims_of(recogniser, remaining, everything, head)
        except Exception as exc:  # a broken kind loses its claims, never the build
            reason = f"recognising files raised {type(exc).__name__}: {exc}"[:300]
            problems.append(PluginProblem(origin.removeprefix("plug-in "), reason))
            continue
        available = set(remaining)
        for claim in found:
            files = tuple(p for p in claim.files if p in available)
            if files and name != RUN_KIND:  # runs are paged by the run stage
                studies.append(Claim(name, claim.directory, files, claim.context))
            available -= set(files)
        _note_near_misses(name, recogniser, remaining, available, near_misses)
        remaining = [p for p in remaining if p in available]
    unclaimed = tuple(_unclaimed(p, size(p), near_misses.get(p)) for p in remaining)
    return TreeClaims(tuple(studies), unclaimed, tuple(problems))


def _note_near_misses(
    name: str, recogniser: Recogniser, before: list[str], after: set[str], notes: dict[str, str]
) -> None:
    """Files named like this kind's that it did not claim (their first bytes were not)."""
    for path in before:
        if path in after and path not in notes and recogniser.matches(path):
            notes[path] = f"named like a {name} file, but its content is not one"


def file_class(path: str) -> str:
    return SUFFIX_CLASSES.get(PurePosixPath(path).suffix.lower(), "other")


def _unclaimed(path: str, size: int, near_miss: str | None) -> Unclaimed:
    kind = file_class(path)
    reason = near_miss or CLASS_REASONS.get(kind, "no kind recognises this file")
    return Unclaimed(path, kind, size, reason)


def file_size(root: str) -> Size:
    def size(path: str) -> int:
        try:
            return os.stat(f"{root}/{path}").st_size
        except OSError:
            return 0

    return size


def file_head(root: str) -> Head:
    """Reads a tree file's first ``SNIFF_BYTES`` bytes; an unreadable file has none."""

    def head(path: str) -> bytes:
        try:
            with open(f"{root}/{path}", "rb") as handle:
                return handle.read(SNIFF_BYTES)
        except OSError:
            return b""

    return head
