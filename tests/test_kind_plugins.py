"""Third-party kinds through the ``reportgen.kinds`` entry point, for real: the example plug-in
in ``tests/plugins`` is made importable and given a ``.dist-info`` on ``sys.path``, so
``importlib.metadata`` finds it exactly as it finds an installed distribution."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reportgen.build import BuildOptions, build
from reportgen.check import check_tree
from reportgen.kinds.interface import ExperimentKind
from reportgen.kinds.registry import may_have_plugins, registry
from reportgen.settings import ReadOptions

PLUGIN = Path(__file__).parent / "plugins" / "reportgen_example_kind"
GOOD = "[reportgen.kinds]\nloss-curve = reportgen_example_kind\n"
BROKEN = (
    "[reportgen.kinds]\n"
    "loss-curve = reportgen_example_kind\n"
    "missing = reportgen_example_kind.not_there\n"
    "raising = reportgen_example_kind.raising\n"
)
Install = Callable[[str], None]


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    def install(entry_points: str) -> None:
        site = tmp_path / "site-packages"
        dist = site / "reportgen_example_kind-0.1.0.dist-info"
        dist.mkdir(parents=True)
        metadata = "Metadata-Version: 2.1\nName: reportgen-example-kind\nVersion: 0.1.0\n"
        (dist / "METADATA").write_text(metadata)
        (dist / "entry_points.txt").write_text(entry_points)
        monkeypatch.syspath_prepend(str(PLUGIN))
        monkeypatch.syspath_prepend(str(site))
        registry.cache_clear()

    yield install
    registry.cache_clear()


def _tree(root: Path) -> Path:
    (root / "training" / "run_a").mkdir(parents=True)
    curve = {"steps": [0, 1, 2, 3], "loss": [2.0, 1.5, 1.7, 2.5]}
    (root / "training" / "run_a" / "loss_curve.json").write_text(json.dumps(curve))
    (root / "training" / "notes.jsonl").write_text('{"loss": 1}\n')
    return root


def test_the_example_module_is_a_kind() -> None:
    import sys

    sys.path.insert(0, str(PLUGIN))
    try:
        import reportgen_example_kind

        kind: ExperimentKind = reportgen_example_kind
        assert kind.KIND == "loss-curve"
    finally:
        sys.path.remove(str(PLUGIN))


def test_a_plugin_builds_its_page_through_the_entry_point(
    install_plugin: Install, tmp_path: Path
) -> None:
    install_plugin(GOOD)
    assert may_have_plugins()
    assert [k.name for k in registry().kinds if k.plugin] == ["loss-curve"]
    tree = _tree(tmp_path / "results")
    out = tmp_path / "site"
    result = build(BuildOptions(results=tree, out=out, jobs=1))
    manifest = json.loads((out / "manifest.json").read_text())
    (study,) = manifest["studies"]
    assert study["origin"] == "plug-in loss-curve = reportgen_example_kind"
    assert study["page"] == "studies/loss-curve/training/run_a/index.html"
    assert "The loss rises." in (out / study["page"]).read_text()
    twin = json.loads((out / study["summary"]).read_text())
    schema_path = PLUGIN / "reportgen_example_kind" / "schemas" / "loss-curve.schema.json"
    import jsonschema  # type: ignore[import-untyped, unused-ignore]

    jsonschema.validate(twin, json.loads(schema_path.read_text()))
    assert result.findings["warning"] == 1  # loss-curve-rises
    assert [u["path"] for u in manifest["unclaimed"]] == ["training/notes.jsonl"]
    assert 'id="check-loss-curve-rises"' in (out / "guide.html").read_text()


def test_a_broken_plugin_costs_only_its_own_claims(install_plugin: Install, tmp_path: Path) -> None:
    install_plugin(BROKEN)
    tree = _tree(tmp_path / "results")
    out = tmp_path / "site"
    result = build(BuildOptions(results=tree, out=out, jobs=1))
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["kind"] for s in manifest["studies"]] == ["loss-curve"]
    problems = {p["plugin"]: p["reason"] for p in manifest["plugin_problems"]}
    assert problems["missing = reportgen_example_kind.not_there"].startswith("import failed")
    assert "RuntimeError" in problems["raising = reportgen_example_kind.raising"]
    assert result.findings["error"] == 2
    assert sum(f.startswith("plug-in ") for f in result.failed_runs) == 2
    assert "plug-in left out" in (out / "index.html").read_text()
    _, checked = check_tree(tree, ReadOptions())
    failed = [c for c in checked if c.status == "error"]
    assert {f.id for c in failed for f in c.findings} == {"plugin-failed"}


@pytest.mark.slow
def test_plugin_studies_render_in_worker_processes(install_plugin: Install, tmp_path: Path) -> None:
    """More studies than workers: the pool renders them, each worker finding the plug-in by
    its entry point under the build's ``sys.path``."""
    install_plugin(GOOD)
    tree = _tree(tmp_path / "results")
    for name, loss in (("run_b", [3.0, 2.0, 1.0]), ("run_c", [1.0, 0.5, 0.4])):
        (tree / "training" / name).mkdir()
        curve = {"steps": list(range(len(loss))), "loss": loss}
        (tree / "training" / name / "loss_curve.json").write_text(json.dumps(curve))
    out = tmp_path / "site"
    result = build(BuildOptions(results=tree, out=out, jobs=2))
    manifest = json.loads((out / "manifest.json").read_text())
    studies = manifest["studies"]
    assert [s["directory"] for s in studies] == [f"training/run_{x}" for x in "abc"]
    assert all(s["status"] == "ok" and s["origin"].startswith("plug-in") for s in studies)
    assert "The loss rises." in (out / studies[0]["page"]).read_text()
    assert "The loss falls." in (out / studies[1]["page"]).read_text()
    assert result.findings["warning"] == 1 and not result.failed_runs
    (tree / "training" / "run_b" / "loss_curve.json").write_text('{"loss": [3.0, 2.0,')
    result = build(BuildOptions(results=tree, out=out, jobs=2))
    stale = json.loads((out / "manifest.json").read_text())["studies"][1]
    assert stale["stale"] is True and stale["page"] == studies[1]["page"]
    page = (out / stale["page"]).read_text()
    assert "this study's files could not be read" in page and "The loss falls." in page
    assert result.failed_runs == result.stale_runs == ["loss-curve:training/run_b"]
