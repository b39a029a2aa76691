"""Derive ``reportgen/schemas/*.schema.json`` from the snapshots of reportgen 0.1's public outputs.

Usage: ``python tests/tools/derive_schemas.py [--check]`` (``--check``: exit 1 if the committed
schemas differ from what this derives, e.g. after a hand edit).

Per JSON object path of each format, a field is required when every 0.1 instance has it; its
type is the set of JSON types seen there, plus null where 0.1's dataclasses declared the value
optional (``NULLABLE``) and the type 0.1 declared where every snapshot held null
(``DECLARED``). The shapes 0.1 wrote for unreadable runs, stale runs and failed groups are not
in the snapshots; they come from 0.1's code (``pages/run.py:render_failure``,
``build.py:_keep_stale``, ``pages/group.py:render_group``), as does ``changes.json``
(``pages/changes.py``), which depends on the previous build and so was not snapshotted.
Fields added since 0.1 are described by hand below (``add_run_fields`` and beside it) and in
``schema_supplement.py``, never required: a twin of 0.1 lacks them and stays valid.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

if not __package__:  # run as a script from a checkout: import tests from beside reportgen/
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reportgen.analysis.pooling import FIXED, RANDOM
from tests.tools.schema_supplement import (
    INTERVAL,
    QUARTILES,
    SLOPE_CI_ROW,
    VERDICT,
    add_supplement_fields,
    agreement_fields,
    agreement_tally,
    cv_batch,
    doubling,
    eta_uncertainty_fields,
    population_fields,
    quad_help,
    relative_error_fields,
    uncertainty_fields,
    what_differs,
)

TESTS = Path(__file__).resolve().parents[1]
SNAPSHOTS = ("sample-0.1.json", "shared-0.1.json")
DRAFT = "https://json-schema.org/draft/2020-12/schema"
Json = dict[str, Any]

# fields 0.1 declared optional (``float | None`` …) though every snapshot holds a value
NULLABLE = {
    "run-summary": [
        r"\.batch_size",
        r"\.points\.batch_size",
        r"(\.points)?\.etas\[\]\.(?!eta$)\w+",
        r"\.points\.true_se\[\]\.se",
        r"\.tails\[\]\.(clipped|truncated)\[\]\.(threshold|\w+_total|\w*ratio|linquad_threshold)",
        r"\.cv\.var_after_cv_joint",
        r"\.cv\.features\[\]\.(corr|ols_beta|var_after_cv)",
        r"\.findings\[\]\.eta",
        r"\.normalization\.formula",
    ],
    "group-summary": [
        r"\.per_eta\[\]\.(true_mean|true_std|linear_mean|linquad_mean)",
        r"\.relative_errors",
        r"\.relative_errors\.per_eta\[\]\.(mean|std|min|max|median)",
        r"\.relative_errors\.runs\[\]\.values\[\]\.rel_err",
        r"\.runs\[\]\.batch_size",
        r"\.runs\[\]\.fit\.(loglog|linear)_\w+",
        r"\.runs\[\]\.fit\.reason",
        r"\.runs\[\]\.agreement\[\]\.(?!eta$)\w+",
        r"\.batch_comparison\[\]\.(mean|std|expected_raw_mean|large_true_mean|reestimated)",
        r"\.batch_comparison\[\](\.rescaled|\.reestimated)?\.(mean|std)",
        r"\.batch_comparison\[\](\.rescaled|\.reestimated)?\.quantiles\[\]\.value",
        r"\.batch_comparison\[\]\.(small_runs|full_run_values)\[\]\.err_rel",
        r"\.tails\[\]\.(linquad_)?ratio_\w+",
        r"\.cv\[\]\.(corr|var_ratio)\.(mean|std|min|max|median)",
    ],
    "manifest": [],
}
# the declared type of fields every snapshot had null in (Fit.reason, TailRow.linquad_threshold)
DECLARED = {
    "group-summary": {".runs[].fit.reason": {"string"}},
    "run-summary": {".tails[].truncated[].linquad_threshold": {"number"}},
}
SCHEMA_NAMES = ["snis", "eta-sweep", "control-variates", "generic"]  # models.Schema
ENUMS = {
    "run-summary": {
        ".status": ["ok", "error"],
        ".schema": SCHEMA_NAMES,
        ".findings[].severity": ["error", "warning", "info"],  # models.Severity
    },
    "manifest": {".runs[].status": ["ok", "error"], ".runs[].schema": SCHEMA_NAMES},
    "group-summary": {".tails[].mode": ["truncated", "clipped"]},
}
CONDITIONAL = {"run-summary": {"": {"cv"}}}  # present by a rule the schema's allOf states
NOTE = (
    "Derived by tests/tools/derive_schemas.py from the public outputs of reportgen 0.1 "
    "(tests/snapshots/*-0.1.json): every field 0.1 published in every instance is required, "
    "with the types seen there; null is allowed where 0.1 published null or declared the value "
    "optional. Formats only ever gain fields, so additionalProperties is allowed everywhere."
)
ERROR = {
    "type": "object",
    "required": ["reason", "file", "line", "column", "hint"],
    "properties": {
        "reason": {"type": "string"},
        "file": {"type": ["null", "string"]},
        "line": {"type": ["integer", "null"]},
        "column": {"type": ["integer", "null"]},
        "hint": {"type": ["null", "string"]},
    },
}


# --- fields added after 0.1: documented here, optional (0.1's twins lack them) ---------------

NULL_NUMBER = {"type": ["null", "number"]}
PATHS = {"type": "array", "items": {"type": "string"}, "$comment": "tree-relative file paths"}
STUDY = {
    "type": "object",
    "$comment": "a study of an experiment kind (built in or a plug-in), with every file it claimed",
    "required": [
        *("id", "kind", "origin", "directory", "status", "page", "summary"),
        *("inputs", "not_read", "findings"),
    ],
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string"},
        "origin": {"type": "string"},
        "directory": {"type": "string"},
        "status": {"type": "string", "enum": ["ok", "error"]},
        "page": {"type": ["null", "string"]},
        "summary": {"type": ["null", "string"]},
        "inputs": PATHS,
        "not_read": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "reason"],
                "properties": {"path": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
        "findings": {"type": "integer", "minimum": 0},
        "stale": {
            "const": True,
            "$comment": "its files could not be read tonight: its last good page stands in",
        },
    },
}
UNCLAIMED = {
    "type": "object",
    "$comment": "a file no run or study reads: its kind guessed from its name, and why",
    "required": ["path", "kind", "bytes", "reason"],
    "properties": {
        "path": {"type": "string"},
        "kind": {"type": "string"},
        "bytes": {"type": "integer", "minimum": 0},
        "reason": {"type": "string"},
    },
}
PLUGIN_PROBLEM = {
    "type": "object",
    "required": ["plugin", "reason"],
    "properties": {"plugin": {"type": "string"}, "reason": {"type": "string"}},
}


def eta_verdict_fields() -> Json:
    """Per η of a run: approx/true with its SE, bootstrap interval, MDE and verdict."""
    fields: Json = {}
    for approx in ("linear", "linquad"):
        fields |= {
            f"ratio_{approx}": NULL_NUMBER,
            f"se_ratio_{approx}": NULL_NUMBER,
            f"ci95_ratio_{approx}": INTERVAL,
            f"mde_{approx}": NULL_NUMBER,
            f"verdict_{approx}": VERDICT,
        }
    return fields


def add_run_fields(run: Json) -> None:
    properties = run["properties"]
    properties["verdict_linear"] = VERDICT
    properties["labels"] = {"type": "object", "additionalProperties": {"type": "string"}}
    properties["fields_sha256"] = {"type": ["null", "string"]}
    properties["inputs"] = PATHS
    properties["etas"]["items"]["properties"].update(eta_verdict_fields())
    properties["etas"]["items"]["properties"].update(eta_uncertainty_fields())
    properties["uncertainty"] = {
        "type": "object",
        "properties": {
            "equivalence_margin": {"type": "number", "exclusiveMinimum": 0},
            "verdict_linear": VERDICT,
            "verdict_linquad": VERDICT,
            "breakdown_eta_linear": NULL_NUMBER,
            "breakdown_eta_linquad": NULL_NUMBER,
            **uncertainty_fields(),
        },
    }
    properties["findings"]["items"]["properties"]["etas"] = FINDING_ETAS
    properties["skipped_inputs"] = {
        "type": "array",
        "$comment": "files of the run (or parts of one) that are not used or shown, and why",
        "items": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "$comment": "tree-relative"},
                "reason": {"type": "string"},
                "unreadable": {
                    "type": "boolean",
                    "$comment": "an OS error (not a limit): the build's exit code becomes 1",
                },
            },
        },
    }


def pooled_row() -> Json:
    """One η of ``populations[].pooled``: each approximation's runs pooled (its fields only
    when the approximation has standard errors)."""
    properties: Json = {"eta": {"type": "number"}, "n_runs": {"type": "integer", "minimum": 1}}
    for approx in ("linear", "linquad"):
        s = "" if approx == "linear" else "_linquad"
        estimate = {
            f"diff_{approx}": NULL_NUMBER,
            f"se_diff_{approx}": NULL_NUMBER,
            f"z_{approx}": NULL_NUMBER,
            f"ratio_{approx}": NULL_NUMBER,
            f"se_ratio_{approx}": NULL_NUMBER,
        }
        properties |= estimate | {
            f"ci95_ratio_{approx}": INTERVAL,
            f"q{s}": {"type": "number", "minimum": 0},
            f"q_df{s}": {"type": "integer", "minimum": 0},
            f"q_p{s}": NULL_NUMBER,
            f"i2{s}": {"type": "number", "minimum": 0, "maximum": 1},
            f"tau2{s}": {"type": "number", "minimum": 0},
            f"random_effects{s}": {
                "type": ["object", "null"],
                "required": list(estimate),
                "properties": estimate,
            },
            f"furthest{s}": {"type": "array", "items": {"type": "string"}},
            f"method{s}": {"enum": [FIXED, RANDOM]},
            f"verdict_{approx}": VERDICT,
        }
    return {"type": "object", "required": ["eta", "n_runs"], "properties": properties}


FINDING_ETAS = {
    "type": "array",
    "items": {"type": "number"},
    "$comment": "every η the finding concerns ([]: the whole run or group; eta holds the one η "
    "of a finding about exactly one)",
}
GROUP_FINDING = {
    "type": "object",
    "required": ["id", "severity", "message"],
    "properties": {
        "id": {"type": "string"},
        "severity": {"enum": ["error", "warning", "info"]},
        "message": {"type": "string"},
        "eta": NULL_NUMBER | {"$comment": "the η when the finding concerns exactly one"},
        "etas": FINDING_ETAS,
    },
}


NOTEBOOK_AGREEMENT = {
    "z": ("notebook_z", NULL_NUMBER),
    "se_true": ("notebook_se_true", NULL_NUMBER),
    "se_linear": ("notebook_se_linear", NULL_NUMBER),
    "combined_se": ("notebook_combined_se", NULL_NUMBER),
    "within_1sigma": ("notebook_within_1sigma", {"type": ["boolean", "null"]}),
    "within_2sigma": ("notebook_within_2sigma", {"type": ["boolean", "null"]}),
}


def add_group_fields(group: Json) -> None:
    properties = group["properties"]
    properties["per_eta"]["type"] = ["array", "null"]
    properties["per_eta"]["$comment"] = "null when the group holds several populations"
    add_kept_apart_fields(properties)
    properties["populations"] = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "pooled": {"type": "array", "items": pooled_row()},
                "verdict_linear": VERDICT,
                "verdict_linquad": VERDICT,
                "breakdown_eta_linear": NULL_NUMBER,
                "breakdown_eta_linquad": NULL_NUMBER,
            },
        },
    }
    properties["duplicates"] = {
        "type": "array",
        "items": {"type": "array", "items": {"type": "string"}, "minItems": 2},
    }
    properties["findings"] = {"type": "array", "items": GROUP_FINDING}
    properties["what_differs_more"] = {"type": "integer", "minimum": 0}
    properties["fit_window"] = {
        "type": ["object", "null"],
        "$comment": "the η window of the runs' fits, from reportgen.toml's [fit] (null: every η)",
        "required": ["pattern", "eta_min", "eta_max"],
        "properties": {
            "pattern": {"type": "string"},
            "eta_min": NULL_NUMBER,
            "eta_max": NULL_NUMBER,
        },
    }
    properties["cv_batch"] = cv_batch()
    add_notebook_and_convention_fields(group)
    add_resolved_tail_fields(properties)
    add_population_cv_fields(properties)
    add_batch_se_fields(properties)
    add_run_row_fields(properties)
    add_spread_fields(properties)


def add_run_row_fields(properties: Json) -> None:
    """Each run's rows gain the paired agreement, the quadratic term's help, the doubling ratios
    and the fit slopes' bootstrap intervals."""
    run = properties["runs"]["items"]
    run["properties"]["agreement"]["items"]["properties"] |= agreement_fields()
    run["properties"]["quad_help"] = {"type": "array", "items": quad_help()}
    run["properties"]["doublings"] = {
        "type": "array",
        "items": doubling(),
        "$comment": "the run's uncertainty.doublings",
    }
    fit = run["properties"]["fit"]["properties"]
    for name in ("loglog_slope_ci95", "linear_slope_ci95"):
        fit[name] = INTERVAL | {"$comment": SLOPE_CI_ROW.format(name=name)}


