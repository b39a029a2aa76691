"""One study's work, here or in a worker process: load, analyse, check and render it through its
kind, and the row every site-wide page shows of it.

A worker finds the kind by name and origin in its own registry (built-ins, then the plug-ins'
entry points, looked up afresh in each worker); a study whose worker died twice, or whose kind
the worker does not know, gets an error row like a kind that raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.build.guard import guarded
from reportgen.build.pool import in_pool, in_process, pool_pays
from reportgen.figures import PreviousFigures
from reportgen.findings import Finding
from reportgen.kinds.claims import Claim
from reportgen.kinds.registry import RegisteredKind, registry
from reportgen.kinds.stage_checks import KIND_FAILED, STUDY_FAILED

if TYPE_CHECKING:
    from reportgen.charts import Datasets
    from reportgen.charts.export import FigureTheme
    from reportgen.pages.output import PageOutput
    from reportgen.pages.render import SiteContext


def study_id(claim: Claim) -> str:
    return f"{claim.kind}:{claim.directory}"


@dataclass(frozen=True)
class StudyJob:
    """What rendering one study takes; the kind travels by name (a module cannot be sent)."""

    kind: str
    origin: str
    claim: Claim
    root: Path
    site: SiteContext
    max_bytes: int
    verbose: bool
    figures: tuple[str, ...] = ()  # formats every chart is also written in (--figures)
    figure_theme: FigureTheme = "paper"
    equivalence_margin: float = 0.2  # --equivalence-margin: of the kind's equivalence statements
    previous_figures: PreviousFigures | None = None  # its page's figures in the previous site


@dataclass(frozen=True)
class StudyResult:
    """A study's page (``None`` when it has none tonight) and its row."""

    output: PageOutput | None
    row: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.output is not None and self.row["status"] == "ok"


def find_kind(name: str, origin: str) -> RegisteredKind | None:
    """The kind of that name and origin among this process's registered kinds."""
    return next((k for k in registry().kinds if k.name == name and k.origin == origin), None)


def fresh_registry() -> None:
    """A worker's initializer: read the kinds again under the build's ``sys.path``."""
    registry.cache_clear()


def process_study(job: StudyJob) -> StudyResult:
    """A study rendered in a worker, its kind looked up there."""
    registered = find_kind(job.kind, job.origin)
    if registered is None:
        return lost_study(job, f"its kind is not registered in the worker process ({job.origin})")
    return study_output(registered, job)


def lost_study(job: StudyJob, reason: str) -> StudyResult:
    """The error row of a study whose worker died (twice) or could not render it."""
    message = f"the {job.kind} kind ({job.origin}) failed: not rendered: {reason}"[:400]
    finding = Finding(KIND_FAILED, "error", message, None, "findings")
    return StudyResult(None, study_row(job.origin, job.claim, None, (finding,), [], message))


def map_studies(
    jobs: Sequence[tuple[RegisteredKind, StudyJob]], workers: int
) -> Iterator[StudyResult]:
    """Every study's result, in job order (in this process when one worker would do, with the
    kind objects the claims were made with)."""
    if not pool_pays(len(jobs), workers):
        return in_process(lambda pair: study_output(*pair), jobs)
    only_jobs: Iterable[StudyJob] = (job for _, job in jobs)
    return in_pool(process_study, only_jobs, workers, lost_study, fresh_registry)


