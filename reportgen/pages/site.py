"""Site-wide pages built from the runs' cached summaries: index, diagnostics, changes, manifest."""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from markupsafe import Markup

from reportgen.analysis.diagnostics import (
    CHECKS,
    CheckCount,
    incomplete_finding,
    runs_per_check,
)
from reportgen.analysis.record import RunRecord
from reportgen.charts import Chart, Datasets, export
from reportgen.charts.export import Figure
from reportgen.discover import IncompleteRun, Skipped, Tree
from reportgen.findings import SEVERITIES, CheckInfo, Finding, empty_counts, severity_counts
from reportgen.pages import paths, serialize
from reportgen.pages.assets import static_assets
from reportgen.pages.changes import ChangesView, changes_view
from reportgen.pages.group_charts import index_charts
from reportgen.pages.guide import GUIDE_PAGE, render_guide
from reportgen.pages.output import PageOutput
from reportgen.pages.render import Crumb, PageMeta, SiteContext, json_for_script, render_page
from reportgen.pages.run import Cite

FIGURES_PAGE = "figures.html"


log = logging.getLogger("reportgen")


@dataclass(frozen=True)
class RunRow:
    """One run as the index and diagnostics pages list it (from its cached summary)."""

    id: str
    href: str
    source: str
    schema: str
    status: str
    stale: bool
    batch_size: int | None
    eta_count: int
    counts: Mapping[str, int]
    finding_ids: tuple[str, ...]
    search_text: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class GroupRow:
    id: str
    name: str
    href: str
    depth: int
    run_count: int
    counts: Mapping[str, int]


@dataclass(frozen=True)
class StaleRow:
    id: str
    href: str
    reason: str
    last_good: str


# Above this many rows the index ships its run table as JSON and pages through it in the browser
# (the first page also as HTML, for readers without script); at or below it, plain HTML rows.
PAGED_ABOVE = 500
PAGE_SIZE = 100
# Above this many groups the index lists only the shallower levels (each group page lists its
# subgroups); above this many runs it drops the whole-tree overlay (unreadable, and ~200 bytes a
# run): both keep the index of a 10,000-run tree under 2 MB.
MAX_INDEX_GROUPS = 400
MAX_OVERVIEW_RUNS = 500


@dataclass(frozen=True, eq=False)
class RunTable:
    """The index's run table: rows rendered as HTML, and all rows as JSON when paged."""

    rows: tuple[RunRow, ...]
    total: int
    data: Markup | None  # compact rows for reportgen.js (``run_table_json``), when paged
    page_size: int


@dataclass(frozen=True, eq=False)
class IndexView:
    run_count: int
    group_count: int
    error_count: int
    stale_count: int
    counts: Mapping[str, int]
    runs: RunTable
    groups: tuple[GroupRow, ...]
    groups_hidden: int  # deeper groups left out of the index (their parents list them)
    stale: tuple[StaleRow, ...]
    incomplete: tuple[IncompleteRun, ...]
    skipped: tuple[Skipped, ...]
    charts: tuple[Chart, ...]
    overview_dropped: bool
    page_data: Markup
    cite: Cite
    figure_count: int = 0
    check_counts: tuple[CheckCount, ...] = ()


@dataclass(frozen=True)
class FigureRow:
    """One exported figure on the figure index, with links relative to the site root."""

    page: str
    page_title: str
    figure: Figure
    links: tuple[tuple[str, str], ...]  # (format, href)
    csv: str | None


@dataclass(frozen=True)
class FiguresView:
    rows: tuple[FigureRow, ...]
    warnings: int


