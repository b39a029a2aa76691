"""A group page's reading of its CV batch aggregate (``templates/_cv_batch.html``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reportgen.analysis.cv_batch import CvBatchAnalysis
from reportgen.analysis.diagnostics.checks_supplement import CvBatchReport
from reportgen.findings import Finding
from reportgen.pages import paths
from reportgen.pages.render import relative_href


@dataclass(frozen=True)
class CvBatchView:
    """What ``_cv_batch.html`` shows: the corrected reading, its findings, links to the runs."""

    analysis: CvBatchAnalysis
    findings: tuple[Finding, ...]
    links: Mapping[str, str]  # run id → its page, relative to the group page


def cv_batch_view(report: CvBatchReport, group_id: str) -> CvBatchView:
    page = paths.group_page(group_id)
    links = {
        r.run_id: relative_href(page, paths.run_page(r.run_id))
        for r in report.analysis.runs
        if r.run_id is not None
    }
    return CvBatchView(report.analysis, report.findings, links)


__all__ = ["CvBatchView", "cv_batch_view"]
