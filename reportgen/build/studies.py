"""The experiment kinds' stage of the build: plan each claimed study from the hash of its files,
carry over an unchanged one, load, analyse and render the others, and keep each study's row
(what the index, manifest, diagnostics and ``check`` show of it) in the status file.

A kind that raises, or whose files cannot be used, costs its own study only: the row says so
with a finding naming the kind (and the plug-in it came from).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.build.guard import guarded
from reportgen.build.plan import tree_fingerprint
from reportgen.build.status import (
    BuildStatus,
    InputStat,
    StudyStatus,
    files_hash,
    files_stats,
    json_hash,
)
from reportgen.discover import Skipped, Tree
from reportgen.findings import SEVERITIES, Finding
from reportgen.kinds.claiming import TreeClaims, claim_tree, file_head, file_size
from reportgen.kinds.claims import Claim
from reportgen.kinds.registry import PluginProblem, RegisteredKind, registry
from reportgen.kinds.stage_checks import KIND_FAILED, PLUGIN_FAILED, STUDY_FAILED

if TYPE_CHECKING:
    from reportgen.pages.output import PageOutput
    from reportgen.pages.render import SiteContext
    from reportgen.pages.studies import Inventory
    from reportgen.settings import BuildOptions
    from reportgen.write import SiteWriter


def study_id(claim: Claim) -> str:
    return f"{claim.kind}:{claim.directory}"


@dataclass(frozen=True)
class StudyPlan:
    claim: Claim
    registered: RegisteredKind
    input_hash: str
    stats: tuple[InputStat, ...] | None
    reusable: StudyStatus | None  # the previous build's, if its pages can be carried over

    @property
    def id(self) -> str:
        return study_id(self.claim)

    @property
    def unchanged(self) -> bool:
        return self.reusable is not None and self.reusable.input_hash == self.input_hash


def plan_studies(
    claims: Iterable[Claim],
    kinds: Sequence[RegisteredKind],
    root: Path,
    previous: BuildStatus | None,
    reuse: bool,
) -> list[StudyPlan]:
    """Each claim's input hash (the previous one when no file's stat changed)."""
    by_name = {k.name: k for k in kinds}
    plans = []
    for claim in claims:
        before = previous.studies.get(study_id(claim)) if previous is not None and reuse else None
        stats = files_stats(claim.files, root)
        if stats is not None and before is not None and before.stats == stats:
            digest = before.input_hash
        else:
            identity = {"claim": claim, "origin": by_name[claim.kind].origin}
            digest = files_hash(identity, claim.files, root)
        plans.append(StudyPlan(claim, by_name[claim.kind], digest, stats, before))
    return plans


@dataclass(frozen=True)
class StudyStage:
    """Tonight's claims and study plans, and the kinds that could not take part."""

    plans: list[StudyPlan]
    claims: TreeClaims
    problems: tuple[PluginProblem, ...]
    tree_key: str  # the tree's shape as the site-wide pages see it

    def write(
        self, site: SiteContext, writer: SiteWriter, options: BuildOptions, reuse: bool
    ) -> tuple[dict[str, StudyStatus], Inventory]:
        """Every study's status (nothing carried over unless ``reuse``), and what the site-wide
        pages show of the studies and the files not claimed."""
        from reportgen.pages.studies import Inventory

        plans = self.plans if reuse else [replace(p, reusable=None) for p in self.plans]
        root, limit, verbose = options.results, options.max_bytes, options.verbose
        statuses = write_studies(plans, root, site, writer, limit, verbose)
        rows = [status.row for status in statuses.values()]
        return statuses, Inventory.of(rows, self.claims.unclaimed, self.problems)

    @property
    def site_key(self) -> str:
        """The tree's shape, the inventory and every study's input hash: a no-op build is one
        whose site key and runs are unchanged."""
        return json_hash(
            {
                "tree": self.tree_key,
                "studies": [(p.claim, p.registered.origin, p.input_hash) for p in self.plans],
                "unclaimed": self.claims.unclaimed,
                "problems": self.problems,
            }
        )


def study_stage(
    tree: Tree,
    skipped: tuple[Skipped, ...],
    root: Path,
    previous: BuildStatus | None,
    reuse: bool,
) -> StudyStage:
    """Claim the tree through the registry and plan every study."""
    kinds = registry()
    claims = claim_tree(tree, kinds.kinds, file_head(str(root)), file_size(str(root)))
    plans = plan_studies(claims.studies, kinds.kinds, root, previous, reuse)
    problems = (*kinds.problems, *claims.problems)
    return StudyStage(plans, claims, problems, tree_fingerprint(tree, skipped))


def tally(
    statuses: Mapping[str, StudyStatus],
    problems: Sequence[PluginProblem],
    findings: dict[str, int],
    failed: list[str],
) -> None:
    """Add the studies' findings (by severity) and failed studies to a build's totals."""
    for status in statuses.values():
        for finding in status.row["findings"]:
            if finding["severity"] in SEVERITIES:
                findings[finding["severity"]] += 1
        if status.row["status"] != "ok":
            failed.append(status.row["id"])
    findings["error"] += len(problems)
    failed.extend(f"plug-in {p.plugin}" for p in problems)


