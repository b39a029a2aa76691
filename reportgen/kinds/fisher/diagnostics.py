"""The Fisher-kernel checks; each docstring is its explanation in the guide."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from reportgen.findings import CheckInfo, Finding
from reportgen.kinds.common import NOT_IN_LAYOUT, CheckList, Hit
from reportgen.numfmt import format_number

if TYPE_CHECKING:  # the checks' catalogue (the guide) needs no analysis code
    from reportgen.kinds.fisher.analysis import FisherAnalysis
    from reportgen.kinds.fisher.spectrum import PromptShare

DOMINANT_SHARE = 0.5  # a prompt touching at least half of Σ|K| …
DOMINANT_OVER_UNIFORM = 2.0  # … and twice what equal entries would give it dominates
FAR_RANK_FRACTION = 0.5  # effective rank below half of n: far from a multiple of the identity

_REGISTRY: CheckList[FisherAnalysis] = CheckList("fisher")


def checks(analysis: FisherAnalysis) -> tuple[Finding, ...]:
    """Every Fisher-kernel check's findings: errors first, then in the order below."""
    return _REGISTRY.run(analysis)


def dominant_prompt(analysis: FisherAnalysis) -> PromptShare | None:
    """The prompt whose union share of Σ|K| is ≥ 0.5 and ≥ 2× its equal-entries share."""
    top = analysis.shares[0] if analysis.shares else None
    if top is None or len(analysis.shares) < 2:
        return None
    if top.share >= DOMINANT_SHARE and top.share >= DOMINANT_OVER_UNIFORM * top.uniform:
        return top
    return None


def far_from_identity(analysis: FisherAnalysis) -> bool:
    rank = analysis.spectrum.effective_rank
    return rank is not None and rank < FAR_RANK_FRACTION * analysis.n


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{format_number(100 * value)} %"


@_REGISTRY.check("fisher-influence-identity", "error", "influence ≠ K · advantages", "identity")
def influence_identity(analysis: FisherAnalysis) -> Iterator[Hit]:
    """An `influence_<split>.npy` is not the kernel times the update sequences' advantages,
    beyond the rounding of the stored arrays: |influence − K·A| exceeds, for some sequence,
    (n + 2)·ε·(|K|·|A|) + ε·|influence| (ε of the stored dtypes).

    **Why it matters:** the influence is meant to be the update's first-order effect on each
    sequence, Σ_b K_ab·A_b. When it is a multiple of K·A (the finding gives the least-squares
    factor c), a normalisation such as 1/n or η was applied on one side only; otherwise the
    influence came from another kernel or other advantages.
    """
    for check in analysis.identities:
        if check.holds is not False:
            continue
        scaled = (
            f"; it is c·K·A with c = {format_number(check.scale)} (c·n = "
            f"{format_number((check.scale or 0.0) * analysis.n)}) to a relative residual of "
            f"{format_number(check.scaled_residual)}"
            if check.scale is not None
            else ""
        )
        yield Hit(
            f"{check.influence_path} differs from kernel_{check.split} · advantages by up to "
            f"{format_number(check.max_error)} ({format_number(check.worst_ratio)} × its "
            f"rounding bound){scaled}"
        )


@_REGISTRY.check("fisher-one-prompt", "warning", "One prompt dominates the kernel", "prompts")
def one_prompt(analysis: FisherAnalysis) -> Iterator[Hit]:
    """One prompt's sequences touch at least half of Σ|K| (the entries in the union of their
    rows and columns), and at least twice what they would touch if all entries were equal
    (1 − (1 − k/n)² for k of n sequences).

    **Why it matters:** per-sequence influence read from such a kernel mostly repeats that one
    prompt's gradient direction; the other prompts' sequences barely interact with anything.
    """
    top = dominant_prompt(analysis)
    if top is not None:
        yield Hit(
            f"prompt {top.prompt} ({top.sequences} of {analysis.n} sequences) touches "
            f"{_pct(top.share)} of Σ|K| (equal entries would give {_pct(top.uniform)}); its own "
            f"block holds {_pct(top.within)}"
        )


@_REGISTRY.check(
    "fisher-far-from-identity", "info", "The kernel is far from a multiple of the identity",
    "spectrum",
)  # fmt: skip
def far_from_identity_check(analysis: FisherAnalysis) -> Iterator[Hit]:
    """The kernel's effective rank exp(−Σ pₖ log pₖ), pₖ = λₖ / Σλ (Roy & Vetterli), is below
    half the number of sequences. A multiple of the identity has effective rank n; a kernel of
    rank one has 1.

    **Why it matters:** treating the sequences' gradients as nearly orthogonal (each update
    sequence moving only itself) is wrong for such a kernel: a few directions carry it.
    """
    s = analysis.spectrum
    if far_from_identity(analysis):
        yield Hit(
            f"effective rank {format_number(s.effective_rank)} of n = {analysis.n}; the top "
            f"eigenvalue holds {_pct(s.top_share)} of Σλ"
        )


@_REGISTRY.check("fisher-not-psd", "warning", "The kernel is not a Gram matrix", "spectrum")
def not_psd(analysis: FisherAnalysis) -> Iterator[Hit]:
    """The update kernel is not symmetric, or has negative eigenvalues larger than rounding
    explains (|λ| above n·ε·λ_max, ε of the stored dtype), so it is not a matrix of gradient
    inner products. Negative eigenvalues within that bound are rounding: they are set to 0
    and only counted on the page.

    **Why it matters:** the effective rank and the shares are computed with negative
    eigenvalues set to 0; if they are large, the kernel was not computed as G·Gᵀ.
    """
    s = analysis.spectrum
    eps = analysis.run.update.kernel_eps
    problems = []
    if s.asymmetry > analysis.n * eps:
        problems.append(f"max |K − Kᵀ| is {format_number(s.asymmetry)} of max |K|")
    if s.negatives:
        problems.append(
            f"{s.negatives} eigenvalues below −{format_number(s.tolerance)} (the most negative "
            f"{format_number(s.most_negative)})"
        )
    if problems:
        yield Hit("; ".join(problems))


