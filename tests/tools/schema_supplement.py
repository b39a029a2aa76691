"""Fields added after 0.1, described here for ``derive_schemas``: the run summary's optional
blocks (``RunSupplement.to_json``), its standard errors and bootstrap (``EtaUncertainty``,
``RunUncertainty``), and a group's per-run rows, spreads, populations and CV batch aggregate.

Optional (0.1's twins lack them): ``derive_schemas`` adds them to the schemas, never required.
"""

from __future__ import annotations

from typing import Any

from reportgen.analysis.cv_batch import FIXED, RANDOM
from reportgen.analysis.populations import MAX_DIFFERS

Json = dict[str, Any]
NUMBER = {"type": ["null", "number"]}
TEXT = {"type": ["null", "string"]}
COUNT = {"type": ["null", "integer"], "minimum": 0}


def _object(required: list[str], properties: Json) -> Json:
    return {"type": "object", "required": required, "properties": properties}


def _clip_sweep() -> Json:
    point = _object(
        ["threshold", "delta_h_true", "ess", "ess_fraction", "clip_fraction", "published"],
        {
            "threshold": NUMBER,
            "delta_h_true": NUMBER,
            "ess": NUMBER,
            "ess_fraction": NUMBER,
            "clip_fraction": NUMBER,
            "logweight_max": NUMBER,
            "published": {"type": "boolean"},
            "shift_in_se": NUMBER,
        },
    )
    return _object(
        ["eta", "points", "span", "se_true", "span_in_se", "sensitivity"],
        {
            "eta": {"type": "number"},
            "points": {"type": "array", "items": point},
            "span": NUMBER,
            "se_true": NUMBER,
            "se_method": TEXT,
            "span_in_se": NUMBER,
            "sensitivity": {
                "enum": ["sensitive", "stable", "inconclusive"],
                "$comment": "judged on local_span_in_se: sensitive above 1, stable at most 1, "
                "inconclusive where it is null (span_in_se, over the whole sweep, is not judged)",
            },
            "compared": {
                "type": "array",
                "items": {"type": "number"},
                "$comment": "the thresholds sensitivity compares: the published one (config "
                "clip_c) and its nearest neighbours below and above in the sweep; [] without "
                "clip_c or a published point",
            },
            "local_span": NUMBER
            | {
                "$comment": "max − min of delta_h_true over the compared thresholds; null: "
                "fewer than two of them"
            },
            "local_span_in_se": NUMBER
            | {"$comment": "local_span / se_true; null without local_span or a positive se_true"},
        },
    )


FD_NUMBERS = [
    "eta",
    "delta_plus",
    "delta_minus",
    "finite_difference",
    "gdotv",
    "se_gdotv",
    "se_fd",
    "difference",
    "se_difference",
    "z",
    "curvature_coefficient",
    "se_curvature_coefficient",
    "half_vhvv",
    "se_half_vhvv",
    "ess_plus",
    "ess_minus",
    "clip_fraction_plus",
    "clip_fraction_minus",
]


def _fd_row() -> Json:
    properties: Json = {name: NUMBER for name in FD_NUMBERS}
    properties |= {
        "entry_eta": {"type": "number"},
        "se_gdotv_method": TEXT,
        "se_fd_method": TEXT,
        "se_difference_method": TEXT,
        "se_half_vhvv": NUMBER
        | {
            "$comment": "the SE of the total ½·vHvv: se_quad(η)/η² = ½·√n·sd(vhvv_i) (delta "
            "method over per-sequence vhvv), else ½·K·se_vHvv (se_vHvv the SE of the mean of K "
            "shards); null: neither"
        },
        "se_half_vhvv_method": TEXT | {"$comment": "how se_half_vhvv was computed"},
        "deviation_plus": NUMBER
        | {
            "$comment": "Δ₊/η − (g·v + ½·vHvv·η): the +η side against the lin+quad prediction "
            "(½·vHvv taken as 0 without vHvv); null where not measured"
        },
        "deviation_minus": NUMBER
        | {
            "$comment": "−Δ₋/η − (g·v − ½·vHvv·η): the −η side against the lin+quad prediction; "
            "the two deviations average to difference"
        },
        "se_deviation_plus": NUMBER
        | {
            "$comment": "the SE of deviation_plus: se_diff_linquad(η)/η, else built from "
            "se_diff_linear(η)/η, as se_deviation_method says"
        },
        "se_deviation_minus": NUMBER
        | {"$comment": "the SE of deviation_minus: equal to se_deviation_plus (−η has no arrays)"},
        "se_deviation_method": TEXT
        | {"$comment": "how se_deviation_plus and se_deviation_minus were computed"},
        "z_plus": NUMBER | {"$comment": "deviation_plus / se_deviation_plus"},
        "z_minus": NUMBER | {"$comment": "deviation_minus / se_deviation_minus"},
        "z_even": NUMBER
        | {
            "$comment": "(curvature_coefficient − half_vhvv) / √(se_curvature_coefficient² + "
            "se_half_vhvv²): the even part against ½·vHvv"
        },
        "implicated": {
            "enum": ["plus", "minus", "linear", "unresolved", None],
            "$comment": "which side the data point at, |z| > 1.96 two-sided: plus or minus, that "
            "side alone departs and z_even too; linear, both depart the same way (g·v itself); "
            "unresolved, otherwise; null: not measured",
        },
        "verdict": {
            "enum": ["agrees", "disagrees", "inconclusive", "not measured"],
            "$comment": "not measured: the symmetric η was 0 (every number null, never 0)",
        },
    }
    return _object(["entry_eta", "eta", "finite_difference", "gdotv", "z", "verdict"], properties)


