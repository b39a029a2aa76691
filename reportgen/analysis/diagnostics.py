"""Diagnostics: a registry of small, named, documented checks over a loaded run."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from reportgen.analysis.contributions import (
    EtaContributions,
    EtaSummary,
    formula_for,
    per_sequence_vhvv,
)
from reportgen.analysis.uncertainty import RunUncertainty, run_uncertainty, shard_mean_se
from reportgen.models import (
    SEVERITIES,
    CheckInfo,
    Curvature,
    Finding,
    FloatArray,
    IncompleteRun,
    LoadFailure,
    Run,
    Schema,
    Severity,
    SnisData,
    TrueEntry,
)
from reportgen.numfmt import NumberFormat, format_eta, format_number

# --- options, context and registry -----------------------------------------------------------


@dataclass(frozen=True)
class CheckOptions:
    """Tolerances and thresholds of the checks."""

    identity_rtol: float = 1e-6  # identities the guide states exactly (float rounding only)
    identity_atol: float = 1e-12  # floor, so values that are zero up to rounding compare equal
    aggregate_rtol: float = 0.01  # separately computed aggregates (linquad, quadratic g·v)
    min_ess_fraction: float = 0.5
    max_linear_error: float = 0.5
    slope_tolerance: float = 0.15
    min_slope_points: int = 2
    ratio_pred_floor: float = 1e-20
    significant_z: float = 2.0  # |z| of the paired difference beyond which an error is not noise
    # se_shard against std(shard sums)/√K: the real runs store gdotv after float32 arithmetic,
    # so the identity holds to ~5e-8 there (float32 unit roundoff 6e-8), not to 1e-12
    shard_identity_rtol: float = 1e-6


DEFAULT_OPTIONS = CheckOptions()


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may look at."""

    run: Run
    contributions: tuple[EtaContributions, ...]
    summaries: tuple[EtaSummary, ...]
    options: CheckOptions
    uncertainty: RunUncertainty | None = None

    @property
    def snis(self) -> SnisData | None:
        return self.run.snis

    @property
    def entries(self) -> tuple[TrueEntry, ...]:
        """The SNIS ground-truth entries (none for other schemas)."""
        return self.run.snis.entries if self.run.snis is not None else ()

    @property
    def curvature(self) -> Curvature | None:
        if self.run.sweep is not None:
            return self.run.sweep.curvature
        return self.run.snis.approx.quadratic if self.run.snis is not None else None

    def identity(self, a: float | None, b: float | None) -> tuple[float, float] | None:
        """``(a, b)`` if an identity the guide states exactly fails beyond rounding."""
        return _mismatch(a, b, self.options.identity_rtol, self.options.identity_atol)

    def aggregate(self, a: float | None, b: float | None) -> tuple[float, float] | None:
        """``(a, b)`` if two separately computed aggregates differ beyond ``aggregate_rtol``."""
        return _mismatch(a, b, self.options.aggregate_rtol)


@dataclass(frozen=True)
class Hit:
    """What a check found; the registry adds the check's id, severity and section."""

    message: str
    eta: float | None = None
    etas: tuple[float, ...] = ()  # a hit about several η at once (one finding per run)


Scope = Literal["run", "failure", "incomplete", "internal"]


@dataclass(frozen=True)
class RegisteredCheck:
    info: CheckInfo
    scope: Scope
    function: Callable[[Any], Iterable[Hit]]


_REGISTRY: list[RegisteredCheck] = []
CheckFunction = TypeVar("CheckFunction", bound=Callable[[Any], Iterable[Hit]])


