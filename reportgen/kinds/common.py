"""What the experiment kinds share: reads that fail as values, arrays without pickles, a
directory's files, checks with their guide text, and the failure record of an unreadable
experiment."""

from __future__ import annotations

import inspect
import io
import math
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from reportgen.findings import SEVERITIES, CheckInfo, Finding, Severity, SkippedInput
from reportgen.load.fields import parse_json
from reportgen.load.inputs import LoadError

FloatArray = npt.NDArray[np.float64]
# Reads one file's bytes within the build's size limit; raises LoadError (or OSError).
ReadFile = Callable[[Path], bytes]
Subject = TypeVar("Subject")


class FileProblem(Exception):
    """A file of an experiment that could not be used, with the reason (caught by loaders)."""

    def __init__(self, path: str, reason: str, unreadable: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.unreadable = unreadable

    def skipped(self) -> SkippedInput:
        return SkippedInput(self.path, self.reason, self.unreadable)


@dataclass(frozen=True)
class KindFailure:
    """An experiment directory that could not be loaded at all: which file, why, what to do."""

    kind: str
    reason: str
    file: str  # relative to the experiment's directory ("" for the directory itself)
    hint: str
    inputs: tuple[str, ...]  # files read before the failure: still accounted for
    not_understood: tuple[SkippedInput, ...]


# --- reading ---------------------------------------------------------------------------------


def read_file(directory: Path, rel: str, read: ReadFile) -> bytes:
    try:
        return read(directory / rel)
    except LoadError as exc:
        raise FileProblem(rel, exc.reason, exc.reason.startswith("cannot read")) from exc
    except OSError as exc:
        raise FileProblem(rel, f"cannot read file: {exc.strerror or exc}", True) from exc


def read_json(directory: Path, rel: str, read: ReadFile) -> Any:
    data = read_file(directory, rel, read)
    try:
        return parse_json(data)
    except LoadError as exc:
        where = f" (line {exc.line}, column {exc.column})" if exc.line is not None else ""
        raise FileProblem(rel, f"{exc.reason}{where}") from exc


@dataclass(frozen=True, eq=False)
class StoredArray:
    """An array read from a ``.npy`` file, as float64, with the rounding unit it was stored in."""

    path: str
    values: FloatArray
    eps: float  # machine epsilon of the stored dtype (float64's for integers)


def read_array(directory: Path, rel: str, read: ReadFile) -> StoredArray:
    """A numeric ``.npy`` array; pickles, archives and non-numeric dtypes are refused."""
    data = read_file(directory, rel, read)
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, TypeError) as exc:
        raise FileProblem(rel, f"not a NumPy array file: {exc}"[:300]) from exc
    if not isinstance(loaded, np.ndarray):
        raise FileProblem(rel, "a NumPy archive (.npz), not one array")
    if loaded.dtype.kind not in "fiub":
        raise FileProblem(rel, f"holds {loaded.dtype} values, not real numbers")
    eps = float(np.finfo(loaded.dtype).eps) if loaded.dtype.kind == "f" else 2.0**-52
    return StoredArray(rel, np.asarray(loaded, dtype=np.float64), eps)


def list_files(directory: Path) -> tuple[tuple[str, ...], tuple[SkippedInput, ...]]:
    """Every regular file below ``directory`` as sorted relative POSIX paths, and the
    subdirectories that could not be listed. Hidden entries, symbolic links and special files
    are not listed: discovery keeps those on its own skipped list."""
    files: list[str] = []
    problems: list[SkippedInput] = []
    pending = [PurePosixPath()]
    while pending:
        rel_dir = pending.pop()
        try:
            with os.scandir(directory / rel_dir) as entries:
                found = [(e.name, e.stat(follow_symlinks=False).st_mode) for e in entries]
        except OSError as exc:
            problems.append(SkippedInput(rel_dir.as_posix(), f"cannot list: {exc.strerror}", True))
            continue
        for name, mode in found:
            if name.startswith("."):
                continue
            if stat.S_ISDIR(mode):
                pending.append(rel_dir / name)
            elif stat.S_ISREG(mode):
                files.append((rel_dir / name).as_posix())
    return tuple(sorted(files)), tuple(problems)


def not_understood(
    files: Iterable[str], used: Iterable[str], reasons: dict[str, str]
) -> tuple[SkippedInput, ...]:
    """The files of the directory no part of the page is made from, each with its reason."""
    taken = set(used)
    default = "not part of this experiment kind's layout"
    return tuple(
        SkippedInput(path, reasons.get(path, default), False) for path in files if path not in taken
    )