def _update() -> Json:
    clip = _object(
        ["max_norm", "applied_scale", "preclip_norm", "applied"],
        {
            "max_norm": NUMBER,
            "applied_scale": NUMBER,
            "preclip_norm": NUMBER,
            "applied": {"type": ["null", "boolean"]},
        },
    )
    return {
        "type": ["null", "object"],
        "required": ["source", "baseline_norm", "per_sequence_count", "gradient_clip"],
        "properties": {
            "source": {"enum": ["update", "approx.update_stats"]},
            "baseline_norm": NUMBER,
            "per_sequence_count": COUNT,
            "gradient_clip": {"anyOf": [{"type": "null"}, clip]},
        },
    }


def _cv_target() -> Json:
    """``CvTarget``: what the CV target y_i is made of, and how that was established."""
    return {
        "type": ["null", "object"],
        "properties": {
            "formula": {
                "type": "string",
                "$comment": "the target's definition: 'y_i = scale·(wjlogp_sum + jH_sum)', y_i "
                "the per-sequence column gdotv_i and scale the run's meta.scale",
            },
            "summands": {
                "type": "array",
                "items": {"type": "string"},
                "$comment": "the per-sequence columns the target sums: a feature of that name is "
                "no valid control variate (validity target-summand)",
            },
            "verified_on": TEXT
            | {
                "$comment": "the tree path of the per-sequence file (cv_per_seq.csv) on which y_i "
                "equals the formula within a relative 1e-6; null: not checked, or not reproduced"
            },
            "max_deviation": NUMBER
            | {
                "$comment": "max_i |y_i − formula_i| / max_i |y_i| on that file (a fraction; "
                "≤ 1e-6 where verified); null: not computed (no file, no meta.scale, too large, "
                "or columns missing)"
            },
            "note": {
                "type": "string",
                "$comment": "how the definition was established: checked on <file>, or the CV "
                "runner's definition and why it was not confirmed",
            },
        },
    }


