"""The Fisher-kernel analysis: the kernel's shape (spectrum.py), the identity
influence = K · advantages, rank against linear correlations, the "entropy" field, the largest
pairs and whether the outlier files agree with the arrays. Pure numpy, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reportgen.kinds.common import FloatArray
from reportgen.kinds.fisher.files import file_disagreements
from reportgen.kinds.fisher.model import FisherRun, SequenceInfo, Split
from reportgen.kinds.fisher.relations import (
    CorrelationRow,
    SurprisalNote,
    correlation_rows,
    surprisal_notes,
)
from reportgen.kinds.fisher.spectrum import (
    CosineContrast,
    PromptShare,
    Spectrum,
    cosine_contrast,
    cosines,
    prompt_shares,
    spectrum,
)

TOP_PAIRS = 10


@dataclass(frozen=True)
class IdentityCheck:
    """influence = K · advantages for one split, to the rounding of the stored arrays."""

    split: str
    influence_path: str
    holds: bool | None  # None: cannot be checked (the reason says why)
    reason: str | None
    max_error: float | None  # max |influence − K·A|
    worst_ratio: float | None  # max over entries of |error| / its rounding bound
    scale: float | None  # the c of influence ≈ c·K·A (least squares), when it does not hold
    scaled_residual: float | None  # ‖influence − c·K·A‖ / ‖influence‖


@dataclass(frozen=True)
class TopPair:
    a: int
    b: int
    a_info: SequenceInfo | None
    b_info: SequenceInfo | None
    kernel: float
    cosine: float | None


@dataclass(frozen=True, eq=False)
class FisherAnalysis:
    run: FisherRun
    n: int
    spectrum: Spectrum
    cosine: FloatArray
    prompts: tuple[str, ...]  # each update sequence's prompt key ("" when unknown)
    prompt_source: str  # how prompts were told apart, in words
    order: tuple[int, ...]  # sequences grouped by prompt, for the heatmaps
    shares: tuple[PromptShare, ...]
    contrast: CosineContrast | None
    off_diagonal_abs_cosine: float | None  # mean |cos| over pairs a ≠ b
    identities: tuple[IdentityCheck, ...]
    correlations: tuple[CorrelationRow, ...]
    surprisal: tuple[SurprisalNote, ...]
    top_pairs: tuple[TopPair, ...]
    disagreements: tuple[str, ...]


def analyze(run: FisherRun) -> FisherAnalysis:
    with np.errstate(all="ignore"):
        return _analyze(run)


def _analyze(run: FisherRun) -> FisherAnalysis:
    update = run.update
    assert update.kernel is not None
    kernel = update.kernel
    n = kernel.shape[0]
    cosine = cosines(kernel)
    prompts, source = _prompts(update)
    known = all(prompts)
    off = ~np.eye(n, dtype=bool)
    finite = np.abs(cosine[off])
    finite = finite[np.isfinite(finite)]
    return FisherAnalysis(
        run=run,
        n=n,
        spectrum=spectrum(kernel, update.kernel_eps),
        cosine=cosine,
        prompts=prompts,
        prompt_source=source,
        order=_prompt_order(prompts),
        shares=prompt_shares(kernel, prompts) if known else (),
        contrast=cosine_contrast(cosine, prompts) if known and len(set(prompts)) > 1 else None,
        off_diagonal_abs_cosine=float(finite.mean()) if finite.size else None,
        identities=tuple(
            _identity(split, update) for split in run.splits if split.influence is not None
        ),
        correlations=correlation_rows(run),
        surprisal=surprisal_notes(run),
        top_pairs=_top_pairs(kernel, cosine, update.sequences),
        disagreements=file_disagreements(run, cosine),
    )


def _prompts(update: Split) -> tuple[tuple[str, ...], str]:
    n = update.kernel.shape[0] if update.kernel is not None else 0
    if len(update.sequences) != n:
        return ("",) * n, "unknown: no sequences file lines up with the kernel"
    by_id = all(s.prompt_key != s.id for s in update.sequences)
    source = (
        "the <prompt> part of the ids U-<prompt>-<completion>"
        if by_id
        else "equal prompt texts (the ids do not follow U-<prompt>-<completion>)"
    )
    return tuple(s.prompt_key for s in update.sequences), source


def _natural(key: str) -> tuple[int, float, str]:
    return (0, float(key), key) if key.isdigit() else (1, math.inf, key)


def _prompt_order(prompts: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(sorted(range(len(prompts)), key=lambda i: (_natural(prompts[i]), i)))


def _advantages(update: Split) -> FloatArray | None:
    values = [s.advantage for s in update.sequences]
    if not values or any(v is None for v in values):
        return None
    return np.array(values, dtype=np.float64)


def _identity(split: Split, update: Split) -> IdentityCheck:
    path = split.influence_path or ""
    advantages = _advantages(update)
    kernel, influence = split.kernel, split.influence
    assert influence is not None

    def unchecked(reason: str) -> IdentityCheck:
        return IdentityCheck(split.name, path, None, reason, None, None, None, None)

    if advantages is None:
        return unchecked("the update sequences have no advantages to multiply by")
    if kernel is None or kernel.shape != (influence.size, advantages.size):
        return unchecked(f"kernel_{split.name}.npy is missing or does not line up")
    product = kernel @ advantages
    bound = (advantages.size + 2) * split.kernel_eps * (np.abs(kernel) @ np.abs(advantages))
    bound += split.influence_eps * np.abs(influence) + 1e-300
    error = np.abs(influence - product)
    ratio = float(np.max(error / bound)) if error.size else 0.0
    holds = ratio <= 1.0
    scale = residual = None
    denominator = float(product @ product)
    if not holds and denominator > 0:
        scale = float(influence @ product) / denominator
        norm = float(np.linalg.norm(influence))
        residual = float(np.linalg.norm(influence - scale * product)) / norm if norm else None
    return IdentityCheck(
        split.name, path, holds, None, float(error.max()) if error.size else 0.0, ratio, scale,
        residual,
    )  # fmt: skip


def _top_pairs(
    kernel: FloatArray, cosine: FloatArray, sequences: tuple[SequenceInfo, ...]
) -> tuple[TopPair, ...]:
    n = kernel.shape[0]
    a, b = np.triu_indices(n, k=1)
    values = kernel[a, b]
    order = np.argsort(-np.abs(values), kind="stable")[:TOP_PAIRS]
    info = sequences if len(sequences) == n else ()
    pairs = []
    for k in order.tolist():
        i, j = int(a[k]), int(b[k])
        c = float(cosine[i, j])
        pairs.append(
            TopPair(
                i, j, info[i] if info else None, info[j] if info else None, float(values[k]),
                c if np.isfinite(c) else None,
            )
        )  # fmt: skip
    return tuple(pairs)
