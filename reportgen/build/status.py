"""The build status file: what the previous build read and produced, keyed by content hashes.

``OUT/.reportgen/status.json`` is the build's private state, not part of the published site:
besides content hashes and record digests it holds stat fingerprints (inode, mtime, ctime),
which are local to one machine by nature, and the wall-clock time of each run's last good read,
which the stale banner needs. Everything outside ``.reportgen/`` is byte-identical for the same
inputs; this file is the one documented exception (see ``tests/test_incremental.py``).
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from reportgen.build.page_span import PageSpan, span_from_json, span_parts
from reportgen.discover import RunRef
from reportgen.figures import Figure, FigureList, FigureSource, TableFile
from reportgen.findings import SEVERITIES, Finding, empty_counts, severity_counts, shared_counts
from reportgen.vetted import open_vetted
from reportgen.write import MEMO_DIR, is_site_path

if TYPE_CHECKING:
    from reportgen.analysis.record import RunRecord

# 5: finding counts; 6: digests of private files, group records, figures; 7: group findings;
# 8: the experiment kinds' studies; 9: stat fingerprints packed; 10: a run page's content span;
# 11: each figure file's key and digest
STATUS_FORMAT = 11
STATUS_PATH = ".reportgen/status.json"
# A file modified this recently may change again within the same timestamp tick, so its stat
# fingerprint is not recorded and the next build hashes it again (git's "racy clean" problem).
RACY_NS = 2_000_000_000
NO_PATHS: Mapping[str, str] = {}


# A stat fingerprint of a list of files, packed in one bytes (a build keeps one per run, for the
# next status file): a digest of the paths in order, then one row per file.
StatFingerprint = bytes
_PATHS_DIGEST = 16
_STAT_ROW = struct.Struct("<QqqQ")  # size, mtime_ns, ctime_ns, inode


class StatRow(NamedTuple):
    """One file's part of a ``StatFingerprint``."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int


def stat_rows(stats: StatFingerprint) -> tuple[StatRow, ...]:
    """The rows of a fingerprint, one per file, in the files' order."""
    return tuple(map(StatRow._make, _STAT_ROW.iter_unpack(stats[_PATHS_DIGEST:])))


@dataclass(frozen=True, slots=True)
class RunStatus:
    """One run as the previous build left it: its input hash, record digest and files.

    The record itself is the run's private ``record.json`` (one of ``files``), not part of this
    file: an up-to-date build compares hashes only and never reads a record, and the status of a
    10,000-run site stays a few MB (with the records inline it was 300 MB, read by every build).
    """

    input_hash: str
    stats: StatFingerprint | None
    record_hash: str  # sha256 of the record's JSON: a group page's key covers its members
    files: tuple[str, ...]
    last_good: str | None
    ok: bool
    stale: bool = False
    unreadable: tuple[str, ...] = ()  # "path (reason)": inputs an OS error kept from being read
    # The last read of the run failed: the next build reads it again, whatever its hash says
    # (the bytes hashed by the planner may not be the bytes the loader read).
    read_failed: bool = False
    # (path, sha256) of its other private files (page content, sample): checked before use
    private: tuple[tuple[str, str], ...] = ()
    figures: FigureList | None = None  # what its page exported (--figures)
    # the record's findings by severity, so an up-to-date build can gate on them unread
    findings: Mapping[str, int] = field(default_factory=empty_counts)
    # where its page's content lies in its page file (``None``: a stale page, or a run page
    # whose content is kept as a private file instead)
    page_span: PageSpan | None = None

    def digest(self, path: str) -> str | None:
        """The sha256 the build recorded for one of its private files."""
        return next((d for p, d in self.private if p == path), None)

    @classmethod
    def of(
        cls,
        record: RunRecord,
        record_hash: str,
        input_hash: str,
        stats: StatFingerprint | None,
        files: tuple[str, ...],
        last_good: str | None,
        read_failed: bool = False,
        private: tuple[tuple[str, str], ...] = (),
        figures: FigureList | None = None,
        page_span: PageSpan | None = None,
    ) -> RunStatus:
        unreadable = tuple(f"{s.path} ({s.reason})" for s in record.skipped_inputs if s.unreadable)
        return cls(
            input_hash,
            stats,
            record_hash,
            files,
            last_good,
            ok=record.ok,
            stale=record.stale is not None,
            unreadable=unreadable,
            read_failed=read_failed,
            private=private,
            figures=figures,
            findings=shared_counts(severity_counts(record.findings)),
            page_span=page_span,
        )

    @property
    def has_good_page(self) -> bool:
        """Its pages show a good read: tonight's, or the last one kept as stale."""
        return self.ok or self.stale

    def to_json(self) -> dict[str, Any]:
        return {
            "input_hash": self.input_hash,
            "stats": _stats_json(self.stats),
            "record_hash": self.record_hash,
            "files": list(self.files),
            "last_good": self.last_good,
            "ok": self.ok,
            "stale": self.stale,
            "unreadable": list(self.unreadable),
            "read_failed": self.read_failed,
            "private": [list(p) for p in self.private],
            "figures": figures_to_json(self.figures),
            "findings": dict(self.findings),
            "page_span": None if self.page_span is None else list(span_parts(self.page_span)),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], known: Mapping[str, str] = NO_PATHS) -> RunStatus:
        """Inverse of ``to_json``; ``ValueError`` (this run is a cache miss) for a path outside
        the site or a value of the wrong type. A path in ``known`` is that string (one object
        for a path however many entries name it)."""
        return cls(
            input_hash=str(data["input_hash"]),
            stats=_stats_from_json(data["stats"]),
            record_hash=str(data["record_hash"]),
            files=shared_paths(data["files"], known),
            last_good=None if data.get("last_good") is None else _stamp(str(data["last_good"])),
            ok=data["ok"] is True,
            stale=data["stale"] is True,
            unreadable=tuple(str(u) for u in data["unreadable"]),
            read_failed=data.get("read_failed") is not False,
            private=digests(data["private"], known),
            figures=figures_from_json(data["figures"]),
            findings=shared_counts({s: int(data["findings"][s]) for s in SEVERITIES}),
            page_span=span_from_json(data["page_span"]),
        )


