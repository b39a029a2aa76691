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
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from reportgen.discover import RunRef
from reportgen.findings import SEVERITIES, empty_counts, severity_counts
from reportgen.vetted import open_vetted
from reportgen.write import WriteError, safe_site_path

if TYPE_CHECKING:
    from reportgen.analysis.record import RunRecord

STATUS_FORMAT = 7  # 4: records moved out to each run's record.json; 5: finding counts;
# 6: digests of the stored page, the sample and the memos (no private file is believed without);
# 7: the experiment kinds' studies
STATUS_PATH = ".reportgen/status.json"
# A file modified this recently may change again within the same timestamp tick, so its stat
# fingerprint is not recorded and the next build hashes it again (git's "racy clean" problem).
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class InputStat:
    """A cheap fingerprint deciding *when* to hash; the hash decides *whether* to rebuild."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int


@dataclass(frozen=True)
class RunStatus:
    """One run as the previous build left it: its input hash, record digest and files.

    The record itself is the run's private ``record.json`` (one of ``files``), not part of this
    file: an up-to-date build compares hashes only and never reads a record, and the status of a
    10,000-run site stays a few MB (with the records inline it was 300 MB, read by every build).
    """

    input_hash: str
    stats: tuple[InputStat, ...] | None
    record_hash: str  # sha256 of the record's JSON: a group page's key covers its members
    files: tuple[str, ...]
    last_good: str | None
    ok: bool
    stale: bool = False
    unreadable: tuple[str, ...] = ()  # "path (reason)": inputs an OS error kept from being read
    # The last read of the run failed: the next build reads it again, whatever its hash says
    # (the bytes hashed by the planner may not be the bytes the loader read).
    read_failed: bool = False
    # the record's findings by severity, so an up-to-date build can gate on them unread
    findings: Mapping[str, int] = field(default_factory=empty_counts)
    page_hash: str | None = None  # sha256 of the stored page a stale run is shown with
    sample_hash: str | None = None  # the stored sample's ``StoredSample.content_digest``

    @classmethod
    def of(
        cls,
        record: RunRecord,
        record_hash: str,
        input_hash: str,
        stats: tuple[InputStat, ...] | None,
        files: tuple[str, ...],
        last_good: str | None,
        read_failed: bool = False,
        page_hash: str | None = None,
        sample_hash: str | None = None,
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
            findings=severity_counts(record.findings),
            page_hash=page_hash,
            sample_hash=sample_hash,
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
            "findings": dict(self.findings),
            "page_hash": self.page_hash,
            "sample_hash": self.sample_hash,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunStatus:
        return cls(
            input_hash=str(data["input_hash"]),
            stats=_stats_from_json(data["stats"]),
            record_hash=str(data["record_hash"]),
            files=tuple(str(f) for f in data["files"]),
            last_good=None if data.get("last_good") is None else str(data["last_good"]),
            ok=data["ok"] is True,
            stale=data["stale"] is True,
            unreadable=tuple(str(u) for u in data["unreadable"]),
            read_failed=data.get("read_failed") is not False,
            findings={s: int(data["findings"][s]) for s in SEVERITIES},
            page_hash=_optional(data["page_hash"]),
            sample_hash=_optional(data["sample_hash"]),
        )


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class GroupStatus:
    """A group page's inputs (hashed) and files, so an untouched group is carried over, and
    the sha256 of each memo it used (by memo name): a memo is believed only with its digest."""

    key: str
    files: tuple[str, ...]
    memos: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyStatus:
    """A study of an experiment kind as the previous build left it: its input hash, its files
    in the site and its row (what the index, manifest and checks show of it, as JSON)."""

    input_hash: str
    stats: tuple[InputStat, ...] | None
    files: tuple[str, ...]
    row: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "input_hash": self.input_hash,
            "stats": _stats_json(self.stats),
            "files": list(self.files),
            "row": dict(self.row),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StudyStatus:
        if not isinstance(data["row"], dict):
            raise ValueError("a study row is an object")
        return cls(
            str(data["input_hash"]),
            _stats_from_json(data["stats"]),
            tuple(str(f) for f in data["files"]),
            data["row"],
        )


def _stats_json(stats: tuple[InputStat, ...] | None) -> list[list[Any]] | None:
    if stats is None:
        return None
    return [[s.path, s.size, s.mtime_ns, s.ctime_ns, s.inode] for s in stats]


def _stats_from_json(raw: Any) -> tuple[InputStat, ...] | None:
    if raw is None:
        return None
    return tuple(InputStat(str(p), int(s), int(m), int(c), int(i)) for p, s, m, c, i in raw)


@dataclass(frozen=True)
class BuildStatus:
    version: str
    settings_hash: str
    site_key: str
    runs: Mapping[str, RunStatus]
    groups: Mapping[str, GroupStatus] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # every file of the site (but this one), to notice deletions
    studies: Mapping[str, StudyStatus] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        data = {
            "format": STATUS_FORMAT,
            "version": self.version,
            "settings_hash": self.settings_hash,
            "site_key": self.site_key,
            "runs": {run_id: s.to_json() for run_id, s in sorted(self.runs.items())},
            "groups": {
                group_id: {"key": g.key, "files": list(g.files), "memos": dict(g.memos)}
                for group_id, g in sorted(self.groups.items())
            },
            "files": sorted(self.files),
            "studies": {sid: s.to_json() for sid, s in sorted(self.studies.items())},
        }
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def read_status(out: Path) -> BuildStatus | None:
    """The previous build's status; ``None`` (full rebuild) when missing or malformed."""
    try:
        data = orjson.loads((out / STATUS_PATH).read_bytes())
        if not isinstance(data, dict) or data.get("format") != STATUS_FORMAT:
            return None
        status = BuildStatus(
            version=str(data["version"]),
            settings_hash=str(data["settings_hash"]),
            site_key=str(data["site_key"]),
            runs={str(k): RunStatus.from_json(v) for k, v in data["runs"].items()},
            groups={
                str(k): GroupStatus(
                    str(v["key"]),
                    tuple(str(f) for f in v["files"]),
                    {str(name): str(digest) for name, digest in v["memos"].items()},
                )
                for k, v in data["groups"].items()
            },
            files=tuple(str(f) for f in data["files"]),
            studies={str(k): StudyStatus.from_json(v) for k, v in data["studies"].items()},
        )
        _check_site_relative(status)
        return status
    # a malformed status file of any shape means "no previous build", never a crash
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def _check_site_relative(status: BuildStatus) -> None:
    """Raises ValueError unless every path the status names is a normalised site path."""
    for files in (
        status.files,
        *(run.files for run in status.runs.values()),
        *(group.files for group in status.groups.values()),
        *(study.files for study in status.studies.values()),
    ):
        for path in files:
            try:
                normal = safe_site_path(path)
            except WriteError as exc:
                raise ValueError(str(exc)) from exc
            if normal != path:
                raise ValueError(f"not a normalised site path: {path!r}")


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


