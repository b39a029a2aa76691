"""A ratio or relative error as the pages show it: ± its SE where ΔH_true is resolved from zero
and the SE is known, else "—" and why not (the reasons, short and long, in one place)."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.analysis.group_stats import resolved

# Why a ratio or relative error is not shown: the short reason in its cell, the long one in the
# cell's title (run and group pages alike).
NOT_SHOWN = {
    "not resolved": "|ΔH_true| ≤ 2·se_true at this η: the ratio divides by noise",
    "no se_true": "ΔH_true has no standard error here: the ratio cannot be judged",
    "no SE": "no standard error of the ratio: it is not shown without one",
    "not 1 − ρ²": "the run's ratio is not 1 − ρ² of its ρ: the normal-theory SE is not its own",
    "Σ true not comparable": "truncation sums the guide's true_contrib over the kept sequences: "
    "their shares of the mean base entropy make that sum move with the sequences' base entropies, "
    "not with their change, so it is no ΔH_true to compare Σ linear with",
}


@dataclass(frozen=True)
class Judged:
    """A ratio or relative error as a run page shows it: ``value`` ± ``se``, or "—" and ``why``
    not (a key of ``NOT_SHOWN``; ``value`` is then ``None``); neither: there is no value."""

    value: float | None
    se: float | None = None
    why: str | None = None

    @property
    def reason(self) -> str:
        return NOT_SHOWN.get(self.why, "") if self.why is not None else ""

    @property
    def shown(self) -> bool:
        return self.value is not None and self.why is None


def judged(
    value: float | None, se: float | None, true: float | None, se_true: float | None
) -> Judged:
    """``value`` (a ratio to ΔH_true, or a relative error) ± ``se`` where ΔH_true is resolved
    from zero (|ΔH_true| > 2·se_true) and the SE is known; else why it is not shown."""
    if value is None:
        return Judged(None)
    why = unjudged(value, se, resolved(true, se_true))
    return Judged(value, se) if why is None else Judged(None, why=why)


def unjudged(value: float | None, se: float | None, true_resolved: bool | None) -> str | None:
    """Why a ratio to ΔH_true (or relative error) is not shown, a key of ``NOT_SHOWN``; ``None``
    when it is shown or there is no value. ``true_resolved``: |ΔH_true| > 2·se_true (``None``:
    no se_true)."""
    if value is None:
        return None
    if true_resolved is None:
        return "no se_true"
    if not true_resolved:
        return "not resolved"
    return "no SE" if se is None else None