def _cv_features() -> Json:
    feature = _object(
        ["name", "rank", "corr", "corr_se", "var_ratio", "var_ratio_se", "validity"],
        {
            "name": {"type": "string"},
            "rank": COUNT,
            "corr": NUMBER,
            "corr_se": NUMBER | {"$comment": "the SE of ρ, computed as se_method says"},
            "se_method": {
                "enum": ["influence", "normal-theory", None],
                "$comment": "how corr_se was computed: influence, from the influence function "
                "of Pearson's r over the run's per-sequence file cv_per_seq.csv, where its "
                "column reproduces ρ (no normality assumed); normal-theory, (1 − ρ²)/√(n − 3), "
                "elsewhere; null: no corr_se",
            },
            "var_ratio": NUMBER,
            "var_ratio_se": NUMBER
            | {
                "$comment": "the SE of 1 − ρ̂² for ρ̂ ~ N(ρ, SE(ρ)²), √(4ρ²·SE(ρ)² + 2·SE(ρ)⁴) "
                "with SE(ρ) = corr_se (before: 2|ρ|·SE(ρ), which vanishes as ρ → 0)"
            },
            "se_after": NUMBER,
            "selected": {"type": "boolean"},
            "beta_joint": NUMBER,
            "validity": {"enum": ["valid", "target-summand", "near-target"]},
            "summand_check": {
                "enum": ["reproduced", "not reproduced", "not checked", None],
                "$comment": "for validity target-summand, whether the run's per-sequence file "
                "reproduces the target's definition (target.verified_on set: reproduced; "
                "target.max_deviation set: not reproduced; else not checked); the feature stays "
                "excluded either way; null for other validities",
            },
        },
    )
    return {
        "type": ["null", "object"],
        "required": ["features", "source", "target", "best_valid", "excluded"],
        "properties": {
            "features": {"type": "array", "items": feature},
            "source": TEXT,
            "target": _cv_target(),
            "n": COUNT,
            "se_batch": NUMBER,
            "var_after_cv_joint": NUMBER,
            "var_after_cv_joint_df_adjusted": NUMBER
            | {
                "$comment": "var_after_cv_joint × (n − 1)/(n − k − 1), k = joint_features, for "
                "an in-sample fit of k coefficients (its residual variance without the fit's "
                "optimism); null when cross-fitted or unknown"
            },
            "joint_features": {
                "type": ["null", "integer"],
                "minimum": 1,
                "$comment": "k: the features in the run's joint regression (selected); null: none",
            },
            "best_valid": TEXT,
            "excluded": {"type": "array", "items": {"type": "string"}},
        },
    }


def add_supplement_fields(run: Json) -> None:
    """The optional blocks' fields of a run's summary.json, none of them required."""
    run["properties"] |= {
        "unrecognised_fields": {
            "type": "array",
            "items": {"type": "string"},
            "$comment": "key paths the loader does not know, topmost only ([] for list items, "
            "# for numeric keys); at most 100, unrecognised_fields_total counts them all",
        },
        "unrecognised_fields_total": {"type": "integer", "minimum": 0},
        "known_unused_fields": {
            "type": "array",
            "items": _object(
                ["path", "reason"], {"path": {"type": "string"}, "reason": {"type": "string"}}
            ),
        },
        "clip_sweeps": {"type": "array", "items": _clip_sweep()},
        "symmetric_fd": {"type": "array", "items": _fd_row()},
        "update": _update(),
        "cv_features": _cv_features(),
    }


SPREAD_READING = {
    "enum": ["larger", "smaller", "not shown to differ", None],
    "$comment": "p_two_sided < 0.05: the runs spread larger than the SEs allow or smaller than "
    "they imply; not shown to differ otherwise (inconclusive); null: no χ²",
}


def _spread(required: tuple[str, ...] = ("chi2", "df", "p")) -> Json:
    """Cochran's χ² of the runs' gdotv_batch about their weighted mean, read by both tails."""
    return _object(
        list(required),
        {
            "chi2": NUMBER,
            "df": {"type": "integer", "minimum": 0},
            "p": NUMBER | {"$comment": "the upper tail: the runs spread more than the SEs allow"},
            "p_lower": NUMBER
            | {"$comment": "the lower tail: the runs spread less than the SEs imply"},
            "p_two_sided": NUMBER | {"$comment": "min(1, 2·min(p, p_lower))"},
            "reading": SPREAD_READING,
            "power": NUMBER
            | {
                "$comment": "of the two-sided test at 5 %, against a between-run sd 1.5 times "
                "the SEs'"
            },
            "little_power": {
                "type": "boolean",
                "$comment": "power < 0.5: a spread that large is missed more often than not",
            },
        },
    )


def _mismatch() -> Json:
    return {
        "type": "object",
        "$comment": "a number of the row that its run's own record does not give",
        "properties": {
            "column": {"enum": ["gdotv_batch", "se_batch", "se_batch_after", "B_total"]},
            "aggregate": {"type": "number", "$comment": "as the aggregate gives it"},
            "run": {"type": "number", "$comment": "as the run's own record gives it"},
        },
    }


def _stated_mismatch() -> Json:
    return {
        "type": "object",
        "$comment": "a batch number the aggregate's JSON states that its rows do not give",
        "properties": {
            "name": {"type": "string", "$comment": "the JSON's name (mean_SNR, mean_se, …)"},
            "stated": {"type": "number"},
            "rows": NUMBER | {"$comment": "what the rows give (null: no rows to give it)"},
        },
    }


