"""Find runs, their files and the groups above them in a results tree."""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path, PurePosixPath
from typing import Any

from reportgen.vetted import Identity, Vetted, VettedFiles, identity, parent_of, vetted_paths

RESULTS_PATTERN = "*results*.json"
CONFIG_NAMES = ("config.yaml", "config.yml")
# No SVG: a copied SVG runs its own scripts when a reader opens it from the site.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
ARTIFACT_SUFFIXES = IMAGE_SUFFIXES | {".csv", ".json"}
ARTIFACT_DIR_PATTERN = "cv_*"
# a CV batch's aggregate, read by the group of the directory that holds it
GROUP_FILE_NAMES = ("cv_runs_aggregate.csv", "cv_runs_aggregate.json")


@dataclass(frozen=True, slots=True)  # no dict of its own once pickled to a worker
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
    # what discovery saw of each input (never hashed: the roles and bytes decide a rebuild)
    vetted: Vetted = field(default=Vetted(), compare=False, repr=False)

    def roles(self) -> dict[str, Any]:
        """Which file plays which role: what a content hash of the run covers."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "vetted"}

    def vetted_files(self) -> VettedFiles | None:
        """What discovery saw of each input and its directory (``None`` if it saw nothing)."""
        return self.vetted.files(vetted_paths(self.inputs))

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


@dataclass(frozen=True, slots=True)
class GroupRef:
    """A directory with runs below it."""

    id: str
    run_ids: tuple[str, ...]
    child_group_ids: tuple[str, ...]
    aggregates: tuple[str, ...] = ()  # its directory's CV batch aggregate files (not links)


@dataclass(frozen=True)
class Tree:
    """Everything discovery found, sorted."""

    root: str
    runs: tuple[RunRef, ...]
    groups: tuple[GroupRef, ...]
    incomplete: tuple[IncompleteRun, ...]
    files: tuple[str, ...] = ()  # every regular file walked (hidden ones aside): the inventory


@dataclass(frozen=True)
class Skipped:
    """A path discovery did not follow, with the reason."""

    path: str
    reason: str
    unreadable: bool = False  # could not be listed: runs may be missing, the exit code is 1


def is_results_name(name: str) -> bool:
    """Whether ``name`` matches ``RESULTS_PATTERN``, ignoring case (string tests: every name of
    the tree is asked)."""
    lower = name.lower()
    return lower.endswith(".json") and "results" in lower[:-5]


def run_id(source: str) -> str:
    """``a/run_01/results.json`` → ``a/run_01``; other results files keep their stem."""
    parent, _, name = source.rpartition("/")
    if not _is_normal(source) or name.startswith("."):  # pathlib's rules: let it apply them
        path = PurePosixPath(source)
        if path.name == "results.json" and str(path.parent) != ".":
            return str(path.parent)
        return str(path.parent / path.stem)
    if name == "results.json" and parent:
        return parent
    stem = name[: len(name) - len(suffix(name))]
    return f"{parent}/{stem}" if parent else stem


def _is_normal(rel: str) -> bool:
    """A relative POSIX path as discovery writes one: no empty, ``.`` or leading ``/`` part."""
    return bool(rel) and "//" not in f"/{rel}/" and "/./" not in f"/{rel}/"


def suffix(name: str) -> str:
    """``PurePosixPath(name).suffix`` of a file name, with string operations."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


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


@dataclass(frozen=True)
class _File:
    name: str
    identity: Identity
    linked: bool  # reached through a symbolic link discovery chose to follow


def _regular(file: _File) -> bool:
    """A regular file listed under its own name (not reached through a link)."""
    return not file.linked and stat.S_ISREG(file.identity[2])


@dataclass(frozen=True)
class _Listing:
    """One directory as discovery saw it: its identity and the files it holds."""

    directory: str  # as the OS is given it (the root's path, then each name below it)
    rel: str  # POSIX, relative to the root ("" for the root itself)
    identity: Identity
    files: tuple[_File, ...]

    def path(self, name: str) -> str:
        return f"{self.rel}/{name}" if self.rel else name


