"""The run summary's fields on the optional blocks (``RunSupplement.to_json``), added after 0.1.

Optional (0.1's twins lack them); ``derive_schemas.run_summary`` adds them to the run schema.
"""

from __future__ import annotations

from typing import Any

from reportgen.analysis.cv_batch import FIXED, RANDOM

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
            "sensitivity": {"enum": ["sensitive", "stable", "inconclusive"]},
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
        },
    )
    return {
        "type": ["null", "object"],
        "required": ["features", "source", "target", "best_valid", "excluded"],
        "properties": {
            "features": {"type": "array", "items": feature},
            "source": TEXT,
            "target": {"type": ["null", "object"]},
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