class DirectoryReader:
    """Reads an experiment directory's files as values: what was used, and why the rest was not.

    ``array`` and ``json`` return None for a file that cannot be used and record the reason;
    ``leftovers`` lists every file not used (unreadable ones marked), for the inventory.
    """

    def __init__(self, directory: Path, read: ReadFile, files: tuple[str, ...]) -> None:
        self.directory = directory
        self.read = read
        self.files = files
        self.used: list[str] = []
        self.reasons: dict[str, str] = {}
        self.unreadable: set[str] = set()

    def array(self, rel: str, shape: tuple[int | None, ...]) -> StoredArray | None:
        try:
            stored = read_array(self.directory, rel, self.read)
        except FileProblem as exc:
            self.refuse(exc.path, exc.reason, exc.unreadable)
            return None
        got_shape = stored.values.shape
        fits = len(got_shape) == len(shape) and all(
            want in (None, got) for want, got in zip(shape, got_shape, strict=True)
        )
        if not fits:
            want = "×".join("?" if s is None else str(s) for s in shape)
            got = "×".join(str(s) for s in stored.values.shape) or "a scalar"
            self.refuse(rel, f"shape {got}, expected {want}")
            return None
        self.used.append(rel)
        return stored

    def json(self, rel: str) -> Any:
        try:
            data = read_json(self.directory, rel, self.read)
        except FileProblem as exc:
            self.refuse(exc.path, exc.reason, exc.unreadable)
            return None
        self.used.append(rel)
        return data

    def reject(self, rel: str, reason: str) -> None:
        """A file read and then found unusable: no longer among the inputs."""
        if rel in self.used:
            self.used.remove(rel)
        self.refuse(rel, reason)

    def refuse(self, rel: str, reason: str, unreadable: bool = False) -> None:
        self.reasons[rel] = reason
        if unreadable:
            self.unreadable.add(rel)

    def leftovers(self, listing_problems: tuple[SkippedInput, ...]) -> tuple[SkippedInput, ...]:
        rest = not_understood(self.files, self.used, self.reasons)
        marked = tuple(SkippedInput(s.path, s.reason, s.path in self.unreadable) for s in rest)
        return (*marked, *listing_problems)


# --- small helpers for loaders and views -----------------------------------------------------


def finite_float(value: Any) -> float | None:
    """A JSON number as a finite float; anything else (text, booleans, NaN) as None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def scalar_fields(node: Any, prefix: str = "", depth: int = 3) -> tuple[tuple[str, float], ...]:
    """The numeric scalars of a JSON object, flattened to dotted names (a few levels deep)."""
    if not isinstance(node, dict) or depth == 0:
        return ()
    found: list[tuple[str, float]] = []
    for key, value in node.items():
        name = f"{prefix}{key}"
        number = finite_float(value)
        if number is not None:
            found.append((name, number))
        elif isinstance(value, dict):
            found += scalar_fields(value, f"{name}.", depth - 1)
    return tuple(found)


def numeric_lists(node: Any, length: int, prefix: str = "") -> tuple[tuple[str, FloatArray], ...]:
    """The lists of ``length`` numbers in a JSON object (one level of nesting), by dotted name."""
    if not isinstance(node, dict):
        return ()
    found: list[tuple[str, FloatArray]] = []
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, list) and len(value) == length and length > 0:
            numbers = [finite_float(v) for v in value]
            if all(n is not None for n in numbers):
                found.append((name, np.array(numbers, dtype=np.float64)))
        elif isinstance(value, dict) and not prefix:
            found += numeric_lists(value, length, f"{name}.")
    return tuple(found)


def shorten(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters at a word boundary when possible, and whether cut."""
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut) + " …", True


# --- checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """What a check found; the list adds the check's id, severity and section."""

    message: str
    etas: tuple[float, ...] = ()


@dataclass(frozen=True)
class KindCheck(Generic[Subject]):
    info: CheckInfo
    function: Callable[[Subject], Iterable[Hit]]


class CheckList(Generic[Subject]):
    """A kind's checks in guide order; each docstring (markdown) is its guide explanation.

    A check that raises becomes a ``<kind>-check-failed`` finding, never an exception.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.crashed = CheckInfo(
            f"{kind}-check-failed",
            "warning",
            "A diagnostic check crashed",
            "A check of this experiment raised an exception, so its verdict is unknown. "
            "This is a bug in reportgen; report it with the experiment's files.",
            "findings",
        )
        self.checks: list[KindCheck[Subject]] = []

    def check(
        self, id: str, severity: Severity, title: str, section: str
    ) -> Callable[[Callable[[Subject], Iterable[Hit]]], Callable[[Subject], Iterable[Hit]]]:
        def register(
            function: Callable[[Subject], Iterable[Hit]],
        ) -> Callable[[Subject], Iterable[Hit]]:
            if any(c.info.id == id for c in self.checks) or id == self.crashed.id:
                raise ValueError(f"duplicate check id {id!r}")
            explanation = inspect.cleandoc(function.__doc__ or "")
            info = CheckInfo(id, severity, title, explanation, section)
            self.checks.append(KindCheck(info, function))
            return function

        return register

    @property
    def infos(self) -> tuple[CheckInfo, ...]:
        return (*(c.info for c in self.checks), self.crashed)

    def run(self, subject: Subject) -> tuple[Finding, ...]:
        """Every check's findings: errors first, then by check order."""
        findings: list[Finding] = []
        for registered in self.checks:
            info = registered.info
            try:
                with np.errstate(all="ignore"):
                    hits = list(registered.function(subject))
            except Exception as exc:  # a buggy check must not stop the build
                message = f"check {info.id} crashed: {type(exc).__name__}: {exc}"[:300]
                findings.append(Finding(self.crashed.id, "warning", message, None, "findings"))
                continue
            for hit in hits:
                eta = hit.etas[0] if len(hit.etas) == 1 else None
                findings.append(
                    Finding(info.id, info.severity, hit.message, eta, info.section, hit.etas)
                )
        order = {c.info.id: i for i, c in enumerate(self.checks)}
        findings.sort(key=lambda f: (SEVERITIES.index(f.severity), order.get(f.id, len(order))))
        return tuple(findings)
