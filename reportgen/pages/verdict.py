"""The verdict that opens a run or group page: the answer in words, with its errors.

Pure functions of the per-η rows. Every statement says one of three things about the linear
approximation (``analysis.verdicts``): it **agrees** with the SNIS truth (the 90 % interval of
linear/true lies within 1 ± the equivalence margin), it **disagrees** (|z| > 1.96, beyond noise
at the 5 % level), or the test is **inconclusive** (then the page says how large a difference
would have gone unseen). Without a standard error the verdict says so and claims nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reportgen.analysis import verdicts as rules
from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.cv_features import cv_headline, rank_features
from reportgen.analysis.uncertainty import EtaUncertainty
from reportgen.analysis.verdicts import DEFAULT_MARGIN, Z_95, breakdown_eta
from reportgen.load.models import CvData
from reportgen.numfmt import format_eta, format_with_se, format_z
from reportgen.pages.judged import judged as as_shown


@dataclass(frozen=True)
class Verdict:
    """One headline sentence and a few supporting ones."""

    headline: str
    details: tuple[str, ...] = ()
    judged: bool = False  # True when a standard error backed the headline
    answer: rules.Verdict | None = None  # agrees / disagrees / inconclusive (None: not judged)


def _etas(values: Sequence[float]) -> str:
    return ", ".join(format_eta(v) for v in values)


def _count(k: int, n: int, what: str = "η") -> str:
    return f"{k} of {n} {what}" if n != 1 else f"{k} of 1 {what}"


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %" if value < 10 else f"{value:.3g} times"


def _margin(margin: float) -> str:
    return f"±{margin * 100:.0f} %"


Pair = tuple[EtaSummary, EtaUncertainty | None]


def run_verdict(
    summaries: Sequence[EtaSummary],
    uncertainty: Sequence[EtaUncertainty | None],
    norm: str,
    cv: CvData | None = None,
    margin: float = DEFAULT_MARGIN,
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
    details = [_headline_numbers(pairs[-1][0], pairs[-1][1], norm)]
    verdicts = [u.verdict_linear if u is not None else None for _, u in pairs]
    answer = rules.run_verdict(verdicts)
    if answer is None:
        # no relative error either: without an SE it would be a number presented as a result
        headline = (
            f"No standard error of linear − true is available for this run, so whether the linear "
            f"approximation agrees with the SNIS truth cannot be judged at its {len(pairs)} η."
        )
        return Verdict(headline, tuple(details), judged=False)
    headline = _answer_sentence(answer, pairs, margin)
    details += _supporting(answer, pairs, margin)
    return Verdict(headline, tuple(details), judged=True, answer=answer)


def _answer_sentence(answer: rules.Verdict, pairs: Sequence[Pair], margin: float) -> str:
    judged = [(s, u) for s, u in pairs if u is not None and u.verdict_linear is not None]
    if answer == "agrees":
        return (
            f"agrees: the linear prediction is within {_margin(margin)} of ΔH_true at every η "
            f"(the 90 % interval of linear/true lies inside [{1 - margin:g}, {1 + margin:g}] at "
            f"all {len(judged)} η)."
        )
    if answer == "disagrees":
        bad = [(s, u) for s, u in judged if u is not None and u.verdict_linear == "disagrees"]
        s, u = bad[-1]
        assert u is not None
        ratio = as_shown(u.ratio_linear, u.se_ratio_linear, s.delta_h_true, u.se_true)
        shown = f"linear/true = {format_with_se(ratio.value, ratio.se)}, " if ratio.shown else ""
        return (
            f"disagrees: the linear prediction misses ΔH_true beyond noise (|z| > 1.96) at "
            f"η = {_etas([b.eta for b, _ in bad])} (at {format_eta(s.eta)}: {shown}"
            f"z = {format_z(u.z_linear)})."
        )
    mdes = [u.mde_linear for _, u in judged if u is not None and u.mde_linear is not None]
    if not mdes:
        return "inconclusive: ΔH_true is not resolved, so no difference could be detected here."
    return (
        f"inconclusive: differences below {_percent(min(mdes))} of ΔH_true would not be "
        "detected here."
    )


def _supporting(answer: rules.Verdict, pairs: Sequence[Pair], margin: float) -> list[str]:
    """Per-η counts, where linear breaks, lin+quad's answer, and η without a verdict."""
    rows = [(s.eta, u.verdict_linear if u is not None else None) for s, u in pairs]
    counts = {v: sum(1 for _, x in rows if x == v) for v in rules.VERDICTS}
    out = [
        f"Per η (5 % tests, margin {_margin(margin)}): {counts['agrees']} agree, "
        f"{counts['inconclusive']} inconclusive, {counts['disagrees']} disagree; the smallest "
        "relative error each η would detect with 80 % power is 2.80·se_diff/|ΔH_true|."
    ]
    breakdown = breakdown_eta(rows)
    if breakdown is not None:
        below = [eta for eta, _ in rows if eta < breakdown]
        out.append(
            f"Linear is not contradicted up to η = {format_eta(max(below))} and breaks from "
            f"{format_eta(breakdown)} on (every larger η disagrees)."
            if below
            else f"Linear disagrees from the smallest η measured ({format_eta(breakdown)}) on."
        )
    quad = rules.run_verdict([u.verdict_linquad if u is not None else None for _, u in pairs])
    if quad is not None:
        out.append(f"lin+quad {quad}: {_quad_reason(quad, pairs)}.")
    missing = [eta for eta, v in rows if v is None]
    if missing:
        out.append(f"No standard error at η = {_etas(missing)}: no verdict there.")
    return out


