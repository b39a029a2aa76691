"""The index page's view: every run and group with its finding counts, from the runs' records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from markupsafe import Markup

from reportgen.analysis.diagnostics import CheckCount, incomplete_finding
from reportgen.analysis.record import RunRecord
from reportgen.charts import Chart
from reportgen.discover import IncompleteRun, Skipped, Tree
from reportgen.findings import Finding, empty_counts, severity_counts, shared_counts
from reportgen.numfmt import format_eta, format_number
from reportgen.pages import paths
from reportgen.pages.guide import GUIDE_PAGE
from reportgen.pages.paged import CompactTable, PagedRows, paged
from reportgen.pages.run_sections import Cite

# Above this many groups the index lists only the shallower levels (each group page lists its
# subgroups); above this many runs it drops the whole-tree overlay (unreadable, and ~200 bytes a
# run).
MAX_INDEX_GROUPS = 400
MAX_OVERVIEW_RUNS = 500


@dataclass(frozen=True)
class Headline:
    """ΔH_true ± its standard error at the run's largest η: the one number the index shows."""

    eta: float
    value: float
    se: float | None


@dataclass(frozen=True)
class RunRow:
    """One run as the index and diagnostics pages list it (from its record)."""

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
    headline: Headline | None = None
    verdict_linear: str | None = None  # agrees, disagrees or inconclusive (the run's verdict)
    content: bytes | None = None  # the results file's sha256 (a run read): copies count once


@dataclass(frozen=True)
class GroupRow:
    id: str
    name: str
    href: str
    depth: int
    run_count: int  # each byte-identical results file once, as the group's page counts them
    counts: Mapping[str, int]
    copies: int = 0  # the byte-identical copies left out of ``run_count``


@dataclass(frozen=True)
class StaleRow:
    id: str
    href: str
    reason: str
    last_good: str


@dataclass(frozen=True, eq=False)
class IndexView:
    run_count: int
    group_count: int
    error_count: int
    stale_count: int
    counts: Mapping[str, int]
    runs: PagedRows[RunRow]
    groups: PagedRows[GroupRow]
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
    group_counts: Mapping[str, int] = field(default_factory=empty_counts)  # groups' own findings


# --- rows from the records -------------------------------------------------------------------


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
        counts=shared_counts(severity_counts(findings)),
        finding_ids=ids,
        search_text=" ".join((record.id, record.source, schema, *ids)),
        findings=findings,
        headline=headline(record),
        verdict_linear=record.verdict_linear,
        content=_content(record),
    )


def _content(record: RunRecord) -> bytes | None:
    """The digest duplicates are told by (as the group statistics tell them: runs read only)."""
    if not record.was_read or record.source_sha256 is None:
        return None
    try:
        return bytes.fromhex(record.source_sha256)
    except ValueError:
        return None


def headline(record: RunRecord) -> Headline | None:
    """ΔH_true ± SE at the largest η that has a ΔH_true (``None`` for a run without one)."""
    measured = [
        (summary.eta, summary.delta_h_true, error.se_true if error is not None else None)
        for summary, error in zip(record.etas, record.eta_errors, strict=True)
        if summary.delta_h_true is not None
    ]
    return Headline(*max(measured, key=lambda m: m[0])) if measured else None


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
    return _affected(_severities(row) for row in rows)


def _severities(row: RunRow) -> frozenset[str]:
    return frozenset(f.severity for f in row.findings)


def _affected(severities: Iterable[frozenset[str]]) -> dict[str, int]:
    counts = empty_counts()
    for found in severities:
        for severity in found & counts.keys():
            counts[severity] += 1
    return counts


def group_rows(tree: Tree, rows: Mapping[str, RunRow]) -> tuple[GroupRow, ...]:
    result = []
    by_run = {run_id: _severities(row) for run_id, row in rows.items()}  # once, not per group
    for group in tree.groups:
        counted = _without_copies(group.run_ids, rows)
        counts = _affected(by_run[run_id] for run_id in counted)
        copies = len(group.run_ids) - len(counted)
        result.append(
            GroupRow(
                id=group.id,
                name=PurePosixPath(group.id).name,
                href=paths.group_page(group.id),
                depth=group.id.count("/"),
                run_count=len(group.run_ids) - copies,
                counts=counts,
                copies=copies,
            )
        )
    return tuple(result)


