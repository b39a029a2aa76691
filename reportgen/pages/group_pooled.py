"""The group page's pooled estimates and its own findings (view rows from a ``GroupAnalysis``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportgen.analysis.group_stats import PopulationStats
from reportgen.analysis.pooling import (
    RANDOM,
    Estimate,
    Method,
    PooledApprox,
    PooledEta,
    pooled_breakdown,
    pooled_verdict,
)
from reportgen.analysis.verdicts import Verdict
from reportgen.numfmt import format_eta


@dataclass(frozen=True)
class PooledRow:
    """One η of a population's pooled linear estimate, as the table shows it."""

    eta: float
    n_runs: int
    fixed: Estimate  # linear − true, fixed effect
    ratio: Estimate | None  # linear/true, fixed effect
    ci95_ratio: tuple[float, float] | None
    q: float
    q_df: int
    q_p: float | None
    i2: float
    random: Estimate | None  # linear − true, random effects (heterogeneous runs only)
    random_ratio: Estimate | None
    method: Method
    verdict: Verdict | None


@dataclass(frozen=True)
class PooledView:
    """A population's pooled rows and what they say in words."""

    label: str
    runs: int
    rows: tuple[PooledRow, ...]
    sentence: str
    heterogeneous: bool


def _row(row: PooledEta, pooled: PooledApprox) -> PooledRow:
    d, r = pooled.diff, pooled.ratio
    random = pooled.method == RANDOM
    return PooledRow(
        eta=row.eta,
        n_runs=d.n,
        fixed=d.fixed,
        ratio=r.fixed if r is not None else None,
        ci95_ratio=pooled.ci95_ratio,
        q=d.q,
        q_df=d.q_df,
        q_p=d.q_p,
        i2=d.i2,
        random=d.random if random else None,
        random_ratio=r.random if random and r is not None else None,
        method=pooled.method,
        verdict=row.verdict_linear,
    )


def breakdown_words(rows: Sequence[PooledRow], breakdown: float | None) -> str:
    """Where the pooled linear prediction holds and where it breaks, in words."""
    if breakdown is None:
        return ""
    below = [r.eta for r in rows if r.eta < breakdown]
    if not below:
        return f"Linear disagrees at every η, from η = {format_eta(breakdown)}."
    return (
        f"Linear holds up to η = {format_eta(max(below))} and breaks from "
        f"η = {format_eta(breakdown)}."
    )


def _sentence(rows: Sequence[PooledRow], verdict: Verdict | None, margin: float) -> str:
    m = f"±{margin * 100:g} %"
    if verdict == "agrees":
        return f"Pooled over its runs, the linear prediction agrees with ΔH_true within {m}."
    if verdict == "disagrees":
        n = sum(1 for r in rows if r.verdict == "disagrees")
        return (
            f"Pooled over its runs, the linear prediction disagrees with ΔH_true (|z| > 1.96) "
            f"at {n} of {len(rows)} η."
        )
    if verdict == "inconclusive":
        return (
            "Pooled over its runs, the linear prediction is inconclusive: not shown to agree "
            f"within {m} at every η, and disagreeing at none."
        )
    return "No pooled estimate has a standard error to judge with."


def pooled_views(populations: Sequence[PopulationStats], margin: float) -> tuple[PooledView, ...]:
    """Each population with pooled linear rows (a population is never pooled with another)."""
    views = []
    for pop in populations:
        rows = tuple(_row(r, r.linear) for r in pop.pooled if r.linear is not None)
        if not rows:
            continue
        sentence = _sentence(rows, pooled_verdict(pop.pooled, "linear"), margin)
        words = breakdown_words(rows, pooled_breakdown(pop.pooled, "linear"))
        views.append(
            PooledView(
                label=pop.population.label,
                runs=len(pop.population.run_ids),
                rows=rows,
                sentence=f"{sentence} {words}".strip(),
                heterogeneous=any(r.method == RANDOM for r in rows),
            )
        )
    return tuple(views)
