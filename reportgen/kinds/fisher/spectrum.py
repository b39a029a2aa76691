"""The kernel's shape: spectrum and effective rank, cosine normalisation, each prompt's share of
Σ|K| and the mean cosine within and across prompts. Pure numpy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reportgen.kinds.common import FloatArray


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Eigenvalues of the symmetrised kernel (K + Kᵀ)/2, largest first.

    Negative eigenvalues within ``tolerance`` = n·ε·λ_max (ε of the stored dtype: the bound on
    what rounding the entries can move an eigenvalue by) are rounding and set to 0; larger
    negative ones mean the matrix is not a Gram matrix, and are set to 0 too (and reported).
    """

    eigenvalues: FloatArray  # as computed, largest first
    tolerance: float
    rounding_negatives: int  # negative, within tolerance
    negatives: int  # negative beyond tolerance
    most_negative: float
    asymmetry: float  # max |K − Kᵀ| / max |K|
    shares: FloatArray  # pₖ = λₖ⁺ / Σλ⁺
    effective_rank: float | None  # exp(−Σ pₖ log pₖ), Roy & Vetterli
    top_share: float | None
    trace: float
    resolved: int = 0  # eigenvalues above ``tolerance``: the rest is rounding noise

    @property
    def share_floor(self) -> float | None:
        """``tolerance`` as a share of Σλ⁺: smaller shares are below the rounding bound."""
        total = float(np.clip(self.eigenvalues, 0.0, None).sum())
        return self.tolerance / total if total > 0 else None


def spectrum(kernel: FloatArray, eps: float) -> Spectrum:
    n = kernel.shape[0]
    largest = float(np.abs(kernel).max()) if kernel.size else 0.0
    asymmetry = float(np.abs(kernel - kernel.T).max()) / largest if largest > 0 else 0.0
    values: FloatArray = np.linalg.eigvalsh((kernel + kernel.T) / 2.0)[::-1].astype(np.float64)
    top = float(values[0]) if values.size else 0.0
    tolerance = n * max(eps, 2.0**-52) * max(abs(top), largest)
    negative = values < 0
    rounding = negative & (values >= -tolerance)
    clipped = np.where(negative, 0.0, values)
    total = float(clipped.sum())
    shares = clipped / total if total > 0 else np.full(values.shape, np.nan)
    return Spectrum(
        eigenvalues=values,
        tolerance=tolerance,
        rounding_negatives=int(rounding.sum()),
        negatives=int((negative & ~rounding).sum()),
        most_negative=float(values.min()) if values.size else 0.0,
        asymmetry=asymmetry,
        shares=shares,
        effective_rank=effective_rank(shares) if total > 0 else None,
        top_share=float(shares[0]) if total > 0 else None,
        trace=float(np.trace(kernel)),
        resolved=int(np.count_nonzero(values > tolerance)),
    )


def effective_rank(shares: FloatArray) -> float:
    """exp of the Shannon entropy of the normalised spectrum (0·log 0 = 0)."""
    positive = shares[shares > 0]
    return float(math.exp(-float(np.sum(positive * np.log(positive)))))