def _optional(node: Any) -> Any:
    """A copy of ``node`` that requires nothing at any depth: a 0.1 shape reused for a field
    added since."""
    if isinstance(node, dict):
        return {k: _optional(v) for k, v in node.items() if k != "required"}
    return [_optional(v) for v in node] if isinstance(node, list) else node


def add_spread_fields(properties: Json) -> None:
    """Spreads gain their quartiles, relative errors their resolved spreads and SEs; a
    population gains its key, label, runs and its own per-η, relative-error and agreement
    statistics, shaped as the group's (which are over every run), none of it required."""
    for name in ("corr", "var_ratio"):
        properties["cv"]["items"]["properties"][name]["properties"] |= QUARTILES
    relative = properties["relative_errors"]
    relative_error_fields(relative)
    properties["agreement"] = agreement_tally(
        "every run of the group (each population's own: populations[].agreement)"
    )
    properties["what_differs"] = what_differs()
    own = "over its runs only, as the group's"
    population = properties["populations"]["items"]["properties"]
    population |= population_fields() | {
        "per_eta": {
            "type": "array",
            "items": _optional(properties["per_eta"]["items"]),
            "$comment": f"ΔH across its runs per η, {own} per_eta",
        },
        "relative_errors": _optional(relative)
        | {"type": "object", "$comment": f"its runs' relative errors, {own}"},
        "agreement": agreement_tally("its runs"),
    }