def check(
    id: str, severity: Severity, title: str, section: str, scope: Scope = "run"
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check; its docstring (markdown) is the explanation shown on the guide page."""

    def register(function: CheckFunction) -> CheckFunction:
        if any(c.info.id == id for c in _REGISTRY):
            raise ValueError(f"duplicate check id {id!r}")
        explanation = inspect.cleandoc(function.__doc__ or "")
        _REGISTRY.append(
            RegisteredCheck(CheckInfo(id, severity, title, explanation, section), scope, function)
        )
        return function

    return register


def _finite_eta(eta: float | None) -> float | None:
    return eta if eta is not None and math.isfinite(eta) else None


def _finding(info: CheckInfo, hit: Hit) -> Finding:
    etas = tuple(e for e in hit.etas if math.isfinite(e))
    eta = _finite_eta(hit.eta)
    if etas:
        eta = etas[0] if len(etas) == 1 else None
    elif eta is not None:
        etas = (eta,)
    return Finding(info.id, info.severity, hit.message, eta, info.section, etas)


def _merged(info: CheckInfo, hits: list[Hit]) -> Finding:
    """One finding for a check's per-η hits: the η list and each η's message, in η order."""
    ordered = sorted(hits, key=lambda h: h.eta or 0.0)
    if len(ordered) == 1:
        return _finding(info, ordered[0])
    etas = tuple(h.eta for h in ordered if h.eta is not None)
    return _finding(info, Hit("; ".join(h.message for h in ordered), etas=etas))


def _evaluate(registered: RegisteredCheck, subject: object) -> list[Finding]:
    """Run one check; a check that raises becomes a ``check-failed`` finding, never an exception.

    Hits about one η each are merged into one finding per run and check, with the list of η;
    run-level hits (and hits that already carry an η list) stay as they are, without repeats.
    """
    try:
        with np.errstate(all="ignore"):
            hits = list(registered.function(subject))
    except Exception as exc:  # a buggy check must not stop the build
        return _evaluate(_by_id("check-failed"), _crash_hit(registered.info.id, exc))
    per_eta: dict[float, Hit] = {}
    seen: set[tuple[float, ...]] = set()
    findings = []
    for hit in hits:
        eta = _finite_eta(hit.eta)
        if eta is not None and not hit.etas:
            per_eta.setdefault(eta, hit)  # at most one hit per η
            continue
        finding = _finding(registered.info, hit)
        if finding.etas not in seen:  # at most one run-level finding per check
            seen.add(finding.etas)
            findings.append(finding)
    if per_eta:
        findings.append(_merged(registered.info, list(per_eta.values())))
    return findings


def _by_id(check_id: str) -> RegisteredCheck:
    return next(c for c in _REGISTRY if c.info.id == check_id)


def _sort_key(finding: Finding) -> tuple[int, int, float]:
    position = next((i for i, c in enumerate(_REGISTRY) if c.info.id == finding.id), -1)
    eta = min(finding.etas) if finding.etas else -math.inf
    return SEVERITIES.index(finding.severity), position, eta


# --- formatting ------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 5) -> str:
    """A number in findings, by the site's one formatter (``reportgen.numfmt``): ``−1.3221e−3``."""
    return format_number(value, NumberFormat(digits, None, "none"))


def fmt_eta(eta: float) -> str:
    """η (or a threshold) the way people write it: ``3.2e−6``, ``1.28e−5``, ``8e−7``."""
    return format_eta(eta)


def _rel(a: float, b: float) -> float:
    """|a − b| relative to the larger magnitude."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def _mismatch(
    a: float | None, b: float | None, rtol: float, atol: float = 0.0
) -> tuple[float, float] | None:
    """``(a, b)`` when both are finite and differ beyond tolerance, else ``None``.

    Non-finite values are skipped here because ``non-finite`` reports them.
    """
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return (a, b) if abs(a - b) > rtol * max(abs(a), abs(b)) + atol else None


def _at(eta: float) -> str:
    return f"at η = {fmt_eta(eta)}"


# --- load problems ---------------------------------------------------------------------------


@check("parse-error", "error", "Results file cannot be read", "error", scope="failure")
def parse_error(failure: LoadFailure) -> Iterator[Hit]:
    """The results file could not be read, is not valid JSON, or its top level is not an object.

    **Why it matters:** nothing about the run can be shown; its page only reports the reason.

    **What to do:** open the file at the line and column given. An empty or truncated file
    usually means the run was still writing or died; re-run it or delete the partial file.
    """
    where = ""
    if failure.line is not None:
        where = f" (line {failure.line}" + (
            f", column {failure.column})" if failure.column is not None else ")"
        )
    hint = f" {failure.hint}" if failure.hint else ""
    yield Hit(f"{failure.file}: {failure.reason}{where}.{hint}")


@check("incomplete-run", "warning", "Run without results", "error", scope="incomplete")
def incomplete_run(incomplete: IncompleteRun) -> Iterator[Hit]:
    """A directory has `plan.json` but no results file.

    **Why it matters:** the run is still going, or it died before writing results; it has no
    page and is missing from every comparison.

    **What to do:** wait for the run to finish, or check its logs and re-run it.
    """
    yield Hit(
        f"{incomplete.directory} has {incomplete.plan} but no results file: "
        "the run is still going, or it died."
    )


@check("unknown-schema", "info", "Unknown results format", "facts")
def unknown_schema(ctx: CheckContext) -> Iterator[Hit]:
    """The JSON object matches no known schema generation (SNIS, η sweep, control variates).

    **Why it matters:** no ΔH arithmetic or checks apply; the page lists the file's fields only.

    **What to do:** nothing if the file is not a run. If it is, its format is new: extend the
    loader with a schema for it.
    """
    if ctx.run.schema is Schema.GENERIC:
        yield Hit(
            f"{ctx.run.ref.source} matches no known schema (SNIS, η sweep, control variates); "
            f"its {len(ctx.run.generic)} fields are listed as they are."
        )


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
                yield Hit(f"non-finite values {_at(entry.eta)}: {bad}", entry.eta)
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
                yield Hit(f"non-finite sweep values in row {i} ({_at(eta)}): {bad}", eta)


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
                f"per-sequence lengths {_at(entry.eta)}: {_describe_lengths(lengths)}", entry.eta
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
            f"per_sequence_meta.T_total = {t_total} but Σ token_counts = {fmt(total, 8)} "
            f"{_at(eta)}",
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
                f"{bad.size} of {counts.shape[0]} token counts are ≤ 0 {_at(entry.eta)} "
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
            yield Hit(f"weights_sum = 0 {_at(entry.eta)}", entry.eta)
        elif weights is not None and weights.size and not np.any(weights != 0):
            yield Hit(f"all {weights.size} normalized_weights are 0 {_at(entry.eta)}", entry.eta)


@check("contrib-sum-mismatch", "error", "Contributions do not add up to ΔH_true", "eta-table")
def contrib_sum_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """The per-sequence contributions `true_contrib` do not sum to `delta_h_true`.

    The guide's identity is exact: Σᵢ true_contribᵢ = ΔH_true, with the formula of the run's
    normalisation.

    **Why it matters:** the per-sequence charts would show numbers that do not explain the
    aggregate; usually the weights, `h_new`, `token_counts` or `base_entropy` are wrong, or
    the normalisation assumed here is not the one the run used.

    **What to do:** check the normalisation in `config.yaml` and the arrays at this η.
    """
    for row in ctx.summaries:
        if pair := ctx.identity(row.sum_true_contrib, row.delta_h_true):
            total, true = pair
            yield Hit(
                f"Σ true_contrib = {fmt(total)} but delta_h_true = {fmt(true)} {_at(row.eta)} "
                f"(rel. diff {fmt(_rel(total, true), 2)})",
                row.eta,
            )


@check("base-entropy-mismatch", "warning", "base_entropy is not the batch mean", "snis")
def base_entropy_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """`base_entropy` differs from the batch mean of `h_base` (Σ h_base / Σ token_counts per
    token, or the mean of `h_base` per sequence).

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
                f"{fmt(expected)} {_at(entry.eta)}",
                entry.eta,
            )


