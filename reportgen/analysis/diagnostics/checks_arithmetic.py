"""Checks of structure and arithmetic: the guide's identities between the stored arrays."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np

from reportgen.analysis.contributions import (
    per_sequence_vhvv,
)
from reportgen.analysis.diagnostics.registry import (
    CheckContext,
    Hit,
    at,
    check,
    fmt,
    fmt_eta,
    rel,
)
from reportgen.load.models import FloatArray, TrueEntry

# --- structure and arithmetic ----------------------------------------------------------------


def _bad_values(name: str, value: float | FloatArray | None) -> str | None:
    """Describe the non-finite part of a value, or ``None`` when it is finite or absent."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        bad = int(np.count_nonzero(~np.isfinite(value)))
        return f"{name} ({bad} of {value.shape[0]} values)" if bad else None
    return None if math.isfinite(value) else f"{name} = {fmt(value)}"


def _join_bad(items: Iterable[str | None]) -> str:
    return ", ".join(item for item in items if item)


def _entry_bad(entry: TrueEntry) -> str:
    return _join_bad(
        _bad_values(name, value)
        for name, value in (
            ("η", entry.eta),
            ("delta_h_true", entry.delta_h_true),
            ("base_entropy", entry.base_entropy),
            ("weights_sum", entry.weights_sum),
            ("normalized_weights", entry.normalized_weights),
            ("h_new", entry.h_new),
            ("token_counts", entry.token_counts),
        )
    )


def _sweep_column_bad(name: str, column: FloatArray, index: int) -> str | None:
    # the loader fills absent sweep fields with NaN: a column with no number at all is absent
    if not np.isfinite(column).any() and not np.isinf(column).any():
        return None
    return _bad_values(name, column[index])


@check("non-finite", "error", "NaN or infinity in the inputs", "eta-table")
def non_finite(ctx: CheckContext) -> Iterator[Hit]:
    """NaN or ±Infinity reaches a value that the ΔH arithmetic uses.

    Checked: `delta_h_true`, `base_entropy`, `weights_sum`, `normalized_weights`, `h_new` and
    `token_counts` at each η; `gdotv`, `vhvv`, `delta_h_per_lr` and the quadratic block's
    `gdotv`/`vHvv`; the values of an η sweep.

    **Why it matters:** one NaN turns every sum, contribution and chart built from it into NaN;
    other checks skip non-finite values, so this is the only place they are reported.

    **What to do:** the run overflowed or wrote a placeholder; re-run it (often in float64 or
    with a smaller η) or drop the affected η.
    """
    if ctx.snis is not None:
        approx = ctx.snis.approx
        quadratic = approx.quadratic
        run_level = _join_bad(
            (
                _bad_values("delta_h_per_lr", approx.delta_h_per_lr),
                _bad_values("gdotv", approx.per_sequence.gdotv if approx.per_sequence else None),
                _bad_values("vhvv", per_sequence_vhvv(ctx.run)),
                _bad_values("quadratic.gdotv", quadratic.gdotv if quadratic else None),
                _bad_values("quadratic.vHvv", quadratic.vhvv if quadratic else None),
            )
        )
        if run_level:
            yield Hit(f"non-finite values in the approximation: {run_level}")
        for entry in ctx.snis.entries:
            if bad := _entry_bad(entry):
                yield Hit(f"non-finite values {at(entry.eta)}: {bad}", entry.eta)
    if ctx.run.sweep is not None:
        sweep = ctx.run.sweep
        columns = (
            ("η", sweep.etas),
            ("deltaH_true", sweep.delta_h_true),
            ("deltaH_approx_linear", sweep.delta_h_linear),
            ("deltaH_approx_linquad", sweep.delta_h_linquad),
        )
        for i, eta in enumerate(sweep.etas.tolist()):
            if bad := _join_bad(_sweep_column_bad(name, col, i) for name, col in columns):
                yield Hit(f"non-finite sweep values in row {i} ({at(eta)}): {bad}", eta)


_ENTRY_ARRAYS = (
    "normalized_weights",
    "log_weights",
    "h_base",
    "h_new",
    "delta_h_seq",
    "token_counts",
)


def _describe_lengths(lengths: list[tuple[str, int]]) -> str:
    """``8 in a, b; 7 in c``, the most common length first."""
    groups: dict[int, list[str]] = {}
    for name, length in lengths:
        groups.setdefault(length, []).append(name)
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))
    return "; ".join(f"{length} in {', '.join(names)}" for length, names in ordered)