def study_output(registered: RegisteredKind, job: StudyJob) -> StudyResult:
    """Load → analyse → checks → page; a failure to load or a kind that raises is a row."""
    import numpy as np

    from reportgen.kinds.interface import analyze_study
    from reportgen.kinds.reading import StudyFailure, tree_reader
    from reportgen.kinds.study_page import default_page_dir

    kind, claim, origin = registered.kind, job.claim, registered.origin
    page_dir = default_page_dir(claim.kind, claim.directory)

    def attempt() -> StudyResult:
        loaded = kind.load(claim, tree_reader(job.root, job.max_bytes))
        if isinstance(loaded, StudyFailure):
            finding = Finding(STUDY_FAILED, "error", loaded.reason, None, "inputs")
            not_read = [(n.path, n.reason) for n in loaded.not_read]
            row = study_row(origin, claim, None, (finding,), not_read, loaded.reason)
            return StudyResult(None, row)
        with np.errstate(all="ignore"):
            analysis = analyze_study(kind, loaded, job)
            findings = tuple(kind.checks(analysis))
            output = kind.page(analysis, job.site, page_dir)
            output = with_figures(kind, analysis, output, page_dir, job)
        not_read = [(n.path, n.reason) for n in getattr(loaded, "not_read", ())]
        return StudyResult(output, study_row(origin, claim, page_dir, findings, not_read))

    def failed(reason: str) -> StudyResult:
        message = f"the {registered.name} kind ({origin}) failed: {reason}"[:400]
        finding = Finding(KIND_FAILED, "error", message, None, "findings")
        return StudyResult(None, study_row(origin, claim, None, (finding,), [], message))

    return guarded(attempt, failed, f"study {study_id(claim)}", job.verbose)


def with_figures(
    kind: Any, analysis: Any, output: PageOutput, page_dir: str, job: StudyJob
) -> PageOutput:
    """The page with its charts also written as figure files and data CSVs (``--figures``),
    for a kind that lists them (``figure_charts(analysis)``: the charts and their datasets)."""
    from reportgen.charts import export
    from reportgen.figures import FigureList

    listing = getattr(kind, "figure_charts", None)
    if not job.figures or listing is None:
        return output
    charts, datasets = listing(analysis)
    tables = csv_tables(datasets)
    files: list[tuple[str, bytes]] = []
    figures = []
    for chart in charts:
        spec = dict(chart.spec, datasets={n: datasets[n] for n in chart.datasets if n in datasets})
        figure, chart_files = export.export_chart(
            chart, spec, tables, job.figures, job.figure_theme, page_dir, job.previous_figures
        )
        figures.append(figure)
        files += chart_files
    page, manifest = f"{page_dir}/index.html", f"{page_dir}/figures/{export.MANIFEST}"
    files.append((manifest, export.manifest_bytes(page, figures)))
    listed = FigureList(page, manifest, tuple(figures))
    return replace(output, files=(*output.files, *files), figures=listed)


def csv_tables(datasets: Datasets) -> Datasets:
    """The datasets as the CSV writer reads them, columnar: a row-wise one (a heatmap's labels,
    which its tooltip looks up by index) turned into columns."""
    tables: Datasets = {}
    for name, data in datasets.items():
        if data and not any(_is_column(v) for row in data for v in row.values()):
            keys = list(dict.fromkeys(k for row in data for k in row))
            tables[name] = [{k: [row.get(k) for row in data] for k in keys}]
        else:
            tables[name] = data
    return tables


def _is_column(value: Any) -> bool:
    return isinstance(value, list | tuple) or hasattr(value, "shape")


def study_row(
    origin: str,
    claim: Claim,
    page_dir: str | None,
    findings: Sequence[Finding],
    not_read: Sequence[tuple[str, str]],
    error: str | None = None,
) -> dict[str, Any]:
    """What every site-wide page and ``check`` shows of a study, as plain JSON values."""
    from reportgen.analysis.record import finding_to_json

    return {
        "id": study_id(claim),
        "kind": claim.kind,
        "origin": origin,
        "directory": claim.directory,
        "status": "error" if error is not None else "ok",
        "page": None if page_dir is None else f"{page_dir}/index.html",
        "summary": None if page_dir is None else f"{page_dir}/summary.json",
        "inputs": list(claim.files),
        "not_read": [{"path": path, "reason": reason} for path, reason in not_read],
        "findings": [finding_to_json(f) for f in findings],
        "error": error,
    }
