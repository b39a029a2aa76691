"""Find runs, their files and the groups above them in a results tree."""

from __future__ import annotations

import fnmatch
import os
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

RESULTS_PATTERN = "*results*.json"
CONFIG_NAMES = ("config.yaml", "config.yml")
# No SVG: a copied SVG runs its own scripts when a reader opens it from the site.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
ARTIFACT_SUFFIXES = IMAGE_SUFFIXES | {".csv", ".json"}
ARTIFACT_DIR_PATTERN = "cv_*"


@dataclass(frozen=True)
class RunRef:
    """A results file and the files that belong to it; paths are POSIX, relative to the root."""

    id: str
    source: str
    directory: str
    plan: str | None = None
    config: str | None = None
    sibling_config: str | None = None
    notes: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every file whose content determines this run's page."""
        extra = (self.plan, self.config, self.sibling_config)
        return (self.source, *(p for p in extra if p), *self.notes, *self.images, *self.artifacts)


@dataclass(frozen=True)
class IncompleteRun:
    """A directory with ``plan.json`` but no results file."""

    directory: str
    plan: str


@dataclass(frozen=True)
class GroupRef:
    """A directory with runs below it."""

    id: str
    run_ids: tuple[str, ...]
    child_group_ids: tuple[str, ...]


@dataclass(frozen=True)
class Tree:
    """Everything discovery found, sorted."""

    root: str
    runs: tuple[RunRef, ...]
    groups: tuple[GroupRef, ...]
    incomplete: tuple[IncompleteRun, ...]


@dataclass(frozen=True)
class Skipped:
    """A path discovery did not follow, with the reason."""

    path: str
    reason: str
    unreadable: bool = False  # could not be listed: runs may be missing, the exit code is 1


def is_results_name(name: str) -> bool:
    return fnmatch.fnmatchcase(name.lower(), RESULTS_PATTERN)