@check("scale-mismatch", "warning", "Derivative scale is not 1/T_total", "per-sequence")
def scale_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """Per-token normalisation, but `per_sequence_meta.scale` ≠ `1 / T_total`.

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
    """Σ `normalized_weights` differs from 1 beyond rounding.

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
            yield Hit(f"Σ normalized_weights = {fmt(total, 8)} {_at(entry.eta)}", entry.eta)


@check("delta-seq-mismatch", "warning", "delta_h_seq ≠ h_new − h_base", "per-sequence")
def delta_seq_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """`delta_h_seq` differs from `h_new − h_base` for some sequences.

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
                f"{_at(entry.eta)} (sequence {worst}: {fmt(float(delta[worst]))} vs "
                f"{fmt(float(expected[worst]))})",
                entry.eta,
            )


@check("linear-aggregate-mismatch", "warning", "Σ gdotv ≠ delta_h_per_lr", "eta-table")
def linear_aggregate_mismatch(ctx: CheckContext) -> Iterator[Hit]:
    """The per-sequence linear terms do not add up to the aggregate: Σ gdotv·η ≠
    `delta_h_per_lr`·η. η cancels, so this holds at every η or at none.

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
            f"(rel. diff {fmt(_rel(total, aggregate), 2)}), so Σ gdotv·η ≠ "
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
                f"{fmt(aggregate)} {_at(row.eta)} (rel. diff {fmt(_rel(total, aggregate), 2)})",
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
            f"(rel. diff {fmt(_rel(quad, linear), 2)})"
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


