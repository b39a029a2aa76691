"""The status file's bytes: one JSON document laid out an entry a line, so that a build reads it
back an entry at a time (a tree's status is a few KB a run as JSON, and tens of KB a run as the
objects a whole-document parse makes at once).

The layout: the head's keys (format, version, settings and site hashes, the cross-run file's
digest) on the first line, its closing brace left off; then each section (``files``, then
``groups``, ``runs`` and ``studies`` by key) opened on a line of its own, an entry a line (every
entry but the first led by its comma) and closed on a line of its own; then the final brace. A
status file laid out any other way (written by hand, or by an older build) is parsed whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import orjson

from reportgen.build.status import (
    STATUS_FORMAT,
    STATUS_PATH,
    BuildStatus,
    GroupStatus,
    RunStatus,
    StudyStatus,
)

E = TypeVar("E")
_MALFORMED = (ValueError, KeyError, TypeError, AttributeError, IndexError)
_SORTED = orjson.OPT_SORT_KEYS
# (name, opening, closing) of each section, in the file's order
_SECTIONS = (("files", b"[", b"]"), ("groups", b"{", b"}"), ("runs", b"{", b"}"),
             ("studies", b"{", b"}"))  # fmt: skip
_PARSERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, str]], Any]] = {
    "groups": GroupStatus.from_json,
    "runs": RunStatus.from_json,
    "studies": lambda data, _: StudyStatus.from_json(data),
}


class _NotLaidOut(ValueError):
    """The file does not have the layout: it is parsed whole."""


def status_pieces(status: BuildStatus) -> tuple[bytes, ...]:
    """The status file, in pieces: its head, then each section a line an entry."""
    head: dict[str, Any] = {
        "format": STATUS_FORMAT,
        "version": status.version,
        "settings_hash": status.settings_hash,
        "site_key": status.site_key,
    }
    if status.cross_runs is not None:
        head["cross_runs"] = status.cross_runs
    if status.cross_runs_seal is not None:
        head["cross_runs_seal"] = status.cross_runs_seal
    sections: dict[str, Iterable[bytes]] = {
        "files": (orjson.dumps(path) for path in sorted(status.files)),
        "groups": _lines(status.groups),
        "runs": _lines(status.runs),
        "studies": _lines(status.studies),
    }
    pieces = [orjson.dumps(head, option=_SORTED)[:-1]]
    for name, opening, closing in _SECTIONS:
        pieces.append(b"\n," + orjson.dumps(name) + b":" + opening)
        pieces.extend(b"\n" + (b"," if i else b"") + e for i, e in enumerate(sections[name]))
        pieces.append(b"\n" + closing)
    pieces.append(b"\n}\n")
    return tuple(pieces)


def _lines(entries: Mapping[str, RunStatus | GroupStatus | StudyStatus]) -> Iterator[bytes]:
    for key, entry in sorted(entries.items()):
        yield orjson.dumps(key) + b":" + orjson.dumps(entry.to_json(), option=_SORTED)


def read_status(out: Path) -> BuildStatus | None:
    """The previous build's status; ``None`` (full rebuild) when missing or malformed.

    A run or group entry that is malformed (a value of the wrong type, a path outside the site)
    is left out: that run or group is a cache miss, read and rendered again.
    """
    try:
        with open(out / STATUS_PATH, "rb") as file:
            try:
                status = _read_by_lines(file)
            except _NotLaidOut:
                file.seek(0)
                status = _from_data(orjson.loads(file.read()))
    # a malformed status file of any shape means "no previous build", never a crash
    except (OSError, *_MALFORMED):
        return None
    return status if status is not None and _site_relative(status) else None


def _read_by_lines(file: BinaryIO) -> BuildStatus | None:
    lines = (line.rstrip(b"\n") for line in file)
    first = next(lines, b"")
    if not first.startswith(b'{"') or first.endswith(b"}"):
        raise _NotLaidOut
    try:
        head = orjson.loads(first + b"}")
    except orjson.JSONDecodeError as exc:
        raise _NotLaidOut from exc
    if not isinstance(head, dict) or "format" not in head:
        raise _NotLaidOut
    if head.get("format") != STATUS_FORMAT:
        return None
    files = tuple(str(orjson.loads(e)) for e in _section(lines, *_SECTIONS[0]))
    known = {path: path for path in files}
    sections = {
        name: _parsed(((k, v) for e in _section(lines, name, opening, closing)
                       for k, v in orjson.loads(b"{" + e + b"}").items()), _PARSERS[name], known)
        for name, opening, closing in _SECTIONS[1:]
    }  # fmt: skip
    if next(lines, None) != b"}" or next(lines, None) is not None:
        raise ValueError("not the end of the status file")
    return _status(head, files, sections)


def _section(lines: Iterator[bytes], name: str, opening: bytes, closing: bytes) -> Iterator[bytes]:
    """The entries of one section, a line each, as they are read."""
    if next(lines, None) != b"," + orjson.dumps(name) + b":" + opening:
        raise _NotLaidOut
    for i, line in enumerate(lines):
        if line == closing:
            return
        if i and not line.startswith(b","):
            raise ValueError("an entry without its comma")
        yield line[1:] if i else line
    raise ValueError("a section not closed")


def _from_data(data: Any) -> BuildStatus | None:
    """A status file parsed whole."""
    if not isinstance(data, dict) or data.get("format") != STATUS_FORMAT:
        return None
    files = tuple(map(str, data["files"]))
    known = {path: path for path in files}
    sections = {name: _parsed(data[name].items(), parse, known) for name, parse in _PARSERS.items()}
    return _status(data, files, sections)


def _status(
    head: Mapping[str, Any], files: tuple[str, ...], sections: Mapping[str, dict[str, Any]]
) -> BuildStatus:
    return BuildStatus(
        version=str(head["version"]),
        settings_hash=str(head["settings_hash"]),
        site_key=str(head["site_key"]),
        runs=sections["runs"],
        groups=sections["groups"],
        files=files,
        studies=sections["studies"],
        cross_runs=_digest_or_none(head.get("cross_runs")),
        cross_runs_seal=_digest_or_none(head.get("cross_runs_seal")),
    )


def _parsed(
    items: Iterable[tuple[Any, Any]],
    parse: Callable[[Mapping[str, Any], Mapping[str, str]], E],
    known: Mapping[str, str],
) -> dict[str, E]:
    """Entries parsed one at a time, naming the site's paths by the strings in ``known``; a
    malformed one is left out (that run, group or study is a cache miss)."""
    entries: dict[str, E] = {}
    for key, value in items:
        try:
            entries[str(key)] = parse(value, known)
        except _MALFORMED:
            continue
    return entries


def _digest_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _site_relative(status: BuildStatus) -> bool:
    """Whether every path the status names is a normalised site path (else it is not believed:
    a full rebuild); each distinct path is checked once (most are named by two entries)."""
    listed = set(status.files)
    for section in (status.runs, status.groups, status.studies):
        for entry in section.values():
            listed.update(entry.files)
    return all(map(is_normal_site_path, listed))


def is_normal_site_path(path: object) -> bool:
    """``is_site_path(path) and normal_site_path(path) == path``, in fewer string operations:
    a relative path none of whose parts is empty, ``.`` or ``..``, not only dots."""
    if not isinstance(path, str):
        return False
    framed = f"/{path}/"
    return (
        "//" not in framed
        and "/./" not in framed
        and "/../" not in framed
        and path.strip("./") != ""
    )