RESOLVED_TAILS = {
    "mean": "over the runs whose ΔH_true is resolved from zero at this η (|delta_h_true| > "
    "2 se_true): resolved_run_ids; the median, min, max and std beside it describe their spread",
    "se_mean": "standard error of that mean across the runs, std/√n (null below two runs)",
}


def add_resolved_tail_fields(properties: Json) -> None:
    """Tail rows gain their ratios' spreads over the resolved runs (the 0.1 fields spread every
    run's ratio, noise included); a population's tail rows have the same shape."""
    row = properties["tails"]["items"]
    for name in ("ratio_mean", "ratio_std", "ratio_median", "ratio_min", "ratio_max"):
        row["properties"][name]["$comment"] = "over every run, resolved or not (as in 0.1)"
    for prefix in ("resolved_ratio", "resolved_linquad_ratio"):
        for stat in ("mean", "se_mean", "std", "median", "min", "max"):
            comment = {"$comment": RESOLVED_TAILS[stat]} if stat in RESOLVED_TAILS else {}
            row["properties"][f"{prefix}_{stat}"] = NULL_NUMBER | comment
    count = {"type": "integer", "minimum": 0}
    row["properties"] |= {
        "n_resolved": count | {"$comment": "runs in the resolved_* spreads"},
        "n_unresolved": count | {"$comment": "runs left out: ΔH_true within 2 SE of zero"},
        "n_no_se": count | {"$comment": "runs left out: no se_true to judge by"},
        "n_not_comparable": count
        | {
            "$comment": "runs left out of a truncated row below q = 1: without per-sequence base "
            "entropies their truncated true total is not a change (run tails' centred false)"
        },
        "resolved_run_ids": {"type": "array", "items": {"type": "string"}},
    }
    tails = {"type": "array", "items": row}
    properties["populations"]["items"]["properties"]["tails"] = tails


