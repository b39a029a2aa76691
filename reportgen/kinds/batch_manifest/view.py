"""What the ``_batch_manifest.html`` partial shows, and the check's JSON form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reportgen.analysis.record import finding_to_json
from reportgen.findings import Finding
from reportgen.kinds.batch_manifest.model import ListedPath, ManifestCheck

STATUS = {
    "exact": "found",
    "relative": "found beside the manifest",
    "suffix": "found by path suffix",
    "ambiguous": "ambiguous",
    "missing": "not in the tree",
}


@dataclass(frozen=True)
class PathRow:
    field: str
    listed: str
    listed_parts: tuple[str, ...]  # split at "/" so a long path can wrap there
    tree_path: str | None
    href: str | None
    status: str
    found: bool
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class ManifestRow:
    run: str
    run_path: PathRow | None
    files: tuple[PathRow, ...]
    zeros: tuple[str, ...]


@dataclass(frozen=True)
class ManifestView:
    path: str
    shape: str
    headline: str
    problem: str | None
    rows: tuple[ManifestRow, ...]
    unlisted: tuple[str, ...]
    findings: tuple[Finding, ...]


def _path_row(listed: ListedPath, hrefs: Mapping[str, str]) -> PathRow:
    status = STATUS[listed.match]
    if listed.match == "suffix":
        status += (
            f" ({listed.matched_parts} trailing part{'s' if listed.matched_parts != 1 else ''})"
        )
    return PathRow(
        field=listed.field,
        listed=listed.listed,
        listed_parts=tuple(listed.listed.split("/")),
        tree_path=listed.tree_path,
        href=hrefs.get(listed.tree_path) if listed.tree_path is not None else None,
        status=status,
        found=listed.found,
        candidates=listed.candidates,
    )


def manifest_view(check: ManifestCheck, hrefs: Mapping[str, str] | None = None) -> ManifestView:
    """``hrefs`` maps tree paths (run directories) to their pages, relative to the includer."""
    links = hrefs or {}
    present = sum(1 for e in check.entries if e.present)
    zeros = sum(len(e.placeholder_zeros) for e in check.entries)
    headline = (
        f"{present} of {len(check.entries)} listed runs are in the tree"
        + (f"; {zeros} value(s) of exactly 0 look like placeholders" if zeros else "")
        + (
            f"; {len(check.unlisted_runs)} run(s) beside it are not listed"
            if check.unlisted_runs
            else ""
        )
        + "."
    )
    return ManifestView(
        path=check.path,
        shape=check.shape,
        headline=headline if check.entries else f"Not read as a manifest: {check.problem}.",
        problem=check.problem,
        rows=tuple(
            ManifestRow(
                run=e.name,
                run_path=_path_row(e.run_path, links) if e.run_path else None,
                files=tuple(_path_row(f, links) for f in e.files),
                zeros=e.placeholder_zeros,
            )
            for e in check.entries
        ),
        unlisted=check.unlisted_runs,
        findings=check.findings,
    )


def _path_json(listed: ListedPath) -> dict[str, Any]:
    return {
        "field": listed.field,
        "listed": listed.listed,
        "tree_path": listed.tree_path,
        "match": listed.match,
        "matched_parts": listed.matched_parts,
        "candidates": list(listed.candidates),
    }


def manifest_json(check: ManifestCheck) -> dict[str, Any]:
    """The check as plain JSON (its schema: batch-manifest.schema.json)."""
    return {
        "path": check.path,
        "shape": check.shape,
        "problem": check.problem,
        "entries": [
            {
                "index": e.index,
                "run": e.run,
                "present": e.present,
                "run_path": _path_json(e.run_path) if e.run_path else None,
                "files": [_path_json(f) for f in e.files],
                "placeholder_zeros": list(e.placeholder_zeros),
            }
            for e in check.entries
        ],
        "unlisted_runs": list(check.unlisted_runs),
        "findings": [finding_to_json(f) for f in check.findings],
    }