# --- configuration ---------------------------------------------------------------------------


@check("normalization-per-sequence", "warning", "Not per-token normalisation", "config")
def normalization_per_sequence(ctx: CheckContext) -> Iterator[Hit]:
    """The run's configuration uses a normalisation other than `per_token`
    (`true_delta_h.report_per_token: false` or `approx_delta_h.normalize` ≠ `per_token`).

    **Why it matters:** the guide's per-token formula for the per-sequence contributions does
    not apply; reportgen uses the per-sequence analogue (every Tᵢ = 1), and ΔH values are not
    comparable with per-token runs.

    **What to do:** compare this run only with runs of the same normalisation.
    """
    norm = ctx.run.normalization
    if ctx.run.schema not in (Schema.SNIS, Schema.SWEEP) or norm.is_per_token:
        return
    formula = f"; contributions use {formula_for(norm)}" if ctx.run.schema is Schema.SNIS else ""
    yield Hit(
        f"normalisation is {norm.true_mode} (true) / {norm.approx_mode} (approx), "
        f"from {norm.source}{formula}"
    )


@check("missing-config", "info", "No config.yaml", "config")
def missing_config(ctx: CheckContext) -> Iterator[Hit]:
    """The run's directory has no `config.yaml`, so its normalisation is inferred.

    Inferred from, in order: a sibling run's `config.yaml` (only `run_01` of a batch keeps
    one), the results file's own `normalization` field, or the guide's default, per-token.

    **Why it matters:** if the run used another configuration than the one assumed, ΔH and
    the per-sequence contributions are computed with the wrong formula.

    **What to do:** nothing if the runs of a batch share one config; otherwise copy the run's
    config next to its results.
    """
    run = ctx.run
    if run.ref.config is not None or run.schema is Schema.GENERIC:
        return
    norm = run.normalization
    unread = ""
    if run.ref.sibling_config and norm.config_path != run.ref.sibling_config:
        unread = f" (the sibling's {run.ref.sibling_config} could not be read)"
    yield Hit(
        f"no config.yaml in {run.ref.directory}; normalisation {norm.true_mode} (true) / "
        f"{norm.approx_mode} (approx) taken from {norm.source}{unread}"
    )


@check("no-per-sequence", "info", "No per-sequence records", "per-sequence")
def no_per_sequence(ctx: CheckContext) -> Iterator[Hit]:
    """An SNIS run without per-sequence approximation records (`approx.per_sequence`).

    **Why it matters:** per-sequence comparisons of the ground truth with the linear and
    quadratic terms are unavailable; only aggregates are shown.

    **What to do:** re-run with `capture_per_sequence=True` in the experiment plan.
    """
    if ctx.snis is None or ctx.snis.approx.per_sequence is not None:
        return
    if ctx.run.ref.plan is None:
        why = "there is no plan.json"
    elif ctx.run.capture_per_sequence is None:
        why = "plan.json does not set capture_per_sequence"
    else:
        why = f"plan.json has capture_per_sequence = {str(ctx.run.capture_per_sequence).lower()}"
    yield Hit(f"no approx.per_sequence records ({why}): per-sequence comparisons are unavailable")


# --- SNIS quality ----------------------------------------------------------------------------


