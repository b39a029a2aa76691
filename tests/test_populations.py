"""Populations and "what differs": runs are pooled only when nothing but incidentals differ."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportgen.analysis.populations import differing_parameters, populations
from reportgen.analysis.record import NormalizationRecord, RunRecord
from reportgen.discover import discover
from reportgen.load import load_run
from reportgen.load.models import Run
from reportgen.load.parameters import flatten, is_incidental, run_parameters

PER_TOKEN = NormalizationRecord("per_token", "per_token", "config.yaml of this run", None)


def record(run_id: str, batch: int, **config: object) -> RunRecord:
    parameters = run_parameters({"batch_config": {"B_E": batch}, **config}, None)
    return RunRecord(
        run_id, f"{run_id}/results.json", "ok", "h", "0", (), schema="snis",
        normalization=PER_TOKEN, batch_size=batch, parameters=parameters,
    )  # fmt: skip


def test_flatten_gives_dotted_keys_and_json_values() -> None:
    assert flatten({"a": {"b": 1, "c": [1, "x"]}, "d": None}, "config") == {
        "config.a.b": "1",
        "config.a.c": '[1,"x"]',
        "config.d": "null",
    }


@pytest.mark.parametrize(
    ("key", "incidental"),
    [
        ("config.seed", True),
        ("config.generation.seed", True),
        ("config.checkpoint.checkpoint_path", True),
        ("config.output.results_dir", True),
        ("config.estimator.eta_list", True),
        ("plan.capture_per_sequence", True),
        ("config.batch_config.B_E", False),
        ("config.true_delta_h.report_per_token", False),
        ("config.estimator.clip_c", False),
        ("config.seeded_sampling", False),  # a word that merely starts like "seed"
    ],
)
def test_incidental_keys(key: str, incidental: bool) -> None:
    assert is_incidental(key) is incidental


def test_seeds_do_not_split_but_a_real_setting_does() -> None:
    runs = [
        record("E_256/run_01", 256, seed=1, estimator={"clip_c": 10}),
        record("E_256/run_02", 256, seed=2, estimator={"clip_c": 10}),
        record("E_256/run_03", 256, seed=3, estimator={"clip_c": 5}),
        record("E_512/run_01", 512, seed=4, estimator={"clip_c": 10}),
    ]
    diffs = {d.key: d for d in differing_parameters(runs)}
    assert set(diffs) == {"config.seed", "config.estimator.clip_c", "config.batch_config.B_E"}
    assert not diffs["config.seed"].splits and diffs["config.estimator.clip_c"].splits
    found = populations(runs)
    assert [p.run_ids for p in found] == [
        ("E_256/run_01", "E_256/run_02"),
        ("E_256/run_03",),
        ("E_512/run_01",),
    ]
    # each is named by what tells it apart, never by what all runs share, and a key that splits
    # exactly as an earlier one (config.batch_config.B_E after B_E) is named once
    assert found[0].key_json() == {"B_E": "256", "config.estimator.clip_c": "10"}
    assert found[2].label == "B_E = 512, config.estimator.clip_c = 10"


def test_one_population_when_only_seeds_differ() -> None:
    runs = [record(f"run_0{i}", 256, seed=i) for i in range(3)]
    (only,) = populations(runs)
    assert only.run_ids == tuple(r.id for r in runs)
    assert only.key_json() == {
        "schema": "snis",
        "B_E": "256",
        "normalization": "per_token/per_token",
    }


@pytest.mark.shared
def test_shared_tree_splits_by_batch_size_only(shared_results: Path) -> None:
    tree, _ = discover(shared_results)
    loaded = [load_run(r, shared_results) for r in tree.runs]
    snis = [r for r in loaded if isinstance(r, Run) and r.ref.id.startswith("diagnostics_run")]
    assert len(snis) == 6
    runs = [
        RunRecord(
            r.ref.id, r.ref.source, "ok", "h", "0", (), schema=r.schema.value,
            normalization=PER_TOKEN, batch_size=int(r.ref.id.split("/E_")[1].split("/")[0]),
            parameters=r.parameters,
        )
        for r in snis
    ]  # fmt: skip
    found = populations(runs)
    assert [len(p.run_ids) for p in found] == [4, 2]
    assert [p.key_json()["B_E"] for p in found] == ["256", "512"]