@check("length-mismatch", "error", "Per-sequence arrays differ in length", "per-sequence")
def length_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """Per-sequence arrays differ in length from each other or from `per_sequence_meta.B_total`.

    Compared: the `true` diagnostics arrays (`normalized_weights`, `log_weights`, `h_base`,
    `h_new`, `delta_h_seq`, `token_counts`) at each η, and `approx.per_sequence`,
    `quadratic.per_sequence_vhvv`, `B_total` and `num_sequences`.

    **Why it matters:** the guide aligns sequences by position; with different lengths the
    per-sequence contributions cannot be formed (they are omitted) and sums are meaningless.

    **What to do:** the file was truncated or assembled from different runs; re-run it.
    """
    if ctx.snis is None:
        return
    approx = ctx.snis.approx
    quadratic_vhvv = approx.quadratic.per_sequence_vhvv if approx.quadratic else None
    run_lengths = [
        (name, n)
        for name, n in (
            ("approx.per_sequence", len(approx.per_sequence) if approx.per_sequence else None),
            ("per_sequence_vhvv", quadratic_vhvv.shape[0] if quadratic_vhvv is not None else None),
            ("B_total", approx.meta.b_total if approx.meta else None),
            ("num_sequences", approx.num_sequences),
        )
        if n is not None
    ]
    if len({n for _, n in run_lengths}) > 1:
        yield Hit(f"sequence counts differ: {_describe_lengths(run_lengths)}")
    # the η arrays are compared with B_total when present, else with the first count known
    reference = next((item for item in run_lengths if item[0] == "B_total"), None)
    reference = reference or (run_lengths[0] if run_lengths else None)
    for entry in ctx.snis.entries:
        lengths = [
            (name, array.shape[0])
            for name in _ENTRY_ARRAYS
            if (array := getattr(entry, name)) is not None
        ]
        if lengths and reference is not None:
            lengths.append(reference)
        if len({n for _, n in lengths}) > 1:
            yield Hit(
                f"per-sequence lengths {at(entry.eta)}: {_describe_lengths(lengths)}", entry.eta
            )


@check("index-misaligned", "error", "Per-sequence records out of order", "per-sequence")
def index_misaligned(ctx: CheckContext) -> Iterator[Hit]:
    """`approx.per_sequence[i].index` is not `i` for every record (0 … N−1 in order).

    **Why it matters:** the guide pairs the approximation records with the `true` arrays by
    position; out-of-order records pair each sequence's linear term with another's truth.

    **What to do:** sort the records by `index` before use, or re-run with a fixed writer.
    """
    per_sequence = ctx.snis.approx.per_sequence if ctx.snis else None
    if per_sequence is None:
        return
    n = len(per_sequence)
    index = per_sequence.index
    if index.shape[0] != n:
        return
    wrong = np.flatnonzero(index != np.arange(n))
    if wrong.size:
        first = int(wrong[0])
        yield Hit(
            f"{wrong.size} of {n} approx.per_sequence records are out of place; record {first} "
            f"has index {int(index[first])}"
        )


@check("token-total-mismatch", "error", "Token total disagrees", "per-sequence")
def token_total_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """`per_sequence_meta.T_total` differs from `Σ token_counts` (or from `approx.num_tokens`).

    `approx.num_tokens` must equal `T_total` exactly (both integers); `Σ token_counts` is a
    mismatch when |a − b| > 1e−6·max(|a|, |b|) + 1e−12 (`identity_rtol`, `identity_atol`).

    **Why it matters:** `T_total` sets the derivative scale (`1/T_total` per token); a different
    total means the approximation and the ground truth were computed over different tokens.

    **What to do:** check that both blocks come from the same evaluation batch; re-run.
    """
    snis = ctx.snis
    meta = snis.approx.meta if snis else None
    if snis is None or meta is None or meta.t_total is None:
        return
    t_total, num_tokens = meta.t_total, snis.approx.num_tokens
    if num_tokens is not None and num_tokens != t_total:
        yield Hit(f"per_sequence_meta.T_total = {t_total} but approx.num_tokens = {num_tokens}")
    totals = {
        e.eta: float(e.token_counts.sum())
        for e in snis.entries
        if e.token_counts is not None and e.token_counts.size  # empty: length-mismatch says so
    }
    wrong = {eta: total for eta, total in totals.items() if ctx.identity(total, t_total)}
    if len(wrong) > 1 and len(wrong) == len(totals) and len(set(wrong.values())) == 1:
        # the same sequences at every η: one finding, not one per η
        total = next(iter(wrong.values()))
        yield Hit(f"per_sequence_meta.T_total = {t_total} but Σ token_counts = {fmt(total, 8)}")
        return
    for eta, total in wrong.items():
        yield Hit(
            f"per_sequence_meta.T_total = {t_total} but Σ token_counts = {fmt(total, 8)} {at(eta)}",
            eta,
        )