@check("low-ess", "warning", "Low effective sample size", "snis")
def low_ess(ctx: CheckContext) -> Iterator[Hit]:
    """The SNIS effective sample size is below half the batch (ESS/N < 0.5).

    **Why it matters:** a few sequences carry most of the weight, so ΔH_true is noisy and
    dominated by them; its error bars are wider than the batch size suggests.

    **What to do:** use smaller η, or a larger evaluation batch.
    """
    limit = ctx.options.min_ess_fraction
    for row in ctx.summaries:
        if row.ess_fraction is not None and row.ess_fraction < limit:
            yield Hit(
                f"ESS/N = {fmt(row.ess_fraction, 3)} {_at(row.eta)} (ESS = {fmt(row.ess, 4)}, "
                f"threshold {fmt(limit, 3)})",
                row.eta,
            )


@check("weights-clipped", "warning", "SNIS weights clipped", "snis")
def weights_clipped(ctx: CheckContext) -> Iterator[Hit]:
    """Some importance weights were clipped (`clip_fraction` > 0).

    **Why it matters:** clipping biases the SNIS estimate; ΔH_true is no longer the
    ground truth it claims to be at this η.

    **What to do:** use smaller η or raise `clip_c`; treat the affected η with caution.
    """
    for row in ctx.summaries:
        if row.clip_fraction is not None and row.clip_fraction > 0:
            yield Hit(f"clip_fraction = {fmt(row.clip_fraction, 3)} {_at(row.eta)}", row.eta)


# --- approximation quality -------------------------------------------------------------------


def _eta_star(ctx: CheckContext) -> float | None:
    curvature = ctx.curvature
    star = curvature.eta_star if curvature else None
    if star is None and ctx.snis is not None:
        star = ctx.snis.approx.eta_star
    return star if star is not None and math.isfinite(star) and star > 0 else None


@check("eta-beyond-curvature", "warning", "η beyond the curvature's η*", "curvature")
def eta_beyond_curvature(ctx: CheckContext) -> Iterator[Hit]:
    """An η exceeds `eta_star` (SNIS: `approx.quadratic.eta_star` or `approx.eta_star`; sweep:
    `curvature.eta_star`). In the data η* = 2·|g·v / vHv|: the step size at which the quadratic
    term ½·vHv·η² grows as large as the linear term g·v·η.

    **Why it matters:** beyond η* the second-order term dominates, so the linear prediction is
    not expected to track ΔH_true and the lin+quad one is rough at best; large errors there
    are not a bug.

    **What to do:** judge the approximations on the η below η*.
    """
    star = _eta_star(ctx)
    if star is None:
        return
    for row in ctx.summaries:
        if row.eta > star:
            yield Hit(f"η = {fmt_eta(row.eta)} exceeds η* = {fmt_eta(star)}", row.eta)


@check("ratio-pred-degenerate", "info", "ratio_pred carries no prediction", "curvature")
def ratio_pred_degenerate(ctx: CheckContext) -> Iterator[Hit]:
    """Every `ratio_pred` value is below 10⁻²⁰ in magnitude.

    **Why it matters:** such values are numerically zero (probably a scale problem in the
    writer), so the predicted ratios carry no usable prediction; ignore the `ratio_pred` table.

    **What to do:** nothing; compute the ratio from `gdotv`, `vHvv` and η if needed.
    """
    curvature = ctx.curvature
    if curvature is None or not curvature.ratio_pred:
        return
    values = np.asarray([v for _, v in curvature.ratio_pred], dtype=np.float64)
    floor = ctx.options.ratio_pred_floor
    if np.all(np.abs(values) < floor):
        yield Hit(
            f"every ratio_pred value ({values.size}) is below {fmt_eta(floor)} in magnitude "
            f"(largest {fmt(float(np.max(np.abs(values))), 2)})"
        )


def _z_linear(ctx: CheckContext, eta: float) -> float | None:
    """The paired z of linear − true at η, or ``None`` when the run has no SE for it."""
    row = ctx.uncertainty.at(eta) if ctx.uncertainty is not None else None
    return row.z_linear if row is not None else None


def _not_recorded(ctx: CheckContext, value: float | None) -> bool:
    """An η sweep writes 0.0 where it did not compute the approximation."""
    return ctx.run.sweep is not None and value == 0.0


