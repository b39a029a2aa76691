"""``reportgen.toml`` at the results tree's root: what the data cannot say about themselves.

```toml
title = "Entropy experiments"          # the site title (--title wins)
equivalence_margin = 0.2               # "agrees" = linear/true within 1 ± m (the option wins)
incidental = ["output.log_level"]      # more keys that never split populations

[[labels]]                             # labels split populations and show on run pages
runs = ["old/*", "run_with_denom_fix/run_03"]
epoch = "pre-denominator-fix"
note = "Written before the SNIS denominator fix."

[fit]                                  # the η window the fits of matching groups use
"diagnostics_run/*" = { eta_min = 8e-7, eta_max = 3.2e-6 }
```

A pattern matches a run when it matches the run's id (its directory in the tree) or its
results file's path; a group pattern matches the group's id (``*`` also matches ``/``).
Later ``[[labels]]`` entries override earlier ones for the same label. The scalar settings
(``title``, ``equivalence_margin``, …) are the settings schema's (``settings.
validate_tree_settings``); the tables are this module's. Every problem is a ``TreeFileError``
naming the file, the line and the key.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TREE_FILE = "reportgen.toml"
MAX_BYTES = 1 << 20
MAX_TITLE = 200
LABEL_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
TABLES = ("incidental", "labels", "fit")  # this module's keys; the others are settings


class TreeFileError(ValueError):
    """``reportgen.toml`` cannot be used: the message names the file, line and key."""


@dataclass(frozen=True)
class LabelRule:
    """Labels (and a note) declared for the runs matching any of ``patterns``."""

    patterns: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    note: str | None = None

    def matches(self, run_id: str, source: str) -> bool:
        return any(
            fnmatch.fnmatchcase(run_id, p) or fnmatch.fnmatchcase(source, p) for p in self.patterns
        )


@dataclass(frozen=True)
class FitWindow:
    """The η range the fits of the groups matching ``pattern`` use (``None``: unbounded)."""

    pattern: str
    eta_min: float | None
    eta_max: float | None

    def contains(self, eta: float) -> bool:
        low = self.eta_min if self.eta_min is not None else -math.inf
        high = self.eta_max if self.eta_max is not None else math.inf
        return low <= eta <= high


@dataclass(frozen=True)
class RunLabels:
    """What the tree file declares for one run."""

    labels: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()


NO_LABELS = RunLabels()


@dataclass(frozen=True)
class TreeFile:
    """The validated tree file (all empty when there is none)."""

    path: str | None = None
    sha256: str = ""
    settings: Mapping[str, object] = field(default_factory=dict)  # setting name → value
    incidental: tuple[str, ...] = ()
    labels: tuple[LabelRule, ...] = ()
    fits: tuple[FitWindow, ...] = ()

    def for_run(self, run_id: str, source: str) -> RunLabels:
        """The labels (later rules win) and notes (all, in order) of one run."""
        labels: dict[str, str] = {}
        notes: list[str] = []
        for rule in self.labels:
            if rule.matches(run_id, source):
                labels.update(rule.labels)
                if rule.note and rule.note not in notes:
                    notes.append(rule.note)
        return RunLabels(tuple(sorted(labels.items())), tuple(notes))

    def fit_window(self, group_id: str) -> FitWindow | None:
        """The first window whose pattern matches the group."""
        return next((f for f in self.fits if fnmatch.fnmatchcase(group_id, f.pattern)), None)


NO_TREE_FILE = TreeFile()


# --- reading ---------------------------------------------------------------------------------


def read_tree_file(root: Path) -> TreeFile:
    """The tree file of ``root``, validated; ``NO_TREE_FILE`` when there is none."""
    path = root / TREE_FILE
    if not path.is_file():
        return NO_TREE_FILE
    try:
        if path.stat().st_size > MAX_BYTES:
            raise TreeFileError(f"{TREE_FILE}: larger than {MAX_BYTES // 1024} KiB")
        data = path.read_bytes()
    except OSError as exc:
        raise TreeFileError(f"{TREE_FILE}: cannot read: {exc.strerror or exc}") from None
    return parse_tree_file(data)


def parse_tree_file(data: bytes) -> TreeFile:
    """Parse and validate the tree file's bytes."""
    import tomllib  # only when a tree has the file: no cost to a tree without one

    try:
        text = data.decode("utf-8")
        table = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise TreeFileError(f"{TREE_FILE}: not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TreeFileError(f"{TREE_FILE}: {exc}") from None
    where = _Locator(text)
    return TreeFile(
        path=TREE_FILE,
        sha256=hashlib.sha256(data).hexdigest(),
        settings=_settings({k: v for k, v in table.items() if k not in TABLES}, text),
        incidental=_strings(table.get("incidental", []), "incidental", where),
        labels=tuple(_label_rule(i, item, where) for i, item in enumerate(_labels(table, where))),
        fits=_fits(table.get("fit", {}), where),
    )


def _settings(table: Mapping[str, object], text: str) -> Mapping[str, object]:
    """The scalar settings, validated by the settings schema (its keys and types)."""
    from reportgen.settings import TreeSettingsError, validate_tree_settings

    found = validate_tree_settings(table, text)
    if isinstance(found, TreeSettingsError):
        raise TreeFileError(f"{TREE_FILE}, {found}" if found.line else f"{TREE_FILE}: {found}")
    return dict(found.values)


class _Locator:
    """Finds the line of a key in the file's text, for error messages (tomllib gives none)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line_of(self, key: str, table: tuple[str, int] | tuple[()] = ()) -> int | None:
        start = 0
        if table:
            name, index = table
            header = re.compile(rf"^\s*\[\[?\s*{re.escape(name)}\s*\]\]?")
            headers = [i for i, line in enumerate(self.lines) if header.match(line)]
            if index >= len(headers):
                return None
            start = headers[index]
        pattern = re.compile(rf"^\s*(\"?){re.escape(key)}\1\s*=")
        for i in range(start, len(self.lines)):
            if pattern.match(self.lines[i]) or (i == start and table and key == table[0]):
                return i + 1
        return start + 1 if table else None

    def error(self, key: str, table: tuple[str, int] | tuple[()], problem: str) -> TreeFileError:
        line = self.line_of(key, table)
        where = f", line {line}" if line is not None else ""
        name = f"{table[0]}[{table[1]}].{key}" if table and table[0] == "labels" else key
        if table and table[0] == "fit":
            name = f'fit."{key}"'
        return TreeFileError(f"{TREE_FILE}{where}: {name}: {problem}")


def _strings(value: Any, key: str, where: _Locator, table: Any = ()) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) and key == "runs" else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise where.error(key, table, "must be a list of non-empty strings")
    if key == "runs" and not items:
        raise where.error(key, table, "must name at least one run pattern")
    return tuple(v.strip() for v in items)


def _labels(table: Mapping[str, Any], where: _Locator) -> Sequence[Any]:
    labels = table.get("labels", [])
    if not isinstance(labels, list):
        raise where.error("labels", (), "must be an array of tables: [[labels]]")
    return labels


def _label_rule(index: int, item: Any, where: _Locator) -> LabelRule:
    at = ("labels", index)
    if not isinstance(item, dict):
        raise where.error("labels", (), f"entry {index + 1} must be a table")
    if "runs" not in item:
        raise where.error("runs", at, "missing: which runs the labels apply to (a glob)")
    patterns = _strings(item["runs"], "runs", where, at)
    note = item.get("note")
    if note is not None and (not isinstance(note, str) or not note.strip()):
        raise where.error("note", at, "must be a non-empty string")
    labels = []
    for key, value in item.items():
        if key in ("runs", "note"):
            continue
        if not LABEL_KEY.fullmatch(key):
            raise where.error(key, at, "a label name is letters, digits, _ and - (≤ 64)")
        if not isinstance(value, str) or not value.strip():
            raise where.error(key, at, "a label's value must be a non-empty string")
        labels.append((key, value.strip()))
    if not labels and note is None:
        raise where.error("runs", at, 'declares neither a label (name = "value") nor a note')
    return LabelRule(patterns, tuple(labels), note.strip() if note else None)


def _fits(value: Any, where: _Locator) -> tuple[FitWindow, ...]:
    if not isinstance(value, dict):
        raise where.error("fit", (), 'must be a table: [fit] "<group glob>" = {eta_min, eta_max}')
    windows = []
    for pattern, bounds in value.items():
        at = ("fit", 0)
        if not isinstance(bounds, dict) or not bounds or set(bounds) - {"eta_min", "eta_max"}:
            raise where.error(pattern, at, "must be { eta_min = …, eta_max = … }")
        low, high = (_eta(bounds.get(k), pattern, where) for k in ("eta_min", "eta_max"))
        if low is not None and high is not None and not low < high:
            raise where.error(pattern, at, f"eta_min ({low:g}) must be below eta_max ({high:g})")
        windows.append(FitWindow(pattern, low, high))
    return tuple(windows)


def _eta(value: Any, pattern: str, where: _Locator) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise where.error(pattern, ("fit", 0), "eta_min and eta_max must be numbers")
    if not (math.isfinite(value) and value > 0):
        raise where.error(pattern, ("fit", 0), f"η bounds must be positive, not {value}")
    return float(value)
