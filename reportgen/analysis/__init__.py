"""Analysis of loaded runs: pure numpy, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reportgen.analysis.contributions import (
    EtaContributions,
    EtaSummary,
    run_contributions,
    run_eta_summaries,
)
from reportgen.analysis.diagnostics import DEFAULT_OPTIONS, CheckOptions, check_run
from reportgen.analysis.points import RunPoints, SequenceSample, run_points, sequence_sample
from reportgen.analysis.supplement import RunSupplement, run_supplement
from reportgen.analysis.tails import TailSensitivity, run_tail_sensitivities
from reportgen.analysis.uncertainty import DEFAULT_BOOTSTRAP, RunUncertainty, run_uncertainty
from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.findings import Finding
from reportgen.load.models import Run


@dataclass(frozen=True, eq=False)
class RunAnalysis:
    """Everything computed from one run."""

    run: Run
    contributions: tuple[EtaContributions, ...]
    summaries: tuple[EtaSummary, ...]
    findings: tuple[Finding, ...]
    tails: tuple[TailSensitivity, ...]
    points: RunPoints
    uncertainty: RunUncertainty
    sample: SequenceSample | None  # per-sequence arrays a group's batch-size comparison draws from
    supplement: RunSupplement = field(default_factory=RunSupplement)


def analyze_run(
    run: Run,
    options: CheckOptions = DEFAULT_OPTIONS,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    margin: float = DEFAULT_MARGIN,
) -> RunAnalysis:
    """Contributions, summaries, uncertainty (``bootstrap`` resamples, 0 = delta method only),
    verdicts (equivalence ``margin``) and findings of one run. Non-finite values are reported
    as findings, so numpy's floating-point warnings are silenced here."""
    with np.errstate(all="ignore"):
        return _analyze(run, options, bootstrap, seed, margin)


def _analyze(
    run: Run, options: CheckOptions, bootstrap: int, seed: int, margin: float
) -> RunAnalysis:
    contributions = run_contributions(run)
    summaries = run_eta_summaries(run, contributions)
    uncertainty = run_uncertainty(run, summaries, bootstrap, seed, margin)
    return RunAnalysis(
        run=run,
        contributions=contributions,
        summaries=summaries,
        uncertainty=uncertainty,
        findings=check_run(run, contributions, summaries, options, uncertainty),
        tails=tuple(run_tail_sensitivities(contributions)),
        points=run_points(run, contributions, summaries),
        sample=sequence_sample(run, contributions, summaries),
        supplement=run_supplement(run, uncertainty),
    )
