"""The Fisher-kernel page's opening sentences: how far the kernel is from a multiple of the
identity and which prompt dominates it, in words, then what supports and qualifies that. The
cosine contrast is "within" its margin only when shown to be (its 90 % interval inside), and
"inconclusive" when neither that nor a difference beyond the margin is shown."""

from __future__ import annotations

from reportgen.kinds.fisher.analysis import FisherAnalysis
from reportgen.kinds.fisher.diagnostics import dominant_prompt, far_from_identity
from reportgen.kinds.fisher.spectrum import CosineContrast
from reportgen.kinds.sample_stats import Judgement, equivalence, t_quantile
from reportgen.numfmt import format_number, format_with_se, format_z
from reportgen.pages.verdict import Verdict

CLOSE_RANK_FRACTION = 0.9  # effective rank of at least 0.9·n …
CLOSE_MEAN_ABS_COSINE = 0.1  # … and mean |cosine| between different sequences at most 0.1
# absolute, on a cosine (a relative margin means nothing for a difference near 0): within-
# and across-prompt pairs are "as aligned" when their mean cosines are shown within ±0.1
COSINE_MARGIN = 0.1


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
        sentences.append(
            f"Mean cosine within a prompt {format_with_se(c.within, c.within_se)}, across "
            f"prompts {format_with_se(c.across, c.across_se)}: the difference "
            f"{format_with_se(c.difference, c.difference_se)} (delete-one-prompt jackknife over "
            f"{c.prompts} prompts) is {contrast_judgement(c)}."
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
            "correlations of the files (their 95 % intervals do not overlap)."
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


def _dof(c: CosineContrast) -> int | None:
    """t's degrees of freedom: G − 1 for the G replicates of the delete-one-prompt jackknife."""
    return c.prompts - 1 if c.prompts > 1 else None


def contrast_verdict(c: CosineContrast) -> Judgement | None:
    """The within − across difference against ±COSINE_MARGIN (None: no SE)."""
    return equivalence(c.difference, c.difference_se, COSINE_MARGIN, _dof(c))


def contrast_judgement(c: CosineContrast) -> str:
    """The within − across difference against ±COSINE_MARGIN, in words."""
    dof, judged = _dof(c), contrast_verdict(c)
    margin = f"±{format_number(COSINE_MARGIN)}"
    if judged is None:
        return "not judged (no standard error)"
    if judged == "within":
        return (
            f"within {margin} (its 90 % interval lies inside {margin}, an absolute margin on "
            "the cosine)"
        )
    z = format_z((c.difference or 0.0) / (c.difference_se or 1.0))
    if judged == "beyond":
        return f"beyond {margin} (z = {z}): the prompts' own pairs are aligned differently"
    if abs(c.difference or 0.0) > t_quantile(0.975, dof) * (c.difference_se or 0.0):
        return (
            f"inconclusive: it differs from 0 (z = {z}) but is not shown beyond {margin}, nor "
            "within it"
        )
    return (
        f"inconclusive: not shown to differ from 0, nor within {margin} (its 90 % interval "
        "reaches past it)"
    )