CV_SE = "the mean's standard error across the runs, std/√n (null below two runs)"


def add_population_cv_fields(properties: Json) -> None:
    """Control-variate statistics per population, each mean with its SE across the runs; the
    top-level cv, which would average across populations, is null when there are several."""
    cv = properties["cv"]
    row = cv["items"]
    for name in ("corr", "var_ratio"):
        row["properties"][name]["properties"]["se_mean"] = NULL_NUMBER | {"$comment": CV_SE}
    cv["type"] = ["array", "null"]
    cv["$comment"] = (
        "over the runs of the group's one population; null when the group holds several "
        "populations (populations_kept_apart): each has its own"
    )
    runs = "its runs' control-variate features, as the top-level cv"
    items = {"type": "array", "items": row, "$comment": runs}
    properties["populations"]["items"]["properties"]["cv"] = items


BATCH_MEAN = (
    "the mean err_rel (the batch_size_comparison notebook's (linear − true)/ΔH_true) over the "
    "drawn subsets"
)
BATCH_MC_SE = (
    "Monte-Carlo standard error of the mean, √(Σ m_j s_j²)/N over the larger runs' draws (how far "
    "other draws would move it; not the runs' sampling error); null where a run has one draw"
)
BATCH_SPREAD = "describes how far apart the subsets' values lie (a spread, not a result)"
BATCH_BETWEEN_SE = (
    "SE of the mean across the larger runs: std (ddof 1) of each larger run's own subset mean "
    "over √k (null with one larger run): the runs' sampling error, unlike se_mean"
)
SMALL_RUN_SE = (
    "se_diff_linear / |large_true_mean|: the run's paired SE of linear − true, the larger "
    "runs' mean ΔH_true taken as fixed (null without a paired SE)"
)
TEXT_VALUE = {"type": "string"}


