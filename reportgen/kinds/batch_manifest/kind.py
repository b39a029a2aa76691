"""Batch manifests as an experiment kind: one study per ``index.json``, checked against the
tree's paths (which runs it lists are present, where its paths map, which zeros are
placeholders), with a page of its own.

The kind sees the whole tree when claiming (``CLAIMS_SEE_TREE``): the paths become the claim's
``context``, so a change in the tree re-checks the manifest.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reportgen.discover import is_results_name, run_id
from reportgen.findings import Finding
from reportgen.kinds.batch_manifest import NAME
from reportgen.kinds.batch_manifest import SCHEMA as SCHEMA
from reportgen.kinds.batch_manifest import matches as matches
from reportgen.kinds.batch_manifest import sniff as sniff
from reportgen.kinds.batch_manifest.check import check_manifest
from reportgen.kinds.batch_manifest.checks import CHECKS as CHECKS
from reportgen.kinds.batch_manifest.model import ManifestCheck
from reportgen.kinds.claims import Claim

if TYPE_CHECKING:  # reading and rendering need orjson, numpy and Jinja: imported on first use
    from reportgen.kinds.reading import NotRead, Read, StudyFailure
    from reportgen.pages.output import PageOutput
    from reportgen.pages.render import SiteContext

KIND = "batch-manifest"
PATTERNS = (NAME,)
TEMPLATE = "kind_batch_manifest.html"
CLAIMS_SEE_TREE = True


@dataclass(frozen=True)
class ManifestStudy:
    path: str
    data: Any
    tree_paths: tuple[str, ...]
    not_read: tuple[NotRead, ...] = ()


def claims(paths: Iterable[str], markers: Collection[str] | None = None) -> tuple[Claim, ...]:
    """One study per manifest in ``markers``; ``paths`` (the whole tree) is its context."""
    tree = tuple(sorted(paths))
    chosen = sorted(markers) if markers is not None else [p for p in tree if matches(p)]
    return tuple(Claim(KIND, posixpath.dirname(p) or ".", (p,), tree) for p in chosen)


def load(claim: Claim, read: Read) -> ManifestStudy | StudyFailure:
    from reportgen.kinds.batch_manifest.reader import read_manifest
    from reportgen.kinds.reading import NotRead, StudyFailure

    path = claim.files[0]
    data = read_manifest(path, read)
    if isinstance(data, NotRead):
        return StudyFailure(KIND, claim.directory, data.reason, claim.files, (data,))
    return ManifestStudy(path, data, claim.context)


def run_directories(tree_paths: Sequence[str]) -> tuple[str, ...]:
    """Directories holding a results file (the runs a manifest may list)."""
    found = {posixpath.dirname(p) for p in tree_paths if is_results_name(posixpath.basename(p))}
    return tuple(sorted(d for d in found if d))


def analyze(study: ManifestStudy) -> ManifestCheck:
    return check_manifest(
        study.path, study.data, study.tree_paths, run_directories(study.tree_paths)
    )


def checks(analysis: ManifestCheck) -> tuple[Finding, ...]:
    return analysis.findings


def page(analysis: ManifestCheck, site: SiteContext, page_dir: str | None = None) -> PageOutput:
    """The manifest's page (its run directories linked to their pages) and twin."""
    from reportgen.findings import severity_counts
    from reportgen.kinds.batch_manifest.view import manifest_json, manifest_view
    from reportgen.kinds.study_page import default_page_dir, explanations, page_meta, rendered_page
    from reportgen.pages import paths

    directory = page_dir or default_page_dir(KIND, posixpath.dirname(analysis.path) or ".")
    title = f"Batch manifest {analysis.path}"
    meta = page_meta(directory, title, "study", has_charts=False)
    runs = {
        entry.run_path.tree_path
        for entry in analysis.entries
        if entry.run_path is not None and entry.run_path.tree_path is not None
    }
    hrefs = {run: meta.base + paths.run_page(run_id(f"{run}/results.json")) for run in runs}
    view = manifest_view(analysis, hrefs)
    counts = severity_counts(analysis.findings)
    context = {"manifest": view, "title": title, "counts": counts, "checks": explanations(CHECKS)}
    twin = {"kind": KIND, "format": 1, **manifest_json(analysis)}
    return rendered_page(TEMPLATE, site, meta, directory, twin, **context)
