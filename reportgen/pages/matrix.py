"""The diagnostics page's view: every run against every check that fired somewhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from markupsafe import Markup

from reportgen.analysis.diagnostics import CHECKS
from reportgen.discover import Tree
from reportgen.findings import SEVERITIES, CheckInfo, Finding, severity_counts
from reportgen.pages import paths
from reportgen.pages.index import RunRow, compact_href
from reportgen.pages.paged import CompactTable, RowsScript, paged


@dataclass(frozen=True)
class GroupFindingRow:
    """One finding of a group's own checks (pooled estimates, copies)."""

    group_id: str
    href: str
    finding: Finding


def group_finding_rows(
    tree: Tree, findings: Mapping[str, Sequence[Finding]]
) -> tuple[GroupFindingRow, ...]:
    """Every group's own findings, in the tree's order of groups."""
    return tuple(
        GroupFindingRow(g.id, paths.group_page(g.id), f)
        for g in tree.groups
        for f in findings.get(g.id, ())
    )


def with_group_findings(
    view: DiagnosticsView, rows: tuple[GroupFindingRow, ...]
) -> DiagnosticsView:
    """The diagnostics with the groups' own findings (a check that fired on a group is not
    quiet)."""
    fired = {r.finding.id for r in rows}
    return replace(view, groups=rows, quiet=tuple(c for c in view.quiet if c.id not in fired))


@dataclass(frozen=True)
class MatrixCell:
    severity: str | None
    count: int
    messages: str


@dataclass(frozen=True)
class MatrixRow:
    run: RunRow
    cells: tuple[MatrixCell, ...]


@dataclass(frozen=True)
class DiagnosticsView:
    checks: tuple[CheckInfo, ...]
    quiet: tuple[CheckInfo, ...]
    rows: tuple[MatrixRow, ...]  # every row, or (paged) the first page
    counts: Mapping[str, int]
    totals: tuple[int, ...]
    total_rows: int
    data: Markup | None = None  # every row as JSON when paged (``MATRIX``) in the page
    script: RowsScript | None = None  # or beside it
    groups: tuple[GroupFindingRow, ...] = ()  # the groups' own findings

    @property
    def paged(self) -> bool:
        return self.data is not None or self.script is not None


# A row of the paged matrix; ``cells`` lists only the checks that fired, each as
# ``[check, count, severity]`` (``CELL_COLUMNS``): indexes into ``checks`` and ``severities``.
# The cells' messages are left to the run pages' findings (each cell links there): at 10,000
# runs they alone would be ~3 MB.
MATRIX = CompactTable(
    columns=("id", "href", "errors", "warnings", "infos", "findings", "cells"),
    lookup=("findings",),
)
CELL_COLUMNS = ("check", "count", "severity")


def diagnostics_view(rows: Sequence[RunRow]) -> DiagnosticsView:
    """The runs × checks matrix; checks that fired nowhere are listed apart to keep it readable."""
    fired = {f.id for row in rows for f in row.findings}
    columns = tuple(c for c in CHECKS if c.id in fired)
    matrix = tuple(MatrixRow(row, _cells(row, columns)) for row in rows)
    counts = severity_counts(f for row in rows for f in row.findings)
    totals = tuple(sum(r.cells[i].count for r in matrix) for i in range(len(columns)))
    quiet = tuple(c for c in CHECKS if c.id not in fired)
    extra = {
        "checks": [c.id for c in columns],
        "severities": list(SEVERITIES),
        "cell_columns": list(CELL_COLUMNS),
    }
    script = ("diagnostics-matrix.js", "matrix-data")
    shown = paged(matrix, (_matrix_values(row) for row in matrix), MATRIX, script, **extra)
    return DiagnosticsView(
        columns, quiet, shown.rows, counts, totals, len(matrix), shown.data, shown.script
    )


_NO_HITS = MatrixCell(None, 0, "")  # most cells of a large tree's matrix: one object for all


def _cells(row: RunRow, columns: Sequence[CheckInfo]) -> tuple[MatrixCell, ...]:
    cells = []
    for check in columns:
        hits = [f for f in row.findings if f.id == check.id]
        if not hits:
            cells.append(_NO_HITS)
            continue
        messages = " · ".join(f.message for f in hits[:5])
        cells.append(MatrixCell(hits[0].severity, len(hits), messages))
    return tuple(cells)


def _matrix_values(row: MatrixRow) -> tuple[object, ...]:
    run = row.run
    cells = [
        [i, cell.count, SEVERITIES.index(cell.severity)]
        for i, cell in enumerate(row.cells)
        if cell.count and cell.severity is not None
    ]
    counts = (run.counts.get(s, 0) for s in SEVERITIES)
    return (run.id, compact_href(run.href, run.id), *counts, run.finding_ids, cells)
