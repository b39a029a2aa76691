"""The build status file: what the previous build read and produced, keyed by content hashes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from reportgen.models import RunRef

STATUS_FORMAT = 1
STATUS_PATH = ".reportgen/status.json"


@dataclass(frozen=True)
class InputStat:
    """A cheap fingerprint deciding *when* to hash; the hash decides *whether* to rebuild."""

    path: str
    size: int
    mtime_ns: int
    inode: int


@dataclass(frozen=True)
class RunStatus:
    input_hash: str
    stats: tuple[InputStat, ...]
    summary: Mapping[str, Any]
    files: tuple[str, ...]
    last_good: str | None

    @property
    def ok(self) -> bool:
        return self.summary.get("status") == "ok"

    @property
    def has_good_page(self) -> bool:
        """Its pages show a good read: tonight's, or the last one kept as stale."""
        return self.ok or bool(self.summary.get("stale"))

    def to_json(self) -> dict[str, Any]:
        return {
            "input_hash": self.input_hash,
            "stats": [[s.path, s.size, s.mtime_ns, s.inode] for s in self.stats],
            "summary": self.summary,
            "files": list(self.files),
            "last_good": self.last_good,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunStatus:
        return cls(
            input_hash=str(data["input_hash"]),
            stats=tuple(InputStat(str(p), int(s), int(m), int(i)) for p, s, m, i in data["stats"]),
            summary=dict(data["summary"]),
            files=tuple(str(f) for f in data["files"]),
            last_good=None if data.get("last_good") is None else str(data["last_good"]),
        )


@dataclass(frozen=True)
class BuildStatus:
    version: str
    settings_hash: str
    runs: Mapping[str, RunStatus]

    def to_bytes(self) -> bytes:
        data = {
            "format": STATUS_FORMAT,
            "version": self.version,
            "settings_hash": self.settings_hash,
            "runs": {run_id: status.to_json() for run_id, status in sorted(self.runs.items())},
        }
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def read_status(out: Path) -> BuildStatus | None:
    """The previous build's status; ``None`` (full rebuild) when missing or malformed."""
    try:
        data = orjson.loads((out / STATUS_PATH).read_bytes())
        if data.get("format") != STATUS_FORMAT:
            return None
        return BuildStatus(
            version=str(data["version"]),
            settings_hash=str(data["settings_hash"]),
            runs={str(k): RunStatus.from_json(v) for k, v in data["runs"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def input_stats(ref: RunRef, root: Path) -> tuple[InputStat, ...] | None:
    stats = []
    for rel in ref.inputs:
        try:
            st = os.stat(root / rel, follow_symlinks=False)
        except OSError:
            return None
        stats.append(InputStat(rel, st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(stats)


def input_hash(ref: RunRef, root: Path) -> str:
    """sha256 over every input's name and bytes; unreadable inputs hash as their error."""
    digest = hashlib.sha256()
    for rel in ref.inputs:
        digest.update(rel.encode() + b"\0")
        try:
            with open(root / rel, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            digest.update(f"<unreadable: {exc.strerror}>".encode())
        digest.update(b"\0")
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def current_hash(ref: RunRef, root: Path, previous: RunStatus | None) -> tuple[str, tuple[InputStat, ...]]:
    """Reuse the previous hash when every input's stat is unchanged; otherwise hash the bytes."""
    stats = input_stats(ref, root)
    if stats is not None and previous is not None and previous.stats == stats:
        return previous.input_hash, stats
    return input_hash(ref, root), stats or ()