def add_batch_se_fields(properties: Json) -> None:
    """A batch-comparison mean over drawn subsets gains its Monte-Carlo SE; std and quantiles are
    marked as the spread they describe."""
    row = properties["batch_comparison"]["items"]
    nodes = [row, row["properties"]["rescaled"], row["properties"]["reestimated"]]
    for node in nodes:
        node["properties"]["se_mean"] = NULL_NUMBER | {"$comment": BATCH_MC_SE}
        node["properties"]["se_between_runs"] = NULL_NUMBER | {"$comment": BATCH_BETWEEN_SE}
        node["properties"]["mean"]["$comment"] = BATCH_MEAN
        for name in ("std", "quantiles"):
            node["properties"][name]["$comment"] = BATCH_SPREAD
    for node in nodes[1:]:
        node["properties"]["n_runs"] = {"type": "integer", "$comment": "larger runs drawn from"}
    row["properties"]["full_run_values"]["$comment"] = (
        "the notebook's err_rel of each larger run, without a standard error"
    )
    small = row["properties"]["small_runs"]
    small["$comment"] = "the notebook's err_rel of each smaller run, with its SE"
    small["items"]["properties"]["se"] = NULL_NUMBER | {"$comment": SMALL_RUN_SE}
    row["properties"]["population"] = {
        "type": "string",
        "$comment": "the population compared: runs alike in everything but the batch size",
    }
    reason = {"type": "object", "properties": {"id": {"type": "string"}, "reason": TEXT_VALUE}}
    row["properties"]["left_out"] = {
        "type": "array",
        "items": reason,
        "$comment": "the group's other runs, left out: they differ in more than the batch size",
    }