@check("nonpositive-token-counts", "error", "Token count of zero or less", "per-sequence")
def nonpositive_token_counts(ctx: CheckContext) -> Iterator[Hit]:
    """Some sequence has `token_counts` ≤ 0.

    **Why it matters:** a sequence always has at least one generated token; zero or negative
    counts mean corrupted data, and the per-token denominator `Σ w·T` may vanish or flip sign.

    **What to do:** re-run; check the tokeniser's end-of-sequence handling.
    """
    for entry in ctx.entries:
        counts = entry.token_counts
        if counts is None:
            continue
        bad = np.flatnonzero(counts <= 0)  # NaN compares False: non-finite reports it
        if bad.size:
            yield Hit(
                f"{bad.size} of {counts.shape[0]} token counts are ≤ 0 {at(entry.eta)} "
                f"(sequence {int(bad[0])}: {fmt(float(counts[bad[0]]))})",
                entry.eta,
            )


@check("zero-weights", "error", "SNIS weights vanish", "snis")
def zero_weights(ctx: CheckContext) -> Iterator[Hit]:
    """All SNIS weights are zero (`weights_sum` = 0 or every normalised weight 0).

    **Why it matters:** ΔH_true = (w·h_new)/(w·T) − H_base divides by zero: the ground truth and
    the per-sequence contributions are undefined at this η.

    **What to do:** the update moved the policy too far for importance sampling; use a smaller
    η or check the log-weights for overflow.
    """
    for entry in ctx.entries:
        weights = entry.normalized_weights
        if entry.weights_sum == 0:
            yield Hit(f"weights_sum = 0 {at(entry.eta)}", entry.eta)
        elif weights is not None and weights.size and not np.any(weights != 0):
            yield Hit(f"all {weights.size} normalized_weights are 0 {at(entry.eta)}", entry.eta)


@check("contrib-sum-mismatch", "error", "Contributions do not add up to ΔH_true", "eta-table")
def contrib_sum_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """The per-sequence contributions `true_contrib` do not sum to `delta_h_true`.

    The guide's identity is exact: Σᵢ true_contribᵢ = ΔH_true, with the formula of the run's
    normalisation; only float rounding is allowed for: a mismatch is |a − b| >
    1e−6·max(|a|, |b|) + 1e−12 (`identity_rtol`, `identity_atol`).

    **Why it matters:** the per-sequence charts would show numbers that do not explain the
    aggregate; usually the weights, `h_new`, `token_counts` or `base_entropy` are wrong, or
    the normalisation assumed here is not the one the run used.

    **What to do:** check the normalisation in `config.yaml` and the arrays at this η.
    """
    for row in ctx.summaries:
        if pair := ctx.identity(row.sum_true_contrib, row.delta_h_true):
            total, true = pair
            yield Hit(
                f"Σ true_contrib = {fmt(total)} but delta_h_true = {fmt(true)} {at(row.eta)} "
                f"(rel. diff {fmt(rel(total, true), 2)})",
                row.eta,
            )


