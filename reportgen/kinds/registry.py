"""Every experiment kind the build knows: the built-in ones, then the plug-ins of the entry-point
group ``reportgen.kinds``, in that (deterministic) order of precedence.

A plug-in that fails to import, or is not a kind, is left out with a ``PluginProblem`` naming
it; the build turns each into a finding. Standard library only (a no-op build loads this).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from reportgen.kinds.interface import ExperimentKind
from reportgen.kinds.runs import run_kinds

if TYPE_CHECKING:
    from importlib import metadata

log = logging.getLogger("reportgen")

ENTRY_POINT_GROUP = "reportgen.kinds"
# precedence among the built-in kinds: directory kinds first (they claim whole directories)
BUILTIN_MODULES = (
    "reportgen.kinds.influence",
    "reportgen.kinds.fisher",
    "reportgen.kinds.jackknife",
    "reportgen.kinds.rb_convergence",
    "reportgen.kinds.batch_manifest.kind",
)
REQUIRED = (
    "KIND",
    "PATTERNS",
    "SCHEMA",
    "TEMPLATE",
    "CHECKS",
    "matches",
    "sniff",
    "claims",
    "load",
    "analyze",
    "checks",
    "page",
)


@dataclass(frozen=True)
class RegisteredKind:
    """A kind and where it came from: ``origin`` is "built-in" or the plug-in's entry point."""

    name: str  # its KIND
    origin: str
    kind: ExperimentKind

    @property
    def plugin(self) -> bool:
        return self.origin != "built-in"


@dataclass(frozen=True)
class PluginProblem:
    """A plug-in left out (or whose claims were dropped), and why."""

    plugin: str  # "entry-point name = module:attribute"
    reason: str


@dataclass(frozen=True)
class Registry:
    kinds: tuple[RegisteredKind, ...]
    problems: tuple[PluginProblem, ...] = ()


def missing_attributes(candidate: object) -> list[str]:
    return [name for name in REQUIRED if not hasattr(candidate, name)]


def _builtin() -> list[RegisteredKind]:
    kinds = []
    for module_name in BUILTIN_MODULES:
        module = cast(ExperimentKind, importlib.import_module(module_name))
        kinds.append(RegisteredKind(module.KIND, "built-in", module))
    return kinds


def reserved_names(builtin: Iterable[RegisteredKind]) -> set[str]:
    """The names no plug-in may take: the built-in kinds' and the run kinds'."""
    return {k.name for k in builtin} | {k.KIND for k in run_kinds()}


def plugin_label(entry: metadata.EntryPoint) -> str:
    return f"{entry.name} = {entry.value}"


def load_plugins(
    entries: Iterable[metadata.EntryPoint], taken: set[str]
) -> tuple[list[RegisteredKind], list[PluginProblem]]:
    """Each entry point's kind, in name order; any failure costs that plug-in only."""
    kinds: list[RegisteredKind] = []
    problems: list[PluginProblem] = []
    for entry in sorted(entries, key=lambda e: (e.name, e.value)):
        label = plugin_label(entry)
        try:
            candidate: Any = entry.load()
        except Exception as exc:  # a broken plug-in must not stop the build
            problems.append(PluginProblem(label, f"import failed: {type(exc).__name__}: {exc}"))
            continue
        missing = missing_attributes(candidate)
        name = getattr(candidate, "KIND", None)
        if missing:
            problems.append(PluginProblem(label, f"not a kind: lacks {', '.join(missing)}"))
        elif not isinstance(name, str) or not name or "/" in name or name in taken:
            problems.append(PluginProblem(label, f"KIND {name!r} is not a new, plain name"))
        else:
            taken.add(name)
            kinds.append(RegisteredKind(name, f"plug-in {label}", cast(ExperimentKind, candidate)))
    return kinds, problems


def may_have_plugins(paths: Iterable[str] | None = None) -> bool:
    """Whether any distribution on ``paths`` (``sys.path``) declares the entry-point group:
    a scan of their ``entry_points.txt`` files, so that a tree without plug-ins never imports
    ``importlib.metadata`` (a tenth of a no-op build)."""
    marker = f"[{ENTRY_POINT_GROUP}]".encode()
    for directory in sys.path if paths is None else paths:
        try:
            with os.scandir(directory or ".") as scan:
                names = [e.name for e in scan if e.name.endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(directory or ".", name, "entry_points.txt"), "rb") as f:
                    if marker in f.read():
                        return True
            except OSError:
                continue
    return False


@cache
def registry() -> Registry:
    """The built-in kinds, then the installed plug-ins (read once per process)."""
    builtin = _builtin()
    if not may_have_plugins():
        return Registry(tuple(builtin))
    from importlib import metadata

    entries = metadata.entry_points(group=ENTRY_POINT_GROUP)
    plugins, problems = load_plugins(entries, reserved_names(builtin))
    for problem in problems:
        log.warning("reportgen: plug-in %s left out: %s", problem.plugin, problem.reason)
    return Registry((*builtin, *plugins), tuple(problems))
