"""The batch-manifest checks: each an id, a severity and the explanation the guide shows."""

from __future__ import annotations

from collections.abc import Sequence

from reportgen.findings import CheckInfo, Finding
from reportgen.kinds.batch_manifest.model import ManifestCheck, ManifestEntry

UNREADABLE = "manifest-unrecognised"
RUN_MISSING = "manifest-run-missing"
FILE_MISSING = "manifest-file-missing"
AMBIGUOUS = "manifest-path-ambiguous"
ZEROS = "manifest-placeholder-zeros"
UNLISTED = "manifest-run-unlisted"
NAMED = 6  # names listed in a message; the page lists all

CHECKS = (
    CheckInfo(
        UNREADABLE,
        "warning",
        "A batch manifest that is not a list of runs",
        "An `index.json` beside a batch lists its runs, one object per run naming its "
        "directory (`path` or `run_dir`). This one does not, so the batch it describes "
        "cannot be checked.",
        "manifest",
    ),
    CheckInfo(
        RUN_MISSING,
        "warning",
        "A run the batch manifest lists is not in the tree",
        "Each listed run directory is looked up in the tree: as written, relative to the "
        "manifest, or, for a path written on another machine, by the longest run of trailing "
        "path components it shares with a tree path (those under the manifest's directory "
        "first). A run found nowhere was not copied, was renamed, or never finished: the "
        "batch on the site is incomplete.",
        "manifest",
    ),
    CheckInfo(
        FILE_MISSING,
        "info",
        "A file the batch manifest names is not in the tree",
        "Rows of a control-variate batch name their CSV, summary and plots; those not found "
        "(by the same suffix matching as the runs) are listed.",
        "manifest",
    ),
    CheckInfo(
        AMBIGUOUS,
        "info",
        "A listed path matches several tree paths equally well",
        "Two or more tree paths share the same number of trailing components with the listed "
        "path and none is under the manifest's directory, so the run is not assigned to any.",
        "manifest",
    ),
    CheckInfo(
        ZEROS,
        "info",
        "Values of exactly 0 in a batch manifest",
        "Batch scripts write a row before its numbers are known and fill them in later; a "
        "timing, variance or approximation value of exactly 0 is usually such a placeholder. "
        "The run's own results file is authoritative: these numbers are named, never used.",
        "manifest",
    ),
    CheckInfo(
        UNLISTED,
        "info",
        "A run beside the manifest is not listed in it",
        "A run directory next to the manifest that the manifest does not list belongs to "
        "another batch, or was added after the manifest was written.",
        "manifest",
    ),
)


def _names(entries: Sequence[str]) -> str:
    shown = ", ".join(entries[:NAMED])
    return shown + (f" and {len(entries) - NAMED} more" if len(entries) > NAMED else "")


def manifest_findings(check: ManifestCheck) -> tuple[Finding, ...]:
    found: list[Finding] = []
    if check.problem is not None:
        message = f"{check.path}: {check.problem}"
        found.append(Finding(UNREADABLE, "warning", message, section="manifest"))
    missing = [e for e in check.entries if e.run_path is not None and e.run_path.match == "missing"]
    if missing:
        found.append(
            Finding(
                RUN_MISSING,
                "warning",
                f"{check.path} lists {len(check.entries)} runs; {len(missing)} not in the tree: "
                + _names([e.name for e in missing]),
                section="manifest",
            )
        )
    found += _files_missing(check)
    ambiguous = [
        e.name for e in check.entries if e.run_path is not None and e.run_path.match == "ambiguous"
    ]
    if ambiguous:
        found.append(
            Finding(
                AMBIGUOUS,
                "info",
                f"{check.path}: {_names(ambiguous)} match several tree paths equally well",
                section="manifest",
            )
        )
    found += _zeros(check.path, check.entries)
    if check.unlisted_runs:
        found.append(
            Finding(
                UNLISTED,
                "info",
                f"{check.path} does not list {_names(list(check.unlisted_runs))}",
                section="manifest",
            )
        )
    return tuple(found)


def _files_missing(check: ManifestCheck) -> list[Finding]:
    missing = [
        f"{e.name} {f.field}" for e in check.entries if e.present for f in e.files if not f.found
    ]
    if not missing:
        return []
    return [
        Finding(
            FILE_MISSING,
            "info",
            f"{check.path}: {len(missing)} listed file(s) of present runs not in the tree: "
            + _names(missing),
            section="manifest",
        )
    ]


def _zeros(path: str, entries: Sequence[ManifestEntry]) -> list[Finding]:
    with_zeros = [e for e in entries if e.placeholder_zeros]
    if not with_zeros:
        return []
    total = sum(len(e.placeholder_zeros) for e in with_zeros)
    named = [f"{e.name}: {', '.join(e.placeholder_zeros)}" for e in with_zeros]
    return [
        Finding(
            ZEROS,
            "info",
            f"{path}: {total} value(s) of exactly 0 in {len(with_zeros)} row(s), placeholders "
            f"(the runs' own files are used instead): "
            + "; ".join(named[:NAMED])
            + (f"; and {len(named) - NAMED} more rows" if len(named) > NAMED else ""),
            section="manifest",
        )
    ]
