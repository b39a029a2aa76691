"""Checks of the optional blocks: clip sweeps, the symmetric finite difference, control-variate
features, fields no loader knows, and a CV batch's aggregate (a group check)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from reportgen.analysis.clip import clip_sweeps
from reportgen.analysis.cv_batch import SPREAD_ALPHA, CvBatchAnalysis, analyze_cv_batch
from reportgen.analysis.cv_features import NEAR_TARGET_CORR, rank_features
from reportgen.analysis.diagnostics.registry import CheckContext, Hit, by_id, check, evaluate
from reportgen.analysis.diagnostics.registry import fmt as _fmt
from reportgen.analysis.fd import fd_rows
from reportgen.findings import Finding
from reportgen.load.cv_aggregate import (
    AGGREGATE_CSV,
    AGGREGATE_JSON,
    AggregateFiles,
    CvAggregate,
    read_cv_aggregate,
)
from reportgen.numfmt import format_eta, format_z

SHOWN_PATHS = 5


def fmt(value: float | None) -> str:
    return _fmt(value, 4)


@check("truth-clip-sensitive", "warning", "ΔH_true depends on the SNIS clip threshold", "clip")
def truth_clip_sensitive(ctx: CheckContext) -> Iterator[Hit]:
    """Across the clip thresholds of an η's `clip_overrides` (and the published value at the
    config's `clip_c`), ΔH_true moves by more than its standard error at that η (max − min >
    se_true, the delta-method SE over sequences). One finding per run, listing the η.

    **Why it matters:** the clip threshold is a choice; when it shifts ΔH_true by more than the
    sampling noise, the published ground truth is as much the clip's as the data's, and the
    comparison with the approximations inherits that.

    **What to do:** report ΔH_true with the sweep, prefer a threshold past which ΔH_true no
    longer moves, and check the ESS at the thresholds that matter.
    """
    for sweep in clip_sweeps(ctx.run, ctx.uncertainty):
        if sweep.sensitivity != "sensitive":
            continue
        thresholds = [p.threshold for p in sweep.points if p.threshold is not None]
        yield Hit(
            f"η = {format_eta(sweep.eta)}: ΔH_true spans {fmt(sweep.span)} over clip "
            f"thresholds {fmt(min(thresholds, default=None))} … "
            f"{fmt(max(thresholds, default=None))}, {fmt(sweep.span_in_se)} × its SE "
            f"{fmt(sweep.se_true)} ({sweep.se_method})",
            eta=sweep.eta,
        )


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

    **Why it matters:** the finite difference measures g·v with no quadratic term: it is the
    most direct test of the linear term. Its remaining bias is third-order (∝ η²), so a
    disagreement at the smallest η points at the linear term itself, one only at the largest
    η at higher-order terms.

    **What to do:** check the JVP's normalisation and baseline against the SNIS estimator's;
    compare at a smaller symmetric η.
    """
    for row in fd_rows(ctx.run, ctx.uncertainty):
        if row.verdict != "disagrees":
            continue
        yield Hit(
            f"η = {format_eta(row.eta)}: FD = {fmt(row.finite_difference)} vs g·v = "
            f"{fmt(row.gdotv)}, difference {fmt(row.difference)} ± {fmt(row.se_difference)} "
            f"(z = {format_z(row.z)}; SE: {row.se_difference_method})",
            eta=row.entry_eta,
        )


@check("cv-feature-is-target-summand", "info", "A CV feature is part of the target", "cv")
def cv_feature_is_target_summand(ctx: CheckContext) -> Iterator[Hit]:
    """A candidate control variate is a summand of the target by the run's own definition
    (y_i = scale·(wjlogp_sum + jH_sum), checked on the run's `cv_per_seq.csv` where it has
    one). It is ranked with the others but marked "not a valid control variate" and never
    named as the best.

    **Why it matters:** a summand correlates with the target because it is part of it (the
    largest summand, nearly perfectly); "correcting" with it removes the signal, not the
    noise, and the variance reduction it promises is not real.

    **What to do:** leave such features out of the control variates and out of the ranking's
    headline; judge the control variates by the valid features.
    """
    if ctx.run.cv is None:
        return
    ranking = rank_features(ctx.run.cv)
    summands = [f for f in ranking.features if f.validity == "target-summand"]
    if summands and ranking.target is not None:
        named = ", ".join(f"{f.name} (ρ = {fmt(f.corr)})" for f in summands)
        yield Hit(
            f"{named}: summands of the target {ranking.target.formula} "
            f"({ranking.target.note}); not valid control variates"
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
    error of the *mean* g·v (√(var/B_total)), so the SNR is B_total times too large. The SE of
    the sum is B_total·se_batch; the page shows the corrected SNR beside the file's, and the
    between-run spread of gdotv_batch against both SEs (Cochran's χ²).

    **Why it matters:** an SNR of hundreds says g·v is measured to a fraction of a percent
    when its sign is barely resolved; the runs' own spread agrees with the corrected SE, not
    with the file's.

    **What to do:** nothing; read se_batch as the SE of the mean, and B_total·se_batch as that
    of gdotv_batch.
    """
    if not batch.snr_is_sum_over_mean_se or batch.mean_snr is None:
        return
    spread, against_file = batch.spread, batch.spread_file
    consistent = spread.p is not None and spread.p >= SPREAD_ALPHA
    versus_file = (
        f"; against the file's mean_se {fmt(batch.mean_se_file)} it is χ² = "
        f"{fmt(against_file.chi2)} (p = {fmt(against_file.p)})"
    )
    yield Hit(
        f"mean_SNR = {fmt(batch.mean_snr_file)} is mean |gdotv_batch|/se_batch, a sum over "
        f"the sequences divided by the SE of their mean: the SNR of the sum is "
        f"|gdotv_batch|/(B_total·se_batch), mean {fmt(batch.mean_snr)} (the file's is "
        f"{fmt(batch.factor)}× too large). The between-run sd of gdotv_batch, "
        f"{fmt(batch.spread_sd)}, is {'consistent with' if consistent else 'larger than'} the "
        f"corrected per-run SE (mean {fmt(batch.mean_se_sum)}; χ² = {fmt(spread.chi2)} on "
        f"{spread.df} df, p = {fmt(spread.p)}){versus_file}"
    )


@dataclass(frozen=True)
class CvBatchReport:
    """A CV batch aggregate's corrected reading and its findings."""

    analysis: CvBatchAnalysis
    findings: tuple[Finding, ...]


def cv_batch_report(aggregate: CvAggregate, run_ids: Sequence[str] = ()) -> CvBatchReport:
    """The group-level reading of ``cv_runs_aggregate``: corrected SNR, spread, findings."""
    analysis = analyze_cv_batch(aggregate, run_ids)
    return CvBatchReport(analysis, tuple(evaluate(by_id("cv-se-is-mean-se"), analysis)))


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
    aggregate: AggregateFiles | None, run_ids: Sequence[str]
) -> tuple[CvBatchReport | None, tuple[Finding, ...]]:
    """A group's CV batch aggregate read and corrected, with its findings (none without one)."""
    if aggregate is None:
        return None, ()
    parsed = read_cv_aggregate(aggregate.named(AGGREGATE_CSV), aggregate.named(AGGREGATE_JSON))
    problems = aggregate.problems
    problems += parsed.problems if parsed is not None else ("no rows could be read",)
    report = None if parsed is None else cv_batch_report(parsed, run_ids)
    found = evaluate(by_id("cv-aggregate-unreadable"), problems)
    return report, (*found, *(report.findings if report is not None else ()))
