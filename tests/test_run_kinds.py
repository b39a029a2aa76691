"""The run schemas as kinds: each satisfies ``RunKind``, loads the runs of its schema, and the
run stage, the API and ``check`` read every run through the kind its results object has."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reportgen.analysis import RunAnalysis
from reportgen.analysis.diagnostics import CHECKS
from reportgen.build.runs import analyzed_run
from reportgen.discover import RESULTS_PATTERN, discover
from reportgen.kinds import runs
from reportgen.kinds.claiming import RunClaims
from reportgen.kinds.interface import RunKind
from reportgen.kinds.registry import registry, reserved_names
from reportgen.kinds.runs import (
    CONTROL_VARIATES,
    ETA_SWEEP,
    GENERIC,
    SNIS,
    RunSchemaKind,
    run_kind,
    run_kinds,
)
from reportgen.load import load_run, read_results
from reportgen.load.models import LoadFailure, Run, Schema
from reportgen.settings import BuildOptions

MAX_BYTES = 1 << 28
SCHEMAS_DIR = Path(runs.__file__).parent.parent / "schemas"


@pytest.fixture(scope="module")
def every_schema_tree(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample tree (SNIS, sweep and CV runs) plus a run of no known schema."""
    root = tmp_path_factory.mktemp("kinds") / "results"
    shutil.copytree(sample_tree, root)
    other = root / "other_experiment" / "run_01"
    other.mkdir(parents=True)
    (other / "results.json").write_text(json.dumps({"loss": 0.25, "steps": 10}))
    return root


def test_each_run_kind_satisfies_the_interface_in_schema_order() -> None:
    kinds: list[RunKind] = [SNIS, ETA_SWEEP, CONTROL_VARIATES, GENERIC]  # mypy checks these
    assert list(run_kinds()) == kinds
    assert [k.KIND for k in run_kinds()] == [s.value for s in Schema]  # detect_schema's order
    assert all(run_kind(k.KIND) is k for k in kinds)
    with pytest.raises(KeyError):
        run_kind("influence")


def test_run_kinds_name_results_files_and_ship_their_twin_schema() -> None:
    for kind in run_kinds():
        assert kind.matches("a/b/eval_results_final.json")
        assert not kind.matches("a/results_dir/config.yaml")
        assert kind.sniff(b"")
        assert (SCHEMAS_DIR / kind.SCHEMA).is_file()


def test_run_kinds_checks_are_the_registered_run_checks() -> None:
    guide = {c.id for c in CHECKS}
    for kind in run_kinds():
        ids = [c.id for c in kind.CHECKS]
        assert ids and set(ids) <= guide
        assert "non-finite" in ids and "parse-error" not in ids  # a load failure has no run


def test_every_run_is_loaded_by_the_kind_of_its_schema(every_schema_tree: Path) -> None:
    tree, _ = discover(every_schema_tree)
    seen: set[str] = set()
    for ref in tree.runs:
        results = read_results(ref, every_schema_tree, MAX_BYTES)
        assert not isinstance(results, LoadFailure), results
        kind = run_kind(results.schema)
        loaded = kind.load(ref, every_schema_tree, MAX_BYTES, results)
        assert isinstance(loaded, Run), loaded
        assert loaded.schema == kind.KIND
        direct = load_run(ref, every_schema_tree, MAX_BYTES)
        assert isinstance(direct, Run)
        assert (direct.schema, direct.fields, direct.facts) == (
            loaded.schema,
            loaded.fields,
            loaded.facts,
        )
        seen.add(kind.KIND)
    assert seen == {k.KIND for k in run_kinds()}


def test_the_kind_does_the_load(every_schema_tree: Path) -> None:
    """A SNIS results object loaded by the generic kind is a generic run: the schema's block
    comes from the kind, not from the file."""
    tree, _ = discover(every_schema_tree)
    ref = next(r for r in tree.runs if r.id.startswith("diagnostics_run"))
    results = read_results(ref, every_schema_tree, MAX_BYTES)
    assert not isinstance(results, LoadFailure)
    assert results.schema is Schema.SNIS
    loaded = GENERIC.load(ref, every_schema_tree, MAX_BYTES, results)
    assert isinstance(loaded, Run)
    assert loaded.schema is Schema.GENERIC and loaded.snis is None and loaded.generic


def test_the_run_stage_reads_each_run_through_its_kind(
    every_schema_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[str] = []

    class Recording(RunSchemaKind):
        def load(self, *args: object) -> Run | LoadFailure:
            used.append(self.KIND)
            return super().load(*args)  # type: ignore[arg-type]

    recording = {k.KIND: Recording(k.KIND) for k in run_kinds()}
    monkeypatch.setattr(runs, "run_kind", lambda name: recording[name])
    tree, _ = discover(every_schema_tree)
    options = BuildOptions(results=every_schema_tree, bootstrap=0)
    analyses = [analyzed_run(ref, every_schema_tree, options) for ref in tree.runs]
    assert all(isinstance(a, RunAnalysis) for a in analyses)
    expected = [a.run.schema for a in analyses if isinstance(a, RunAnalysis)]
    assert used == expected and set(used) == {k.KIND for k in run_kinds()}


def test_a_plugin_cannot_take_a_run_kinds_name() -> None:
    builtin = [k for k in registry().kinds if not k.plugin]
    taken = reserved_names(builtin)
    assert {k.KIND for k in run_kinds()} <= taken
    assert {k.name for k in builtin} <= taken
    assert not {k.name for k in registry().kinds} & {k.KIND for k in run_kinds()}


def test_the_claiming_adapter_is_made_of_the_run_kinds() -> None:
    adapter = RunClaims(())
    assert adapter.kinds == run_kinds()
    assert adapter.PATTERNS == (RESULTS_PATTERN,)
    assert adapter.matches("a/run_01/results.json") and not adapter.matches("a/log.jsonl")

    class PerLine(RunSchemaKind):
        def matches(self, path: str) -> bool:
            return path.endswith("_results.jsonl")

    custom = RunClaims((), kinds=[SNIS, PerLine("per-line", PATTERNS=("*_results.jsonl",))])
    assert custom.PATTERNS == (RESULTS_PATTERN, "*_results.jsonl")
    assert custom.matches("a/eval_results.jsonl") and custom.matches("a/results.json")
