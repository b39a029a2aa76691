"""The verdict that opens a run or group page: the headline numbers in words, with their errors.

Pure functions of the per-η rows. "Agrees" always means within 2 paired standard errors
(|z| ≤ 2, issue 10's ``z_linear``/``z_linquad``); without a paired SE the verdict says so and
claims nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.uncertainty import EtaUncertainty
from reportgen.load.models import CvData
from reportgen.numfmt import format_eta, format_number, format_percent, format_with_se, format_z

AGREE_Z = 2.0


@dataclass(frozen=True)
class Verdict:
    """One headline sentence and a few supporting ones."""

    headline: str
    details: tuple[str, ...] = ()
    judged: bool = False  # True when a paired SE backed the headline


def _etas(values: Sequence[float]) -> str:
    return ", ".join(format_eta(v) for v in values)


def _count(k: int, n: int, what: str = "η") -> str:
    return f"{k} of {n} {what}" if n != 1 else f"{k} of 1 {what}"


def _largest(selected: Sequence[float], etas: Sequence[float]) -> str | None:
    """'the largest 2' when the selected η are exactly the largest ones, else None."""
    k = len(selected)
    if k == 0 or k == len(etas):
        return None
    if sorted(selected) != sorted(etas)[-k:]:
        return None
    return "the largest η" if k == 1 else f"the largest {k} η"


def run_verdict(
    summaries: Sequence[EtaSummary],
    uncertainty: Sequence[EtaUncertainty | None],
    norm: str,
    cv: CvData | None = None,
) -> Verdict:
    """The run's verdict from its per-η rows (``uncertainty`` aligned with ``summaries``)."""
    if cv is not None and not summaries:
        return cv_verdict(cv)
    pairs = [
        (s, u)
        for s, u in zip(summaries, uncertainty, strict=True)
        if s.delta_h_true is not None and s.delta_h_linear is not None
    ]
    if not pairs:
        if summaries:
            return Verdict(
                f"ΔH_true is reported at {len(summaries)} η, but no linear approximation to "
                "compare it with."
            )
        return Verdict("This run reports no ΔH(η) to compare.")
    etas = [s.eta for s, _ in pairs]
    judged = [(s, u) for s, u in pairs if u is not None and u.z_linear is not None]
    details = [_headline_numbers(pairs[-1][0], pairs[-1][1], norm)]
    if not judged:
        errors = [s.rel_err_linear for s, _ in pairs if s.rel_err_linear is not None]
        spread = (
            f" (relative error {format_percent(min(errors))} to {format_percent(max(errors))})"
            if errors
            else ""
        )
        headline = (
            f"No paired standard error is available for this run, so whether the linear "
            f"approximation agrees with the SNIS truth cannot be judged at its {len(etas)} η"
            f"{spread}."
        )
        return Verdict(headline, tuple(details), judged=False)
    agree = [s.eta for s, u in judged if u is not None and abs(u.z_linear or 0.0) <= AGREE_Z]
    disagree = [s.eta for s, _ in judged if s.eta not in agree]
    headline = (
        f"Linear agrees with the SNIS truth within {AGREE_Z:g} SE at "
        f"{_count(len(agree), len(judged))}"
    )
    if disagree:
        headline += f"; it does not at η = {_etas(disagree)}"
    quad = _quadratic_sentence(judged)
    headline += f"; {quad}." if quad else "."
    if len(judged) < len(pairs):
        missing = [s.eta for s, _ in pairs if s.eta not in {j.eta for j, _ in judged}]
        details.append(f"No paired SE at η = {_etas(missing)}: no verdict there.")
    return Verdict(headline, tuple(details), judged=True)


def cv_verdict(cv: CvData) -> Verdict:
    """A control-variate run: its strongest feature and what the joint CV does to the variance."""
    features = [f for f in cv.features if f.corr is not None and math.isfinite(f.corr)]
    if not features:
        return Verdict("This control-variate run reports no feature correlations.")
    best = max(features, key=lambda f: abs(f.corr or 0.0))
    headline = (
        f"Strongest control variate: {best.name} (correlation with g·v ρ = "
        f"{format_number(best.corr)}"
    )
    if best.var_after_cv is not None:
        headline += f"; variance ratio after CV {format_number(best.var_after_cv)}"
    headline += ")."
    details = []
    if cv.var_after_cv_joint is not None:
        details.append(
            f"All {len(cv.features)} features jointly leave a variance ratio of "
            f"{format_number(cv.var_after_cv_joint)} (below 1: the control variates help)."
        )
    return Verdict(headline, tuple(details), judged=False)