ROWS = {"type": "array", "items": {"type": "integer", "minimum": 0}}
SET_NUMBERS = {
    "mean_snr_file": "the used rows' mean of the file's SNR",
    "mean_snr": "the used rows' mean of the corrected SNR",
    "se_mean_snr": "between-run SE of mean_snr, sd/√k (null below two runs)",
    "mean_snr_after_file": "the used rows' mean of the file's SNR after the CVs",
    "mean_snr_after": "the used rows' mean of the corrected SNR after the CVs",
    "se_mean_snr_after": "between-run SE of mean_snr_after, sd/√k",
    "factor": "mean_snr_file/mean_snr: B_total exactly when factor_exact",
    "se_factor": "its delta-method SE across the runs; null when exact",
    "spread_sd": "sd (ddof 1) of gdotv_batch across the used rows",
    "mean_se_sum": "mean B_total·se_batch, the corrected SE of gdotv_batch",
    "mean_se_mean": "mean se_batch, the file's SE (of the mean g·v)",
    "weighted_sum": "the used rows' gdotv_batch pooled by inverse variance (SEs se_sum); "
    "DerSimonian–Laird random effects when tau2 > 0 (weighting)",
    "se_weighted_sum": "its SE, of the same pooling",
    "tau2": "DerSimonian–Laird between-run variance of gdotv_batch (null: not pooled)",
}


def _batch_set() -> Json:
    """One batch of the aggregate (one B_total and feature list), read on its own."""
    properties: Json = {
        "b_total": COUNT,
        "features": {"type": "string", "$comment": "the rows' feature list, comma-separated"},
        "rows": ROWS | {"$comment": "its rows, as indices into runs"},
        "used_rows": ROWS | {"$comment": "those in its statistics (runs[].used)"},
        "n_used": {"type": "integer", "minimum": 0},
        **{name: NUMBER | {"$comment": comment} for name, comment in SET_NUMBERS.items()},
        "factor_exact": {
            "type": "boolean",
            "$comment": "every used row's SNR is |gdotv_batch|/se_batch: the factor is B_total",
        },
        "weighting": {"enum": [FIXED, RANDOM, None], "$comment": "how weighted_sum was pooled"},
        "spread": _spread(()) | {"$comment": "against the corrected SEs, B_total·se_batch"},
        "spread_file": _spread(()) | {"$comment": "against the file's se_batch"},
    }
    return {"type": "object", "properties": properties}


def cv_batch() -> Json:
    """A group's ``cv_batch``: its directory's ``cv_runs_aggregate``, corrected."""
    run_numbers = ["gdotv_batch", "se_mean", "se_sum", "snr_file", "snr", "snr_after_file"]
    run = _object(
        ["run_dir", "run_id", "b_total", *run_numbers, "snr_after"],
        {
            "run_dir": {"type": "string"},
            "run_id": TEXT,
            "b_total": COUNT,
            **{name: NUMBER for name in (*run_numbers, "snr_after")},
            "se_snr": NUMBER
            | {"$comment": "SE of snr, √(1 + snr²/(2(B_total − 1))): the sum's noise and its SE's"},
            "features": {"type": "string", "$comment": "the row's feature list, comma-separated"},
            "checked": {
                "type": "boolean",
                "$comment": "compared with its run's own record (false: its run is not in the "
                "tree)",
            },
            "mismatches": {"type": "array", "items": _mismatch()},
            "used": {
                "type": "boolean",
                "$comment": "in its batch's statistics: false when its run contradicts it",
            },
        },
    )
    numbers = [
        "mean_snr_file", "mean_snr", "mean_snr_after_file", "mean_snr_after", "spread_sd",
        "mean_se_sum", "mean_se_file", "weighted_sum", "se_weighted_sum", "factor",
    ]  # fmt: skip
    fields = ["source", "runs", "snr_is_sum_over_mean_se", "spread", "spread_file", "problems"]
    return {
        "type": ["null", "object"],
        "$comment": "the CV batch aggregate (cv_runs_aggregate.{csv,json}) of the group's "
        "directory, corrected (null: none): se_mean is the file's se_batch, the SE of the mean "
        "g·v; se_sum = B_total·se_batch is the SE of gdotv_batch and snr = |gdotv_batch|/se_sum "
        "(the file's numbers are *_file); spread is Cochran's χ² of gdotv_batch about its "
        "inverse-variance weighted mean with the SEs se_sum, spread_file with se_mean; factor "
        "= mean_snr_file/mean_snr. Rows of one B_total and feature list are a batch (sets); the "
        "top-level statistics are those of the one batch, and null (spread and spread_file "
        "without a χ²) when the file mixes several (mixed); mean_snr_file, "
        "mean_snr_after_file and mean_se_file are the file's stated numbers where it states "
        "them; weighted_sum/se_weighted_sum are DerSimonian–Laird random-effects values when "
        "the batch's tau2 > 0",
        "required": [*fields, *numbers],
        "properties": {
            "source": {"type": "string"},
            "runs": {"type": "array", "items": run},
            "snr_is_sum_over_mean_se": {"type": "boolean"},
            "spread": _spread(),
            "spread_file": _spread(),
            "problems": {"type": "array", "items": {"type": "string"}},
            **{name: NUMBER for name in numbers},
            "mixed": {
                "type": "boolean",
                "$comment": "the file holds several batches (B_total or feature lists differ): "
                "each is read on its own under sets, never averaged across",
            },
            "sets": {"type": "array", "items": _batch_set()},
            "stated_mismatches": {"type": "array", "items": _stated_mismatch()},
        },
    }