def cosines(kernel: FloatArray) -> FloatArray:
    """K_ab / √(K_aa·K_bb); NaN where a diagonal entry is not positive."""
    diagonal = np.diag(kernel).astype(np.float64)
    scale = np.sqrt(np.where(diagonal > 0, diagonal, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised: FloatArray = kernel / np.outer(scale, scale)
    return normalised


@dataclass(frozen=True)
class PromptShare:
    """A prompt's part of Σ|K| over the whole kernel.

    ``share`` counts every entry in the union of the prompt's rows and columns (an entry
    between two prompts counts for both, so shares sum to 1 + the cross-prompt fraction);
    ``within`` counts only the prompt's own block (these sum to at most 1); ``uniform`` is the
    union share the prompt would have if every |K_ab| were equal: 1 − (1 − k/n)².
    """

    prompt: str
    sequences: int
    share: float
    within: float
    uniform: float


def prompt_shares(kernel: FloatArray, prompts: Sequence[str]) -> tuple[PromptShare, ...]:
    """Shares of Σ|K| per prompt, largest first."""
    magnitude = np.abs(kernel)
    total = float(magnitude.sum())
    n = kernel.shape[0]
    labels = np.array(prompts, dtype=object)
    rows = magnitude.sum(axis=1)
    columns = magnitude.sum(axis=0)
    found = []
    for prompt in dict.fromkeys(prompts):
        member = labels == prompt
        block = float(magnitude[np.ix_(member, member)].sum())
        union = float(rows[member].sum() + columns[member].sum()) - block
        k = int(member.sum())
        found.append(
            PromptShare(
                str(prompt),
                k,
                union / total if total > 0 else math.nan,
                block / total if total > 0 else math.nan,
                1.0 - (1.0 - k / n) ** 2,
            )
        )
    return tuple(sorted(found, key=lambda s: (-s.share, s.prompt)))


@dataclass(frozen=True)
class CosineContrast:
    """Mean cosine over pairs a ≠ b of the same prompt and of different prompts, with
    delete-one-prompt (cluster) jackknife standard errors: pairs share sequences and the
    sequences of a prompt share it, so neither pairs nor sequences are independent draws."""

    within: float | None
    within_se: float | None
    within_pairs: int
    across: float | None
    across_se: float | None
    across_pairs: int
    difference: float | None
    difference_se: float | None
    prompts: int = 0  # the jackknife's clusters


def cosine_contrast(cosine: FloatArray, prompts: Sequence[str]) -> CosineContrast:
    labels = np.array(prompts, dtype=object)
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(len(labels), dtype=bool)
    finite = np.isfinite(cosine)
    values = np.where(finite, cosine, 0.0)
    within, within_count = _sums(values, finite & same & off)
    across, across_count = _sums(values, finite & ~same & off)
    full_within = _ratio(within.sum() / 2, within_count.sum() / 2)
    full_across = _ratio(across.sum() / 2, across_count.sum() / 2)
    groups = list(dict.fromkeys(prompts))
    member = (np.array(groups, dtype=object)[:, None] == labels[None, :]).astype(np.float64)
    # leaving prompt g out removes its own block (each pair twice in the row sums, so once
    # when halved) and its pairs with every other prompt (once in its rows, once in theirs)
    loo_within = _ratio_array(
        (within.sum() - member @ within) / 2, (within_count.sum() - member @ within_count) / 2
    )
    loo_across = _ratio_array(
        (across.sum() - 2 * (member @ across)) / 2,
        (across_count.sum() - 2 * (member @ across_count)) / 2,
    )
    difference = None if full_within is None or full_across is None else full_within - full_across
    return CosineContrast(
        within=full_within,
        within_se=_jackknife(loo_within),
        within_pairs=int(within_count.sum() // 2),
        across=full_across,
        across_se=_jackknife(loo_across),
        across_pairs=int(across_count.sum() // 2),
        difference=difference,
        difference_se=_jackknife(loo_within - loo_across),
        prompts=len(groups),
    )


def _sums(values: FloatArray, mask: np.ndarray) -> tuple[FloatArray, FloatArray]:
    """Per sequence: the sum and the count of its pairs in ``mask``."""
    return np.where(mask, values, 0.0).sum(axis=1), mask.sum(axis=1).astype(np.float64)


def _ratio(total: float, count: float) -> float | None:
    return float(total / count) if count > 0 else None


def _ratio_array(totals: FloatArray, counts: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / counts, np.nan)


def _jackknife(replicates: FloatArray) -> float | None:
    """√((G − 1)/G · Σ(θ₋g − θ̄)²) over the G finite leave-one-prompt-out replicates."""
    finite = replicates[np.isfinite(replicates)]
    n = finite.size
    if n < 2:
        return None
    return float(math.sqrt((n - 1) / n * float(np.sum((finite - finite.mean()) ** 2))))