def input_stats(ref: RunRef, root: Path) -> tuple[InputStat, ...] | None:
    """Stat fingerprints of every input; ``None`` when one is missing or modified just now."""
    return files_stats(ref.inputs, root)


def files_stats(files: Iterable[str], root: Path) -> tuple[InputStat, ...] | None:
    """Stat fingerprints of ``files``; ``None`` when one is missing or modified just now."""
    stats = []
    now = time.time_ns()
    for rel in files:
        try:
            st = os.stat(root / rel, follow_symlinks=False)
        except OSError:
            return None
        if now - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_NS:
            return None
        stats.append(InputStat(rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return tuple(stats)


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
    for rel in ref.inputs:
        digest.update(b"\0" + rel.encode() + b"\0")
        try:
            fd = open_vetted(root, rel, vetted)
        except OSError as exc:
            digest.update(f"<unreadable: {exc.strerror}>".encode())
            continue
        try:
            _hash_open_file(digest, fd, max_bytes)
        finally:
            os.close(fd)
    return digest.hexdigest()


def files_hash(identity: Any, files: Iterable[str], root: Path) -> str:
    """sha256 over ``identity`` (as canonical JSON) and every file's name and bytes, each opened
    as the kinds' reader opens it (no symbolic link followed)."""
    digest = hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS))
    for rel in files:
        digest.update(b"\0" + rel.encode() + b"\0")
        try:
            fd = os.open(root / rel, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            digest.update(f"<unreadable: {exc.strerror}>".encode())
            continue
        try:
            _hash_open_file(digest, fd, None)
        finally:
            os.close(fd)
    return digest.hexdigest()


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
) -> tuple[str, tuple[InputStat, ...] | None]:
    """Reuse the previous hash when every input's stat is unchanged; otherwise hash the bytes."""
    stats = input_stats(ref, root)
    if stats is not None and previous is not None and previous.stats == stats:
        return previous.input_hash, stats
    return input_hash(ref, root, max_bytes), stats
