"""Discovery and tolerant loading: one loader per schema generation, normalisation sources."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reportgen.demo import generate_snis_results
from reportgen.discover import discover, run_id
from reportgen.load import detect_schema, load_run, parse_json
from reportgen.load.models import LoadFailure, Run, Schema


def load_one(root: Path, run: str) -> Run:
    tree, _ = discover(root)
    ref = next(r for r in tree.runs if r.id == run)
    loaded = load_run(ref, root)
    assert isinstance(loaded, Run), loaded
    return loaded


def test_discovery_finds_runs_groups_and_ignores_noise(sample_tree: Path) -> None:
    tree, skipped = discover(sample_tree)
    ids = [r.id for r in tree.runs]
    assert ids == sorted(ids)
    assert "diagnostics_run/full_data/E_256/run_01" in ids
    assert len(ids) == 9
    groups = {g.id for g in tree.groups}
    assert {
        "diagnostics_run",
        "diagnostics_run/full_data",
        "diagnostics_run/full_data/E_256",
    } <= groups
    assert not any(g.endswith(("run_01", "notebooks")) for g in groups)
    assert skipped == ()
    assert tree.incomplete == ()


def test_results_name_variants_and_incomplete_runs(tmp_path: Path) -> None:
    for rel in (
        "a/run_1/results2.json",
        "a/run_2/entropy_experiment_results.json",
        "b/results.json",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    (tmp_path / "a/run_3").mkdir()
    (tmp_path / "a/run_3/plan.json").write_text("{}")
    (tmp_path / "a/run_1/notes.md").write_text("# hi")
    (tmp_path / "a/stray.csv").write_text("x\n1\n")
    tree, _ = discover(tmp_path)
    assert [r.id for r in tree.runs] == [
        "a/run_1/results2",
        "a/run_2/entropy_experiment_results",
        "b",
    ]
    assert tree.runs[0].notes == ("a/run_1/notes.md",)
    assert [i.directory for i in tree.incomplete] == ["a/run_3"]
    assert [g.id for g in tree.groups] == ["a"]


def test_run_id_strips_the_standard_name() -> None:
    assert run_id("x/run_01/results.json") == "x/run_01"
    assert run_id("x/run_01/results2.json") == "x/run_01/results2"
    assert run_id("results.json") == "results"


def test_snis_loader(sample_tree: Path) -> None:
    run = load_one(sample_tree, "diagnostics_run/full_data/E_256/run_01")
    assert run.schema is Schema.SNIS and run.snis is not None
    approx = run.snis.approx
    assert approx.per_sequence is not None and len(approx.per_sequence) == 256
    assert np.array_equal(approx.per_sequence.index, np.arange(256))
    assert approx.quadratic is not None and approx.quadratic.eta_star is not None
    assert [e.eta for e in run.snis.entries] == sorted(e.eta for e in run.snis.entries)
    entry = run.snis.entries[0]
    assert entry.normalized_weights is not None and entry.token_counts is not None
    assert entry.normalized_weights.shape == (256,)
    assert run.normalization.source == "config.yaml of this run"
    assert run.capture_per_sequence is True
    assert {f.label for f in run.facts} >= {"B_E", "Sequences", "Tokens", "Estimator"}


def test_snis_run_without_optional_blocks(sample_tree: Path) -> None:
    no_quadratic = load_one(sample_tree, "diagnostics_run/full_data/E_256/run_03")
    assert no_quadratic.snis is not None and no_quadratic.snis.approx.quadratic is None
    assert no_quadratic.snis.has_control_variates is False
    no_records = load_one(sample_tree, "diagnostics_run/full_data/E_512/run_02")
    assert no_records.snis is not None and no_records.snis.approx.per_sequence is None
    assert no_records.capture_per_sequence is False


def test_sibling_config_supplies_the_normalisation(sample_tree: Path) -> None:
    run = load_one(sample_tree, "diagnostics_run/full_data/E_256/run_02")
    assert run.ref.config is None
    assert run.ref.sibling_config == "diagnostics_run/full_data/E_256/run_01/config.yaml"
    assert "sibling" in run.normalization.source
    assert run.normalization.true_mode == "per_token"


def test_per_sequence_config_selects_the_per_sequence_formula(tmp_path: Path) -> None:
    run_dir = tmp_path / "g" / "run_01"
    run_dir.mkdir(parents=True)
    data = generate_snis_results(np.random.default_rng(1), n_sequences=8, etas=[1e-6, 2e-6])
    (run_dir / "results.json").write_text(json.dumps(data))
    (run_dir / "config.yaml").write_text(
        "true_delta_h:\n  report_per_token: false\napprox_delta_h:\n  normalize: per_sequence\n"
    )
    run = load_one(tmp_path, "g/run_01")
    assert run.normalization.true_mode == "per_sequence"
    assert run.normalization.approx_mode == "per_sequence"
    assert not run.normalization.is_per_token


def test_sweep_loader(sample_tree: Path) -> None:
    run = load_one(sample_tree, "comparison_across_learning_rates/run_01")
    assert run.schema is Schema.SWEEP and run.sweep is not None
    assert np.all(np.diff(run.sweep.etas) > 0)
    assert run.sweep.curvature is not None and run.sweep.curvature.vhvv is not None
    assert np.all(np.isfinite(run.sweep.delta_h_linquad))


def test_cv_loader(sample_tree: Path) -> None:
    run = load_one(sample_tree, "CVs_and_gdotv/run1/run_01")
    assert run.schema is Schema.CV and run.cv is not None
    assert run.cv.var_after_cv_joint is not None
    assert any(f.corr is not None for f in run.cv.features)
    assert any(a.endswith(".png") for a in run.ref.artifacts)
    assert any(a.endswith("cv_per_seq.csv") for a in run.ref.artifacts)


def test_unknown_object_gets_generic_fields(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x/results.json").write_text(
        json.dumps({"alpha": 1.5, "nested": {"b": "text"}, "values": [1, 2, 3]})
    )
    run = load_one(tmp_path, "x")
    assert run.schema is Schema.GENERIC
    fields = {f.path: f for f in run.generic}
    assert fields["alpha"].value == 1.5
    assert fields["nested.b"].value == "text"
    assert (fields["values"].length, fields["values"].minimum, fields["values"].maximum) == (
        3,
        1.0,
        3.0,
    )


def test_schema_detection() -> None:
    assert detect_schema({"approx": {"delta_h_per_lr": 1.0}}) is Schema.SNIS
    assert detect_schema({"true": {"entries": []}}) is Schema.SNIS
    assert detect_schema({"sweep": []}) is Schema.SWEEP
    assert detect_schema({"summary": {"corr": {}}}) is Schema.CV
    assert detect_schema({"summary": {}}) is Schema.GENERIC


def test_nan_tokens_and_numeric_strings_are_accepted() -> None:
    assert np.isnan(parse_json(b'{"a": NaN}')["a"])
    assert parse_json(b'{"a": -Infinity}')["a"] == float("-inf")


def test_json_errors_carry_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r/results.json").write_text('{\n  "a": 1,\n  "b": ]\n}')
    tree, _ = discover(tmp_path)
    failure = load_run(tree.runs[0], tmp_path)
    assert isinstance(failure, LoadFailure)
    assert (failure.line, failure.column) == (3, 8)
    assert "invalid JSON" in failure.reason


def test_shared_tree_loads_every_run(shared_results: Path, tmp_path: Path) -> None:
    tree, _ = discover(shared_results)
    schemas = {}
    for ref in tree.runs:
        loaded = load_run(ref, shared_results)
        assert isinstance(loaded, Run), loaded
        schemas[ref.id] = loaded.schema
    assert set(schemas.values()) == {Schema.SNIS, Schema.SWEEP, Schema.CV}
    assert sum(s is Schema.SNIS for s in schemas.values()) == 6
