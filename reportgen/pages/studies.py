"""What the site-wide pages show of the experiment kinds' studies and of the files no kind
claimed: the index's studies section, the unclaimed-file pages, the diagnostics' study table and
the manifest's ``studies`` and ``unclaimed`` lists. Pure: from the studies' rows."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reportgen.analysis.record import finding_from_json
from reportgen.findings import CheckInfo, Finding, severity_counts
from reportgen.kinds.claiming import Unclaimed
from reportgen.kinds.registry import PluginProblem, registry
from reportgen.kinds.stage_checks import PLUGIN_FAILED, STAGE_CHECKS
from reportgen.pages.render import Crumb, PageMeta, SiteContext, render_page

UNCLAIMED_PAGE = "unclaimed.html"
UNCLAIMED_PAGE_SIZE = 500  # rows per unclaimed page; more spill to unclaimed-2.html, …


@dataclass(frozen=True)
class StudyRow:
    id: str
    kind: str
    origin: str
    directory: str
    status: str
    href: str | None
    inputs: int
    not_read: int
    counts: Mapping[str, int]
    findings: tuple[Finding, ...]
    error: str | None
    stale: bool = False  # its page is the last good one (tonight's read failed)


@dataclass(frozen=True)
class DirectoryFiles:
    directory: str
    files: tuple[Unclaimed, ...]


@dataclass(frozen=True)
class UnclaimedPage:
    path: str
    number: int
    groups: tuple[DirectoryFiles, ...]


@dataclass(frozen=True, eq=False)
class Inventory:
    """The studies (as rows), the unclaimed files and the plug-ins that could not take part."""

    studies: tuple[StudyRow, ...]
    rows: tuple[Mapping[str, Any], ...]  # the studies' stored rows, for the manifest
    unclaimed: tuple[Unclaimed, ...]
    problems: tuple[PluginProblem, ...]

    @classmethod
    def of(
        cls,
        rows: Sequence[Mapping[str, Any]],
        unclaimed: Sequence[Unclaimed],
        problems: Sequence[PluginProblem],
    ) -> Inventory:
        """From the studies' stored rows (in id order)."""
        rows = tuple(sorted(rows, key=lambda row: str(row["id"])))
        return cls(tuple(map(study_row, rows)), rows, tuple(unclaimed), tuple(problems))

    @property
    def unclaimed_bytes(self) -> int:
        return sum(u.bytes for u in self.unclaimed)

    @property
    def problem_findings(self) -> tuple[Finding, ...]:
        return tuple(
            Finding(PLUGIN_FAILED, "error", f"plug-in {p.plugin}: {p.reason}", None, "findings")
            for p in self.problems
        )

    def pages(self) -> tuple[UnclaimedPage, ...]:
        """The unclaimed files grouped by directory, ``UNCLAIMED_PAGE_SIZE`` to a page."""
        chunks = [
            self.unclaimed[i : i + UNCLAIMED_PAGE_SIZE]
            for i in range(0, len(self.unclaimed), UNCLAIMED_PAGE_SIZE)
        ] or [()]
        return tuple(
            UnclaimedPage(unclaimed_page(n), n, _by_directory(chunk))
            for n, chunk in enumerate(chunks, start=1)
        )

    def check_infos(self) -> tuple[CheckInfo, ...]:
        """Every registered kind's checks, then the build's own (guide and diagnostics)."""
        infos: list[CheckInfo] = []
        for kind in registry().kinds:
            infos += [i for i in kind.kind.CHECKS if i.id not in {x.id for x in infos}]
        return (*infos, *STAGE_CHECKS)


NO_INVENTORY = Inventory((), (), (), ())


def unclaimed_page(number: int) -> str:
    return UNCLAIMED_PAGE if number == 1 else f"unclaimed-{number}.html"


def study_row(row: Mapping[str, Any]) -> StudyRow:
    findings = tuple(finding_from_json(f) for f in row["findings"])
    return StudyRow(
        id=str(row["id"]),
        kind=str(row["kind"]),
        origin=str(row["origin"]),
        directory=str(row["directory"]),
        status=str(row["status"]),
        href=row["page"],
        inputs=len(row["inputs"]),
        not_read=len(row["not_read"]),
        counts=severity_counts(findings),
        findings=findings,
        error=row["error"],
        stale=row.get("stale") is not None,
    )


def _by_directory(files: Sequence[Unclaimed]) -> tuple[DirectoryFiles, ...]:
    groups: dict[str, list[Unclaimed]] = {}
    for item in files:
        groups.setdefault(posixpath.dirname(item.path) or ".", []).append(item)
    return tuple(DirectoryFiles(d, tuple(fs)) for d, fs in sorted(groups.items()))


def unclaimed_pages(inventory: Inventory, site: SiteContext) -> list[tuple[str, bytes]]:
    pages = inventory.pages()
    out = []
    for page in pages:
        title = "Files not claimed" + (f" (page {page.number})" if page.number > 1 else "")
        crumbs = (Crumb("Index", "index.html"), Crumb(title, None))
        meta = PageMeta(page.path, title, "unclaimed", crumbs)
        links = tuple((p.number, p.path) for p in pages)
        context = {"listing": page, "pages": links, "inventory": inventory}
        out.append((page.path, render_page("unclaimed.html", site, meta, **context)))
    return out


def manifest_fields(inventory: Inventory) -> dict[str, Any]:
    """The manifest's ``studies`` and ``unclaimed`` lists (fields only ever added)."""
    return {
        "studies": [
            {
                "id": row["id"],
                "kind": row["kind"],
                "origin": row["origin"],
                "directory": row["directory"],
                "status": row["status"],
                "page": row["page"],
                "summary": row["summary"],
                "inputs": list(row["inputs"]),
                "not_read": list(row["not_read"]),
                "findings": len(row["findings"]),
                **({"stale": True} if row.get("stale") is not None else {}),
            }
            for row in inventory.rows
        ],
        "unclaimed": [
            {"path": u.path, "kind": u.kind, "bytes": u.bytes, "reason": u.reason}
            for u in inventory.unclaimed
        ],
        "plugin_problems": [{"plugin": p.plugin, "reason": p.reason} for p in inventory.problems],
    }