def _quadratic_sentence(judged: Sequence[tuple[EtaSummary, EtaUncertainty | None]]) -> str | None:
    """Where adding the quadratic term brings the approximation closer to the truth."""
    rows = [
        (s.eta, abs(u.z_linear), abs(u.z_linquad))
        for s, u in judged
        if u is not None and u.z_linear is not None and u.z_linquad is not None
    ]
    if not rows:
        return None
    etas = [eta for eta, _, _ in rows]
    better = [eta for eta, lin, quad in rows if quad < lin]
    if not better:
        return "the quadratic term does not bring it closer at any η"
    where = _largest(better, etas)
    if len(better) == len(rows):
        return "the quadratic term brings it closer at every η"
    return f"the quadratic term brings it closer at {where or 'η = ' + _etas(better)}"


def _headline_numbers(row: EtaSummary, u: EtaUncertainty | None, norm: str) -> str:
    se_true = u.se_true if u is not None else None
    se_linear = u.se_linear if u is not None else None
    text = (
        f"At the largest η ({format_eta(row.eta)}): ΔH_true = "
        f"{format_with_se(row.delta_h_true, se_true)} ({norm}), linear "
        f"{format_with_se(row.delta_h_linear, se_linear)}"
    )
    if row.delta_h_linquad is not None:
        se_linquad = u.se_linquad if u is not None else None
        text += f", lin+quad {format_with_se(row.delta_h_linquad, se_linquad)}"
    if u is not None and u.z_linear is not None:
        text += f"; z(linear − true) = {format_z(u.z_linear)}"
    return text + "."


@dataclass(frozen=True)
class RunPairs:
    """One run's per-η rows as a group verdict counts them."""

    run_id: str
    summaries: tuple[EtaSummary, ...]
    uncertainty: tuple[EtaUncertainty | None, ...]


def group_verdict(runs: Sequence[RunPairs]) -> Verdict:
    """Across a group's runs: how many run × η pairs agree within 2 paired SE, and which runs
    disagree somewhere."""
    pairs = [
        (r.run_id, s, u)
        for r in runs
        for s, u in zip(r.summaries, r.uncertainty, strict=True)
        if s.delta_h_true is not None and s.delta_h_linear is not None
    ]
    if not pairs:
        return Verdict("No run of this group reports both ΔH_true and a linear approximation.")
    judged = [(rid, s, u) for rid, s, u in pairs if u is not None and u.z_linear is not None]
    if not judged:
        return Verdict(
            f"No paired standard error is available for any of the {len(pairs)} run × η pairs "
            f"of {len({rid for rid, _, _ in pairs})} runs, so agreement of the linear "
            "approximation with the SNIS truth cannot be judged here."
        )
    agree = [
        (rid, s) for rid, s, u in judged if u is not None and abs(u.z_linear or 0.0) <= AGREE_Z
    ]
    runs_judged = sorted({rid for rid, _, _ in judged})
    failing = sorted(
        {rid for rid, _, u in judged if u is not None and abs(u.z_linear or 0.0) > AGREE_Z}
    )
    headline = (
        f"Linear agrees with the SNIS truth within {AGREE_Z:g} paired SE in "
        f"{_count(len(agree), len(judged), 'run × η pairs')}; "
        f"{len(runs_judged) - len(failing)} of {len(runs_judged)} runs agree at every η."
    )
    details = []
    if failing:
        details.append("Runs that disagree somewhere: " + ", ".join(failing) + ".")
    if len(judged) < len(pairs):
        details.append(
            f"{len(pairs) - len(judged)} run × η pairs have no paired SE and no verdict."
        )
    return Verdict(headline, tuple(details), judged=True)