def figures_view(manifests: Sequence[tuple[str, bytes]]) -> FiguresView:
    """The figure index from every page's ``figures/figures.json`` (path, bytes)."""
    rows = []
    for path, content in sorted(manifests):
        directory = posixpath.dirname(path)
        page, figures = export.read_manifest(content)
        title = posixpath.dirname(page).removeprefix("runs/").removeprefix("groups/") or page
        kind = "group" if page.startswith("groups/") else "run"
        for figure in figures:
            links = tuple(
                (name.rsplit(".", 1)[1].upper(), f"{directory}/{name}") for name in figure.files
            )
            csv = f"{directory}/{figure.csv}" if figure.csv else None
            rows.append(FigureRow(page, f"{kind} {title}", figure, links, csv))
    return FiguresView(tuple(rows), sum(1 for r in rows if r.figure.warning))


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
    data: str | None = None  # every row as JSON when paged (``matrix_json``)


# --- rows from cached summaries --------------------------------------------------------------


def run_row(record: RunRecord) -> RunRow:
    findings = record.findings
    ids = tuple(sorted({f.id for f in findings}))
    schema = record.schema or "unreadable"
    return RunRow(
        id=record.id,
        href=paths.run_page(record.id),
        source=record.source,
        schema=schema,
        status=record.status,
        stale=record.stale is not None,
        batch_size=record.batch_size,
        eta_count=len(record.etas),
        counts=severity_counts(findings),
        finding_ids=ids,
        search_text=" ".join((record.id, record.source, schema, *ids)),
        findings=findings,
    )


def incomplete_row(incomplete: IncompleteRun) -> RunRow:
    finding = incomplete_finding(incomplete)
    return RunRow(
        id=incomplete.directory,
        href=GUIDE_PAGE + "#check-incomplete-run",
        source=incomplete.plan,
        schema="incomplete",
        status="incomplete",
        stale=False,
        batch_size=None,
        eta_count=0,
        counts=severity_counts([finding]),
        finding_ids=(finding.id,),
        search_text=f"{incomplete.directory} incomplete {finding.id}",
        findings=(finding,),
    )


def runs_affected(rows: Iterable[RunRow]) -> dict[str, int]:
    """Per severity, how many runs have a finding of it (a finding repeated per η is one run's
    problem, so rows would overstate it)."""
    counts = empty_counts()
    for row in rows:
        for severity in {f.severity for f in row.findings} & counts.keys():
            counts[severity] += 1
    return counts


def group_rows(tree: Tree, rows: Mapping[str, RunRow]) -> tuple[GroupRow, ...]:
    result = []
    for group in tree.groups:
        counts = runs_affected(rows[run_id] for run_id in group.run_ids)
        result.append(
            GroupRow(
                id=group.id,
                name=PurePosixPath(group.id).name,
                href=paths.group_page(group.id),
                depth=group.id.count("/"),
                run_count=len(group.run_ids),
                counts=counts,
            )
        )
    return tuple(result)


def run_table(rows: Sequence[RunRow]) -> RunTable:
    """Every row as HTML, or (more than ``PAGED_ABOVE``) the first page and all rows as JSON."""
    if len(rows) <= PAGED_ABOVE:
        return RunTable(tuple(rows), len(rows), None, PAGE_SIZE)
    data = json_for_script(run_table_json(rows))
    return RunTable(tuple(rows[:PAGE_SIZE]), len(rows), data, PAGE_SIZE)


def run_table_json(rows: Sequence[RunRow]) -> dict[str, object]:
    """Rows as short arrays, repeated strings as indexes into tables (~70 bytes a run).

    A row is ``[id, source, schema, status, stale, B_E, η count, errors, warnings, infos,
    finding indexes, href]``; ``source`` is 0 when it is ``id/results.json`` and ``href`` 0 when
    it is the run's page (``runs/<id>/index.html``), the common cases.
    """
    schemas: dict[str, int] = {}
    statuses: dict[str, int] = {}
    finding_ids: dict[str, int] = {}
    out = []
    for r in rows:
        source: str | int = 0 if r.source == f"{r.id}/results.json" else r.source
        out.append(
            [
                r.id,
                source,
                schemas.setdefault(r.schema, len(schemas)),
                statuses.setdefault(r.status, len(statuses)),
                int(r.stale),
                r.batch_size,
                r.eta_count,
                r.counts.get("error", 0),
                r.counts.get("warning", 0),
                r.counts.get("info", 0),
                [finding_ids.setdefault(f, len(finding_ids)) for f in r.finding_ids],
                _compact_href(r),
            ]
        )
    return {
        "schemas": list(schemas),
        "statuses": list(statuses),
        "findings": list(finding_ids),
        "page_size": PAGE_SIZE,
        "rows": out,
    }


