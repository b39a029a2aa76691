"""Every command's settings, each declared once: type, default, range, help, environment variable
and tree-file key (as MkDocs' ``MkDocsConfig`` declares its options).

The argparse parsers (``cli.py``), the build stage's ``BuildOptions``, the stage settings
(``derive``), the README's option tables (``tests/tools/options_table.py``) and the validation of
a tree file's settings table (``validate_tree_settings``) are all generated from the dataclasses
below. A value comes from, in order: the command line, the environment, the tree file, the
declared default. How a setting is made, parsed and resolved is ``setting_spec``'s.

This module is on the path of a no-op build: it imports nothing heavy.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Mapping
from dataclasses import Field, dataclass
from pathlib import Path
from typing import Any, Literal

from reportgen.findings import SEVERITIES, Severity
from reportgen.setting_spec import (
    SettingError,
    Spec,
    TreeSettings,
    check_range,
    computed_setting,
    default_of,
    default_text,
    derive,
    options,
    parse_text,
    range_text,
    resolve,
    setting,
    spec,
    specs,
)

__all__ = [  # the machinery of setting_spec is used through this module
    "SettingError",
    "Spec",
    "TreeSettings",
    "default_of",
    "default_text",
    "derive",
    "options",
    "parse_text",
    "range_text",
    "resolve",
    "spec",
]

MB = 1024 * 1024
FIGURE_FORMATS = ("svg", "png", "pdf")  # the same tuples as charts.export, without vl-convert
FIGURE_THEMES = ("paper", "site")
CHECK_FORMATS = ("text", "json", "markdown", "junit")
MAX_JOBS = 256


def default_jobs() -> int:
    return min(os.cpu_count() or 1, MAX_JOBS)


# --- the settings ----------------------------------------------------------------------------
# Mixins and commands generate no repr or comparison: each generated method costs a no-op
# build's start-up time, and neither is ever compared.
# Limits are checked before anything runs: beyond them an option would cost memory no machine
# has (--draws asks numpy for draws × sequences floats) or overflow a 64-bit field.


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)  # a mixin
class ReadOptions:
    """How the tree is read and analysed: shared by build, check and demo."""

    follow_symlinks: bool = setting(
        False,
        "--follow-symlinks",
        help="follow symbolic links that stay inside RESULTS_DIR (never outside)",
        hashed=True,
    )
    max_bytes: int = setting(
        256 * MB,
        "--max-file-size",
        help="refuse results files larger than this",
        metavar="MB",
        low=1,
        high=65_536,
        unit=MB,
        default_text="256",
        hashed=True,
    )
    seed: int = setting(
        0,
        "--seed",
        help="seed of the batch-size subsampling and of the bootstrap",
        metavar="S",
        low=0,
        high=2**32 - 1,
        key="seed",
        hashed=True,
    )
    bootstrap: int = setting(
        2000,
        "--bootstrap",
        help="paired bootstrap resamples per run for the 95 % intervals (0: delta-method "
        "standard errors only)",
        metavar="N",
        low=0,
        high=100_000,
        key="bootstrap",
        hashed=True,
    )
    equivalence_margin: float = setting(
        0.2,
        "--equivalence-margin",
        help="relative margin within which an approximation is shown to agree with ΔH_true",
        metavar="M",
        low=0.0,
        high=1.0,
        open_range=True,
        key="equivalence_margin",
        hashed=True,
    )


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)  # a mixin
class SiteOptions(ReadOptions):
    """What a site is built into and how: shared by build and demo."""

    out: Path = setting(
        Path("site"), "-o", "--output", help="output directory", metavar="OUT",
        default_text="site/",
    )  # fmt: skip
    jobs: int = computed_setting(
        default_jobs,
        "-j",
        "--jobs",
        help="worker processes, at most (a build with few pages to render starts none)",
        kind="int",
        metavar="N",
        low=1,
        high=MAX_JOBS,
        env="REPORTGEN_JOBS",
        default_text="all cores",
    )
    force: bool = setting(
        False,
        "--force",
        help="rebuild everything, and replace a non-empty OUT that is not a reportgen site, or "
        "with --single-file a file it did not write (never files tracked by git)",
    )
    title: str = setting(
        "Entropy experiments", "--title", help="site title", key="title", hashed=True
    )
    figures: tuple[str, ...] = setting(
        (),
        "--figures",
        help="also write every chart as a file (and its data CSV), listed on figures.html (slow)",
        kind="list",
        choices=FIGURE_FORMATS,
        metavar="svg,png,pdf",
        default_text="none",
        hashed=True,
    )
    figure_theme: Literal["paper", "site"] = setting(
        "paper",
        "--figure-theme",
        help="style of the figure files: paper (sans-serif, labels ≥ 11 pt, colour-blind-safe, "
        "one- or two-column width) or site (as on the pages)",
        choices=FIGURE_THEMES,
        key="figure_theme",
        hashed=True,
    )
    single_file: str | None = setting(
        None,
        "--single-file",
        help="write one self-contained HTML file for one run, group or study (KIND:DIRECTORY, "
        "as check prints it) to OUT (e.g. -o report.html)",
        kind="text",
        metavar="ID",
        default_text="off",
    )
    draws: int = setting(
        1000,
        "--draws",
        help="random subsets per η in the batch-size comparison",
        metavar="N",
        low=1,
        high=100_000,
        key="draws",
        hashed=True,
    )
    max_points: int = setting(
        5000,
        "--max-points",
        help="downsample charts with more points than this (the CSV downloads keep every row)",
        metavar="N",
        low=1,
        high=1_000_000,
        hashed=True,
    )


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)  # a mixin
class TreeArgument:
    """The results tree a command reads."""

    results: Path = setting(
        Path("results"), "results", help="the results tree", metavar="RESULTS_DIR",
        default_text="./results",
    )  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class BuildOptions(SiteOptions, TreeArgument):
    """What the build stage takes (made from ``BuildSettings`` by the CLI, or by a caller)."""

    verbose: bool = setting(False, help="log a traceback for each failed run (-v)")

    def output_settings(self) -> dict[str, object]:
        """The settings that change the bytes of the site (the build hashes them)."""
        return {f.name: getattr(self, f.name) for f in specs(type(self)) if spec(f).hashed}


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)  # a mixin
class Console:
    """How much a command prints."""

    quiet: bool = setting(False, "-q", "--quiet", help="print only errors")
    verbose: int = setting(
        0,
        "-v",
        "--verbose",
        help="more detail: -v adds why each failed run, study or plug-in failed (file, position, "
        "hint) and tracebacks, -vv reportgen's debug log",
        kind="count",
    )


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)  # a mixin
class Strict:
    """Warnings as failures."""

    strict: bool = setting(
        False, "--strict", help="count warnings as failures: the same as --fail-on warning"
    )


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)  # a mixin
class SiteCommand(SiteOptions, Strict, Console):
    """What build and demo share beyond the site's options."""

    fail_on: Severity | None = setting(
        None,
        "--fail-on",
        help="also exit 1 when a run has a finding of this severity or worse",
        choices=SEVERITIES,
        default_text="findings do not change the exit code",
    )
    open: bool = setting(False, "--open", help="open the built site in the web browser")


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)  # a command
class BuildSettings(SiteCommand, TreeArgument):
    """``reportgen build``."""


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)  # a command
class DemoSettings(SiteCommand):
    """``reportgen demo``."""

    sample_seed: int = setting(
        0, "--sample-seed", help="seed of the generated sample tree", metavar="S", low=0,
        high=2**32 - 1,
    )  # fmt: skip
    tree: Path | None = setting(
        None,
        "--tree",
        help="write the generated sample tree to DIR and keep it (DIR must be missing or empty)",
        kind="path",
        metavar="DIR",
        default_text="a temporary directory, deleted after the build",
    )


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)  # a command
class CheckSettings(ReadOptions, TreeArgument, Strict, Console):
    """``reportgen check``."""

    format: Literal["text", "json", "markdown", "junit"] = setting(
        "text",
        "--format",
        help="text; json (versioned, with totals); markdown (a CI job summary); junit (one test "
        "case per run, a failure per finding at or above --fail-on)",
        choices=CHECK_FORMATS,
    )
    fail_on: Severity = setting(
        "error",
        "--fail-on",
        help="lowest severity that makes the exit code 1",
        choices=SEVERITIES,
    )


