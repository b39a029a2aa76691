"""Diagnostics: a registry of small, named, documented checks over a loaded run.

Each check is a short function registered with ``@check``; its docstring is its entry on the
guide page, and the registry's order (the import order of the ``checks_*`` modules below) is
the guide's order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

from reportgen.analysis.batch_pairs import BatchesNotCompared
from reportgen.analysis.contributions import EtaContributions, EtaSummary
from reportgen.analysis.diagnostics import (  # noqa: F401  (registers the checks, in order)
    checks_arithmetic,
    checks_config,
    checks_groups,
    checks_inputs,
    checks_quality,
    checks_supplement,
    registry,
)
from reportgen.analysis.diagnostics.registry import (
    DEFAULT_OPTIONS,
    CheckContext,
    CheckOptions,
    Hit,
    by_id,
    check,
    evaluate,
    fmt,
    fmt_eta,
    sort_key,
)
from reportgen.analysis.pooling import PooledPopulation
from reportgen.analysis.populations import DuplicateSet
from reportgen.analysis.uncertainty import RunUncertainty, run_uncertainty
from reportgen.discover import IncompleteRun
from reportgen.findings import SEVERITIES, CheckInfo, Finding
from reportgen.load.models import LoadFailure, Run

# --- the registry's own failures ------------------------------------------------------------


@check("check-failed", "warning", "A diagnostic check crashed", "facts", scope="internal")
def check_failed(hit: Hit) -> Iterator[Hit]:
    """A diagnostic check raised an exception on this run's data, so its verdict is unknown.

    **Why it matters:** the run may have a problem that this check would have reported.

    **What to do:** this is a bug in reportgen; report it with the run's results file.
    """
    yield hit


# --- public API ------------------------------------------------------------------------------

CHECKS: tuple[CheckInfo, ...] = tuple(c.info for c in registry.REGISTRY)


@dataclass(frozen=True)
class CheckCount:
    """How many runs one check fired on (a finding repeated per η is one run's problem)."""

    id: str
    severity: str
    runs: int


def runs_per_check(finding_ids: Iterable[Collection[str]]) -> tuple[CheckCount, ...]:
    """Per check, in registry order, the runs (one id set each) it fired on; zeros left out."""
    fired = Counter(check for ids in finding_ids for check in set(ids))
    return tuple(CheckCount(c.id, c.severity, n) for c in CHECKS if (n := fired[c.id]))


def check_run(
    run: Run,
    contributions: tuple[EtaContributions, ...],
    summaries: tuple[EtaSummary, ...],
    options: CheckOptions = DEFAULT_OPTIONS,
    uncertainty: RunUncertainty | None = None,
) -> tuple[Finding, ...]:
    """Every run check's findings: errors first, then warnings, infos; by check order, then η.

    ``uncertainty`` (the run's standard errors) lets the approximation checks judge errors
    against noise; without it they use the delta method on the spot.
    """
    if uncertainty is None:
        uncertainty = run_uncertainty(run, summaries, bootstrap=0)
    ctx = CheckContext(run, contributions, summaries, options, uncertainty)
    findings = [f for c in registry.REGISTRY if c.scope == "run" for f in evaluate(c, ctx)]
    return tuple(sorted(findings, key=sort_key))


def failure_findings(failure: LoadFailure) -> tuple[Finding, ...]:
    """The ``parse-error`` finding of a run that failed to load."""
    return tuple(evaluate(by_id("parse-error"), failure))


def duplicate_findings(sets: Iterable[DuplicateSet]) -> tuple[Finding, ...]:
    """One ``duplicate-run`` info finding per set of byte-identical results files."""
    check = by_id("duplicate-run")
    return tuple(f for s in sets for f in evaluate(check, s))


def group_findings(
    duplicates: Iterable[DuplicateSet],
    pooled: Iterable[PooledPopulation],
    unpaired: BatchesNotCompared | None = None,
) -> tuple[Finding, ...]:
    """A group's own findings: byte-identical copies, batch sizes not compared (``unpaired``:
    runs of several sizes, none alike but for B_E), then per population its heterogeneity and
    pooled disagreement; by severity, then check order."""
    findings = list(duplicate_findings(duplicates))
    if unpaired is not None:
        findings += evaluate(by_id("batch-sizes-not-compared"), unpaired)
    for check_id in ("population-heterogeneous", "pooled-linear-disagrees"):
        check = by_id(check_id)
        findings += [f for p in pooled for f in evaluate(check, p)]
    return tuple(sorted(findings, key=lambda f: SEVERITIES.index(f.severity)))


def incomplete_finding(incomplete: IncompleteRun) -> Finding:
    """The ``incomplete-run`` finding of a directory with a plan but no results."""
    return evaluate(by_id("incomplete-run"), incomplete)[0]


__all__ = [
    "CHECKS",
    "DEFAULT_OPTIONS",
    "CheckContext",
    "CheckOptions",
    "Hit",
    "check",
    "check_run",
    "duplicate_findings",
    "failure_findings",
    "fmt",
    "fmt_eta",
    "group_findings",
    "incomplete_finding",
]
