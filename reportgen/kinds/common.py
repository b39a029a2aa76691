"""What the directory kinds share (a kind whose study is a whole directory of files): reading
a claim's files as values, arrays without pickles, and checks with their guide text."""

from __future__ import annotations

import inspect
import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from reportgen.findings import SEVERITIES, CheckInfo, Finding, Severity
from reportgen.kinds.claims import Claim
from reportgen.kinds.reading import NotRead, Read, StudyFailure
from reportgen.load.fields import parse_json
from reportgen.load.inputs import LoadError

FloatArray = npt.NDArray[np.float64]
Subject = TypeVar("Subject")
NOT_IN_LAYOUT = "not part of this kind's layout"


def failure(
    kind: str, claim: Claim, reason: str, reader: ClaimReader, file: str | None = None
) -> StudyFailure:
    """The value of a study whose page cannot be built; every claimed file is accounted for,
    ``file`` (the one at fault) with ``reason``."""
    if file is not None and file in reader.files:
        reader.reject(file, reason)
    return StudyFailure(kind, claim.directory, reason, claim.files, reader.not_read())


# --- reading a claim's files ----------------------------------------------------------------------


class FileProblem(Exception):
    """A file that could not be used, with the reason (caught by ``ClaimReader``)."""

    def __init__(self, reason: str, unreadable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreadable = unreadable


@dataclass(frozen=True, eq=False)
class StoredArray:
    """An array read from a ``.npy`` file, as float64, with the rounding unit it was stored in."""

    path: str
    values: FloatArray
    eps: float  # machine epsilon of the stored dtype (float64's for integers)


def parse_array(data: bytes) -> tuple[FloatArray, float]:
    """A numeric ``.npy`` array and its dtype's epsilon; pickles, archives and non-numeric
    dtypes are refused (``allow_pickle=False``: nothing from the tree is ever run)."""
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, TypeError) as exc:
        raise FileProblem(f"not a NumPy array file: {exc}"[:300]) from exc
    if not isinstance(loaded, np.ndarray):
        raise FileProblem("a NumPy archive (.npz), not one array")
    if loaded.dtype.kind not in "fiub":
        raise FileProblem(f"holds {loaded.dtype} values, not real numbers")
    eps = float(np.finfo(loaded.dtype).eps) if loaded.dtype.kind == "f" else 2.0**-52
    return np.asarray(loaded, dtype=np.float64), eps


class ClaimReader:
    """Reads a claim's files as values: which were used, and why the others were not.

    Names are relative to the claim's directory (``files``); the tree-relative path of a name
    is ``tree(name)``. ``array`` and ``json`` return None for a file that cannot be used and
    record the reason; ``not_read`` lists every claimed file that was not used, for the inventory.
    """

    def __init__(self, claim: Claim, read: Read) -> None:
        self.claim = claim
        self.read = read
        prefix = "" if claim.directory == "." else f"{claim.directory}/"
        self.prefix = prefix
        self.files = tuple(path[len(prefix) :] for path in claim.files)
        self.used: list[str] = []
        self.reasons: dict[str, str] = {}
        self.unreadable: set[str] = set()

    def tree(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _bytes(self, name: str) -> bytes:
        try:
            return self.read(self.tree(name))
        except LoadError as exc:
            raise FileProblem(exc.reason, isinstance(exc.__cause__, OSError)) from exc

    def array(self, name: str, shape: tuple[int | None, ...]) -> StoredArray | None:
        try:
            values, eps = parse_array(self._bytes(name))
        except FileProblem as exc:
            self.refuse(name, exc.reason, exc.unreadable)
            return None
        fits = len(values.shape) == len(shape) and all(
            want in (None, got) for want, got in zip(shape, values.shape, strict=True)
        )
        if not fits:
            want = "×".join("?" if s is None else str(s) for s in shape)
            got = "×".join(str(s) for s in values.shape) or "a scalar"
            self.refuse(name, f"shape {got}, expected {want}")
            return None
        self.used.append(name)
        return StoredArray(name, values, eps)

    def json(self, name: str) -> Any:
        try:
            data = self._bytes(name)
        except FileProblem as exc:
            self.refuse(name, exc.reason, exc.unreadable)
            return None
        try:
            parsed = parse_json(data)
        except LoadError as exc:
            where = f" (line {exc.line}, column {exc.column})" if exc.line is not None else ""
            self.refuse(name, f"{exc.reason}{where}")
            return None
        self.used.append(name)
        return parsed

    def reject(self, name: str, reason: str) -> None:
        """A file read and then found unusable: no longer among the used ones."""
        if name in self.used:
            self.used.remove(name)
        self.refuse(name, reason)

    def refuse(self, name: str, reason: str, unreadable: bool = False) -> None:
        self.reasons[name] = reason
        if unreadable:
            self.unreadable.add(name)

    def not_read(self) -> tuple[NotRead, ...]:
        taken = set(self.used)
        return tuple(
            NotRead(
                self.tree(name),
                self.reasons.get(name, NOT_IN_LAYOUT),
                unreadable=name in self.unreadable,
            )
            for name in self.files
            if name not in taken
        )


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
