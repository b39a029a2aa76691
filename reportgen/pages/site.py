"""Site-wide pages built from the runs' records: index, diagnostics, guide, changes, figures,
manifest, and the shared assets."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from reportgen.analysis.diagnostics import runs_per_check
from reportgen.analysis.record import RunRecord, StaleRecord
from reportgen.charts import Chart, Datasets
from reportgen.discover import Skipped, Tree
from reportgen.figures import FigureList
from reportgen.findings import Finding, severity_counts
from reportgen.pages import paths, serialize
from reportgen.pages.assets import static_assets
from reportgen.pages.changes import PopulationChange, changes_view
from reportgen.pages.figure_index import FIGURES_PAGE, figures_view
from reportgen.pages.group_charts import index_charts
from reportgen.pages.guide import render_guide
from reportgen.pages.index import (
    MAX_OVERVIEW_RUNS,
    IndexView,
    RunRow,
    StaleRow,
    group_list,
    group_rows,
    incomplete_row,
    index_groups,
    run_row,
    run_table,
    runs_affected,
)
from reportgen.pages.matrix import diagnostics_view, group_finding_rows, with_group_findings
from reportgen.pages.output import PageOutput
from reportgen.pages.render import Crumb, PageMeta, SiteContext, json_for_script, render_page
from reportgen.pages.run_sections import Cite
from reportgen.pages.studies import NO_INVENTORY, Inventory, manifest_fields, unclaimed_pages
from reportgen.write import Content

log = logging.getLogger("reportgen")


def site_pages(
    tree: Tree,
    skipped: tuple[Skipped, ...],
    records: Mapping[str, RunRecord],
    previous: Mapping[str, RunRecord],
    site: SiteContext,
    figure_lists: Sequence[FigureList] = (),
    group_findings: Mapping[str, Sequence[Finding]] | None = None,
    population_changes: tuple[PopulationChange, ...] = (),
    inventory: Inventory = NO_INVENTORY,
    unchanged: Collection[str] = (),
) -> PageOutput:
    """Everything besides the run and group pages, from the runs' records (every build), and
    the figure index from the pages' figure lists (``--figures``); the studies and the
    unclaimed files from ``inventory``. ``records`` are read in one pass, one record at a
    time (the whole-tree overlay of a small tree reads them again); ``unchanged``: runs whose
    record is the one in ``previous``."""
    rows: dict[str, RunRow] = {}
    stale: list[StaleRow] = []
    listed = []  # the manifest's entries
    for run_id, record in records.items():
        rows[run_id] = run_row(record)
        entry = serialize.manifest_run(record)
        listed.append((str(record.id), serialize.encoded(entry, serialize.MANIFEST_RUN_DEPTH)))
        if record.stale is not None:
            stale.append(_stale_row(record, record.stale))
    all_rows = (*rows.values(), *(incomplete_row(i) for i in tree.incomplete))
    figures = figures_view(figure_lists) if figure_lists else None
    figure_count = len(figures.rows) if figures else 0
    own = group_finding_rows(tree, group_findings or {})
    index = index_view(tree, skipped, records, rows, all_rows, site, figure_count, tuple(stale))
    index = replace(index, group_counts=severity_counts(r.finding for r in own))
    changes = changes_view(previous, records, frozenset(unchanged))
    changes = replace(changes, populations=population_changes)
    matrix = with_group_findings(diagnostics_view(all_rows), own)
    extra = {"inventory": inventory}
    files: list[tuple[str, Content]] = [
        ("index.html", _render(site, "index.html", site.title, index, bool(index.charts), extra)),
        (
            "diagnostics.html",
            _render(site, "diagnostics.html", "Diagnostics", matrix, False, extra),
        ),
        ("guide.html", render_guide(site, inventory.check_infos())),
        *unclaimed_pages(inventory, site),
        ("changes.html", _render(site, "changes.html", "Changes", changes)),
        ("changes.json", serialize.dumps(changes.to_json())),
    ]
    scripts = (index.runs.script, index.groups.script, matrix.script)
    files += ((script.path, script.content) for script in scripts if script is not None)
    if figures is not None:
        files.append((FIGURES_PAGE, _render(site, FIGURES_PAGE, "Figures", figures)))
    listed.sort(key=lambda entry: entry[0])
    files.append(("manifest.json", _manifest(tree, [e for _, e in listed], inventory)))
    files += ((asset.hashed_name, asset.content) for asset in static_assets())
    return PageOutput(tuple(files))


def index_view(
    tree: Tree,
    skipped: tuple[Skipped, ...],
    records: Mapping[str, RunRecord],
    rows: Mapping[str, RunRow],
    all_rows: Sequence[RunRow],
    site: SiteContext,
    figure_count: int,
    stale: tuple[StaleRow, ...],
) -> IndexView:
    """The index: runs with findings, the group tree, every run, the whole-tree overlay."""
    overview_dropped = len(records) > MAX_OVERVIEW_RUNS
    charts, datasets = ((), {}) if overview_dropped else _overview(records)
    shown_groups = index_groups(group_rows(tree, rows))
    return IndexView(
        run_count=len(rows),
        group_count=len(tree.groups),
        error_count=sum(1 for r in rows.values() if r.status == "error"),
        stale_count=len(stale),
        counts=runs_affected(all_rows),
        runs=run_table(all_rows),
        groups=group_list(shown_groups),
        groups_hidden=len(tree.groups) - len(shown_groups),
        stale=stale,
        incomplete=tree.incomplete,
        skipped=skipped,
        charts=charts,
        overview_dropped=overview_dropped,
        page_data=json_for_script({"datasets": datasets}),
        cite=Cite(site.title, "", "all", "", site.version),
        figure_count=figure_count,
        check_counts=runs_per_check(row.finding_ids for row in all_rows),
    )


def _stale_row(record: RunRecord, stale: StaleRecord) -> StaleRow:
    return StaleRow(record.id, paths.run_page(record.id), stale.reason, stale.last_good)


def _overview(records: Mapping[str, RunRecord]) -> tuple[tuple[Chart, ...], Datasets]:
    """The whole-tree ΔH_true overlay; an optional chart: a warning, never an unpublished site."""
    try:
        return index_charts(list(records.values()))
    except Exception as exc:
        log.warning("reportgen: index overlay chart left out: %s: %s", type(exc).__name__, exc)
        return (), {}


def _render(
    site: SiteContext,
    path: str,
    title: str,
    view: object,
    has_charts: bool = False,
    extra: Mapping[str, object] | None = None,
) -> bytes:
    """A page at the top of the site, rendered by the template of the same name; its kind (the
    body's class) is the name without ``.html``; ``extra`` adds template variables."""
    kind = path.removesuffix(".html")
    crumbs = (
        (Crumb("Index", "index.html"), Crumb(title, None))
        if path != "index.html"
        else (Crumb("Index", None),)
    )
    page = PageMeta(path, title, kind, crumbs, has_charts)
    return render_page(path, site, page, view=view, **(extra or {}))


def _manifest(tree: Tree, runs: list[serialize.Encoded], inventory: Inventory) -> tuple[bytes, ...]:
    groups = (
        {"id": g.id, "page": paths.group_page(g.id), "summary": paths.group_summary(g.id)}
        | ({"inputs": list(g.aggregates)} if g.aggregates else {})
        for g in tree.groups
    )
    return serialize.manifest(runs, groups, manifest_fields(inventory))
