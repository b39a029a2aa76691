"""Checks of the optional blocks: clip sweeps, the symmetric finite difference, control-variate
features, fields no loader knows, and a CV batch's aggregate (a group check)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from reportgen.analysis.clip import ClipSweep, clip_sweeps
from reportgen.analysis.cv_batch import (
    POWER_SD_RATIO,
    CvBatchAnalysis,
    CvBatchRun,
    CvBatchSet,
    RunBatchRecord,
    Spread,
    analyze_cv_batch,
)
from reportgen.analysis.cv_features import (
    NEAR_TARGET_CORR,
    REFUTED_SUMMANDS,
    precaution,
    rank_features,
    target_mismatch,
)
from reportgen.analysis.diagnostics.registry import CheckContext, Hit, by_id, check, evaluate
from reportgen.analysis.diagnostics.registry import fmt as _fmt
from reportgen.analysis.fd import EvenScaling, FdRow, even_scaling, fd_rows
from reportgen.findings import Finding
from reportgen.load.cv_aggregate import (
    AGGREGATE_CSV,
    AGGREGATE_JSON,
    AggregateFiles,
    CvAggregate,
    read_cv_aggregate,
)
from reportgen.numfmt import format_eta, format_p, format_with_se, format_z

SHOWN_PATHS = 5


def fmt(value: float | None) -> str:
    return _fmt(value, 4)


@check("truth-clip-sensitive", "warning", "ΔH_true depends on the SNIS clip threshold", "clip")
def truth_clip_sensitive(ctx: CheckContext) -> Iterator[Hit]:
    """ΔH_true moves by more than its standard error at an η (se_true, the delta-method SE
    over sequences) between the published value (at the config's `clip_c`) and its neighbours
    in the η's `clip_overrides`, the nearest threshold below and above. One finding per run,
    listing the η. The rest of the sweep is shown, not judged: a threshold far below clips many
    more weights, so it does not say whether the published value hangs on its clip. Without the
    config's `clip_c` the published threshold is unknown and nothing is judged.

    **Why it matters:** when a nearby choice of the threshold moves ΔH_true by more than the
    sampling noise, the published ground truth depends on that choice, and the comparison with
    the approximations inherits it.

    **What to do:** report ΔH_true with the sweep, prefer a threshold past which ΔH_true no
    longer moves, and check the ESS at the thresholds that matter.
    """
    for sweep in clip_sweeps(ctx.run, ctx.uncertainty):
        if sweep.sensitivity == "sensitive":
            yield Hit(_clip_reading(sweep), eta=sweep.eta)


def _clip_reading(sweep: ClipSweep) -> str:
    """The move around the published threshold, the thresholds compared, the whole sweep."""
    published = next(p for p in sweep.points if p.published)
    others = [p for p in sweep.points if p.threshold in sweep.compared and not p.published]
    named = " and ".join(format_eta(p.threshold) for p in others if p.threshold is not None)
    fractions = ", ".join(
        f"{_percent(p.clip_fraction)} at {format_eta(p.threshold)}"
        for p in (published, *others)
        if p.threshold is not None
    )
    thresholds = [p.threshold for p in sweep.points if p.threshold is not None]
    return (
        f"η = {format_eta(sweep.eta)}: ΔH_true moves by {fmt(sweep.local_span)} between the "
        f"published clip threshold {format_eta(published.threshold or 0.0)} and its "
        f"neighbour{'s' if len(others) > 1 else ''} {named}, {fmt(sweep.local_span_in_se)} × "
        f"its SE {fmt(sweep.se_true)} ({sweep.se_method}; weights clipped: {fractions}); the "
        f"whole sweep {format_eta(min(thresholds))} … {format_eta(max(thresholds))} spans "
        f"{fmt(sweep.span)} ({fmt(sweep.span_in_se)} × SE, a description, not judged)"
    )


def _percent(fraction: float | None) -> str:
    return "not stated" if fraction is None else f"{fmt(100.0 * fraction)} %"


@check(
    "linear-term-disagrees-with-fd",
    "warning",
    "The linear term disagrees with the symmetric finite difference",
    "fd",
)
def linear_term_disagrees_with_fd(ctx: CheckContext) -> Iterator[Hit]:
    """The symmetric finite difference (Δ₊ − Δ₋)/(2η) of the SNIS truth differs from the linear
    term g·v (`approx.delta_h_per_lr`) by more than 1.96 standard errors of the difference
    (the paired bound se_diff_linear(η)/η, or the unpaired one without per-sequence records).
    Without a standard error the page says "inconclusive" and this check stays silent.

    The finding then says which side the data implicate. Each side is set against the lin+quad
    prediction there: Δ₊/η against g·v + ½·vHvv·η, −Δ₋/η against g·v − ½·vHvv·η (the two
    deviations average to FD − g·v exactly; SE se_diff_linquad(η)/η, the −η side's taken as the
    +η side's, as Δ₋ has no arrays of its own). A wrong g·v moves both sides alike; a wrong
    truth on one side moves that side alone and pulls the even part (Δ₊ + Δ₋)/(2η²) away from
    ½·vHvv. The growth of Δ₊ + Δ₋ with η tells them apart too: η² at small η for a smooth
    ΔH(η), η for an error ∝ η in one side.

    **Why it matters:** the finite difference is the most direct test of the linear term, but
    only while both truths are right: one bad −η measurement makes a correct g·v look wrong.

    **What to do:** one side implicated: re-measure that side's ΔH_true (the sign of its step,
    its weights and baseline) before doubting g·v; both sides alike: check the JVP's
    normalisation and baseline against the SNIS estimator's; unresolved: compare at a smaller
    symmetric η or with more sequences.
    """
    rows = fd_rows(ctx.run, ctx.uncertainty)
    found = [r for r in rows if r.verdict == "disagrees"]
    if found:
        readings = ". ".join(_fd_reading(r) for r in found)
        yield Hit(
            f"{readings}. {_fd_conclusion(found, even_scaling(rows))}",
            etas=tuple(r.entry_eta for r in found),
        )


def _fd_reading(row: FdRow) -> str:
    """One η's disagreement, each side's deviation and the even part against ½·vHvv."""
    bend = " ± ½·vHvv·η" if row.half_vhvv is not None else ""
    text = (
        f"η = {format_eta(row.eta)}: FD = {fmt(row.finite_difference)} vs g·v = "
        f"{fmt(row.gdotv)}, difference {fmt(row.difference)} ± {fmt(row.se_difference)} "
        f"(z = {format_z(row.z)}; SE: {row.se_difference_method}); "
        f"+η side Δ₊/η − (g·v{bend.replace('±', '+')}) = "
        f"{format_with_se(row.deviation_plus, row.se_deviation_plus)} "
        f"(z = {format_z(row.z_plus)}), −η side −Δ₋/η − (g·v{bend.replace('±', '−')}) = "
        f"{format_with_se(row.deviation_minus, row.se_deviation_minus)} "
        f"(z = {format_z(row.z_minus)})"
    )
    if row.z_even is not None:
        text += (
            f"; (Δ₊ + Δ₋)/(2η²) = "
            f"{format_with_se(row.curvature_coefficient, row.se_curvature_coefficient)} vs "
            f"½·vHvv = {format_with_se(row.half_vhvv, row.se_half_vhvv)} "
            f"(z = {format_z(row.z_even)})"
        )
    return text


_ONE_SIDE = (
    "At every η where they disagree only the {0} side departs from its prediction (|z| > 1.96, "
    "the {1} side's within 1.96) and the even part from ½·vHvv: the data implicate the {0} "
    "truth {2}, not g·v"
)
_IMPLICATED = {
    "minus": _ONE_SIDE.format("−η", "+η", "Δ₋"),
    "plus": _ONE_SIDE.format("+η", "−η", "Δ₊"),
    "linear": "At every η where they disagree both sides depart alike (|z| > 1.96, the same "
    "sign): the data implicate g·v itself (or a normalisation both truths share)",
}


def _fd_conclusion(found: Sequence[FdRow], scaling: EvenScaling | None) -> str:
    """Which side the disagreeing η implicate together, how Δ₊ + Δ₋ scales, the sides' SE."""
    kinds = {r.implicated for r in found}
    verdict = _IMPLICATED.get(next(iter(kinds)) or "") if len(kinds) == 1 else None
    if verdict is None:
        named = ", ".join(f"{format_eta(r.eta)}: {r.implicated}" for r in found)
        verdict = f"No side is implicated at every η ({named}): which side is inconclusive"
    if scaling is None:
        growth = "Δ₊ + Δ₋ is not resolved at two η: its growth with η is not judged"
    else:
        growth = (
            f"Δ₊ + Δ₋ ∝ η^p, p = {format_with_se(scaling.exponent, scaling.se_exponent)} from "
            f"η = {format_eta(scaling.eta_low)} to {format_eta(scaling.eta_high)} (a smooth "
            f"ΔH(η) gives p = 2 at small η: z = {format_z(scaling.z_smooth)}; SE to first order,"
            " a bound for any correlation across η)"
        )
    return f"{verdict}. {growth}. Side SEs: {found[0].se_deviation_method}."


@check(
    "cv-feature-is-target-summand",
    "info",
    "A CV feature is a summand of the target by the runner's definition",
    "cv",
)
def cv_feature_is_target_summand(ctx: CheckContext) -> Iterator[Hit]:
    """A candidate control variate is a summand of the target by the CV runner's definition
    (y_i = scale·(wjlogp_sum + jH_sum)), checked on the run's `cv_per_seq.csv` where it has one.
    It is ranked with the others but kept out of the control variates and never named as the
    best. Where the per-sequence file does not reproduce the definition, the finding names the
    features as summands by the runner's definition only, with the mismatch, and they stay
    excluded as a precaution: a sum that misses y_i does not show that a feature is no part of
    it (`summand_check` in `summary.json`: reproduced, not reproduced or not checked).

    **Why it matters:** a summand correlates with the target because it is part of it (the
    largest summand, nearly perfectly); "correcting" with it removes the signal, not the
    noise, and the variance reduction it promises is not real.

    **What to do:** leave such features out of the control variates and out of the ranking's
    headline; judge the control variates by the valid features. Where the file does not
    reproduce the definition, find out how the runner computed y_i.
    """
    if ctx.run.cv is None:
        return
    ranking = rank_features(ctx.run.cv)
    summands = [f for f in ranking.features if f.validity == "target-summand"]
    target = ranking.target
    if not summands or target is None:
        return
    named = ", ".join(f"{f.name} (ρ = {fmt(f.corr)})" for f in summands)
    if any(f.summand_check == "not reproduced" for f in summands):
        sequences = ctx.run.cv.sequences
        where = f" in {sequences.path}" if sequences is not None else ""
        yield Hit(
            f"{named}: {REFUTED_SUMMANDS}: {target.formula}, but {target_mismatch(target)}"
            f"{where}; {precaution(summands)}"
        )
    else:
        yield Hit(
            f"{named}: summands of the target ({target.formula}, {target.note}); "
            "not valid control variates"
        )


@check("cv-feature-near-target", "warning", "A CV feature is nearly the target", "cv")
def cv_feature_near_target(ctx: CheckContext) -> Iterator[Hit]:
    """A candidate control variate that is not a known summand of the target correlates with
    it beyond |ρ| = 0.99. It is marked "not a valid control variate" and left out of the
    headline.

    **Why it matters:** a correlation that high means the feature is (nearly) a function of
    the target; its variance reduction is then not a control-variate gain.

    **What to do:** find out how the feature is computed; drop it if it contains the target.
    """
    if ctx.run.cv is None:
        return
    near = [f for f in rank_features(ctx.run.cv).features if f.validity == "near-target"]
    if near:
        yield Hit(
            ", ".join(f"{f.name} (ρ = {fmt(f.corr)})" for f in near)
            + f": |ρ| > {NEAR_TARGET_CORR:g} with the target; not treated as control variates"
        )


@check("unrecognised-fields", "info", "Fields reportgen does not read", "unrecognised")
def unrecognised_fields(ctx: CheckContext) -> Iterator[Hit]:
    """The results file carries fields that its schema generation's loader does not know
    (neither read nor documented as deliberately not shown). They are listed on the run page
    and in `summary.json` (`unrecognised_fields`).

    **Why it matters:** a new block written by a newer runner would otherwise vanish
    silently; its numbers may change what the others mean.

    **What to do:** read the block's documentation; tell reportgen's maintainers, so that it
    is read or listed as known.
    """
    inventory = ctx.run.field_inventory
    if inventory.unrecognised_total:
        shown = ", ".join(inventory.unrecognised[:SHOWN_PATHS])
        more = inventory.unrecognised_total - min(SHOWN_PATHS, len(inventory.unrecognised))
        yield Hit(
            f"{inventory.unrecognised_total} field(s) not read: {shown}"
            + (f" and {more} more" if more > 0 else "")
        )


@check(
    "cv-se-is-mean-se",
    "info",
    "A CV aggregate's SNR uses the SE of the mean",
    "cv-batch",
    scope="group",
)
def cv_se_is_mean_se(batch: CvBatchAnalysis) -> Iterator[Hit]:
    """`cv_runs_aggregate`'s `SNR` is |gdotv_batch|/se_batch, and its `mean_SNR` their mean.
    `gdotv_batch` is a sum over the run's B_total sequences, but `se_batch` is the standard
    error of the *mean* g·v (√(var/B_total)), so the SNR is exactly B_total times too large.
    The SE of the sum is B_total·se_batch. For each batch (one B_total and feature list) the
    page shows the corrected mean SNR with its between-run SE beside the file's, and sets the
    between-run spread of gdotv_batch against both SEs with Cochran's χ², read by both tails:
    larger than the SEs allow, smaller than they imply, or not shown to differ (inconclusive;
    with few runs the test has little power, and the page gives its power against a
    between-run sd 1.5 times the SEs').

    **Why it matters:** an SNR of hundreds says g·v is measured to a fraction of a percent
    when its sign is barely resolved; the runs' own spread is the independent check of which
    SE is right.

    **What to do:** read se_batch as the SE of the mean, and B_total·se_batch as that of
    gdotv_batch.
    """
    parts = [p for p in batch.sets if p.mean_snr is not None]
    if not batch.snr_is_sum_over_mean_se or not parts:
        return
    stated = "" if batch.mean_snr_file is None else f" (mean_SNR = {fmt(batch.mean_snr_file)})"
    yield Hit(
        f"the file's SNR is |gdotv_batch|/se_batch{stated}, a sum over the sequences divided by "
        "the SE of their mean; the SNR of the sum is |gdotv_batch|/(B_total·se_batch). "
        + "; ".join(_batch_reading(p) for p in parts)
    )


def _batch_reading(part: CvBatchSet) -> str:
    """One batch's corrected SNR and spread, as the ``cv-se-is-mean-se`` finding words it."""
    factor = (
        f"exactly {part.b_total}× (B_total)"
        if part.factor_exact
        else f"{fmt(part.factor)} ± {fmt(part.se_factor)} times"
    )
    spread = part.spread
    return (
        f"B_total {part.b_total}: {part.n_used} runs, mean SNR {fmt(part.mean_snr)} ± "
        f"{fmt(part.se_mean_snr)} (between-run SE), the file's {factor} larger; the between-run "
        f"sd of gdotv_batch, {fmt(part.spread_sd)}, {_READINGS.get(spread.reading or '', '')} "
        f"(mean {fmt(part.mean_se_sum)}; {_chi2(spread)}{_power(spread)}); against the file's "
        f"se_batch (mean {fmt(part.mean_se_mean)}) {_chi2(part.spread_file)}"
    )


_READINGS = {
    "larger": "is larger than the corrected per-run SEs allow",
    "smaller": "is smaller than the corrected per-run SEs imply",
    "not shown to differ": "is not shown to differ (inconclusive) from the corrected per-run SEs",
    "": "cannot be set against the corrected per-run SEs",
}


def _power(spread: Spread) -> str:
    if spread.reading != "not shown to differ" or not spread.little_power:
        return ""
    return (
        f"; with {spread.df + 1} runs the test has little power: it finds a between-run sd "
        f"{POWER_SD_RATIO:g}× the SEs' with probability {fmt(spread.power)}"
    )


def _chi2(spread: Spread) -> str:
    if spread.chi2 is None:
        return "no χ² with fewer than two runs"
    return f"χ² = {fmt(spread.chi2)} on {spread.df} df, two-sided p {format_p(spread.p_two_sided)}"


@check(
    "cv-aggregate-mixes-batches",
    "warning",
    "A CV aggregate mixes batch sizes or feature lists",
    "cv-batch",
    scope="group",
)
def cv_aggregate_mixes_batches(batch: CvBatchAnalysis) -> Iterator[Hit]:
    """The rows of a `cv_runs_aggregate` differ in B_total (the sequences per run) or in
    their feature lists. The page reads each batch on its own and shows them side by side:
    corrected SNR, between-run spread and weighted mean per batch, never averaged across
    batches (the group summary's `cv_batch.sets`; its top-level statistics are `null`).

    **Why it matters:** gdotv_batch is a *sum* over the run's sequences: a sum over 512
    sequences is about eight times one over 64, so their mean, their χ² and their weighted
    mean mix different quantities. The file's own `mean_SNR` averages across them.

    **What to do:** write one aggregate per batch size and feature list, or compare the
    batches side by side as the page does.
    """
    if not batch.mixed:
        return
    features_differ = len({p.features for p in batch.sets}) > 1
    named = ", ".join(
        f"B_total {p.b_total if p.b_total is not None else 'not given'}"
        + (f", features {p.features or 'none'}" if features_differ else "")
        + f" ({len(p.rows)} runs)"
        for p in batch.sets
    )
    stated = (
        ""
        if batch.mean_snr_file is None
        else (f"; the file's mean_SNR = {fmt(batch.mean_snr_file)} averages across them")
    )
    yield Hit(
        f"{batch.source} holds {len(batch.sets)} batches: {named}. Each is read on its own and "
        f"shown side by side, nothing is averaged across them{stated}"
    )


@check(
    "cv-aggregate-disagrees",
    "warning",
    "A CV aggregate disagrees with its runs or with itself",
    "cv-batch",
    scope="group",
)
def cv_aggregate_disagrees(batch: CvBatchAnalysis) -> Iterator[Hit]:
    """A row of `cv_runs_aggregate` gives a different gdotv_batch, se_batch, se_batch_after
    or B_total than the run it names records itself (its results file's CV summary), or a
    batch number the file states (`mean_SNR`, `mean_se`, `n_runs`, …) is not what its rows
    give, beyond floating-point rounding. A row its run contradicts is left out of its
    batch's statistics (and marked in the table); rows of runs not in the tree are not
    checked.

    **Why it matters:** the aggregate is a copy; a row edited by hand, written from another
    run or left over from an earlier version changes the batch's SNR and spread without a
    word, and a stated mean its rows do not give is not the batch's.

    **What to do:** write the aggregate again from the runs (the notebook's last cell).
    """
    parts = [
        f"{_name(r)}: {m.column} = {_fmt(m.aggregate, 10)} in the aggregate, "
        f"{_fmt(m.run, 10)} in the run's own record"
        for r in batch.runs
        for m in r.mismatches
    ]
    left_out = sum(not r.used for r in batch.runs)
    parts += [
        f"{m.name} = {_fmt(m.stated, 10)} as the file states it, "
        + ("its rows give none" if m.rows is None else f"{_fmt(m.rows, 10)} from its rows")
        for m in batch.stated_mismatches
    ]
    if parts:
        shown = "; ".join(parts[:SHOWN_PATHS])
        more = f" and {len(parts) - SHOWN_PATHS} more" if len(parts) > SHOWN_PATHS else ""
        dropped = f" ({left_out} row(s) left out of the statistics)" if left_out else ""
        yield Hit(f"{shown}{more}{dropped}")


def _name(run: CvBatchRun) -> str:
    return (run.run_id or run.run_dir).rsplit("/", 1)[-1]


CV_BATCH_CHECKS = ("cv-aggregate-mixes-batches", "cv-aggregate-disagrees", "cv-se-is-mean-se")


@dataclass(frozen=True)
class CvBatchReport:
    """A CV batch aggregate's corrected reading and its findings."""

    analysis: CvBatchAnalysis
    findings: tuple[Finding, ...]


def cv_batch_report(
    aggregate: CvAggregate,
    run_ids: Sequence[str] = (),
    own: Mapping[str, RunBatchRecord] | None = None,
) -> CvBatchReport:
    """The group-level reading of ``cv_runs_aggregate``: corrected SNR, spread, findings;
    ``own`` holds the group's runs' own records (by id) to check the rows against."""
    analysis = analyze_cv_batch(aggregate, run_ids, own)
    found = (f for c in CV_BATCH_CHECKS for f in evaluate(by_id(c), analysis))
    return CvBatchReport(analysis, tuple(found))


@check(
    "cv-aggregate-unreadable",
    "warning",
    "A CV batch aggregate could not be read in full",
    "cv-batch",
    scope="group",
)
def cv_aggregate_unreadable(problems: tuple[str, ...]) -> Iterator[Hit]:
    """A `cv_runs_aggregate.csv` or `.json` in the group's directory could not be read, is
    not the table or object the notebook writes, or the two files list different runs or g·v.
    The group page shows what could be read (the JSON's rows first, else the CSV's), or no
    CV batch section when neither file gives rows.

    **Why it matters:** the batch's corrected SNR and between-run spread come from these
    rows; a file cut short or edited by hand changes them without a word.

    **What to do:** write the aggregate again from the runs (the notebook's last cell).
    """
    if problems:
        yield Hit("; ".join(problems))


def group_cv_batch(
    aggregate: AggregateFiles | None,
    run_ids: Sequence[str],
    own: Mapping[str, RunBatchRecord] | None = None,
) -> tuple[CvBatchReport | None, tuple[Finding, ...]]:
    """A group's CV batch aggregate read and corrected, with its findings (none without one);
    ``own``: the group's runs' own records by id, to check the aggregate's rows against."""
    if aggregate is None:
        return None, ()
    parsed = read_cv_aggregate(aggregate.named(AGGREGATE_CSV), aggregate.named(AGGREGATE_JSON))
    problems = aggregate.problems
    problems += parsed.problems if parsed is not None else ("no rows could be read",)
    report = None if parsed is None else cv_batch_report(parsed, run_ids, own)
    found = evaluate(by_id("cv-aggregate-unreadable"), problems)
    return report, (*found, *(report.findings if report is not None else ()))