def _significance(z: float | None) -> str:
    return "no paired SE: significance unknown" if z is None else f"z = {fmt(z, 3)}"


@dataclass(frozen=True)
class _LinearError:
    eta: float
    text: str
    z: float | None


def _large_linear_errors(ctx: CheckContext) -> Iterator[_LinearError]:
    """The η where |linear − true|/|true| exceeds ``max_linear_error`` (recorded values only)."""
    limit = ctx.options.max_linear_error
    for row in ctx.summaries:
        error = row.rel_err_linear
        if error is None or abs(error) <= limit or _not_recorded(ctx, row.delta_h_linear):
            continue
        z = _z_linear(ctx, row.eta)
        text = (
            f"{fmt_eta(row.eta)} ({fmt(abs(error), 3)}, linear {fmt(row.delta_h_linear)}, "
            f"true {fmt(row.delta_h_true)}, {_significance(z)})"
        )
        yield _LinearError(row.eta, text, z)


def _is_significant(ctx: CheckContext, z: float | None) -> bool:
    """Beyond noise, or no SE to tell (then the error is reported, flagged as unjudged)."""
    return z is None or abs(z) > ctx.options.significant_z


@check("sign-disagreement", "warning", "Linear and true ΔH have opposite signs", "eta-table")
def sign_disagreement(ctx: CheckContext) -> Iterator[Hit]:
    """The linear prediction and ΔH_true have opposite signs, and their difference is beyond
    noise: |z| > 2 for the paired z = (ΔH_linear − ΔH_true)/se_diff_linear (or the run has no
    standard error to judge it, which the message says).

    **Why it matters:** the first-order model predicts the wrong direction of the entropy
    change: at this η it is not even qualitatively right.

    **What to do:** look at smaller η and at the SNIS noise (ESS). Opposite signs within
    noise are reported by `linear-error-within-noise` instead.
    """
    found: list[tuple[float, str]] = []
    for row in ctx.summaries:
        true, linear = row.delta_h_true, row.delta_h_linear
        if true is None or linear is None or not true * linear < 0:
            continue
        z = _z_linear(ctx, row.eta)
        if _is_significant(ctx, z):
            text = (
                f"{fmt_eta(row.eta)} (linear {fmt(linear)}, true {fmt(true)}, {_significance(z)})"
            )
            found.append((row.eta, text))
    if found:
        yield Hit(
            "ΔH_linear and ΔH_true have opposite signs at η = " + "; ".join(t for _, t in found),
            etas=tuple(eta for eta, _ in found),
        )


@check("linear-error-large", "warning", "Linear prediction far off", "eta-table")
def linear_error_large(ctx: CheckContext) -> Iterator[Hit]:
    """|ΔH_linear − ΔH_true| / |ΔH_true| exceeds 0.5 **and** the difference is beyond noise:
    |z| > 2, z = (ΔH_linear − ΔH_true)/se_diff_linear with the paired standard error (see the
    guide's "Standard errors"). One finding per run, listing the η. Where the run has no
    standard error for the difference (e.g. an η sweep: no per-sequence ground truth) the
    error is still reported, and the message says its significance is unknown.

    **Why it matters:** the linear model misses ΔH_true by more than half of it, by more
    than the noise of either can explain: η is outside the linear regime.

    **What to do:** compare with the lin+quad column and with η*; check ESS.
    """
    found = [e for e in _large_linear_errors(ctx) if _is_significant(ctx, e.z)]
    if found:
        yield Hit(
            "|linear − true| / |true| > "
            f"{fmt(ctx.options.max_linear_error, 3)} beyond noise at η = "
            + "; ".join(e.text for e in found),
            etas=tuple(e.eta for e in found),
        )


@check("linear-error-within-noise", "info", "Linear error large but within noise", "eta-table")
def linear_error_within_noise(ctx: CheckContext) -> Iterator[Hit]:
    """|ΔH_linear − ΔH_true| / |ΔH_true| exceeds 0.5, but the paired difference is within
    noise (|z| ≤ 2). One finding per run, listing the η.

    **Why it matters:** the relative error looks large only because ΔH_true (or the linear
    term) is small against its standard error; the data do not contradict the linear model.

    **What to do:** nothing; a larger evaluation batch would resolve the difference.
    """
    found = [e for e in _large_linear_errors(ctx) if not _is_significant(ctx, e.z)]
    if found:
        yield Hit(
            f"|linear − true| / |true| > {fmt(ctx.options.max_linear_error, 3)} but within "
            "noise (|z| ≤ "
            f"{fmt(ctx.options.significant_z, 2)}) at η = " + "; ".join(e.text for e in found),
            etas=tuple(e.eta for e in found),
        )