def _without_copies(run_ids: Iterable[str], rows: Mapping[str, RunRow]) -> list[str]:
    """The runs, each results file once: a run whose file repeats an earlier one's byte for
    byte is a copy, counted neither as a run nor in the findings tallies."""
    seen: set[bytes] = set()
    kept = []
    for run_id in run_ids:
        content = rows[run_id].content if run_id in rows else None
        if content is not None and content in seen:
            continue
        if content is not None:
            seen.add(content)
        kept.append(run_id)
    return kept


def index_groups(groups: Sequence[GroupRow]) -> tuple[GroupRow, ...]:
    """The shallowest levels of the group tree that fit in ``MAX_INDEX_GROUPS`` (at least one)."""
    if len(groups) <= MAX_INDEX_GROUPS:
        return tuple(groups)
    depth = 0
    while sum(1 for g in groups if g.depth <= depth + 1) <= MAX_INDEX_GROUPS:
        depth += 1
    return tuple(g for g in groups if g.depth <= depth)


# --- paged as compact JSON (pages/paged.py) ----------------------------------------------------

RUN_TABLE = CompactTable(
    columns=(
        "id",
        "source",  # 0: "<id>/results.json"
        "schema",
        "status",
        "stale",
        "batch_size",
        "eta_count",
        "errors",
        "warnings",
        "infos",
        "findings",
        "href",  # 0: "runs/<id>/index.html"
        "verdict_linear",
        "delta_h",  # ΔH_true at the largest η (for sorting), and as the page prints it:
        "delta_h_text",  # the value,
        "delta_h_se",  # "± its SE" (or ""),
        "delta_h_eta",  # and that η
    ),
    lookup=("schema", "status", "findings", "verdict_linear"),
)

# href 0: as runs'; "runs" counts each byte-identical results file once, "copies" the rest
GROUP_LIST = CompactTable(
    columns=("id", "href", "depth", "runs", "errors", "warnings", "infos", "copies"),
)


def compact_href(href: str, run_id: str, kind: str = "runs") -> str | int:
    """0 where the href is what reportgen.js rebuilds from the id (``<kind>/<id>/index.html``;
    not ``paths.run_page``, which slugs the id), the common case; else the href itself."""
    return 0 if href == f"{kind}/{run_id}/index.html" else href


def _run_values(r: RunRow) -> tuple[object, ...]:
    source: str | int = 0 if r.source == f"{r.id}/results.json" else r.source
    counts = (r.counts.get("error", 0), r.counts.get("warning", 0), r.counts.get("info", 0))
    return (
        r.id,
        source,
        r.schema,
        r.status,
        int(r.stale),
        r.batch_size,
        r.eta_count,
        *counts,
        r.finding_ids,
        compact_href(r.href, r.id),
        r.verdict_linear,
        *_headline_values(r.headline),
    )


def _headline_values(h: Headline | None) -> tuple[object, ...]:
    """ΔH_true as a number and as the template's ``td_se`` prints it (``num`` filter texts)."""
    if h is None:
        return (None, "—", "", "")
    se = f"± {format_number(h.se)}" if h.se is not None else ""
    return (h.value, format_number(h.value), se, format_eta(h.eta))


def _group_values(g: GroupRow) -> tuple[object, ...]:
    counts = (g.counts.get("error", 0), g.counts.get("warning", 0), g.counts.get("info", 0))
    return (g.id, compact_href(g.href, g.id, "groups"), g.depth, g.run_count, *counts, g.copies)


def run_table(rows: Sequence[RunRow]) -> PagedRows[RunRow]:
    """The run table: every row as HTML, or the first page and every row as JSON."""
    return paged(rows, map(_run_values, rows), RUN_TABLE, ("index-runs.js", "run-table-data"))


def group_list(groups: Sequence[GroupRow]) -> PagedRows[GroupRow]:
    """The group listing: every group as HTML, or the first page and every group as JSON."""
    script = ("index-groups.js", "group-list-data")
    return paged(groups, map(_group_values, groups), GROUP_LIST, script)