class _Walker:
    """Lists every directory once. With ``--follow-symlinks``, links to directories are followed
    only after every real directory has been listed, so a link never takes the place of the
    directory it points to; a link back into its own ancestry is a loop, and says so.

    Paths are strings joined as the OS is given them (a tree has tens of thousands)."""

    def __init__(self, root: Path, follow_symlinks: bool) -> None:
        self.root = os.fspath(root)
        self.follow_symlinks = follow_symlinks
        self.real_root = os.path.realpath(root) if follow_symlinks else ""
        self.walked: dict[str, str] = {}  # real path of a listed directory → its path in the tree
        # directory links to follow once the real tree is listed: (path, path in the tree)
        self.links: list[tuple[str, str]] = []
        self.skipped: list[Skipped] = []

    def listings(self) -> list[_Listing]:
        found = self.walk(self.root, "")
        while self.links:
            link, rel = self.links.pop(0)
            real = os.path.realpath(link)
            if real in self.walked:
                listed = self.walked[real] or "."
                self._skip(rel, f"symbolic link to {listed}, which is listed under its own name")
            else:
                found += self.walk(link, rel)
        return found

    def _skip(self, rel: str, reason: str, unreadable: bool = False) -> None:
        self.skipped.append(Skipped(_shown(rel) or ".", reason, unreadable))

    def walk(self, directory: str, rel: str) -> list[_Listing]:
        """Depth-first listing of directories and their files, sorted; links are deferred."""
        try:
            own = identity(os.stat(directory))
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            self._skip(rel, f"unreadable directory ({exc.strerror})", unreadable=True)
            return []
        if self.follow_symlinks:
            self.walked.setdefault(os.path.realpath(directory), rel)
        files: list[_File] = []
        below: list[_Listing] = []
        for entry in entries:
            found = self._entry(entry, f"{rel}/{entry.name}" if rel else entry.name, directory)
            if isinstance(found, _File):
                files.append(found)
            elif found is not None:
                below.extend(self.walk(entry.path, found))
        return [_Listing(directory, rel, own, tuple(files)), *below]

    def _entry(self, entry: os.DirEntry[str], rel: str, directory: str) -> _File | str | None:
        """What one entry is to the listing: a file, a directory to walk (its ``rel``), or
        nothing (skipped, with the reason noted)."""
        if entry.name.startswith("."):
            if entry.is_dir(follow_symlinks=False) and entry.name not in (".git", ".reportgen"):
                self._skip(rel, "hidden directory (name starts with a dot)")
            return None
        if not is_utf8_name(entry.name):
            self._skip(rel, "name is not valid UTF-8")
            return None
        if entry.is_symlink():
            linked = self._link(entry.path, rel, directory)
            return None if linked is None else _File(entry.name, linked, True)
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            return None  # gone since it was listed
        if stat.S_ISDIR(info.st_mode):
            # a directory named like a results file is listed too ("not a regular file")
            return _File(entry.name, identity(info), False) if is_results_name(entry.name) else rel
        if stat.S_ISREG(info.st_mode):
            return _File(entry.name, identity(info), False)
        # A FIFO would block every later open(); devices and sockets are not data.
        self._skip(rel, "not a regular file")
        return None

    def _link(self, path: str, rel: str, directory: str) -> Identity | None:
        """A followed link to a file: its target's identity. Links to directories are queued;
        every other link is listed as skipped with the reason."""
        if not self.follow_symlinks:
            self._skip(rel, "symbolic link (not followed)")
            return None
        try:
            info = os.stat(path)
        except OSError as exc:
            loop = exc.errno == errno.ELOOP
            self._skip(rel, "symbolic link loop" if loop else "symbolic link to nothing")
            return None
        real = os.path.realpath(path)
        if not _is_within(real, self.real_root):
            self._skip(rel, "symbolic link leaving the results tree")
        elif stat.S_ISDIR(info.st_mode):
            if _is_within(os.path.realpath(directory), real):
                self._skip(rel, "symbolic link loop (points to a directory that holds it)")
            else:
                self.links.append((path, rel))
        elif stat.S_ISREG(info.st_mode):
            return identity(info)
        else:
            self._skip(rel, "not a regular file")
        return None