KEPT_APART = (
    "true when the group holds several populations (runs of different batch sizes, "
    "configurations or schema generations): each has its own statistics under populations, "
    "and the top-level per_eta, relative_errors, tails and cv, which would average across them, "
    "are null"
)


def add_kept_apart_fields(properties: Json) -> None:
    """With several populations the cross-population statistics are null; a correctly named
    flag says so beside the misnamed one, which stays for its readers."""
    properties["populations_kept_apart"] = {"type": "boolean", "description": KEPT_APART}
    properties["pooled_across_populations"] = {
        "type": "boolean",
        "deprecated": True,
        "description": "deprecated, misnamed: the same value as populations_kept_apart, so true "
        "means the populations were NOT pooled; read populations_kept_apart",
    }
    properties["tails"]["type"] = ["array", "null"]
    for name in ("relative_errors", "tails"):
        properties[name]["$comment"] = (
            "over every run of the group; null when the group holds several populations "
            "(populations_kept_apart): each population has its own"
        )


def add_notebook_and_convention_fields(group: Json) -> None:
    """The agreement rows' notebook values under ``notebook_*`` names; the 0.1 names stay as
    deprecated aliases. Relative errors in the site's convention beside the notebook's."""
    agreement = group["properties"]["runs"]["items"]["properties"]["agreement"]["items"]
    for old, (new, node) in NOTEBOOK_AGREEMENT.items():
        agreement["properties"][old] |= {
            "deprecated": True,
            "description": f"alias of {new}: the notebook's value (post_correction_analysis), "
            "not the delta-method one; use paired_z / paired_se for verdicts",
        }
        agreement["properties"][new] = node | {
            "description": "as in the notebook's post_correction_analysis (a mean's SE, too small)"
        }
    relative = group["properties"]["relative_errors"]
    value = relative["properties"]["runs"]["items"]["properties"]["values"]["items"]
    value["properties"]["rel_err"] |= {
        "deprecated": True,
        "description": "alias of notebook_one_minus_ratio: 1 − linear/true",
    }
    value["properties"]["notebook_one_minus_ratio"] = NULL_NUMBER | {
        "description": "1 − linear/true, the convention of the group notebook"
    }
    value["properties"]["rel_err_linear"] = NULL_NUMBER | {
        "description": "(linear − true)/|true|, the convention of every other field"
    }
    value["properties"]["se_rel_err_linear"] = NULL_NUMBER


def kind_of(path: str) -> str | None:
    if path == "manifest.json":
        return "manifest"
    if path.endswith("summary.json"):
        return "run-summary" if path.startswith("runs/") else "group-summary"
    return None


def _type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value)) or ("integer" if isinstance(value, int) else "number")


def _observe(stats: dict[str, Json], path: str, value: Any) -> None:
    seen = stats.setdefault(path, {"types": set(), "objects": 0, "keys": defaultdict(int)})
    seen["types"].add(_type(value))
    if isinstance(value, dict):
        seen["objects"] += 1
        for key, item in value.items():
            seen["keys"][key] += 1
            _observe(stats, f"{path}.{key}", item)
    elif isinstance(value, list):
        for item in value:
            _observe(stats, f"{path}[]", item)


def _node(kind: str, stats: dict[str, Json], path: str = "") -> Json:
    seen = stats[path]
    types = set(seen["types"]) | DECLARED.get(kind, {}).get(path, set())
    if any(re.fullmatch(pattern, path) for pattern in NULLABLE[kind]):
        types.add("null")
    if {"integer", "number"} <= types:
        types.discard("integer")
    ordered = sorted(types)
    node: Json = {"type": ordered[0] if len(ordered) == 1 else ordered}
    if path in ENUMS.get(kind, {}):
        node["enum"] = ENUMS[kind][path] + ([None] if "null" in types else [])
    if "object" in types:
        node["properties"] = {k: _node(kind, stats, f"{path}.{k}") for k in sorted(seen["keys"])}
        always = sorted(k for k, n in seen["keys"].items() if n == seen["objects"])
        sometimes = set(seen["keys"]) - set(always) - CONDITIONAL.get(kind, {}).get(path, set())
        if sometimes:
            raise SystemExit(f"{kind}{path}: fields without a rule: {sorted(sometimes)}")
        node["required"] = always
    if "array" in types and f"{path}[]" in stats:
        node["items"] = _node(kind, stats, f"{path}[]")
    return node


