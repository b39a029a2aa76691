"""Analysis of loaded runs: pure numpy, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.analysis.contributions import (
    EtaContributions,
    EtaSummary,
    run_contributions,
    run_eta_summaries,
)
from reportgen.analysis.diagnostics import DEFAULT_OPTIONS, CheckOptions, check_run
from reportgen.analysis.points import RunPoints, run_points
from reportgen.analysis.tails import TailSensitivity, run_tail_sensitivities
from reportgen.models import Finding, Run


@dataclass(frozen=True, eq=False)
class RunAnalysis:
    """Everything computed from one run."""

    run: Run
    contributions: tuple[EtaContributions, ...]
    summaries: tuple[EtaSummary, ...]
    findings: tuple[Finding, ...]
    tails: tuple[TailSensitivity, ...]
    points: RunPoints


def analyze_run(run: Run, options: CheckOptions = DEFAULT_OPTIONS) -> RunAnalysis:
    contributions = run_contributions(run)
    summaries = run_eta_summaries(run, contributions)
    return RunAnalysis(
        run=run,
        contributions=contributions,
        summaries=summaries,
        findings=check_run(run, contributions, summaries, options),
        tails=tuple(run_tail_sensitivities(contributions)),
        points=run_points(run, contributions, summaries),
    )