# --- a run's standard errors and bootstrap (``EtaUncertainty``, ``RunUncertainty``) ----------

VERDICT = {
    "type": ["null", "string"],
    "enum": ["agrees", "disagrees", "inconclusive", None],
    "$comment": "agrees: the 90 % interval of approx/true lies within 1 ± the equivalence "
    "margin; disagrees: |z| > 1.96; inconclusive otherwise; null: no standard error",
}
INTERVAL = {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
NO_ARRAYS = "null without the run's per-sequence arrays at this η"
ETA_SES = {
    "se_true": "standard error of delta_h_true over the run's sequences: the delta method "
    "(infinitesimal jackknife) of ΔH_true as the ratio estimator (w·h_new)/(w·T) − Σh_base/ΣT, "
    "√(n/(n − 1)·Σu_i²) over the sequences' influences u_i (the baseline adds no variance where "
    f"base_entropy is not Σh_base/ΣT: uncertainty.baseline_reestimated); {NO_ARRAYS}",
    "se_linear": "standard error of delta_h_linear: the delta method over the sequences' linear "
    "contributions, or without them the aggregate's num_shards·se_shard·|η| "
    "(num_shards·se_gdotv·|η| for a sweep); se_method says which; null: neither",
    "se_linquad": f"standard error of delta_h_linquad, the delta method; {NO_ARRAYS}",
    "se_diff_linear": "standard error of delta_h_linear − delta_h_true: the paired delta method "
    "(the same sequences drive both, so their noise largely cancels), or the unpaired "
    "√(se_linear² + se_true²) where se_linear is the aggregate's; null unless both exist",
    "se_diff_linquad": "standard error of delta_h_linquad − delta_h_true, the paired delta "
    f"method; {NO_ARRAYS}",
    "se_quad": "standard error of the quadratic term delta_h_linquad − delta_h_linear "
    "(½η²Σvhvv), the paired delta method: with se_diff_linear and se_diff_linquad it gives their "
    f"covariance (the group's quad_help); {NO_ARRAYS}",
}
Z_TEXT = "(delta_h_{a} − delta_h_true)/se_diff_{a}; null without a positive se_diff_{a}"
CI_TEXT = (
    "percentile interval of {what} (uncertainty.ci_level 0.95: the 2.5th and 97.5th "
    "percentiles) over the run's paired bootstrap resamples of its sequences (uncertainty."
    "bootstrap of them, the same at every η); null: no resamples (--bootstrap below 2, or no "
    "per-sequence arrays at this η) or a bound that is not finite"
)
CI_OF = {
    "ci95_true": "ΔH_true",
    "ci95_linear": "ΔH_linear",
    "ci95_linquad": "ΔH_linquad",
    "ci95_diff_linear": "ΔH_linear − ΔH_true (same resamples)",
    "ci95_diff_linquad": "ΔH_linquad − ΔH_true (same resamples)",
}
SE_METHODS = (
    "how each standard error of this η was computed, by its field's name (se_true, se_linear, "
    "se_linquad, se_diff_linear, se_diff_linquad, se_quad, se_ratio_linear, se_ratio_linquad): "
    "'delta-method' (over the run's sequences), 'num_shards·se_shard·η' or "
    "'num_shards·se_gdotv·η' (from the aggregate), 'unpaired √(se_linear² + se_true²)', "
    "'unpaired √(se_approx² + ratio²·se_true²)/|ΔH_true|'; a field without a value has no key"
)


def eta_uncertainty_fields() -> Json:
    """Per η of a run: the standard errors, z, bootstrap intervals and the notebook's SEs."""
    fields: Json = {name: NUMBER | {"$comment": text} for name, text in ETA_SES.items()}
    for approx in ("linear", "linquad"):
        fields[f"z_{approx}"] = NUMBER | {"$comment": Z_TEXT.format(a=approx)}
    for name, what in CI_OF.items():
        fields[name] = INTERVAL | {"$comment": CI_TEXT.format(what=what)}
    return fields | {
        "se_method": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "$comment": SE_METHODS,
        },
        "notebook_se_linear": NUMBER
        | {
            "$comment": "the notebook's (post_correction_analysis) se_shard·|η| (se_gdotv·|η| "
            "for a sweep): the SE of a mean shard, num_shards times too small for ΔH_linear; kept "
            "for comparison (use se_linear); null without the aggregate's shard SE"
        },
        "notebook_se_true": NUMBER
        | {
            "$comment": "the notebook's std(true_contrib, ddof 1)/√n: the SE of a mean "
            "contribution, not of ΔH_true, far too small; kept for comparison (use se_true); "
            f"{NO_ARRAYS}"
        },
    }