COMMANDS: dict[str, type[Any]] = {
    "build": BuildSettings,
    "check": CheckSettings,
    "demo": DemoSettings,
}


# --- reading the schema ----------------------------------------------------------------------


# --help lists the options in these sections, in this order (the command's own come first)
SECTIONS: dict[type[Any], str] = {
    SiteOptions: "the site",
    ReadOptions: "reading and analysis",
    Strict: "exit code",
    Console: "console",
}


def section(cls: type[Any], name: str) -> str | None:
    """The section of ``--help`` a setting of ``cls`` belongs to, by the class declaring it
    (``None``: the command's own options)."""
    if name == "fail_on":  # each command declares its own, with its own default
        return SECTIONS[Strict]
    for owner in cls.__mro__:
        if name in inspect.get_annotations(owner):
            return SECTIONS.get(owner)
    return None


def sectioned(cls: type[Any]) -> list[Field[Any]]:
    """The options of ``cls`` in the order ``--help`` and the README list them."""
    order = [None, *SECTIONS.values()]
    return sorted(options(cls), key=lambda item: order.index(section(cls, item.name)))


def effective_fail_on(fail_on: Severity | None, strict: bool) -> Severity | None:
    """``--strict`` lowers the threshold to warnings (never raises one given lower)."""
    if not strict:
        return fail_on
    return "info" if fail_on == "info" else "warning"