@_REGISTRY.check(
    "fisher-rank-disagrees", "info", "Rank and linear correlations disagree", "correlations"
)  # fmt: skip
def rank_disagrees(analysis: FisherAnalysis) -> Iterator[Hit]:
    """For a kernel quantity against a sequence metric, Pearson's r and Spearman's ρ disagree
    beyond their uncertainty: their 95 % intervals (Fisher z, n − 3; for ρ the variance
    (1 + ρ²/2)/(n − 3) of Bonett & Wright) lie on opposite sides of 0 (sign), or do not overlap
    while |r| and |ρ| are at least 0.3 apart (magnitude).

    **Why it matters:** Pearson's r follows a few extreme sequences (a dominant prompt's large
    self-influences); Spearman's ρ, on ranks, says whether the relation holds across the
    batch. When they disagree, the file's Pearson correlation describes the outliers.
    """
    rows = [r for r in analysis.correlations if r.disagreement is not None]
    if rows:
        yield Hit(
            "; ".join(
                f"{r.split}: {r.quantity} against {r.metric}: Pearson "
                f"{format_number(r.pearson)} (95 % {format_number(r.pearson_low)} to "
                f"{format_number(r.pearson_high)}), Spearman {format_number(r.spearman)} (95 % "
                f"{format_number(r.spearman_low)} to {format_number(r.spearman_high)}) "
                f"({r.disagreement})"
                for r in rows
            )
        )


@_REGISTRY.check(
    "fisher-pearson-mismatch", "warning", "A file's Pearson correlation is not reproduced",
    "correlations",
)  # fmt: skip
def pearson_mismatch(analysis: FisherAnalysis) -> Iterator[Hit]:
    """A Pearson correlation in `*_kernel_metric_correlations.json` differs by more than 1e-4
    from the one recomputed from the kernel (or influence) and the metrics files.

    **Why it matters:** the correlation was computed from other data than the files beside
    it (another kernel, a subset of sequences, another quantity under the same name).
    """
    rows = [r for r in analysis.correlations if r.file_mismatch]
    if rows:
        yield Hit(
            "; ".join(
                f"{r.split}: {r.quantity} against {r.metric}: file {format_number(r.pearson_file)}"
                f", recomputed {format_number(r.pearson)}"
                for r in rows
            )
        )


@_REGISTRY.check(
    "fisher-entropy-is-surprisal", "info", "An \"entropy\" field is minus the log-probability",
    "correlations",
)  # fmt: skip
def entropy_is_surprisal(analysis: FisherAnalysis) -> Iterator[Hit]:
    """A field named like an entropy equals minus the sequence's log-probability for every
    sequence (to a relative 1e-6): it is the sequence's surprisal −log π(y), a one-sample
    estimate whose mean is the entropy, not the entropy of the policy at that prompt.

    **Why it matters:** correlating kernel quantities with it measures their relation to how
    unlikely each sampled response was, not to the policy's uncertainty.
    """
    for note in analysis.surprisal:
        yield Hit(
            f"{note.split}: {note.entropy_field} = −{note.logprob_field} for all {note.count} "
            "sequences"
        )


@_REGISTRY.check(
    "fisher-files-disagree", "warning", "Outlier files disagree with the arrays", "pairs"
)
def files_disagree(analysis: FisherAnalysis) -> Iterator[Hit]:
    """An entry of `*_top_outliers.json` or `outlier_pair_details.json` names a sequence or a
    value that the kernel, the influence array or the sequences file contradict (beyond the
    rounding of the stored dtype; cosines to 1e-5).

    **Why it matters:** the outlier files were written from other arrays than the ones beside
    them; the page's tables are computed from the arrays.
    """
    if analysis.disagreements:
        shown = analysis.disagreements[:5]
        more = (
            f" and {len(analysis.disagreements) - 5} more"
            if len(shown) < len(analysis.disagreements)
            else ""
        )
        yield Hit("; ".join(shown) + more)


@_REGISTRY.check("fisher-incomplete", "warning", "Files missing or not usable", "inputs")
def incomplete(analysis: FisherAnalysis) -> Iterator[Hit]:
    """Some files of the directory could not be used (unreadable, not an array, the wrong
    shape, sequences that do not line up with the kernel), or a check could not run for lack
    of them (the influence identity without advantages, a correlation whose quantity or metric
    is unknown). The page lists each file with the reason.
    """
    run = analysis.run
    problems = list(run.problems)
    problems += [
        f"{c.influence_path}: not checked, {c.reason}"
        for c in analysis.identities
        if c.holds is None and c.reason
    ]
    problems += [
        f"{r.split} correlation {r.quantity}/{r.metric} not recomputed: {r.note}"
        for r in analysis.correlations
        if r.note
    ]
    refused = [s for s in run.not_read if s.reason != NOT_IN_LAYOUT]
    problems += [f"{s.path}: {s.reason}" for s in refused]
    if problems:
        yield Hit("; ".join(problems[:6]) + (" …" if len(problems) > 6 else ""))


CHECKS: tuple[CheckInfo, ...] = _REGISTRY.infos  # every check, in guide order