def doubling() -> Json:
    """``Doubling.to_json``: how ΔH_true scales when η doubles."""
    return {
        "type": "object",
        "$comment": "an η of the run whose double 2η was measured too",
        "properties": {
            "eta": {"type": "number"},
            "eta2": {"type": "number", "$comment": "2η"},
            "ratio": NUMBER
            | {
                "$comment": "ΔH_true(2η)/ΔH_true(η): 2 in the linear regime, 4 where the "
                "quadratic term dominates; null when ΔH_true(η) is 0 or either is missing"
            },
            "se": NUMBER
            | {
                "$comment": "its delta-method SE over the sequences, paired across the two η "
                "(influence (u_2η − ratio·u_η)/ΔH_true(η)); null without per-sequence arrays of "
                "one size at both η"
            },
            "ci95": INTERVAL
            | {
                "$comment": "percentile interval (95 %) of the ratio over the run's bootstrap "
                "resamples, the same at both η; null: no resamples or no ratio"
            },
        },
    }


SLOPE_CI = (
    "percentile interval (95 %) of the {which} over the run's bootstrap resamples, each refitted "
    "over slope_etas; null: no resamples, fewer than 2 η, or a fitted η without per-sequence "
    "arrays{extra}"
)


def uncertainty_fields() -> Json:
    """The run-level ``uncertainty`` block's fields besides the verdicts."""
    loglog = "log-log slope (log|ΔH_true| on log η)"
    return {
        "bootstrap": {
            "type": "integer",
            "minimum": 0,
            "$comment": "paired bootstrap resamples of the run's sequences behind every ci95_* "
            "(--bootstrap); 0: none drawn (--bootstrap below 2, or no per-sequence arrays of one "
            "size)",
        },
        "seed": {
            "type": "integer",
            "minimum": 0,
            "$comment": "--seed: the resampling counts follow from (seed, number of sequences, "
            "bootstrap) alone, so runs of one size share them",
        },
        "ci_level": {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": 1,
            "$comment": "the level of every ci95_* interval (0.95: percentiles 2.5 and 97.5)",
        },
        "loglog_slope_ci95": INTERVAL
        | {
            "$comment": SLOPE_CI.format(
                which=loglog,
                extra=", an η ≤ 0, or over 1 % of resamples with ΔH_true = 0 at some η",
            )
        },
        "linear_slope_ci95": INTERVAL
        | {"$comment": SLOPE_CI.format(which="linear slope (ΔH_true on η)", extra="")},
        "slope_etas": {
            "type": "array",
            "items": {"type": "number"},
            "$comment": "the η the slopes are fitted over: finite η with a finite ΔH_true "
            "([] without resamples)",
        },
        "baseline_reestimated": {
            "type": ["boolean", "null"],
            "$comment": "true: at every η base_entropy is Σh_base/ΣT, estimated on this batch, "
            "so its variance is in se_true; false: at some η it is not (or h_base is missing) "
            "and there the baseline is a constant; null: no per-sequence arrays",
        },
        "notes": {
            "type": "array",
            "items": {"type": "string"},
            "$comment": "caveats of these uncertainties, as sentences",
        },
        "doublings": {"type": "array", "items": doubling()},
    }