def derived_from_snapshots() -> dict[str, Json]:
    stats: dict[str, dict[str, Json]] = {
        k: {} for k in ("run-summary", "group-summary", "manifest")
    }
    for name in SNAPSHOTS:
        for path, data in json.loads((TESTS / "snapshots" / name).read_text()).items():
            if (kind := kind_of(path)) is not None:
                _observe(stats[kind], "", data)
    return {kind: _node(kind, seen) for kind, seen in stats.items()}


def _document(name: str, title: str, body: Json, note: str = NOTE) -> Json:
    schema_id = f"https://reportgen.invalid/schemas/{name}.schema.json"
    return {"$schema": DRAFT, "$id": schema_id, "title": title, "$comment": note, **body}


def run_summary(run: Json) -> Json:
    """The ok shape, plus the error (unreadable run) and stale (last good kept) shapes."""
    always = ["id", "source", "status", "page", "summary", "input_hash", "tool_version"]
    always += ["schema", "etas", "findings"]
    loaded_only = [k for k in run["required"] if k not in always]
    run["required"] = always
    run["properties"]["schema"] = {"type": ["null", "string"], "enum": [*SCHEMA_NAMES, None]}
    run["properties"]["error"] = ERROR
    add_run_fields(run)
    add_supplement_fields(run)
    run["properties"]["tails"]["items"]["properties"]["centred"] = {
        "type": "boolean",
        "$comment": "true: truncated true totals sum each kept sequence's own change (the centred "
        "contributions); false (no per-sequence base entropies): the guide's true_contrib, whose "
        "base-entropy shares make a truncated total below q = 1 no change to compare",
    }
    run["properties"]["stale"] = {
        "type": "object",
        "required": ["reason", "last_good"],
        "properties": {"reason": {"type": "string"}, "last_good": {"type": "string"}},
    }
    loaded = {"anyOf": [{"properties": {"status": {"const": "ok"}}}, {"required": ["stale"]}]}
    cv_run = {"const": "control-variates"}
    run["allOf"] = [
        {
            "$comment": "a run that loaded (or the kept last good summary of a stale one)",
            "if": loaded,
            "then": {"required": loaded_only, "properties": {"schema": {"type": "string"}}},
        },
        {
            "$comment": "an unreadable run says what failed, where, and a hint",
            "if": {"properties": {"status": {"const": "error"}}},
            "then": {"required": ["error"]},
        },
        {
            "$comment": "control-variates runs publish their CV statistics",
            "if": {
                "required": ["schema"],
                "properties": {"schema": cv_run, "status": {"const": "ok"}},
            },
            "then": {"required": ["cv"]},
        },
    ]
    return _document("run-summary", "A run's summary.json", run)


def group_summary(group: Json) -> Json:
    add_group_fields(group)
    always = ["group", "runs", "per_eta", "batch_comparison"]
    analysed_only = [k for k in group["required"] if k not in always]
    group["required"] = always
    group["properties"]["error"] = {"type": "string"}
    group["allOf"] = [
        {
            "$comment": "a group whose analysis failed has only its id, the error, empty lists",
            "if": {"not": {"required": ["error"]}},
            "then": {"required": analysed_only},
        }
    ]
    return _document("group-summary", "A group's summary.json", group)


def manifest(body: Json) -> Json:
    runs = body["properties"]["runs"]["items"]
    runs["properties"]["schema"] = {"type": ["null", "string"], "enum": [*SCHEMA_NAMES, None]}
    runs["properties"]["stale"] = {"const": True}
    runs["properties"]["error"] = ERROR
    runs["properties"]["verdict_linear"] = VERDICT
    runs["properties"]["inputs"] = PATHS
    body["properties"]["groups"]["items"]["properties"]["inputs"] = PATHS
    body["properties"]["format"] = {"type": "integer", "minimum": 1}
    body["properties"]["studies"] = {"type": "array", "items": STUDY}
    body["properties"]["unclaimed"] = {"type": "array", "items": UNCLAIMED}
    body["properties"]["plugin_problems"] = {"type": "array", "items": PLUGIN_PROBLEM}
    return _document("manifest", "The site's manifest.json", body)