@dataclass(frozen=True)
class GroupStatus:
    """A group page's inputs (hashed) and files, so an untouched group is carried over, with the
    sha256 of its private files (its record, the draws memos it used) and its figure list."""

    key: str
    files: tuple[str, ...]
    private: tuple[tuple[str, str], ...] = ()
    figures: FigureList | None = None
    findings: tuple[Finding, ...] = ()  # the group's own (index and diagnostics list them)
    verdicts: tuple[tuple[str, str | None], ...] = ()  # per population its pooled verdict

    def digest(self, path: str) -> str | None:
        return next((d for p, d in self.private if p == path), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "files": list(self.files),
            "private": [list(p) for p in self.private],
            "figures": figures_to_json(self.figures),
            "findings": [asdict(f) for f in self.findings],
            "verdicts": [list(v) for v in self.verdicts],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], known: Mapping[str, str] = NO_PATHS) -> GroupStatus:
        return cls(
            str(data["key"]),
            shared_paths(data["files"], known),
            digests(data["private"], known),
            figures_from_json(data["figures"]),
            tuple(group_finding(f) for f in data["findings"]),
            tuple((str(p), None if v is None else str(v)) for p, v in data["verdicts"]),
        )


def group_finding(data: Mapping[str, Any]) -> Finding:
    """A group finding as the status keeps it; ``ValueError`` for another shape."""
    severity = data["severity"]
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r}")
    eta = data["eta"]
    return Finding(
        str(data["id"]),
        severity,
        str(data["message"]),
        None if eta is None else float(eta),
        str(data["section"]),
        tuple(float(e) for e in data["etas"]),
    )


def site_paths(values: Any) -> tuple[str, ...]:
    """Paths a status names for later pages to link; ``ValueError`` for one leaving the site.

    (The files a status lists need no such check here: the writer carries over only paths
    inside the site, so any other is a cache miss there.)
    """
    paths = tuple(values)
    if not all(is_site_path(p) for p in paths):
        raise ValueError("a path outside the site")
    return paths


def digests(values: Any, known: Mapping[str, str] = NO_PATHS) -> tuple[tuple[str, str], ...]:
    """(path, sha256) pairs; the writer reads only paths inside the site."""
    return tuple((known.get(path, str(path)), str(digest)) for path, digest in values)


