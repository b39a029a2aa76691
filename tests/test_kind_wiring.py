"""The experiment kinds in the build: claims, study pages and twins, the inventory of files no
kind claimed, the manifest, index, diagnostics, guide, ``check`` and incremental rebuilds."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from reportgen.build import BuildOptions, BuildResult, build
from reportgen.check import check_tree
from reportgen.demo import generate_sample_tree
from reportgen.demo.studies import FISHER_DIR, INFLUENCE_DIR, MANIFEST_DIR, NOTEBOOK, RB_DIR
from reportgen.kinds.claiming import Unclaimed
from reportgen.pages.studies import UNCLAIMED_PAGE_SIZE, Inventory
from reportgen.settings import ReadOptions
from tests.formats import validator

SCHEMAS = Path(__file__).resolve().parents[1] / "reportgen" / "schemas"
KIND_SCHEMAS = {
    "influence": "kind-influence.schema.json",
    "fisher": "kind-fisher.schema.json",
    "jackknife-study": "kind-jackknife-study.schema.json",
    "rb-convergence": "kind-rb-convergence.schema.json",
    "batch-manifest": "batch-manifest.schema.json",
}


@pytest.fixture(scope="module")
def studies_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, BuildResult]:
    tree = generate_sample_tree(tmp_path_factory.mktemp("kinds") / "results", studies=True)
    out = tree.parent / "site"
    result = build(BuildOptions(results=tree, out=out, jobs=1, bootstrap=0))
    return tree, out, result


def _manifest(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return data


def _tree_files(tree: Path) -> set[str]:
    found = set()
    for directory, dirs, files in os.walk(tree):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith("."):
                found.add(Path(directory, name).relative_to(tree).as_posix())
    return found


@pytest.mark.slow
def test_inputs_and_unclaimed_cover_the_tree_each_file_once(
    studies_site: tuple[Path, Path, BuildResult],
) -> None:
    tree, out, _ = studies_site
    manifest = _manifest(out)
    run_inputs = {p for run in manifest["runs"] for p in run["inputs"]}
    run_inputs |= {p for group in manifest["groups"] for p in group.get("inputs", ())}
    study_inputs = [p for study in manifest["studies"] for p in study["inputs"]]
    unclaimed = [u["path"] for u in manifest["unclaimed"]]
    assert len(study_inputs) == len(set(study_inputs))  # no file in two studies
    assert not run_inputs & set(study_inputs)
    assert not (run_inputs | set(study_inputs)) & set(unclaimed)
    assert len(unclaimed) == len(set(unclaimed))
    assert run_inputs | set(study_inputs) | set(unclaimed) == _tree_files(tree)
    rows = {u["path"]: u for u in manifest["unclaimed"]}
    assert rows[NOTEBOOK]["kind"] == "notebook"
    assert rows[NOTEBOOK]["bytes"] == (tree / NOTEBOOK).stat().st_size


@pytest.mark.slow
def test_every_kind_has_a_page_and_a_valid_twin(
    studies_site: tuple[Path, Path, BuildResult],
) -> None:
    _, out, _ = studies_site
    studies = _manifest(out)["studies"]
    assert {s["kind"] for s in studies} == set(KIND_SCHEMAS)
    assert any(s["directory"] == RB_DIR for s in studies)  # pickles, via the safe unpickler
    for study in studies:
        assert study["status"] == "ok", study
        assert study["page"].startswith(f"studies/{study['kind']}/")
        assert (out / study["page"]).is_file()
        twin = json.loads((out / study["summary"]).read_text())
        schema = json.loads((SCHEMAS / KIND_SCHEMAS[study["kind"]]).read_text())
        errors = list(validator_for(schema).iter_errors(twin))
        assert errors == [], (study["id"], errors[:3])
    assert validator("manifest").is_valid(_manifest(out))


def validator_for(schema: dict[str, Any]) -> Any:
    import jsonschema  # type: ignore[import-untyped, unused-ignore]

    return jsonschema.Draft202012Validator(schema)


@pytest.mark.slow
def test_site_pages_show_the_studies_and_the_inventory(
    studies_site: tuple[Path, Path, BuildResult],
) -> None:
    _, out, result = studies_site
    index = (out / "index.html").read_text()
    for study in _manifest(out)["studies"]:
        assert f'href="{study["page"]}"' in index
    batch = (out / f"studies/batch-manifest/{MANIFEST_DIR}/index.html").read_text()
    assert f'href="../../../../../runs/{MANIFEST_DIR}/run_01/index.html"' in batch
    assert 'href="unclaimed.html"' in index
    assert NOTEBOOK in (out / "unclaimed.html").read_text()
    diagnostics = (out / "diagnostics.html").read_text()
    assert "influence-baseline-per-sequence" in diagnostics and "fisher-one-prompt" in diagnostics
    guide = (out / "guide.html").read_text()
    assert 'id="check-influence-baseline-per-sequence"' in guide
    assert 'id="check-plugin-failed"' in guide
    assert result.findings["error"] >= 1  # the planted sum-rule violation is counted
    run = _manifest(out)["runs"][0]
    summary = json.loads((out / run["summary"]).read_text())
    assert summary["inputs"] == run["inputs"] and run["source"] in run["inputs"]


@pytest.mark.slow
def test_check_reports_the_kinds_findings(studies_site: tuple[Path, Path, BuildResult]) -> None:
    tree, _, _ = studies_site
    _, checked = check_tree(tree, ReadOptions(bootstrap=0))
    by_source = {c.source: c for c in checked}
    influence = by_source[f"influence:{INFLUENCE_DIR}"]
    assert "influence-baseline-per-sequence" in {f.id for f in influence.findings}
    fisher = by_source[f"fisher:{FISHER_DIR}"]
    assert "fisher-one-prompt" in {f.id for f in fisher.findings}
    manifest = by_source[f"batch-manifest:{MANIFEST_DIR}"]
    assert {"manifest-run-missing", "manifest-placeholder-zeros"} <= {
        f.id for f in manifest.findings
    }


@pytest.mark.slow
def test_a_changed_study_input_rebuilds_its_page_only(tmp_path: Path) -> None:
    tree = generate_sample_tree(tmp_path / "results", studies=True)
    out = tmp_path / "site"
    options = BuildOptions(results=tree, out=out, jobs=1, bootstrap=0)
    build(options)
    again = build(options)
    assert again.up_to_date
    (tree / INFLUENCE_DIR / "eval_00_diagnostics.json").write_text("{")  # now not read
    changed = build(options)
    assert not changed.up_to_date
    influence_page = f"studies/influence/{INFLUENCE_DIR}/index.html"
    fisher_page = f"studies/fisher/{FISHER_DIR}/index.html"
    assert influence_page in changed.written
    assert fisher_page in changed.kept
    shutil.copy(tree / NOTEBOOK, tree / "notebooks" / "copy.ipynb")  # a new unclaimed file
    assert not build(options).up_to_date
    assert "notebooks/copy.ipynb" in {u["path"] for u in _manifest(out)["unclaimed"]}


def test_unclaimed_files_are_paged_by_directory() -> None:
    files = tuple(
        Unclaimed(f"d{i % 3}/f{i:05d}.bin", "other", i, "no kind recognises this file")
        for i in range(2 * UNCLAIMED_PAGE_SIZE + 7)
    )
    inventory = Inventory((), (), tuple(sorted(files, key=lambda u: u.path)), ())
    pages = inventory.pages()
    assert [p.path for p in pages] == ["unclaimed.html", "unclaimed-2.html", "unclaimed-3.html"]
    listed = [f for page in pages for group in page.groups for f in group.files]
    assert sorted(listed, key=lambda u: u.path) == sorted(files, key=lambda u: u.path)
    assert all(len({f.path.split("/")[0] for f in g.files}) == 1 for p in pages for g in p.groups)
    assert inventory.unclaimed_bytes == sum(range(len(files)))


def test_discovery_lists_every_file(tmp_path: Path) -> None:
    from reportgen.discover import discover

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.pkl").write_bytes(b"\x80\x04" + b"0" * 10)
    (tmp_path / ".hidden").write_text("no")
    tree, _ = discover(tmp_path)
    assert tree.files == ("a/x.pkl",)


@pytest.mark.slow
def test_a_noop_build_with_studies_imports_no_heavy_module(
    studies_site: tuple[Path, Path, BuildResult], tmp_path: Path
) -> None:
    from tests.test_imports import _build_in_subprocess, _heavy

    tree, out, _ = studies_site
    site = tmp_path / "site"
    shutil.copytree(out, site)
    code, modules, stdout = _build_in_subprocess(
        str(tree), "-o", str(site), "-j", "1", "--bootstrap", "0"
    )
    assert "up to date" in stdout
    assert code in (0, 1)  # the sample tree holds deliberately broken runs (exit code 1)
    assert _heavy(modules) == []
    assert "importlib.metadata" not in modules  # no plug-in installed: entry points unread


def test_builtin_kinds_satisfy_the_interface() -> None:
    from reportgen.kinds import fisher, influence, jackknife, rb_convergence
    from reportgen.kinds.batch_manifest import kind as batch_manifest
    from reportgen.kinds.interface import ExperimentKind
    from reportgen.kinds.registry import BUILTIN_MODULES, missing_attributes, registry

    kinds: list[ExperimentKind] = [influence, fisher, jackknife, rb_convergence, batch_manifest]
    assert [k.KIND for k in kinds] == [k.name for k in registry().kinds if not k.plugin]
    assert len(kinds) == len(BUILTIN_MODULES)
    assert all(missing_attributes(k) == [] for k in kinds)