MOVED_SE = (
    "{build} build's own standard error of this ΔH at this η (se_true, se_linear or se_linquad "
    "of the field; null: it had none)"
)


def changes() -> Json:
    """0.1's ``ChangesView.to_json`` (pages/changes.py), and the fields added since."""
    number = {"type": ["null", "number"]}
    finding = {
        "type": "object",
        "required": ["id", "severity", "message", "eta"],
        "properties": {
            "id": {"type": "string"},
            "severity": {"type": "string", "enum": ["error", "warning", "info"]},
            "message": {"type": "string"},
            "eta": number,
        },
    }
    fields = ["delta_h_true", "delta_h_linear", "delta_h_linquad"]
    moved = {
        "type": "object",
        "required": ["eta", "field", "before", "after"],
        "properties": {
            "eta": {"type": "number"},
            "field": {"type": "string", "enum": fields},
            "before": number,
            "after": number,
            "se_before": number | {"$comment": MOVED_SE.format(build="the previous")},
            "se_after": number | {"$comment": MOVED_SE.format(build="this")},
        },
    }
    verdict_change = {
        "type": "object",
        "required": ["approx", "eta", "before", "after"],
        "properties": {
            "approx": {"type": "string", "enum": ["linear", "linquad"]},
            "eta": number,
            "before": VERDICT,
            "after": VERDICT,
        },
    }
    flipped = {
        "type": "object",
        "required": ["id", "before", "after"],
        "properties": {"id": {"type": "string"}, "before": VERDICT, "after": VERDICT},
    }
    population = {
        "type": "object",
        "required": ["group", "population", "before", "after"],
        "properties": {
            "group": {"type": "string"},
            "population": {"type": "string"},
            "before": VERDICT,
            "after": VERDICT,
        },
    }
    change = {
        "type": "object",
        "required": [
            *("id", "status_before", "status_after", "moved"),
            *("findings_appeared", "findings_cleared"),
        ],
        "properties": {
            "id": {"type": "string"},
            "status_before": {"type": "string"},
            "status_after": {"type": "string"},
            "moved": {"type": "array", "items": moved},
            "findings_appeared": {"type": "array", "items": finding},
            "findings_cleared": {"type": "array", "items": finding},
            "verdict_changes": {"type": "array", "items": verdict_change},
        },
    }
    ids = {"type": "array", "items": {"type": "string"}}
    body = {
        "type": "object",
        "required": ["first_build", "new", "removed", "changed"],
        "properties": {
            "first_build": {"type": "boolean"},
            "new": ids,
            "removed": ids,
            "changed": {"type": "array", "items": change},
            "verdicts": {"type": "array", "items": flipped},
            "population_verdicts": {"type": "array", "items": population},
        },
    }
    note = (
        "changes.json is not in the 0.1 snapshots (it depends on the previous build): its "
        "required fields are those of 0.1's pages/changes.py (ChangesView.to_json); those "
        "added since are optional. Fields are only ever added, so additionalProperties is "
        "allowed everywhere."
    )
    return _document("changes", "The site's changes.json", body, note)


def schemas() -> dict[str, str]:
    """File name → text of every schema."""
    derived = derived_from_snapshots()
    documents = {
        "run-summary": run_summary(derived["run-summary"]),
        "group-summary": group_summary(derived["group-summary"]),
        "manifest": manifest(derived["manifest"]),
        "changes": changes(),
    }
    return {
        f"{kind}.schema.json": json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        for kind, doc in documents.items()
    }


def main(argv: list[str]) -> int:
    folder = TESTS.parent / "reportgen" / "schemas"
    stale = [n for n, t in schemas().items() if (folder / n).read_text() != t]
    if "--check" in argv:
        print("\n".join(f"{n} differs from its derivation" for n in stale) or "up to date")
        return 1 if stale else 0
    for name, text in schemas().items():
        (folder / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