def _compact_href(row: RunRow) -> str | int:
    """0 where the href is what reportgen.js rebuilds from the id (not ``paths.run_page``,
    which slugs the id), the common case; else the href itself."""
    return 0 if row.href == f"runs/{row.id}/index.html" else row.href


def index_groups(groups: Sequence[GroupRow]) -> tuple[GroupRow, ...]:
    """The shallowest levels of the group tree that fit in ``MAX_INDEX_GROUPS`` (at least one)."""
    if len(groups) <= MAX_INDEX_GROUPS:
        return tuple(groups)
    depth = 0
    while sum(1 for g in groups if g.depth <= depth + 1) <= MAX_INDEX_GROUPS:
        depth += 1
    return tuple(g for g in groups if g.depth <= depth)


# --- pages -----------------------------------------------------------------------------------


def _top_page(path: str, title: str, kind: str, has_charts: bool = False) -> PageMeta:
    crumbs = (
        (Crumb("Index", "index.html"), Crumb(title, None))
        if path != "index.html"
        else (Crumb("Index", None),)
    )
    return PageMeta(path, title, kind, crumbs, has_charts)


def diagnostics_view(rows: Sequence[RunRow]) -> DiagnosticsView:
    """The runs × checks matrix; checks that fired nowhere are listed apart to keep it readable."""
    fired = {f.id for row in rows for f in row.findings}
    columns = tuple(c for c in CHECKS if c.id in fired)
    matrix = []
    for row in rows:
        cells = []
        for check in columns:
            hits = [f for f in row.findings if f.id == check.id]
            messages = " · ".join(f.message for f in hits[:5])
            cells.append(MatrixCell(hits[0].severity if hits else None, len(hits), messages))
        matrix.append(MatrixRow(row, tuple(cells)))
    counts = severity_counts(f for row in rows for f in row.findings)
    totals = tuple(sum(r.cells[i].count for r in matrix) for i in range(len(columns)))
    quiet = tuple(c for c in CHECKS if c.id not in fired)
    if len(matrix) <= PAGED_ABOVE:
        return DiagnosticsView(columns, quiet, tuple(matrix), counts, totals, len(matrix))
    data = json_for_script(matrix_json(columns, matrix))
    first = tuple(matrix[:PAGE_SIZE])
    return DiagnosticsView(columns, quiet, first, counts, totals, len(matrix), data)


def matrix_json(columns: Sequence[CheckInfo], matrix: Sequence[MatrixRow]) -> dict[str, object]:
    """The runs × checks matrix as short arrays, for paging in the browser (~75 bytes a run).

    A row is ``[id, href, errors, warnings, infos, finding indexes, cells]``; ``href`` is 0 for
    the run's page (``runs/<id>/index.html``) and a cell ``[column, count, severity index]`` is
    listed only where a check fired. The cells' messages are left to the run pages' findings
    (each cell links there): at 10,000 runs they alone would be ~3 MB.
    """
    finding_ids: dict[str, int] = {}
    out = []
    for row in matrix:
        run = row.run
        cells = [
            [i, cell.count, SEVERITIES.index(cell.severity)]
            for i, cell in enumerate(row.cells)
            if cell.count and cell.severity is not None
        ]
        out.append(
            [
                run.id,
                _compact_href(run),
                *(run.counts.get(s, 0) for s in SEVERITIES),
                [finding_ids.setdefault(f, len(finding_ids)) for f in run.finding_ids],
                cells,
            ]
        )
    return {
        "checks": [c.id for c in columns],
        "severities": list(SEVERITIES),
        "findings": list(finding_ids),
        "page_size": PAGE_SIZE,
        "rows": out,
    }