def run_id(source: str) -> str:
    """``a/run_01/results.json`` → ``a/run_01``; other results files keep their stem."""
    path = PurePosixPath(source)
    stem = path.parent / path.stem
    if path.name == "results.json" and str(path.parent) != ".":
        return str(path.parent)
    return str(stem)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def is_utf8_name(name: str) -> bool:
    """Names that are not UTF-8 arrive with surrogate escapes, which no page can encode."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(rel: str) -> str:
    """A path safe to print and render, whatever bytes its name had."""
    return os.fsencode(rel).decode("utf-8", errors="replace")


class _Walker:
    def __init__(self, root: Path, follow_symlinks: bool) -> None:
        self.root = root
        self.real_root = root.resolve()
        self.follow_symlinks = follow_symlinks
        self.visited: set[str] = set()
        self.skipped: list[Skipped] = []

    def _inside_root(self, path: Path) -> bool:
        try:
            real = path.resolve()
            real.relative_to(self.real_root)
            # a link in a loop: Python 3.11 raises RuntimeError, 3.13 returns a link it could
            # not get past
            return not real.is_symlink()
        except (ValueError, OSError, RuntimeError):
            return False

    def _allowed_link(self, path: Path) -> bool:
        if not self.follow_symlinks:
            self.skipped.append(Skipped(_rel(path, self.root), "symbolic link (not followed)"))
            return False
        if not self._inside_root(path):
            self.skipped.append(
                Skipped(_rel(path, self.root), "symbolic link leaving the results tree")
            )
            return False
        return True

    def walk(self, directory: Path) -> list[tuple[Path, list[os.DirEntry[str]]]]:
        """Depth-first listing of (directory, file entries), sorted; links and loops guarded."""
        if self.follow_symlinks:  # only a followed link can lead back to a walked directory
            try:
                real = str(directory.resolve())
            except (OSError, RuntimeError):
                self.skipped.append(Skipped(_rel(directory, self.root), "cannot resolve path"))
                return []
            if real in self.visited:
                return []
            self.visited.add(real)
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            self.skipped.append(
                Skipped(
                    _rel(directory, self.root) or ".",
                    f"unreadable directory ({exc.strerror})",
                    unreadable=True,
                )
            )
            return []
        files: list[os.DirEntry[str]] = []
        below: list[tuple[Path, list[os.DirEntry[str]]]] = []
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                if entry.is_dir(follow_symlinks=False) and entry.name not in (".git", ".reportgen"):
                    self.skipped.append(
                        Skipped(
                            _shown(_rel(path, self.root)),
                            "hidden directory (name starts with a dot)",
                        )
                    )
                continue
            if not is_utf8_name(entry.name):
                self.skipped.append(
                    Skipped(_shown(_rel(path, self.root)), "name is not valid UTF-8")
                )
                continue
            if entry.is_symlink() and not self._allowed_link(path):
                continue
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()
            except OSError:
                continue
            if is_dir:
                if is_results_name(entry.name):
                    files.append(entry)  # becomes a run whose load fails: "not a regular file"
                below.extend(self.walk(path))
            elif is_file:
                files.append(entry)
            else:
                # A FIFO would block every later open(); devices and sockets are not data.
                self.skipped.append(Skipped(_rel(path, self.root), "not a regular file"))
        return [(directory, files), *below]


def _belongings(
    directory: Path, root: Path, files: list[os.DirEntry[str]], skipped: list[Skipped]
) -> dict[str, object]:
    names = {f.name: f for f in files}
    config = next((name for name in CONFIG_NAMES if name in names), None)
    rel_dir = _rel(directory, root)

    def rel(name: str) -> str:
        return f"{rel_dir}/{name}" if rel_dir != "." and rel_dir else name

    artifacts: list[str] = []
    try:
        subdirs = sorted(
            p
            for p in directory.iterdir()
            if p.is_dir()
            and not p.is_symlink()
            and fnmatch.fnmatchcase(p.name, ARTIFACT_DIR_PATTERN)
        )
        for subdir in subdirs:
            artifacts += sorted(
                _rel(p, root)
                for p in subdir.iterdir()
                if p.is_file()
                and not p.is_symlink()
                and p.suffix.lower() in ARTIFACT_SUFFIXES
                and is_utf8_name(p.name)
            )
    except OSError as exc:  # the run builds without them; the index says what was not read
        skipped.append(
            Skipped(rel_dir or ".", f"artifact folder unreadable ({exc.strerror})", unreadable=True)
        )
    return {
        "plan": rel("plan.json") if "plan.json" in names else None,
        "config": rel(config) if config else None,
        "notes": tuple(
            rel(n) for n in sorted(names) if n.lower().endswith(".md") and names[n].is_file()
        ),
        "images": tuple(
            rel(n)
            for n in sorted(names)
            if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES and names[n].is_file()
        ),
        "artifacts": tuple(artifacts),
    }


def discover(root: Path, follow_symlinks: bool = False) -> tuple[Tree, tuple[Skipped, ...]]:
    """Walk ``root`` once and return every run, group and incomplete run, sorted."""
    walker = _Walker(root, follow_symlinks)
    runs: list[RunRef] = []
    incomplete: list[IncompleteRun] = []
    for directory, files in walker.walk(root):
        results = [f for f in files if is_results_name(f.name)]
        rel_dir = _rel(directory, root) if directory != root else ""
        if not results:
            if any(f.name == "plan.json" for f in files):
                plan = f"{rel_dir}/plan.json" if rel_dir else "plan.json"
                incomplete.append(IncompleteRun(rel_dir or ".", plan))
            continue
        belongings = _belongings(directory, root, files, walker.skipped)
        for entry in results:
            source = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            ref = RunRef(id=run_id(source), source=source, directory=rel_dir or ".", **belongings)  # type: ignore[arg-type]
            runs.append(ref)
    runs = _with_sibling_configs(sorted(_distinct_ids(runs), key=lambda r: r.id))
    tree = Tree(
        str(root), tuple(runs), _groups(runs), tuple(sorted(incomplete, key=lambda i: i.directory))
    )
    return tree, tuple(walker.skipped)


def _distinct_ids(runs: list[RunRef]) -> list[RunRef]:
    """Ids made unique, deterministically: ``a/x_results.json`` beside ``a/x_results/results.json``
    (or ``results.json`` beside ``results/results.json``) would both be ``…/x_results``.

    The run whose file is ``<id>/results.json`` keeps the id; the others are named by their
    file's path, which the page shows, and a numeric suffix if even that is taken.
    """
    by_id: dict[str, list[RunRef]] = defaultdict(list)
    for ref in sorted(runs, key=lambda r: r.source):
        by_id[ref.id].append(ref)
    taken = set(by_id)
    out: list[RunRef] = []
    for run_id, refs in by_id.items():
        canonical = next((r for r in refs if r.source == f"{run_id}/results.json"), refs[0])
        out.append(canonical)
        for ref in refs:
            if ref is canonical:
                continue
            new_id, n = ref.source, 2
            while new_id in taken:
                new_id, n = f"{ref.source}-{n}", n + 1
            taken.add(new_id)
            out.append(replace(ref, id=new_id))
    return out


def _parent(directory: str) -> str:
    parent = str(PurePosixPath(directory).parent)
    return "" if parent == "." else parent


def _with_sibling_configs(runs: list[RunRef]) -> list[RunRef]:
    """Runs without config.yaml borrow the first sibling's (only run_01 of a batch keeps one)."""
    first_config: dict[str, str] = {}
    for ref in runs:
        if ref.config is not None:
            first_config.setdefault(_parent(ref.directory), ref.config)
    return [
        ref
        if ref.config is not None
        else _replace_sibling(ref, first_config.get(_parent(ref.directory)))
        for ref in runs
    ]


def _replace_sibling(ref: RunRef, config: str | None) -> RunRef:
    return replace(ref, sibling_config=config)


def _ancestors(directory: str) -> list[str]:
    parts = PurePosixPath(directory).parts if directory not in ("", ".") else ()
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _groups(runs: list[RunRef]) -> tuple[GroupRef, ...]:
    members: dict[str, list[str]] = defaultdict(list)
    for ref in runs:
        for group in _ancestors(ref.directory):
            members[group].append(ref.id)
    children: dict[str, list[str]] = defaultdict(list)
    for group in members:
        parent = _parent(group)
        if parent in members:
            children[parent].append(group)
    return tuple(
        GroupRef(g, tuple(sorted(members[g])), tuple(sorted(children[g]))) for g in sorted(members)
    )