def _is_within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _artifacts(listing: _Listing, skipped: list[Skipped]) -> tuple[list[str], dict[str, Identity]]:
    """Files of the ``cv_*`` folders beside a results file (links not followed), and what
    discovery saw of them and of the folders."""
    files: list[str] = []
    seen: dict[str, Identity] = {}
    try:
        with os.scandir(listing.directory) as scan:
            folders = sorted(
                (
                    e
                    for e in scan
                    if fnmatch.fnmatchcase(e.name, ARTIFACT_DIR_PATTERN)
                    and e.is_dir(follow_symlinks=False)
                ),
                key=lambda e: e.name,
            )
        for folder in folders:
            rel_folder = listing.path(folder.name)
            seen[rel_folder] = identity(folder.stat(follow_symlinks=False))
            with os.scandir(folder.path) as scan:
                wanted = sorted(
                    (
                        e
                        for e in scan
                        if e.is_file(follow_symlinks=False)
                        and suffix(e.name).lower() in ARTIFACT_SUFFIXES
                        and is_utf8_name(e.name)
                    ),
                    key=lambda e: e.name,
                )
            for entry in wanted:
                rel = f"{rel_folder}/{entry.name}"
                seen[rel] = identity(entry.stat(follow_symlinks=False))
                files.append(rel)
    except OSError as exc:  # the run builds without them; the index says what was not read
        reason = f"artifact folder unreadable ({exc.strerror})"
        skipped.append(Skipped(listing.rel or ".", reason, unreadable=True))
    return files, seen


Seen = tuple[dict[str, Identity], set[str]]  # identities by path, and paths reached by links


def _belongings(
    listing: _Listing, named: Mapping[str, str], skipped: list[Skipped]
) -> tuple[dict[str, object], Seen]:
    """The roles of the files beside results files (``named``: their paths), and what was seen."""
    names = {f.name: f for f in listing.files}
    config = next((name for name in CONFIG_NAMES if name in names), None)
    artifacts, seen_artifacts = _artifacts(listing, skipped)
    regular = sorted(n for n, f in names.items() if stat.S_ISREG(f.identity[2]))
    roles: dict[str, object] = {
        "plan": named.get("plan.json"),
        "config": named[config] if config else None,
        "notes": tuple(named[n] for n in regular if n.lower().endswith(".md")),
        "images": tuple(named[n] for n in regular if suffix(n).lower() in IMAGE_SUFFIXES),
        "artifacts": tuple(artifacts),
    }
    seen = {listing.rel or ".": listing.identity, **seen_artifacts}
    seen.update((named[f.name], f.identity) for f in listing.files)
    linked = {named[f.name] for f in listing.files if f.linked}
    return roles, (seen, linked)


def discover(root: Path, follow_symlinks: bool = False) -> tuple[Tree, tuple[Skipped, ...]]:
    """Walk ``root`` once and return every run, group and incomplete run, sorted."""
    walker = _Walker(root, follow_symlinks)
    runs: list[RunRef] = []
    incomplete: list[IncompleteRun] = []
    listed: list[str] = []
    aggregates: dict[str, tuple[str, ...]] = {}
    seen: dict[str, Seen] = {}  # by the directory of runs
    for listing in walker.listings():
        named = {f.name: listing.path(f.name) for f in listing.files}  # one string a file
        results = [f for f in listing.files if is_results_name(f.name)]
        listed += (named[f.name] for f in listing.files if stat.S_ISREG(f.identity[2]))
        own = [f.name for f in listing.files if f.name in GROUP_FILE_NAMES and _regular(f)]
        if own and listing.rel:
            aggregates[listing.rel] = tuple(named[name] for name in own)
        if not results:
            if "plan.json" in named:
                incomplete.append(IncompleteRun(listing.rel or ".", named["plan.json"]))
            continue
        roles, seen[listing.rel or "."] = _belongings(listing, named, walker.skipped)
        for entry in results:
            source = named[entry.name]
            ref = RunRef(id=run_id(source), source=source, directory=listing.rel or ".", **roles)  # type: ignore[arg-type]
            runs.append(ref)
    runs = _vetted(sorted(_distinct_ids(runs), key=lambda r: r.id), seen)
    runs, groups = _fold_distinct(runs, _groups(runs, aggregates))
    incomplete.sort(key=lambda i: i.directory)
    tree = Tree(str(root), tuple(runs), groups, tuple(incomplete), tuple(sorted(listed)))
    return tree, tuple(walker.skipped)