def site_pages(
    tree: Tree,
    skipped: tuple[Skipped, ...],
    records: Mapping[str, RunRecord],
    previous: Mapping[str, RunRecord],
    site: SiteContext,
    figure_manifests: Sequence[tuple[str, bytes]] = (),
) -> PageOutput:
    """Everything besides the run and group pages, from the runs' records (every build), and
    the figure index from the pages' figure manifests (``--figures``)."""
    figures = figures_view(figure_manifests) if figure_manifests else None
    rows = {run_id: run_row(record) for run_id, record in records.items()}
    incomplete_rows = tuple(incomplete_row(i) for i in tree.incomplete)
    all_rows = (*rows.values(), *incomplete_rows)

    overview_dropped = len(records) > MAX_OVERVIEW_RUNS
    charts: tuple[Chart, ...] = ()
    datasets: Datasets = {}
    if not overview_dropped:
        try:
            charts, datasets = index_charts(list(records.values()))
        except Exception as exc:  # an optional chart: a warning, never an unpublished site
            log.warning("reportgen: index overlay chart left out: %s: %s", type(exc).__name__, exc)
            charts, datasets = (), {}
    affected = runs_affected(all_rows)
    per_check = runs_per_check(row.finding_ids for row in all_rows)
    stale = tuple(
        StaleRow(r.id, paths.run_page(r.id), r.stale.reason, r.stale.last_good)
        for r in records.values()
        if r.stale is not None
    )
    shown_groups = index_groups(group_rows(tree, rows))
    index = IndexView(
        run_count=len(rows),
        group_count=len(tree.groups),
        error_count=sum(1 for r in rows.values() if r.status == "error"),
        stale_count=len(stale),
        counts=affected,
        runs=run_table(all_rows),
        groups=shown_groups,
        groups_hidden=len(tree.groups) - len(shown_groups),
        stale=stale,
        incomplete=tree.incomplete,
        skipped=skipped,
        charts=charts,
        overview_dropped=overview_dropped,
        page_data=json_for_script({"datasets": datasets}),
        cite=Cite(site.title, "", "all", "", site.version),
        figure_count=len(figures.rows) if figures else 0,
        check_counts=per_check,
    )
    changes: ChangesView = changes_view(previous, records)
    group_entries = (
        {"id": g.id, "page": paths.group_page(g.id), "summary": paths.group_summary(g.id)}
        for g in tree.groups
    )
    files = [
        (
            "index.html",
            render_page(
                "index.html",
                site,
                _top_page("index.html", site.title, "index", bool(charts)),
                view=index,
            ),
        ),
        (
            "diagnostics.html",
            render_page(
                "diagnostics.html",
                site,
                _top_page("diagnostics.html", "Diagnostics", "diagnostics"),
                view=diagnostics_view(all_rows),
            ),
        ),
        (GUIDE_PAGE, render_guide(site)),
        (
            "changes.html",
            render_page(
                "changes.html", site, _top_page("changes.html", "Changes", "changes"), view=changes
            ),
        ),
        ("changes.json", serialize.dumps(changes.to_json())),
        *(
            ()
            if figures is None
            else (
                (
                    FIGURES_PAGE,
                    render_page(
                        "figures.html",
                        site,
                        _top_page(FIGURES_PAGE, "Figures", "figures"),
                        view=figures,
                    ),
                ),
            )
        ),
        ("manifest.json", serialize.manifest((records[r] for r in sorted(records)), group_entries)),
        *((asset.hashed_name, asset.content) for asset in static_assets()),
    ]
    return PageOutput(tuple(files))