@check("base-entropy-mismatch", "warning", "base_entropy is not the batch mean", "snis")
def base_entropy_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """`base_entropy` differs from the batch mean of `h_base` (Σ h_base / Σ token_counts per
    token, or the mean of `h_base` per sequence) by more than float rounding: |a − b| >
    1e−6·max(|a|, |b|) + 1e−12 (`identity_rtol`, `identity_atol`).

    **Why it matters:** ΔH_true subtracts `base_entropy`; if it is not the mean of the baseline
    integrands, ΔH_true mixes two different baselines.

    **What to do:** check that `h_base` and `base_entropy` come from the same batch and dtype.
    """
    per_token = ctx.run.normalization.true_mode == "per_token"
    for entry in ctx.entries:
        h_base, counts = entry.h_base, entry.token_counts
        if h_base is None or entry.base_entropy is None or not h_base.size:
            continue
        if per_token:
            if counts is None or counts.shape != h_base.shape:
                continue
            expected = float(h_base.sum() / counts.sum())
        else:
            expected = float(h_base.mean())
        if ctx.identity(entry.base_entropy, expected):
            yield Hit(
                f"base_entropy = {fmt(entry.base_entropy)} but the batch mean of h_base is "
                f"{fmt(expected)} {at(entry.eta)}",
                entry.eta,
            )


@check("scale-mismatch", "warning", "Derivative scale is not 1/T_total", "per-sequence")
def scale_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """Per-token normalisation, but `per_sequence_meta.scale` ≠ `1 / T_total` by more than
    float rounding: |a − b| > 1e−6·max(|a|, |b|) + 1e−12 (`identity_rtol`, `identity_atol`).

    **Why it matters:** `gdotv` is scaled by `scale`; with another scale the linear terms are in
    different units from the per-token ΔH_true.

    **What to do:** check `approx_delta_h.normalize` in the config against the metadata.
    """
    meta = ctx.snis.approx.meta if ctx.snis else None
    if meta is None or ctx.run.normalization.approx_mode != "per_token":
        return
    if meta.scale is None or not meta.t_total:
        return
    expected = 1.0 / meta.t_total
    if ctx.identity(meta.scale, expected):
        yield Hit(
            f"per_sequence_meta.scale = {fmt(meta.scale)} but 1/T_total = {fmt(expected)} "
            f"(T_total = {meta.t_total})"
        )


@check("weights-not-normalized", "warning", "Normalised weights do not sum to 1", "snis")
def weights_not_normalized(ctx: CheckContext) -> Iterator[Hit]:
    """Σ `normalized_weights` differs from 1 beyond float rounding: |a − b| >
    1e−6·max(|a|, |b|) + 1e−12 with a = Σ, b = 1 (`identity_rtol`, `identity_atol`).

    **Why it matters:** the guide recovers the raw weights as `normalized_weights · weights_sum`;
    if the weights are not normalised, that product is not the SNIS weight.

    **What to do:** check whether the writer stored raw or clipped weights in this field.
    """
    for entry in ctx.entries:
        weights = entry.normalized_weights
        if weights is None or not weights.size:
            continue
        total = float(weights.sum())
        if ctx.identity(total, 1.0):
            yield Hit(f"Σ normalized_weights = {fmt(total, 8)} {at(entry.eta)}", entry.eta)


@check("delta-seq-mismatch", "warning", "delta_h_seq ≠ h_new − h_base", "per-sequence")
def delta_seq_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """`delta_h_seq` differs from `h_new − h_base` for some sequences by more than float
    rounding: |delta_h_seq − (h_new − h_base)| > 1e−6·max(|h_new|, |h_base|) + 1e−12
    (`identity_rtol`, `identity_atol`; relative to the operands, as a difference of two large
    sums carries their rounding).

    **Why it matters:** the guide defines `delta_h_seq` as exactly that difference; a mismatch
    means one of the three arrays is stale or misaligned.

    **What to do:** compare the arrays at this η; re-run if they came from different passes.
    """
    rtol, atol = ctx.options.identity_rtol, ctx.options.identity_atol
    for entry in ctx.entries:
        new, base, delta = entry.h_new, entry.h_base, entry.delta_h_seq
        if (
            new is None
            or base is None
            or delta is None
            or not new.shape == base.shape == delta.shape
        ):
            continue
        expected = new - base
        # a difference of two large sums: tolerance relative to the operands, not the result
        tolerance = rtol * np.maximum(np.abs(new), np.abs(base)) + atol
        error = np.abs(delta - expected)
        bad = np.flatnonzero(np.isfinite(error) & (error > tolerance))
        if bad.size:
            worst = int(bad[np.argmax(error[bad])])
            yield Hit(
                f"delta_h_seq ≠ h_new − h_base for {bad.size} of {new.shape[0]} sequences "
                f"{at(entry.eta)} (sequence {worst}: {fmt(float(delta[worst]))} vs "
                f"{fmt(float(expected[worst]))})",
                entry.eta,
            )