def write_studies(
    plans: Sequence[StudyPlan],
    root: Path,
    site: SiteContext,
    writer: SiteWriter,
    max_bytes: int,
    verbose: bool,
) -> dict[str, StudyStatus]:
    """Every study's status: carried over when unchanged, else built and written."""
    statuses: dict[str, StudyStatus] = {}
    for plan in plans:
        kept = plan.reusable if plan.unchanged else None
        if kept is not None and writer.keep_all(kept.files):
            statuses[plan.id] = StudyStatus(kept.input_hash, plan.stats, kept.files, kept.row)
            continue
        output, row = study_output(plan.registered, plan.claim, root, site, max_bytes, verbose)
        files: tuple[str, ...] = ()
        if output is not None:
            for path, content in output.files:
                writer.write(path, content)
            files = output.paths
        statuses[plan.id] = StudyStatus(plan.input_hash, plan.stats, files, row)
    return statuses


def study_output(
    registered: RegisteredKind,
    claim: Claim,
    root: Path,
    site: SiteContext,
    max_bytes: int,
    verbose: bool,
) -> tuple[PageOutput | None, dict[str, Any]]:
    """A study's page (``None`` when it has none) and its row."""
    import numpy as np

    from reportgen.kinds.reading import StudyFailure, tree_reader
    from reportgen.kinds.study_page import default_page_dir

    kind = registered.kind
    page_dir = default_page_dir(claim.kind, claim.directory)

    def attempt() -> tuple[PageOutput | None, dict[str, Any]]:
        loaded = kind.load(claim, tree_reader(root, max_bytes))
        if isinstance(loaded, StudyFailure):
            finding = Finding(STUDY_FAILED, "error", loaded.reason, None, "inputs")
            not_read = [(n.path, n.reason) for n in loaded.not_read]
            return None, study_row(registered, claim, None, (finding,), not_read, loaded.reason)
        with np.errstate(all="ignore"):
            analysis = kind.analyze(loaded)
            findings = tuple(kind.checks(analysis))
            output = kind.page(analysis, site, page_dir)
        not_read = [(n.path, n.reason) for n in getattr(loaded, "not_read", ())]
        return output, study_row(registered, claim, page_dir, findings, not_read)

    def failed(reason: str) -> tuple[PageOutput | None, dict[str, Any]]:
        message = f"the {registered.name} kind ({registered.origin}) failed: {reason}"[:400]
        finding = Finding(KIND_FAILED, "error", message, None, "findings")
        return None, study_row(registered, claim, None, (finding,), [], message)

    return guarded(attempt, failed, f"study {study_id(claim)}", verbose)


def study_row(
    registered: RegisteredKind,
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
        "origin": registered.origin,
        "directory": claim.directory,
        "status": "error" if error is not None else "ok",
        "page": None if page_dir is None else f"{page_dir}/index.html",
        "summary": None if page_dir is None else f"{page_dir}/summary.json",
        "inputs": list(claim.files),
        "not_read": [{"path": path, "reason": reason} for path, reason in not_read],
        "findings": [finding_to_json(f) for f in findings],
        "error": error,
    }


def checked_studies(
    tree: Tree, root: Path, max_bytes: int
) -> Iterator[tuple[str, str, tuple[Finding, ...]]]:
    """(study id, status, findings) of every study, and of every plug-in left out, for
    ``reportgen check`` (no page is rendered)."""
    stage = study_stage(tree, (), root, None, reuse=False)
    for problem in stage.problems:
        message = f"plug-in {problem.plugin}: {problem.reason}"[:400]
        yield f"plug-in {problem.plugin}", "error", (Finding(PLUGIN_FAILED, "error", message),)
    for plan in stage.plans:
        status, findings = _check_study(plan, root, max_bytes)
        yield plan.id, status, findings


def _check_study(plan: StudyPlan, root: Path, max_bytes: int) -> tuple[str, tuple[Finding, ...]]:
    import numpy as np

    from reportgen.kinds.reading import StudyFailure, tree_reader

    kind = plan.registered.kind

    def attempt() -> tuple[str, tuple[Finding, ...]]:
        loaded = kind.load(plan.claim, tree_reader(root, max_bytes))
        if isinstance(loaded, StudyFailure):
            return "error", (Finding(STUDY_FAILED, "error", loaded.reason, None, "inputs"),)
        with np.errstate(all="ignore"):
            return "ok", tuple(kind.checks(kind.analyze(loaded)))

    def failed(reason: str) -> tuple[str, tuple[Finding, ...]]:
        message = f"the {plan.claim.kind} kind ({plan.registered.origin}) failed: {reason}"
        return "error", (Finding(KIND_FAILED, "error", message[:400], None, "findings"),)

    return guarded(attempt, failed, f"study {plan.id}", verbose=False)
