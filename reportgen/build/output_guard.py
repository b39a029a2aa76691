"""Which outputs a build may write: never in or around the results, never below a file, never
over someone else's files without ``--force`` (and never over files git tracks); the reads of
OUT this takes are ``write.py``'s."""

from __future__ import annotations

import os
from pathlib import Path

from reportgen.write import WriteError, holds_files, is_reportgen_site, is_single_file_page


def check_output_dir(out: Path, results: Path | None, force: bool) -> None:
    """Refuse outputs that could destroy data: inside or around the results, or someone else's."""
    _check_placement(out, results)
    if out.exists() and not out.is_dir():
        raise WriteError(f"output {out} exists and is not a directory")
    if out.is_dir() and holds_files(out) and not is_reportgen_site(out):
        _refuse_foreign(out, force, "is not empty and is not a reportgen site")


def check_output_file(out: Path, results: Path | None, force: bool) -> None:
    """The same for ``--single-file``'s one file: never a directory, and a file that is not a
    page an earlier ``--single-file`` wrote only with ``force`` (never one git tracks)."""
    if out.is_dir():
        raise WriteError(
            f"{out} is a directory; --single-file writes one file (e.g. -o report.html)"
        )
    _check_placement(out, results)
    if out.exists() and not is_single_file_page(out):
        _refuse_foreign(out, force, "exists and is not a page reportgen wrote with --single-file")


def _check_placement(out: Path, results: Path | None) -> None:
    """Not in or around the results, not a link to nothing, not below a file."""
    out_real = out.resolve()
    if results is not None:
        results_real = results.resolve()
        if out_real == results_real or out_real.is_relative_to(results_real):
            raise WriteError(
                f"output {out} is inside the results directory {results}; choose another -o"
            )
        if results_real.is_relative_to(out_real):
            raise WriteError(
                f"results directory {results} is inside the output {out}; choose another -o"
            )
    if out.is_symlink() and not out.exists():
        raise WriteError(f"output {out} is a symbolic link to {os.readlink(out)}, which is missing")
    # the nearest existing ancestor: a file there makes every later step fail with a bare errno
    parent = next((p for p in out.parents if os.path.lexists(p)), None)  # named as given
    if parent is not None and not parent.is_dir():
        raise WriteError(f"output {out}: {parent} is a file, not a directory; choose another -o")


def _refuse_foreign(out: Path, force: bool, what: str) -> None:
    """``out`` is not ours: git's files never replaced, anything else only with ``force``."""
    if tracked := tracked_by_git(out):
        more = ", …" if len(tracked) > 1 else ""
        held = f"holds {len(tracked):,} file(s) tracked by git ({tracked[0]}{more})"
        raise WriteError(
            f"output {out} {held if out.is_dir() else 'is tracked by git'}; choose another -o "
            f"(not even --force replaces {'them' if out.is_dir() else 'it'})"
        )
    if not force:
        raise WriteError(f"output {out} {what}; pass --force to replace it")


def tracked_by_git(path: Path) -> list[str]:
    """The files at or under ``path`` that git tracks; none outside a work tree or without git."""
    real = path.resolve()
    if not any((parent / ".git").exists() for parent in (real, *real.parents)):
        return []  # no work tree around it: no need to start git
    import subprocess

    where, which = (real, ".") if real.is_dir() else (real.parent, real.name)
    try:
        listed = subprocess.run(
            ["git", "--literal-pathspecs", "-C", str(where), "ls-files", "-z", "--", which],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # git absent or stuck: nothing to protect
        return []
    if listed.returncode != 0:
        return []
    return [name for name in os.fsdecode(listed.stdout).split("\0") if name]