# --- a group's per-run rows, spreads and populations -----------------------------------------

COUNT_OF = {"type": "integer", "minimum": 0}
QUARTILE = "{which} quartile of the values (numpy's linear interpolation); null: no value"
QUARTILES = {
    "q25": NUMBER | {"$comment": QUARTILE.format(which="first")},
    "q75": NUMBER | {"$comment": QUARTILE.format(which="third")},
}
SLOPE_CI_ROW = (
    "the run's uncertainty.{name}; null: none, or the group's fit_window leaves η out (the "
    "bootstrap fits every η)"
)


def agreement_tally(over: str) -> Json:
    """``AgreementTally.to_json``."""
    pairs = "run × η pairs with a paired_z (runs[].agreement[])"
    return {
        "type": "object",
        "$comment": f"over {over}: how many run × η pairs have |linear − true| within 1 and 2 "
        "paired SEs, bands that describe the noise, not a test of agreement (the verdicts are)",
        "properties": {
            "pairs": COUNT_OF | {"$comment": pairs},
            "within_1se": COUNT_OF | {"$comment": "of them, |paired_z| ≤ 1"},
            "within_2se": COUNT_OF | {"$comment": "of them, |paired_z| ≤ 2 (within_1se included)"},
            "beyond_2se": COUNT_OF | {"$comment": "pairs − within_2se"},
        },
    }


def agreement_fields() -> Json:
    """``Agreement``'s paired fields (the notebook's are described beside them)."""
    unpaired = "'unpaired √(se_linear² + se_true²)'"
    return {
        "paired_se": NUMBER
        | {
            "$comment": "the run's se_diff_linear at this η: the SE of diff = delta_h_linear − "
            "delta_h_true (paired_method says how); null: none"
        },
        "paired_z": NUMBER
        | {"$comment": "diff/paired_se; null without a diff or a positive paired_se"},
        "paired_within_1se": {
            "type": ["boolean", "null"],
            "$comment": "|diff| ≤ paired_se; null without paired_z",
        },
        "paired_within_2se": {
            "type": ["boolean", "null"],
            "$comment": "|diff| ≤ 2·paired_se; null without paired_z",
        },
        "paired_method": TEXT
        | {
            "$comment": "the run's se_method.se_diff_linear: 'delta-method' (paired over the "
            f"sequences) or {unpaired}; null without paired_z"
        },
        "verdict_linear": VERDICT
        | {
            "description": "the run's verdict at this η (etas[].verdict_linear); null without "
            "paired_z"
        },
    }


QUAD_NULL = "null unless delta_h_linear, delta_h_linquad and delta_h_true all exist"


def quad_help() -> Json:
    """``QuadHelp.to_json``: does the quadratic term help at one η?"""
    gain = "abs_err_linquad − abs_err_linear: negative when lin+quad is closer to ΔH_true"
    return {
        "type": "object",
        "properties": {
            "eta": {"type": "number"},
            "abs_err_linear": NUMBER
            | {"$comment": f"|delta_h_linear − delta_h_true|; {QUAD_NULL}"},
            "abs_err_linquad": NUMBER
            | {"$comment": f"|delta_h_linquad − delta_h_true|; {QUAD_NULL}"},
            "gain": NUMBER | {"$comment": gain},
            "se": NUMBER
            | {
                "$comment": "paired delta-method SE of gain, √(s_q² + s_l² − 2·sign(d_q)·"
                "sign(d_l)·cov(d_q, d_l)) with s_l, s_q the run's se_diff_linear, se_diff_linquad "
                "and cov from its se_quad (a guide near zero, where |·| is not smooth); null "
                "without those SEs"
            },
            "z": NUMBER | {"$comment": "gain/se; null without a positive se"},
        },
    }


