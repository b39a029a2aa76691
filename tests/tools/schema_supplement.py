"""The run summary's fields on the optional blocks (``RunSupplement.to_json``), added after 0.1.

Optional (0.1's twins lack them); ``derive_schemas.run_summary`` adds them to the run schema.
"""

from __future__ import annotations

from typing import Any

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
            "corr_se": NUMBER,
            "var_ratio": NUMBER,
            "var_ratio_se": NUMBER,
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


def _spread() -> Json:
    return _object(
        ["chi2", "df", "p"],
        {"chi2": NUMBER, "df": {"type": "integer", "minimum": 0}, "p": NUMBER},
    )


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
        "= mean_snr_file/mean_snr",
        "required": [*fields, *numbers],
        "properties": {
            "source": {"type": "string"},
            "runs": {"type": "array", "items": run},
            "snr_is_sum_over_mean_se": {"type": "boolean"},
            "spread": _spread(),
            "spread_file": _spread(),
            "problems": {"type": "array", "items": {"type": "string"}},
            **{name: NUMBER for name in numbers},
        },
    }
