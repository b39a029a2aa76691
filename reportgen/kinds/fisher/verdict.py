"""The Fisher-kernel page's opening sentences: how far the kernel is from a multiple of the
identity and which prompt dominates it, in words, then what supports and qualifies that."""

from __future__ import annotations

from reportgen.kinds.fisher.analysis import FisherAnalysis
from reportgen.kinds.fisher.diagnostics import dominant_prompt, far_from_identity
from reportgen.numfmt import format_number, format_with_se
from reportgen.pages.verdict import Verdict

CLOSE_RANK_FRACTION = 0.9  # effective rank of at least 0.9·n …
CLOSE_MEAN_ABS_COSINE = 0.1  # … and mean |cosine| between different sequences at most 0.1


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{format_number(100 * value)} %"


def close_to_identity(analysis: FisherAnalysis) -> bool:
    rank = analysis.spectrum.effective_rank
    cosine = analysis.off_diagonal_abs_cosine
    return (
        rank is not None
        and rank >= CLOSE_RANK_FRACTION * analysis.n
        and cosine is not None
        and cosine <= CLOSE_MEAN_ABS_COSINE
    )


def fisher_verdict(analysis: FisherAnalysis) -> Verdict:
    s = analysis.spectrum
    n = analysis.n
    rank = f"effective rank {format_number(s.effective_rank)} of n = {n}"
    eigen = f"the top eigenvalue holds {_pct(s.top_share)} of Σλ"
    top = dominant_prompt(analysis)
    far = far_from_identity(analysis)
    touches = (
        f"prompt {top.prompt}'s {top.sequences} sequences touch {_pct(top.share)} of Σ|K|"
        if top is not None
        else ""
    )
    mean_cosine = format_number(analysis.off_diagonal_abs_cosine)
    cosine = f"mean |cosine| between different sequences {mean_cosine}"
    if top is not None and far:
        headline = (
            "The update kernel is dominated by one prompt; far from the identity: "
            f"{rank}, {eigen} and {touches}."
        )
    elif far:
        headline = f"The update kernel is far from the identity: {rank}; {eigen}."
    elif top is not None:
        headline = f"The update kernel is dominated by one prompt: {touches}; {rank}."
    elif close_to_identity(analysis):
        headline = (
            f"The update kernel is close to a multiple of the identity: {rank}, {cosine}; {eigen}."
        )
    else:
        headline = (
            f"The update kernel is neither close to a multiple of the identity nor dominated by "
            f"one prompt: {rank}, {cosine}."
        )
    return Verdict(headline, _details(analysis), True)


def _details(analysis: FisherAnalysis) -> tuple[str, ...]:
    sentences = []
    c = analysis.contrast
    if c is not None and c.difference is not None:
        apart = c.difference_se is not None and abs(c.difference) > 2 * c.difference_se
        sentences.append(
            f"Mean cosine within a prompt {format_with_se(c.within, c.within_se)}, across "
            f"prompts {format_with_se(c.across, c.across_se)}: the difference "
            f"{format_with_se(c.difference, c.difference_se)} (jackknife over sequences) is "
            + ("beyond 2 standard errors." if apart else "within 2 standard errors.")
        )
    checked = [i for i in analysis.identities if i.holds is not None]
    failed = [i.influence_path for i in checked if not i.holds]
    if checked:
        sentences.append(
            f"influence = K · advantages fails for {', '.join(failed)}."
            if failed
            else "influence = K · advantages holds to rounding for "
            + ", ".join(i.influence_path for i in checked)
            + "."
        )
    disagree = [r for r in analysis.correlations if r.disagreement is not None]
    if analysis.correlations:
        sentences.append(
            f"Spearman and Pearson disagree for {len(disagree)} of {len(analysis.correlations)} "
            "correlations of the files."
        )
    for note in analysis.surprisal:
        sentences.append(
            f"{note.entropy_field} ({note.split}) is −{note.logprob_field}: a surprisal, not an "
            "entropy."
        )
    s = analysis.spectrum
    if s.rounding_negatives:
        sentences.append(
            f"{s.rounding_negatives} eigenvalues slightly below 0 (within the rounding bound "
            f"{format_number(s.tolerance)}) were set to 0."
        )
    return tuple(sentences)
