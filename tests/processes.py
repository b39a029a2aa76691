"""This machine's process table, from /proc (Linux): what tests of worker processes count."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # after the command name, which may hold spaces


def processes() -> Iterator[tuple[int, int, int]]:
    """(pid, parent pid, session id) of every process (zombies left out)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := stat_fields(int(entry))) and fields[0] != "Z":
            yield int(entry), int(fields[1]), int(fields[3])


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, parent, _ in processes():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def in_session(session: int) -> list[int]:
    return [pid for pid, _, sid in processes() if sid == session]


def worker_servers() -> list[int]:
    """This process's descendants that are multiprocessing's fork server."""
    return [p for p in descendants(os.getpid()) if "multiprocessing.forkserver" in cmdline(p)]