def shared_paths(values: Any, known: Mapping[str, str]) -> tuple[str, ...]:
    """Paths as strings, each one in ``known`` as that object."""
    return tuple(known.get(path, str(path)) for path in values)


def figures_to_json(figures: FigureList | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    return {
        "page": figures.page,
        "manifest": figures.manifest,
        "figures": [_figure_to_json(f) for f in figures.figures],
        "tables": [t.to_json() for t in figures.tables],
    }


def _figure_to_json(figure: Figure) -> dict[str, Any]:
    sources = [[s.path, s.key, s.digest] for s in figure.sources]
    return {**figure.to_json(), "sources": sources}


def figures_from_json(data: Any) -> FigureList | None:
    if data is None:
        return None
    page, manifest = site_paths((data["page"], data["manifest"]))
    figures = tuple(
        Figure(
            _text(f["id"]),
            _text(f["title"]),
            _text(f["caption"]),
            tuple(_text(name) for name in f["files"]),
            None if f["csv"] is None else _text(f["csv"]),
            None if f["warning"] is None else _text(f["warning"]),
            tuple(FigureSource(*(_text(v) for v in source)) for source in f["sources"]),
        )
        for f in data["figures"]
    )
    tables = tuple(
        TableFile(_text(t["name"]), _text(t["caption"]), *site_paths((t["csv"], t["latex"])))
        for t in data.get("tables", ())
    )
    return FigureList(page, manifest, figures, tables)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class StudyStatus:
    """A study of an experiment kind as the previous build left it: its input hash, its files
    in the site and its row (what the index, manifest and checks show of it, as JSON)."""

    input_hash: str
    stats: StatFingerprint | None
    files: tuple[str, ...]
    row: Mapping[str, Any]
    private: tuple[tuple[str, str], ...] = ()  # (path, sha256): its page's stored content
    last_good: str | None = None  # when its files were last read and rendered
    figures: FigureList | None = None  # what its page exported (--figures)

    @property
    def has_good_page(self) -> bool:
        """Whether a stale page can stand in for a failed read: its content was stored."""
        return self.last_good is not None and bool(self.private) and self.row["page"] is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "input_hash": self.input_hash,
            "stats": _stats_json(self.stats),
            "files": list(self.files),
            "row": dict(self.row),
            "private": [list(pair) for pair in self.private],
            "last_good": self.last_good,
            "figures": figures_to_json(self.figures),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StudyStatus:
        if not isinstance(data["row"], dict):
            raise ValueError("a study row is an object")
        last_good = data.get("last_good")
        return cls(
            str(data["input_hash"]),
            _stats_from_json(data["stats"]),
            tuple(str(f) for f in data["files"]),
            data["row"],
            tuple((str(p), str(d)) for p, d in data.get("private", ())),
            None if last_good is None else str(last_good),
            figures_from_json(data.get("figures")),
        )


def _stats_json(stats: StatFingerprint | None) -> str | None:
    return None if stats is None else stats.hex()


def _stats_from_json(raw: Any) -> StatFingerprint | None:
    """A fingerprint as ``_stats_json`` wrote it; anything else is none (the bytes are hashed)."""
    if not isinstance(raw, str):
        return None
    stats = bytes.fromhex(raw)
    if len(stats) < _PATHS_DIGEST or (len(stats) - _PATHS_DIGEST) % _STAT_ROW.size:
        raise ValueError("a stat fingerprint of another shape")
    return stats


@dataclass(frozen=True)
class BuildStatus:
    version: str
    settings_hash: str
    site_key: str
    runs: Mapping[str, RunStatus]
    groups: Mapping[str, GroupStatus] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # every file of the site (but this one), to notice deletions
    studies: Mapping[str, StudyStatus] = field(default_factory=dict)
    cross_runs: str | None = None  # sha256 of the file of every run's cross-run record
    cross_runs_seal: str | None = None  # this install's HMAC of it and settings_hash (it wrote it)

    def memo_digests(self) -> dict[str, str]:
        """Every draws memo the build recorded, with its sha256."""
        prefix = MEMO_DIR + "/"
        return {
            path: digest
            for status in self.groups.values()
            for path, digest in status.private
            if path.startswith(prefix)
        }


_STAMPS: dict[str, str] = {}


def _stamp(stamp: str) -> str:
    """One string per distinct "last good" time: a build reads all its runs at one time."""
    return _STAMPS.setdefault(stamp, stamp)


def finding_totals(statuses: Iterable[RunStatus]) -> dict[str, int]:
    """The findings of every run, by severity."""
    totals = empty_counts()
    for status in statuses:
        for severity, count in status.findings.items():
            totals[severity] += count
    return totals


def json_hash(data: Any) -> str:
    """sha256 of canonical JSON: sorted dict keys, dataclass fields in declaration order (orjson
    serialises dataclasses itself, several times faster than ``asdict``), shortest floats."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def input_stats(ref: RunRef, root: Path) -> StatFingerprint | None:
    """Stat fingerprints of every input; ``None`` when one is missing or modified just now."""
    return files_stats(ref.inputs, root)


def files_stats(files: Iterable[str], root: Path) -> StatFingerprint | None:
    """The stat fingerprint of ``files``; ``None`` when one is missing or modified just now.

    The paths are part of it (as a digest): the same stats under other names do not match.
    """
    files = tuple(files)
    named = "\0".join(files).encode(errors="surrogateescape")
    packed = bytearray(hashlib.blake2b(named, digest_size=_PATHS_DIGEST).digest())
    now = time.time_ns()
    base = os.fspath(root)  # os.path: a build stats every input of every run
    for rel in files:
        try:
            st = os.stat(os.path.join(base, rel), follow_symlinks=False)
        except OSError:
            return None
        if now - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_NS:
            return None
        packed += _STAT_ROW.pack(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    return bytes(packed)


def input_hash(ref: RunRef, root: Path, max_bytes: int | None = None) -> str:
    """sha256 over the run's reference and every input's name and bytes.

    The reference (which file plays which role) is hashed too, so a rediscovered run whose
    files are the same bytes in new roles still rebuilds. Inputs are opened as the loader
    opens them (only the files discovery vetted); one the loader cannot or will not read
    (larger than ``max_bytes``, not a regular file, replaced, unreadable) hashes as that
    verdict, decided from ``fstat`` before any byte is read.
    """
    digest = hashlib.sha256(orjson.dumps(ref.roles(), option=orjson.OPT_SORT_KEYS))
    vetted = ref.vetted_files()
    _hash_files(digest, ref.inputs, lambda rel: open_vetted(root, rel, vetted), max_bytes)
    return digest.hexdigest()


def files_hash(identity: Any, files: Iterable[str], root: Path) -> str:
    """sha256 over ``identity`` (as canonical JSON) and every file's name and bytes, each opened
    as the kinds' reader opens it (no symbolic link followed)."""
    digest = hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS))
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    _hash_files(digest, files, lambda rel: os.open(root / rel, flags), None)
    return digest.hexdigest()