@check("linear-aggregate-mismatch", "warning", "Σ gdotv ≠ delta_h_per_lr", "eta-table")
def linear_aggregate_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """The per-sequence linear terms do not add up to the aggregate: Σ gdotv·η ≠
    `delta_h_per_lr`·η. η cancels, so this holds at every η or at none. A mismatch is
    |a − b| > 1e−6·max(|a|, |b|) + 1e−12 (`identity_rtol`, `identity_atol`: float rounding).

    **Why it matters:** the per-sequence linear terms are meant to decompose the aggregate
    linear prediction; otherwise the per-sequence and aggregate views disagree.

    **What to do:** check that the per-sequence records cover the whole batch and use the
    same scale as the aggregate.
    """
    approx = ctx.snis.approx if ctx.snis else None
    if approx is None or approx.per_sequence is None or approx.delta_h_per_lr is None:
        return
    total = float(approx.per_sequence.gdotv.sum())
    if pair := ctx.identity(total, approx.delta_h_per_lr):
        total, aggregate = pair
        yield Hit(
            f"Σ gdotv = {fmt(total)} but delta_h_per_lr = {fmt(aggregate)} "
            f"(rel. diff {fmt(rel(total, aggregate), 2)}), so Σ gdotv·η ≠ "
            "delta_h_per_lr·η at every η"
        )


@check(
    "linquad-aggregate-mismatch",
    "info",
    "Σ lin+quad differs from the quadratic aggregate",
    "eta-table",
)
def linquad_aggregate_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """Σ per-sequence (gdotv·η + ½η²·vhvv) differs from the quadratic block's aggregate
    `quadratic.gdotv·η + ½·vHvv·η²` by more than 1 %.

    **Why it matters:** the quadratic block is computed in a separate pass, so differences of
    a fraction of a percent are normal; larger ones mean the per-sequence curvature terms do
    not represent the aggregate curvature.

    **What to do:** usually nothing; compare `quadratic.gdotv` with `delta_h_per_lr`.
    """
    for row in ctx.summaries:
        if pair := ctx.aggregate(row.sum_linquad, row.delta_h_linquad):
            total, aggregate = pair
            yield Hit(
                f"Σ (linear + quad) = {fmt(total)} but the quadratic aggregate is "
                f"{fmt(aggregate)} {at(row.eta)} (rel. diff {fmt(rel(total, aggregate), 2)})",
                row.eta,
            )


@check("quad-gdotv-differs", "info", "Quadratic g·v differs from the linear one", "curvature")
def quad_gdotv_differs(ctx: CheckContext) -> Iterator[Hit]:
    """`quadratic.gdotv` differs from `delta_h_per_lr` by more than 1 %.

    **Why it matters:** both estimate the same directional derivative g·v; the quadratic pass
    recomputes it, so small differences are normal, large ones point to a different batch,
    baseline or scale in the curvature pass.

    **What to do:** compare the two blocks' `num_tokens`, `baseline` and `method`.
    """
    approx = ctx.snis.approx if ctx.snis else None
    if approx is None or approx.quadratic is None:
        return
    if pair := ctx.aggregate(approx.quadratic.gdotv, approx.delta_h_per_lr):
        quad, linear = pair
        yield Hit(
            f"quadratic.gdotv = {fmt(quad)} but delta_h_per_lr = {fmt(linear)} "
            f"(rel. diff {fmt(rel(quad, linear), 2)})"
        )


@check("duplicate-eta", "warning", "The same η appears twice", "eta-table")
def duplicate_eta(ctx: CheckContext) -> Iterator[Hit]:
    """Two ground-truth entries (or sweep rows) have the same η.

    **Why it matters:** tables, charts and per-sequence views are keyed by η, so one of the
    measurements is hidden behind the other.

    **What to do:** check whether the run was resumed and appended to its results.
    """
    if ctx.snis is not None:
        etas = np.asarray([e.eta for e in ctx.snis.entries], dtype=np.float64)
    elif ctx.run.sweep is not None:
        etas = ctx.run.sweep.etas
    else:
        return
    values, counts = np.unique(etas[np.isfinite(etas)], return_counts=True)
    for eta, count in zip(values.tolist(), counts.tolist(), strict=True):
        if count > 1:
            yield Hit(f"η = {fmt_eta(eta)} appears {count} times", eta)