@check("approx-not-recorded", "info", "Approximation not recorded", "eta-table")
def approx_not_recorded(ctx: CheckContext) -> Iterator[Hit]:
    """An η sweep has `deltaH_approx` (linear or lin+quad) of exactly 0.0 at some η.

    **Why it matters:** the sweep writes 0.0 where it did not compute the approximation; read
    as a value, it would be a 100 % error. The error checks skip these η.

    **What to do:** nothing; re-run the sweep with the approximation enabled if it is needed.
    """
    if ctx.run.sweep is None:
        return
    rows = [
        row
        for row in ctx.summaries
        if _not_recorded(ctx, row.delta_h_linear) or _not_recorded(ctx, row.delta_h_linquad)
    ]
    if rows:
        yield Hit(
            "deltaH_approx is exactly 0.0 (not recorded) at η = "
            + ", ".join(fmt_eta(r.eta) for r in rows),
            etas=tuple(r.eta for r in rows),
        )


@check("se-shard-is-mean-se", "info", "se_shard is the SE of the mean shard", "eta-table")
def se_shard_is_mean_se(ctx: CheckContext) -> Iterator[Hit]:
    """`approx.variance.se_shard` equals std(contiguous shard sums of gdotv, ddof 1)/√K, with K
    = `num_shards` and shard k the sequences k·n/K … (k+1)·n/K − 1: it is the standard error of
    the *mean* shard. The SE of `delta_h_per_lr` (the sum of all shards) is K·se_shard.

    **Why it matters:** the notebook's `post_correction_analysis` uses se_shard·η as the SE of
    ΔH_linear, which is K times too small, so nearly every comparison looks significant.
    reportgen uses the delta-method SEs (or K·se_shard·η without per-sequence records).

    **What to do:** nothing; read se_shard as the SE of the mean shard.
    """
    approx = ctx.snis.approx if ctx.snis else None
    if approx is None or approx.per_sequence is None:
        return
    k, se = approx.num_shards, approx.se_shard
    if k is None or se is None or not se > 0:
        return
    recomputed = shard_mean_se(approx.per_sequence.gdotv, k)
    if recomputed is None or abs(recomputed - se) > ctx.options.shard_identity_rtol * se:
        return
    yield Hit(
        f"se_shard = {fmt(se)} = std(shard sums)/√{k} (rel. diff {fmt(_rel(recomputed, se), 2)})"
        f": the SE of the mean shard; the SE of delta_h_per_lr is {k}·se_shard = {fmt(k * se)} "
        f"(factor {k})"
    )


@check("nonlinear-in-eta", "info", "ΔH_true does not scale linearly with η", "eta-table")
def nonlinear_in_eta(ctx: CheckContext) -> Iterator[Hit]:
    """The least-squares slope of log|ΔH_true| against log η differs from 1 by more than 0.15.

    Fitted over the η with a finite, non-zero ΔH_true (at least two distinct η). When the
    run's paired bootstrap gives a 95 % interval for the slope and that interval contains 1,
    the deviation is noise and nothing is reported.

    **Why it matters:** a linear model predicts ΔH ∝ η, a slope of 1; another slope means
    curvature or noise dominates over the measured range.

    **What to do:** compare with the lin+quad prediction and restrict to smaller η.
    """
    points = [
        (row.eta, abs(row.delta_h_true))
        for row in ctx.summaries
        if row.delta_h_true and row.eta > 0 and math.isfinite(row.eta)
    ]
    etas = np.log(np.asarray([p[0] for p in points], dtype=np.float64))
    if np.unique(etas).size < max(ctx.options.min_slope_points, 2):
        return
    values = np.log(np.asarray([p[1] for p in points], dtype=np.float64))
    x = etas - etas.mean()
    slope = float(np.dot(x, values - values.mean()) / np.dot(x, x))
    interval = ctx.uncertainty.loglog_slope_ci95 if ctx.uncertainty is not None else None
    if interval is not None and interval[0] <= 1.0 <= interval[1]:
        return
    if math.isfinite(slope) and abs(slope - 1) > ctx.options.slope_tolerance:
        ci = "" if interval is None else f" (95 % CI {fmt(interval[0], 3)} … {fmt(interval[1], 3)})"
        yield Hit(
            f"log-log slope of |ΔH_true| against η is {fmt(slope, 3)}{ci} over {len(points)} η "
            f"({fmt_eta(min(p[0] for p in points))} … {fmt_eta(max(p[0] for p in points))}); "
            "linear scaling would be 1"
        )


