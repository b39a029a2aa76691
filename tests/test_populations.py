"""Populations and "what differs": runs are pooled only when they measure the same thing.

A population is one schema, field fingerprint, B_E, normalisation, label set and every
non-incidental configuration or plan value; values compare by a digest of the whole value,
every key, NaN ≠ Inf ≠ null; byte-identical results files are one run.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.analysis.diagnostics import duplicate_findings
from reportgen.analysis.populations import (
    FIELDS_KEY,
    MAX_DIFFERS,
    PopulationMember,
    counted_once,
    differing_parameters,
    duplicate_sets,
    populations,
    what_differs,
)
from reportgen.analysis.record import NormalizationRecord, RunRecord
from reportgen.demo import generate_cv_results
from reportgen.discover import discover
from reportgen.load import load_run
from reportgen.load.fingerprint import field_fingerprint, field_paths
from reportgen.load.models import Run
from reportgen.load.parameters import (
    MAX_COMPARED,
    MAX_DEPTH,
    REST_KEY,
    Incidental,
    encode,
    flatten,
    is_incidental,
    run_parameters,
)

PER_TOKEN = "per_token/per_token"


def member(
    run_id: str,
    batch: int = 256,
    *,
    fields: tuple[str, ...] = ("a", "b"),
    labels: tuple[tuple[str, str], ...] = (),
    source: str | None = None,
    plan: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    **settings: Any,
) -> PopulationMember:
    parameters = run_parameters(
        {"batch_config": {"B_E": batch}, **(config or {}), **settings}, plan
    )
    return PopulationMember(
        run_id, "snis", "|".join(fields), fields, batch, PER_TOKEN, labels,
        parameters.digests, parameters.shown, source,
    )  # fmt: skip


def ids(found: Any) -> list[tuple[str, ...]]:
    return [p.run_ids for p in found]


# --- flattening and values -------------------------------------------------------------------


def test_flatten_gives_dotted_keys_and_json_values() -> None:
    assert flatten({"a": {"b": 1, "c": [1, "x"]}, "d": None}, "config") == {
        "config.a.b": "1",
        "config.a.c": '[1,"x"]',
        "config.d": "null",
    }


def test_nan_inf_and_null_are_three_different_values() -> None:
    digests = {encode(v)[0] for v in (math.nan, math.inf, -math.inf, None, "NaN", 0.0, 0)}
    assert len(digests) == 7
    assert encode([math.nan, None])[1] == "[NaN,null]"


def test_whole_values_compare_not_their_first_200_characters() -> None:
    long_a, long_b = "x" * 500 + "a", "x" * 500 + "b"
    (da, ta), (db, tb) = encode(long_a), encode(long_b)
    assert ta == tb and ta.endswith("…") and len(ta) == 200  # shown alike…
    assert da != db  # …compared apart
    runs = [member("r1", note=long_a), member("r2", note=long_b)]
    labels = [p.label for p in populations(runs)]
    assert len(labels) == 2 and labels[0] != labels[1]  # the cut value carries its digest


def test_keys_are_unicode_normalised() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert composed != decomposed
    one = run_parameters({composed: 1}, None).digests
    other = run_parameters({decomposed: 1}, None).digests
    assert one == other
    runs = [member("r1", config={composed: 1}), member("r2", config={decomposed: 1})]
    assert ids(populations(runs)) == [("r1", "r2")]


def test_every_key_is_compared_beyond_the_shown_ones() -> None:
    big = {f"k{i:05d}": i for i in range(MAX_COMPARED + 5)}
    changed = {**big, f"k{MAX_COMPARED + 3:05d}": -1}  # differs only beyond the digested keys
    first, second = run_parameters(big, None), run_parameters(changed, None)
    assert len(first.shown) == 2_000 and first.digests[-1][0] == REST_KEY
    assert first.digests[:-1] == second.digests[:-1] and first.digests[-1] != second.digests[-1]
    runs = [member("r1", config=big), member("r2", config=changed)]
    assert len(populations(runs)) == 2


@pytest.mark.parametrize("levels", [990, 1_000])
def test_deep_nesting_flattens_without_recursion(levels: int) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(levels):
        node["k"] = {}
        node = node["k"]
    node["k"] = 1
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below the nesting: any recursion would fail
    try:
        parameters = run_parameters(deep, deep)
        shown = flatten(deep, "plan")
        text = encode(deep)[1]
    finally:
        sys.setrecursionlimit(limit)
    ((key, value),) = shown.items()
    assert key.count(".") == MAX_DEPTH and value.startswith('{"k":{"k":')
    assert len(parameters.digests) == 2 and text.endswith("…")


@pytest.mark.parametrize(
    ("key", "incidental"),
    [
        ("config.seed", True),
        ("config.generation.seed", True),
        ("config.data_seed", True),
        ("config.timestamp", True),
        ("config.output.results_dir", True),
        ("config.detailed_logging.output_directory", True),
        ("config.wandb.name", True),
        ("config.run_name", True),
        ("config.estimator.eta_list", True),
        ("plan.eta_list", True),
        # never incidental: what the experiment is
        ("config.checkpoint.checkpoint_path", False),
        ("config.model.name", False),
        ("config.batch_config.dataset_name", False),
        ("config.model.output_dim", False),
        ("config.output.log_level", False),
        ("plan.capture_per_sequence", False),
        ("config.batch_config.B_E", False),
        ("config.true_delta_h.report_per_token", False),
        ("config.seeded_sampling", False),  # a word that merely starts like "seed"
        ("config.unknown_key", False),
    ],
)
def test_incidental_keys(key: str, incidental: bool) -> None:
    assert is_incidental(key) is incidental


def test_a_tree_file_extends_the_incidental_list() -> None:
    extra = Incidental(("output.*", "config.generation.gen_batch_size"))
    assert is_incidental("config.output.log_level", extra)
    assert is_incidental("config.generation.gen_batch_size", extra)
    assert not is_incidental("config.generation.temperature", extra)
    runs = [member("r1", output={"log_level": "INFO"}), member("r2", output={"log_level": "DEBUG"})]
    assert len(populations(runs)) == 2
    assert ids(populations(runs, extra)) == [("r1", "r2")]


# --- splitting -------------------------------------------------------------------------------


def test_seeds_do_not_split_but_a_real_setting_does() -> None:
    runs = [
        member("E_256/run_01", 256, seed=1, estimator={"clip_c": 10}),
        member("E_256/run_02", 256, seed=2, estimator={"clip_c": 10}),
        member("E_256/run_03", 256, seed=3, estimator={"clip_c": 5}),
        member("E_512/run_01", 512, seed=4, estimator={"clip_c": 10}),
    ]
    diffs = {d.key: d for d in differing_parameters(runs)}
    assert set(diffs) == {"config.seed", "config.estimator.clip_c", "config.batch_config.B_E"}
    assert not diffs["config.seed"].splits and diffs["config.estimator.clip_c"].splits
    found = populations(runs)
    assert ids(found) == [("E_256/run_01", "E_256/run_02"), ("E_256/run_03",), ("E_512/run_01",)]
    # named by what tells it apart, never by what all share; a key that splits exactly as an
    # earlier one (config.batch_config.B_E after B_E) is named once
    assert found[0].key_json() == {"B_E": "256", "config.estimator.clip_c": "10"}
    assert found[2].label == "B_E = 512, config.estimator.clip_c = 10"
    # chart titles: what tells a population from every other (B_E alone for the only 512)
    assert [p.short_label for p in found] == ["B_E 256, clip_c 10", "clip_c 5", "B_E 512"]


def test_short_labels_keep_what_tells_populations_apart_not_their_common_prefix() -> None:
    """Populations alike in their first parts (schema, B_E, a long field label) used to be cut
    to one title; each title now names the parts that differ, whole where a cut would merge."""
    long_model = {"name": "a-model-name-longer-than-any-title-allows"}
    runs = [
        member("old/run_01", fields=("a",), labels=(("epoch", "pre-fix"),)),
        member("old/run_02", fields=("a",), labels=(("epoch", "pre-fix"),), plan={"cap": False}),
        member("new/run_01", model=long_model),
        member("new/run_02", model={"name": long_model["name"] + "-b"}),
        member("new/run_03", 2048, model=long_model),
    ]
    found = populations(runs)
    old_way = {p.label[:25] for p in found}  # what the cut at 26 characters kept
    assert len(old_way) < len(found)
    shorts = [p.short_label for p in found]
    assert len(set(shorts)) == len(found), shorts
    assert shorts[4] == "B_E 2048"
    # the two long model names differ only at their end: cut, if at all, after they part
    seen = [shorts[i].split("…")[0] for i in (2, 3)]
    assert not seen[0].startswith(seen[1]) and not seen[1].startswith(seen[0]), seen
    # the fewest parts that tell each apart, a value "(not set)" only where it is what differs
    assert shorts[:2] == ["without b, cap (not set)", "cap false"]


def test_a_lone_population_keeps_its_short_key() -> None:
    (only,) = populations([member("run_01"), member("run_02")])
    assert only.short_label == "schema snis, B_E 256, nor…"


def test_one_population_when_only_incidentals_differ() -> None:
    runs = [
        member(f"run_0{i}", seed=i, estimator={"eta_list": [i]}, output={"results_dir": f"/r{i}"})
        for i in range(3)
    ]
    (only,) = populations(runs)
    assert only.run_ids == tuple(r.id for r in runs)
    assert only.key_json() == {"schema": "snis", "B_E": "256", "normalization": PER_TOKEN}


@pytest.mark.parametrize(
    "config",
    [
        {"model": {"name": "llama-7b"}},
        {"batch_config": {"B_E": 256, "dataset_name": "math"}},
        {"checkpoint": {"checkpoint_path": "/ckpt/step_400"}},
        {"model": {"output_dim": 4096}},
        {"extra_unknown": 1},
    ],
)
def test_what_the_experiment_is_always_splits(config: dict[str, Any]) -> None:
    base = member("a", model={"name": "gpt2", "output_dim": 768})
    other = member("b", **({"model": {"name": "gpt2", "output_dim": 768}} | config))
    assert ids(populations([base, other])) == [("a",), ("b",)]


def test_field_fingerprint_labels_and_normalisation_split() -> None:
    post = member("post", fields=("a", "a.x", "b"))
    pre = member("pre", fields=("a", "b"))
    labelled = member("tagged", fields=("a", "a.x", "b"), labels=(("epoch", "pre-fix"),))
    per_seq = dataclasses.replace(member("seq", fields=("a", "a.x", "b")), normalization="x/y")
    found = populations([post, pre, labelled, per_seq])
    assert ids(found) == [("post",), ("pre",), ("tagged",), ("seq",)]
    assert found[1].key_json()[FIELDS_KEY] == "without x"
    assert found[2].key_json()["label.epoch"] == "pre-fix"
    rows = {d.key: d for d in differing_parameters([post, pre, labelled])}
    assert rows[FIELDS_KEY].splits and dict(rows[FIELDS_KEY].values)["pre"] == "without x"
    assert dict(rows["label.epoch"].values) == {"post": None, "pre": None, "tagged": "pre-fix"}


def test_fields_are_named_against_their_own_schema() -> None:
    snis = member("snis", fields=("a", "a.x"))
    sweep = dataclasses.replace(member("sweep", fields=("s", "s.y")), schema="eta-sweep")
    bare = member("bare", fields=("a",))
    found = {p.run_ids: p.key_json()[FIELDS_KEY] for p in populations([snis, sweep, bare])}
    # a sweep's fields are not "missing" from an SNIS file, nor the other way round
    assert found == {("snis",): "every field", ("sweep",): "every field", ("bare",): "without x"}
    extra_a = member("extra_a", fields=("a", "a.x", "b"))
    extra_b = member("extra_b", fields=("a", "a.x", "c"))
    names = [p.key_json()[FIELDS_KEY] for p in populations([extra_a, extra_b])]
    assert names[0] != names[1] and all(n.startswith("without ") for n in names)


def test_populations_do_not_depend_on_member_order() -> None:
    runs = [member(f"r{i}", 256 if i % 2 else 512, seed=i) for i in range(6)]
    forward = {frozenset(p.run_ids) for p in populations(runs)}
    assert forward == {frozenset(p.run_ids) for p in populations(runs[::-1])}


# --- duplicates ------------------------------------------------------------------------------


def test_byte_identical_runs_count_once() -> None:
    runs = [
        member("run_with_denom_fix/run_01", source="h1"),
        member("old/run_01", source="h1"),
        member("old/run_02", source="h2"),
        member("new/run_03", source="h1"),
    ]
    (dup,) = duplicate_sets(runs)
    assert dup.run_ids == ("new/run_03", "old/run_01", "run_with_denom_fix/run_01")
    assert dup.canonical == "new/run_03"  # the first id in code-point order
    assert [m.id for m in counted_once(runs)] == ["old/run_02", "new/run_03"]
    (only,) = populations(runs)
    assert only.run_ids == ("old/run_02", "new/run_03")
    assert only.copies == (
        ("old/run_01", "new/run_03"),
        ("run_with_denom_fix/run_01", "new/run_03"),
    )
    assert duplicate_sets(runs[::-1]) == duplicate_sets(runs)
    (finding,) = duplicate_findings(duplicate_sets(runs))
    assert finding.id == "duplicate-run" and finding.severity == "info"
    assert finding.message.startswith(
        "old/run_01, run_with_denom_fix/run_01 are byte-identical to new/run_03"
    )
    assert finding.message.endswith(": counted once") and duplicate_findings(()) == ()


# --- what differs stays bounded --------------------------------------------------------------


def test_what_differs_lists_splitting_keys_first_and_counts_the_rest() -> None:
    runs = [
        member(f"r{i}", seed=i, config={f"k{j:04d}": (i if j % 2 else 0) for j in range(2_000)})
        for i in range(3)
    ]
    found = what_differs(runs)
    assert len(found.shown) == MAX_DIFFERS
    assert found.total == 1_001 and found.more == 1_001 - MAX_DIFFERS  # odd keys + the seed
    assert found.splitting == 1_000 and all(d.splits for d in found.shown)
    incidental_last = what_differs(runs, limit=5_000).shown
    assert [d.key for d in incidental_last][-1] == "config.seed" and not incidental_last[-1].splits


def test_what_differs_holds_values_of_the_listed_keys_only() -> None:
    """40 runs × 2,000 differing keys (the 188 MB page): 50 keys × 40 values are kept."""
    runs = [
        member(f"r{i:02d}", config={f"k{j:04d}": f"{i}-{j}" for j in range(2_000)})
        for i in range(40)
    ]
    found = what_differs(runs)
    assert sum(len(d.values) for d in found.shown) == MAX_DIFFERS * 40
    assert found.more == 2_000 - MAX_DIFFERS
    assert all(len(value or "") <= 200 for d in found.shown for _, value in d.values)


# --- field fingerprints ----------------------------------------------------------------------


def test_fingerprint_ignores_sizes_and_eta_keys() -> None:
    one = {"per": [{"a": 1, "x": {"y": 2}}], "true": {"entries": [{"eta": 1}]}, "r": {"8e-07": 1}}
    many = {
        "per": [{"a": 3, "x": {"y": 4}}] * 50,
        "true": {"entries": [{"eta": 1}, {"eta": 2}]},
        "r": {"1.6e-06": 2, "3.2e-06": 3},
    }
    assert field_fingerprint(one) == field_fingerprint(many)
    assert field_paths(one) == {"per", "per[].a", "per[].x", "per[].x.y", "true",
                                "true.entries", "true.entries[].eta", "r", "r.#"}  # fmt: skip
    prefix = {**one, "per": [{"a": 1, "x": {}}]}  # a pre-fix record: no y
    assert field_fingerprint(prefix).sha256 != field_fingerprint(one).sha256


def test_the_names_of_a_runs_plot_files_do_not_split_it() -> None:
    """Which scatter plots a control-variate run writes depends on its data; a missing
    summary block still splits."""
    rng = np.random.default_rng(0)
    cv, _ = generate_cv_results(rng, n_seqs=16)
    plots = {k for k in cv["paths"] if k.startswith("plot_")}
    other = {**cv, "paths": {k: v for k, v in cv["paths"].items() if k not in plots}}
    other["paths"]["plot_another_feature"] = "scatter_another_feature.png"
    assert field_fingerprint(other) == field_fingerprint(cv)
    fewer = {**cv, "summary": {k: v for k, v in cv["summary"].items() if k != "ols_beta"}}
    assert field_fingerprint(fewer).sha256 != field_fingerprint(cv).sha256


def test_fingerprint_of_a_deep_file_does_not_recurse() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5_000):
        node["k"] = [{}]
        node = node["k"][0]
    assert field_fingerprint(deep).count > 0


# --- on loaded runs --------------------------------------------------------------------------


def test_loaded_records_carry_the_fingerprint_and_digests(sample_tree: Path) -> None:
    tree, _ = discover(sample_tree)
    loaded = [load_run(r, sample_tree) for r in tree.runs]
    snis = {r.ref.id.split("full_data/")[1]: r for r in loaded if isinstance(r, Run) and r.snis}
    prints = {k: r.fields.sha256 for k, r in snis.items() if r.fields is not None}
    # run_03 has no quadratic block and E_512/run_02 no per-sequence capture: each its own
    assert prints["E_256/run_01"] == prints["E_256/run_02"] == prints["E_512/run_01"]
    assert len({prints["E_256/run_01"], prints["E_256/run_03"], prints["E_512/run_02"]}) == 3
    assert all(r.parameter_digests for r in snis.values())


@pytest.mark.shared
def test_shared_tree_splits_by_batch_size_only(shared_results: Path) -> None:
    tree, _ = discover(shared_results)
    loaded = [load_run(r, shared_results) for r in tree.runs]
    snis = [r for r in loaded if isinstance(r, Run) and r.ref.id.startswith("diagnostics_run")]
    assert len(snis) == 6
    norm = NormalizationRecord("per_token", "per_token", "config.yaml of this run", None)
    records = [
        RunRecord(
            r.ref.id, r.ref.source, "ok", "h", "0", (), schema=r.schema.value,
            normalization=norm, batch_size=int(r.ref.id.split("/E_")[1].split("/")[0]),
            parameters=r.parameters, parameter_digests=r.parameter_digests,
            fields_sha256=r.fields.sha256 if r.fields else None,
            fields=r.fields.paths if r.fields else (), source_sha256=r.inputs.source_sha256,
        )
        for r in snis
    ]  # fmt: skip
    found = populations([r.member for r in records])
    assert [len(p.run_ids) for p in found] == [4, 2]
    assert [p.key_json()["B_E"] for p in found] == ["256", "512"]


def test_missing_fields_are_named_by_suffixes_that_tell_them_apart() -> None:
    from reportgen.analysis.populations import distinct_suffixes

    paths = ["summary.corr.var_logp", "summary.ols_beta.var_logp", "summary.n_seqs"]
    assert distinct_suffixes(paths) == ["corr.var_logp", "ols_beta.var_logp", "n_seqs"]
    assert distinct_suffixes(["a.b", "b"]) == ["a.b", "b"]  # a path that is another's suffix