# --- the tree file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeSettingsError:
    """A tree-file setting that cannot be used: its key, its line (when found) and why."""

    key: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.key}: {self.message}"


def tree_keys() -> dict[str, tuple[str, Spec]]:
    """Every tree-file key of any command: key → (field name, spec)."""
    keys: dict[str, tuple[str, Spec]] = {}
    for cls in COMMANDS.values():
        for item in specs(cls):
            found = spec(item)
            if found.key is not None:
                keys[found.key] = (item.name, found)
    return keys


def validate_tree_settings(
    table: Mapping[str, object], source: str
) -> TreeSettings | TreeSettingsError:
    """Check a tree file's settings table (as ``tomllib`` parsed it) against the schema.

    ``source`` is the file's text, used only to name the line of a bad key. Command-line-only
    options (``jobs``, ``out``, limits such as ``max_file_size``) are refused: a results tree
    never raises its own limits or chooses where the site is written.
    """
    known = tree_keys()
    values: dict[str, object] = {}
    for key, raw in table.items():
        if key not in known:
            message = f"unknown setting (known: {', '.join(sorted(known))})"
            return TreeSettingsError(key, _line_of(key, source), message)
        name, item = known[key]
        try:
            values[name] = checked_value(item, raw)
        except SettingError as exc:
            return TreeSettingsError(key, _line_of(key, source), str(exc))
    return TreeSettings(values)


def checked_value(item: Spec, raw: object) -> object:
    """A Python value (a tree file's, or a caller's of ``reportgen.open``) of the setting's type
    and range, in the stored unit (an integer is a number too; no string is parsed)."""
    if item.kind in ("int", "count"):
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise SettingError(f"must be an integer, not {type(raw).__name__}")
        check_range(item, raw, str(raw))
        return raw * item.unit
    if item.kind == "float":
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise SettingError(f"must be a number, not {type(raw).__name__}")
        check_range(item, float(raw), str(raw))
        return float(raw)
    if item.kind == "flag":
        if not isinstance(raw, bool):
            raise SettingError(f"must be true or false, not {type(raw).__name__}")
        return raw
    if not isinstance(raw, str):
        raise SettingError(f"must be a string, not {type(raw).__name__}")
    if item.kind == "choice" and raw not in item.choices:
        raise SettingError(f"{raw[:40]!r} is not one of {', '.join(item.choices)}")
    return raw


def _line_of(key: str, source: str) -> int | None:
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    for number, line in enumerate(source.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def build_options(settings: object, **overrides: object) -> BuildOptions:
    """The build stage's options from a command's settings (``-v`` → ``verbose``)."""
    verbose = getattr(settings, "verbose", 0)
    return derive(BuildOptions, settings, verbose=bool(verbose), **overrides)