def _hash_files(
    digest: Any, files: Iterable[str], opener: Callable[[str], int], max_bytes: int | None
) -> None:
    """Each file's name and bytes (or why it could not be opened) into ``digest``."""
    for rel in files:
        digest.update(b"\0" + rel.encode() + b"\0")
        try:
            fd = opener(rel)
        except OSError as exc:
            digest.update(f"<unreadable: {exc.strerror}>".encode())
            continue
        try:
            _hash_open_file(digest, fd, max_bytes)
        finally:
            os.close(fd)


def _hash_open_file(digest: Any, fd: int, max_bytes: int | None) -> None:
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            digest.update(b"<not a regular file>")
        elif max_bytes is not None and info.st_size > max_bytes:
            digest.update(f"<too large: {info.st_size} bytes>".encode())
        else:
            while block := os.read(fd, 1 << 20):
                digest.update(block)
    except OSError as exc:
        digest.update(f"<unreadable: {exc.strerror}>".encode())


def current_hash(
    ref: RunRef, root: Path, previous: RunStatus | None, max_bytes: int | None = None
) -> tuple[str, StatFingerprint | None]:
    """Reuse the previous hash when every input's stat is unchanged; otherwise hash the bytes."""
    stats = input_stats(ref, root)
    if stats is not None and previous is not None and previous.stats == stats:
        return previous.input_hash, stats
    return input_hash(ref, root, max_bytes), stats