RESOLVED_SPREAD = {
    "mean": "of the resolved values",
    "std": "sample standard deviation (ddof 1) of the resolved values; null below two",
    "min": "of the resolved values",
    "max": "of the resolved values",
    "median": "of the resolved values",
    "iqr": "q75 − q25",
}


def resolved_spread() -> Json:
    """A row of ``relative_errors.per_eta_resolved``."""
    properties: Json = {"eta": {"type": "number"}}
    properties |= {name: NUMBER | {"$comment": text} for name, text in RESOLVED_SPREAD.items()}
    properties |= QUARTILES | {
        "n": COUNT_OF | {"$comment": "runs with a finite value where ΔH_true is resolved"},
        "n_unresolved": COUNT_OF
        | {"$comment": "runs with a value left out: |delta_h_true| ≤ 2 se_true"},
        "n_no_se": COUNT_OF | {"$comment": "runs with a value left out: no se_true to judge by"},
    }
    return {
        "type": "object",
        "$comment": "per η, the spread of the runs' values (1 − linear/true) where ΔH_true is "
        "resolved from zero (resolved_rule) only: elsewhere the ratio divides by noise",
        "properties": properties,
    }


REL_ERR_SE = (
    "delta-method SE of rel_err, and of rel_err_linear (± the same value): √(s_L² − 2r·cov(L, T) "
    "+ r²·s_T²)/|T| with r = L/T, s_L = se_linear, s_T = se_true and cov(L, T) from "
    "se_diff_linear (0 when that is the unpaired one); null without those SEs or with ΔH_true 0"
)


def relative_error_fields(relative: Json) -> None:
    """``RelativeErrors.to_json``'s fields added since 0.1, on ``relative`` (its node)."""
    row = relative["properties"]["per_eta"]["items"]
    row["properties"] |= QUARTILES
    relative["properties"] |= {
        "resolved_rule": {
            "const": "|delta_h_true| > 2 se_true",
            "$comment": "when ΔH_true at an η of a run is told apart from zero (values[].resolved)",
        },
        "per_eta_resolved": {"type": "array", "items": resolved_spread()},
    }
    value = relative["properties"]["runs"]["items"]["properties"]["values"]["items"]
    value["properties"] |= {
        "resolved": {
            "type": ["boolean", "null"],
            "$comment": "|delta_h_true| > 2 se_true here (resolved_rule); null: no se_true",
        },
        "se": NUMBER | {"$comment": REL_ERR_SE},
    }
    se = value["properties"]["se_rel_err_linear"]
    value["properties"]["se_rel_err_linear"] = se | {"$comment": REL_ERR_SE}  # a copy: se is shared


POPULATION_KEY = (
    "what defines the population, by name: schema, B_E, normalization, fields (the results "
    "file's field fingerprint, named by what it lacks), label.<name> (the tree file's labels) "
    "and the configuration or plan keys that split the runs, each with its shown value, "
    "'(not set)' where the runs lack it; with several populations only the names whose values "
    "differ between them, a lone population by schema, B_E and normalization"
)


def population_fields() -> Json:
    """A population's identity (``Population``): its key, label and runs."""
    return {
        "key": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "$comment": POPULATION_KEY,
        },
        "label": {
            "type": "string",
            "$comment": "the key as text, 'name = value' joined by ', ' ('all runs': no key)",
        },
        "runs": {
            "type": "array",
            "items": {"type": "string"},
            "$comment": "its run ids in the group's order, each once (a byte-identical copy is "
            "left out: duplicates)",
        },
    }


def what_differs() -> Json:
    """``differs_json``: the keys whose values differ between the group's runs."""
    return {
        "type": "array",
        "$comment": "the keys whose values are not the same in every run (copies left out): "
        "fields, label.<name>, then configuration and plan keys, splitting ones first; at most "
        f"{MAX_DIFFERS}, what_differs_more counts the rest",
        "items": {
            "type": "object",
            "properties": {
                "key": {"type": "string"},
                "splits": {
                    "type": "boolean",
                    "$comment": "it separates populations (not on the incidental list)",
                },
                "values": {
                    "type": "object",
                    "additionalProperties": {"type": ["null", "string"]},
                    "$comment": "by run id, each run once: its shown value (for fields the "
                    "fingerprint's name, for label.<name> the label, else the value as JSON "
                    "text, a long one cut at '…' and followed by its digest's start); null: the "
                    "run does not set it",
                },
            },
        },
    }