def _quad_reason(answer: rules.Verdict, pairs: Sequence[Pair]) -> str:
    if answer == "disagrees":
        bad = [s.eta for s, u in pairs if u is not None and u.verdict_linquad == "disagrees"]
        return f"beyond noise at η = {_etas(bad)}"
    if answer == "agrees":
        return "within the margin at every η"
    mdes = [u.mde_linquad for _, u in pairs if u is not None and u.mde_linquad is not None]
    if mdes:
        return f"differences below {_percent(min(mdes))} of ΔH_true would not be detected"
    return "ΔH_true is not resolved"


def cv_verdict(cv: CvData) -> Verdict:
    """A control-variate run: its best valid feature, and what was excluded and why."""
    if not (cv.all_features or cv.features):
        return Verdict("This control-variate run reports no feature correlations.")
    headline, details = cv_headline(rank_features(cv))
    return Verdict(headline, details, judged=False)


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


def _tally(count: dict[str, int]) -> str:
    """ "5 agree, 1 is inconclusive and 1 disagrees"."""
    agree, unsure, disagree = count["agrees"], count["inconclusive"], count["disagrees"]
    return (
        f"{agree} {'agrees' if agree == 1 else 'agree'}, "
        f"{unsure} {'is' if unsure == 1 else 'are'} inconclusive and "
        f"{disagree} {'disagrees' if disagree == 1 else 'disagree'}"
    )


@dataclass(frozen=True)
class RunPairs:
    """One run's per-η rows as a group verdict counts them."""

    run_id: str
    summaries: tuple[EtaSummary, ...]
    uncertainty: tuple[EtaUncertainty | None, ...]


def group_verdict(runs: Iterable[RunPairs]) -> Verdict:
    """Across a group's runs: how many run × η pairs agree, are inconclusive or disagree, and
    each run's verdict (runs of different populations are counted, never pooled)."""
    # each pair's verdict only: ``runs`` may be read one at a time from a very large group
    by_run: dict[str, list[rules.Verdict | None]] = {}
    for r in runs:
        for s, u in zip(r.summaries, r.uncertainty, strict=True):
            if s.delta_h_true is not None and s.delta_h_linear is not None:
                by_run.setdefault(r.run_id, []).append(u.verdict_linear if u else None)
    pairs = sum(len(v) for v in by_run.values())
    if not pairs:
        return Verdict("No run of this group reports both ΔH_true and a linear approximation.")
    judged = [(rid, v) for rid, verdicts in by_run.items() for v in verdicts if v]
    if not judged:
        return Verdict(
            "No standard error of linear − true is available for any of the "
            f"{pairs} run × η pairs of {len(by_run)} runs, so agreement "
            "of the linear "
            "approximation with the SNIS truth cannot be judged here."
        )
    count = {
        v: sum(1 for _, x in judged if x == v) for v in ("agrees", "inconclusive", "disagrees")
    }
    answers = {rid: rules.run_verdict(v) for rid, v in by_run.items()}
    runs_judged = {rid: a for rid, a in answers.items() if a is not None}
    run_count = {v: sum(1 for a in runs_judged.values() if a == v) for v in count}
    headline = (
        f"Of {len(judged)} run × η pairs, {_tally(count)} (|z| > {Z_95:.2f}); of "
        f"{len(runs_judged)} runs, {_tally(run_count)}."
    )
    details = []
    failing = sorted(rid for rid, a in runs_judged.items() if a == "disagrees")
    if failing:
        details.append("Runs that disagree somewhere: " + ", ".join(failing) + ".")
    if len(judged) < pairs:
        details.append(f"{pairs - len(judged)} run × η pairs have no SE and no verdict.")
    return Verdict(headline, tuple(details), judged=True)