def folded(name: str) -> str:
    """A name as case-insensitive file systems compare it (macOS, Windows): case-folded and
    in one Unicode normal form (NFC and NFD spellings of "é" are one name there)."""
    return unicodedata.normalize("NFC", name).casefold()


def _fold_distinct(
    runs: list[RunRef], groups: tuple[GroupRef, ...]
) -> tuple[list[RunRef], tuple[GroupRef, ...]]:
    """Ids made distinct where they differ only in letter case or Unicode normal form, so no
    two site paths are one path on a case-insensitive host: of sibling names that fold alike,
    the first (sorted) keeps its name and the others become ``name~2``, ``name~3``."""
    paths = {r.id for r in runs} | {g.id for g in groups}
    prefixes = {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 2)}
    renamed: dict[str, str] = {}  # a path → its new last part
    siblings: dict[str, list[str]] = defaultdict(list)
    for prefix in sorted(prefixes):
        siblings[prefix.rpartition("/")[0]].append(prefix)
    for members in siblings.values():
        taken: set[str] = set()
        for path in members:
            name = path.rpartition("/")[2]
            new, n = name, 2
            while folded(new) in taken:
                new, n = f"{name}~{n}", n + 1
            taken.add(folded(new))
            if new != name:
                renamed[path] = new
    if not renamed:
        return runs, groups

    def rename(path: str) -> str:
        parts = path.split("/")
        return "/".join(renamed.get("/".join(parts[: i + 1]), part) for i, part in enumerate(parts))

    new_runs = sorted((replace(r, id=rename(r.id)) for r in runs), key=lambda r: r.id)
    new_groups = tuple(
        sorted(
            (
                replace(
                    g,
                    id=rename(g.id),
                    run_ids=tuple(sorted(map(rename, g.run_ids))),
                    child_group_ids=tuple(sorted(map(rename, g.child_group_ids))),
                )
                for g in groups
            ),
            key=lambda g: g.id,
        )
    )
    return new_runs, new_groups


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
        for ref in (r for r in refs if r is not canonical):
            new_id, n = ref.source, 2
            while new_id in taken:
                new_id, n = f"{ref.source}-{n}", n + 1
            taken.add(new_id)
            out.append(replace(ref, id=new_id))
    return out


def _parent(directory: str) -> str:
    parent = parent_of(directory)  # string operations: discovery's paths are already normal
    return "" if parent == "." else parent


def _vetted(runs: list[RunRef], seen: Mapping[str, Seen]) -> list[RunRef]:
    """Each run carrying what discovery saw of its inputs; one without config.yaml borrows the
    first sibling's (only run_01 of a batch keeps one)."""
    first_config: dict[str, str] = {}
    for ref in runs:
        if ref.config is not None:
            first_config.setdefault(_parent(ref.directory), ref.config)
    return [
        _vetted_for(
            ref, seen, first_config.get(_parent(ref.directory)) if ref.config is None else None
        )
        for ref in runs
    ]


def _vetted_for(ref: RunRef, seen: Mapping[str, Seen], sibling_config: str | None) -> RunRef:
    """``ref`` (given its sibling's config) carrying the identities of its own inputs and their
    directories only, from what discovery saw in its directory (and its sibling's)."""
    identities, linked = seen[ref.directory]
    if sibling_config is not None:
        ref = replace(ref, sibling_config=sibling_config)
        lender, lender_linked = seen[parent_of(sibling_config)]
        identities, linked = {**identities, **lender}, linked | lender_linked
    vetted = Vetted.of(vetted_paths(ref.inputs), identities, linked)
    same = ref.id == ref.directory  # then one string for both (a tree has one a run)
    return replace(ref, id=ref.directory if same else ref.id, vetted=vetted)


def _ancestors(directory: str) -> list[str]:
    parts = directory.split("/") if directory not in ("", ".") else []
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _groups(runs: list[RunRef], aggregates: dict[str, tuple[str, ...]]) -> tuple[GroupRef, ...]:
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
        GroupRef(g, tuple(sorted(members[g])), tuple(sorted(children[g])), aggregates.get(g, ()))
        for g in sorted(members)
    )
