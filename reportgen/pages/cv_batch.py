"""A group page's reading of its CV batch aggregate (``templates/_cv_batch.html``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reportgen.analysis.cv_batch import POWER_SD_RATIO, CvBatchAnalysis
from reportgen.analysis.diagnostics.checks_supplement import CvBatchReport
from reportgen.findings import Finding
from reportgen.pages import paths
from reportgen.pages.render import relative_href


@dataclass(frozen=True)
class CvBatchView:
    """What ``_cv_batch.html`` shows: the corrected reading batch by batch, its findings, links
    to the runs."""

    analysis: CvBatchAnalysis
    findings: tuple[Finding, ...]
    links: Mapping[str, str]  # run id → its page, relative to the group page
    features_differ: bool = False  # the batches differ in features: name them
    power_sd_ratio: float = POWER_SD_RATIO  # the spread the tests' power is quoted at
    stated_rows: Mapping[str, float | None] = field(default_factory=dict)  # stated ≠ rows


def cv_batch_view(report: CvBatchReport, group_id: str) -> CvBatchView:
    page = paths.group_page(group_id)
    analysis = report.analysis
    links = {
        r.run_id: relative_href(page, paths.run_page(r.run_id))
        for r in analysis.runs
        if r.run_id is not None
    }
    return CvBatchView(
        analysis,
        report.findings,
        links,
        features_differ=len({s.features for s in analysis.sets}) > 1,
        stated_rows={m.name: m.rows for m in analysis.stated_mismatches},
    )


__all__ = ["CvBatchView", "cv_batch_view"]
