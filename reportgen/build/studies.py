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
from typing import TYPE_CHECKING

from reportgen.build.guard import guarded
from reportgen.build.plan import tree_fingerprint
from reportgen.build.status import (
    BuildStatus,
    StatFingerprint,
    StudyStatus,
    files_hash,
    files_stats,
    json_hash,
)
from reportgen.build.study_jobs import study_id
from reportgen.discover import Skipped, Tree
from reportgen.findings import SEVERITIES, Finding
from reportgen.kinds.claiming import TreeClaims, claim_tree, file_head, file_size
from reportgen.kinds.claims import Claim
from reportgen.kinds.registry import PluginProblem, RegisteredKind, registry
from reportgen.kinds.stage_checks import KIND_FAILED, PLUGIN_FAILED, STUDY_FAILED

if TYPE_CHECKING:
    from reportgen.build.study_write import StudyWork
    from reportgen.kinds.interface import StudySettings
    from reportgen.pages.studies import Inventory
    from reportgen.write import SiteWriter


@dataclass(frozen=True)
class StudyPlan:
    claim: Claim
    registered: RegisteredKind
    input_hash: str
    stats: StatFingerprint | None
    reusable: StudyStatus | None  # the previous build's, if its pages can be carried over
    last_good: StudyStatus | None = None  # the previous build's, if its page may stand in

    @property
    def id(self) -> str:
        return study_id(self.claim)

    @property
    def unchanged(self) -> bool:
        """Same bytes as a good read: a study whose last read failed is always read again (the
        bytes the planner hashed need not be the bytes the kind read)."""
        return (
            self.reusable is not None
            and self.reusable.row["status"] == "ok"
            and self.reusable.input_hash == self.input_hash
        )


def plan_studies(
    claims: Iterable[Claim],
    kinds: Sequence[RegisteredKind],
    root: Path,
    previous: BuildStatus | None,
    reuse: bool,
    same_pages: bool = False,
) -> list[StudyPlan]:
    """Each claim's input hash (the previous one when no file's stat changed); ``same_pages``:
    the previous build's pages were rendered as tonight's would be (a stale page may stand in)."""
    by_name = {k.name: k for k in kinds}
    plans = []
    for claim in claims:
        last = previous.studies.get(study_id(claim)) if previous is not None else None
        before = last if reuse else None
        stats = files_stats(claim.files, root)
        if stats is not None and before is not None and before.stats == stats:
            digest = before.input_hash
        else:
            identity = {"claim": claim, "origin": by_name[claim.kind].origin}
            digest = files_hash(identity, claim.files, root)
        last_good = last if same_pages else None
        plans.append(StudyPlan(claim, by_name[claim.kind], digest, stats, before, last_good))
    return plans


@dataclass(frozen=True)
class StudyStage:
    """Tonight's claims and study plans, and the kinds that could not take part."""

    plans: list[StudyPlan]
    claims: TreeClaims
    problems: tuple[PluginProblem, ...]
    tree_key: str  # the tree's shape as the site-wide pages see it

    def write(
        self, work: StudyWork, writer: SiteWriter, reuse: bool
    ) -> tuple[dict[str, StudyStatus], Inventory]:
        """Every study's status (nothing carried over unless ``reuse``), and what the site-wide
        pages show of the studies and the files not claimed."""
        from reportgen.build.study_write import write_studies
        from reportgen.pages.studies import Inventory

        plans = self.plans if reuse else [replace(p, reusable=None) for p in self.plans]
        statuses = write_studies(plans, work, writer)
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
    same_pages: bool = False,
) -> StudyStage:
    """Claim the tree through the registry and plan every study."""
    kinds = registry()
    claims = claim_tree(tree, kinds.kinds, file_head(str(root)), file_size(str(root)))
    plans = plan_studies(claims.studies, kinds.kinds, root, previous, reuse, same_pages)
    problems = (*kinds.problems, *claims.problems)
    return StudyStage(plans, claims, problems, tree_fingerprint(tree, skipped))


def tally(
    statuses: Mapping[str, StudyStatus],
    problems: Sequence[PluginProblem],
    findings: dict[str, int],
    failed: list[str],
    stale: list[str],
) -> None:
    """Add the studies' findings (by severity), failed studies (and the stale ones among them,
    which keep their last good page) to a build's totals."""
    for status in statuses.values():
        for finding in status.row["findings"]:
            if finding["severity"] in SEVERITIES:
                findings[finding["severity"]] += 1
        if status.row["status"] != "ok":
            failed.append(status.row["id"])
        if status.row.get("stale") is not None:
            stale.append(status.row["id"])
    findings["error"] += len(problems)
    failed.extend(f"plug-in {p.plugin}" for p in problems)


def checked_studies(
    tree: Tree, root: Path, max_bytes: int, settings: StudySettings
) -> Iterator[tuple[str, str, tuple[Finding, ...]]]:
    """(study id, status, findings) of every study, and of every plug-in left out, for
    ``reportgen check`` (no page is rendered)."""
    stage = study_stage(tree, (), root, None, reuse=False)
    for problem in stage.problems:
        message = f"plug-in {problem.plugin}: {problem.reason}"[:400]
        yield f"plug-in {problem.plugin}", "error", (Finding(PLUGIN_FAILED, "error", message),)
    for plan in stage.plans:
        status, findings = _check_study(plan, root, max_bytes, settings)
        yield plan.id, status, findings


def _check_study(
    plan: StudyPlan, root: Path, max_bytes: int, settings: StudySettings
) -> tuple[str, tuple[Finding, ...]]:
    import numpy as np

    from reportgen.kinds.interface import analyze_study
    from reportgen.kinds.reading import StudyFailure, tree_reader

    kind = plan.registered.kind

    def attempt() -> tuple[str, tuple[Finding, ...]]:
        loaded = kind.load(plan.claim, tree_reader(root, max_bytes))
        if isinstance(loaded, StudyFailure):
            return "error", (Finding(STUDY_FAILED, "error", loaded.reason, None, "inputs"),)
        with np.errstate(all="ignore"):
            return "ok", tuple(kind.checks(analyze_study(kind, loaded, settings)))

    def failed(reason: str) -> tuple[str, tuple[Finding, ...]]:
        message = f"the {plan.claim.kind} kind ({plan.registered.origin}) failed: {reason}"
        return "error", (Finding(KIND_FAILED, "error", message[:400], None, "findings"),)

    return guarded(attempt, failed, f"study {plan.id}", verbose=False)