# --- control variates ------------------------------------------------------------------------


@check("cv-var-ratio-above-one", "info", "Control variate increases variance", "cv")
def cv_var_ratio_above_one(ctx: CheckContext) -> Iterator[Hit]:
    """A control variate's variance ratio after CV (`var_after_cv`, or the joint one) is
    above 1.

    **Why it matters:** an in-sample OLS control variate can only reduce the variance; a ratio
    above 1 means a fitting or cross-fitting problem, or a feature that should be dropped.

    **What to do:** drop the feature, or check the CV settings (ridge, folds).
    """
    cv = ctx.run.cv
    if cv is None:
        return
    above = [
        f"{f.name} ({fmt(f.var_after_cv, 4)})"
        for f in cv.features
        if f.var_after_cv is not None and f.var_after_cv > 1
    ]
    if cv.var_after_cv_joint is not None and cv.var_after_cv_joint > 1:
        above.append(f"joint ({fmt(cv.var_after_cv_joint, 4)})")
    if above:
        yield Hit(f"variance ratio after CV above 1 for {', '.join(above)}")


# --- the registry's own failures ------------------------------------------------------------


@check("check-failed", "warning", "A diagnostic check crashed", "facts", scope="internal")
def check_failed(hit: Hit) -> Iterator[Hit]:
    """A diagnostic check raised an exception on this run's data, so its verdict is unknown.

    **Why it matters:** the run may have a problem that this check would have reported.

    **What to do:** this is a bug in reportgen; report it with the run's results file.
    """
    yield hit


def _crash_hit(check_id: str, exc: Exception) -> Hit:
    return Hit(f"check {check_id} crashed: {type(exc).__name__}: {exc}"[:300])


# --- public API ------------------------------------------------------------------------------

CHECKS: tuple[CheckInfo, ...] = tuple(c.info for c in _REGISTRY)


def check_run(
    run: Run,
    contributions: tuple[EtaContributions, ...],
    summaries: tuple[EtaSummary, ...],
    options: CheckOptions = DEFAULT_OPTIONS,
    uncertainty: RunUncertainty | None = None,
) -> tuple[Finding, ...]:
    """Every run check's findings: errors first, then warnings, infos; by check order, then η.

    ``uncertainty`` (the run's standard errors) lets the approximation checks judge errors
    against noise; without it they use the delta method on the spot.
    """
    if uncertainty is None:
        uncertainty = run_uncertainty(run, summaries, bootstrap=0)
    ctx = CheckContext(run, contributions, summaries, options, uncertainty)
    findings = [f for c in _REGISTRY if c.scope == "run" for f in _evaluate(c, ctx)]
    return tuple(sorted(findings, key=_sort_key))


def failure_findings(failure: LoadFailure) -> tuple[Finding, ...]:
    """The ``parse-error`` finding of a run that failed to load."""
    return tuple(_evaluate(_by_id("parse-error"), failure))


def incomplete_finding(incomplete: IncompleteRun) -> Finding:
    """The ``incomplete-run`` finding of a directory with a plan but no results."""
    return _evaluate(_by_id("incomplete-run"), incomplete)[0]


__all__ = [
    "CHECKS",
    "CheckContext",
    "CheckOptions",
    "Hit",
    "check",
    "check_run",
    "failure_findings",
    "fmt",
    "fmt_eta",
    "incomplete_finding",
]
