"""Batch manifests checked against the tree: runs found by path suffix, missing runs and files
named, placeholder zeros named, runs beside the manifest that it does not list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reportgen.demo.batch_manifest import (
    CV_ROOT,
    DIAGNOSTICS_ROOT,
    PLOTS,
    write_cv_manifest,
    write_timing_manifest,
)
from reportgen.kinds import batch_manifest
from reportgen.kinds.batch_manifest import ManifestCheck, check_manifest, manifest_view
from reportgen.kinds.batch_manifest.checks import (
    AMBIGUOUS,
    FILE_MISSING,
    RUN_MISSING,
    UNLISTED,
    UNREADABLE,
    ZEROS,
)
from reportgen.kinds.reading import NotRead, tree_reader
from reportgen.pages.render import environment
from tests.formats import SCHEMAS

BATCH = "diagnostics_run/batch_0914"
RUNS = ("run_01", "run_02", "run_03")


def tree_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def make_runs(root: Path, directory: str, runs: tuple[str, ...]) -> list[str]:
    for run in runs:
        (root / directory / run).mkdir(parents=True, exist_ok=True)
        (root / directory / run / "results.json").write_text("{}")
    return [f"{directory}/{run}" for run in runs]


def checked(root: Path, path: str, run_dirs: list[str] | None = None) -> ManifestCheck:
    data = batch_manifest.read_manifest(path, tree_reader(root))
    assert not isinstance(data, NotRead), data
    return check_manifest(path, data, tree_files(root), run_dirs or [])


def ids(check: ManifestCheck) -> list[str]:
    return [f.id for f in check.findings]


def test_recognised_by_name_and_first_bytes(tmp_path: Path) -> None:
    demo = write_timing_manifest(tmp_path / BATCH, RUNS)
    assert batch_manifest.matches(f"{BATCH}/index.json")
    assert not batch_manifest.matches(f"{BATCH}/index.html")
    assert batch_manifest.sniff(demo.path.read_bytes())
    assert not batch_manifest.sniff(b'{"runs": []}')


def test_timing_batch_runs_found_by_suffix_missing_named_zeros_named(tmp_path: Path) -> None:
    run_dirs = make_runs(tmp_path, BATCH, RUNS)
    make_runs(tmp_path, "comparison_across_learning_rates", ("run_05",))  # same name elsewhere
    demo = write_timing_manifest(tmp_path / BATCH, RUNS)
    check = checked(tmp_path, f"{BATCH}/index.json", run_dirs)
    assert check.shape == "timing"
    found = {e.name: e.run_path for e in check.entries}
    for run in RUNS:
        listed = found[run]
        assert listed is not None and listed.listed == f"{DIAGNOSTICS_ROOT}/{run}"
        assert (listed.tree_path, listed.match, listed.matched_parts) == (
            f"{BATCH}/{run}",
            "suffix",
            1,
        )
    missing = found["run_05"]  # one shared component outside the batch is not enough
    assert missing is not None and (missing.tree_path, missing.match) == (None, "missing")
    assert [e.name for e in check.missing] == list(demo.missing)
    assert {e.name: e.placeholder_zeros for e in check.entries if e.placeholder_zeros} == dict(
        demo.zeros
    )
    messages = {f.id: f.message for f in check.findings}
    assert messages[RUN_MISSING] == f"{BATCH}/index.json lists 4 runs; 1 not in the tree: run_05"
    assert messages[ZEROS].startswith(f"{BATCH}/index.json: 5 value(s) of exactly 0 in 1 row(s)")
    assert "run_02: timing.total_s, timing.true_s, variance.se_shard" in messages[ZEROS]
    assert set(ids(check)) == {RUN_MISSING, ZEROS}


def test_a_complete_clean_batch_has_no_findings(tmp_path: Path) -> None:
    run_dirs = make_runs(tmp_path, BATCH, RUNS)
    write_timing_manifest(tmp_path / BATCH, RUNS, missing=(), placeholders=())
    check = checked(tmp_path, f"{BATCH}/index.json", run_dirs)
    assert check.findings == () and all(e.present for e in check.entries)


def test_cv_batch_files_mapped_and_a_missing_plot_named(tmp_path: Path) -> None:
    folders = {"run_01": "cv_20250915_000501", "run_02": "cv_20250915_001413"}
    for run, folder in folders.items():
        cv = tmp_path / "CVs_and_gdotv/run1" / run / folder
        cv.mkdir(parents=True)
        for name in ("cv_per_seq.csv", "cv_summary.json", *PLOTS):
            (cv / name).write_bytes(b"x")
    (tmp_path / "CVs_and_gdotv/run1/run_02/cv_20250915_001413" / PLOTS[1]).unlink()
    write_cv_manifest(tmp_path / "CVs_and_gdotv/run1", folders)
    check = checked(tmp_path, "CVs_and_gdotv/run1/index.json")
    assert check.shape == "cv"
    first = check.entries[0]
    assert first.run_path is not None and first.run_path.tree_path == "CVs_and_gdotv/run1/run_01"
    assert [(f.field, f.tree_path, f.matched_parts) for f in first.files] == [
        ("cv_csv", "CVs_and_gdotv/run1/run_01/cv_20250915_000501/cv_per_seq.csv", 3),
        ("cv_summary", "CVs_and_gdotv/run1/run_01/cv_20250915_000501/cv_summary.json", 3),
        ("plots[0]", f"CVs_and_gdotv/run1/run_01/cv_20250915_000501/{PLOTS[0]}", 3),
        ("plots[1]", f"CVs_and_gdotv/run1/run_01/cv_20250915_000501/{PLOTS[1]}", 3),
    ]
    messages = {f.id: f.message for f in check.findings}
    assert messages[FILE_MISSING].endswith("not in the tree: run_02 plots[1]")
    assert messages[RUN_MISSING].endswith("1 not in the tree: run_03")  # the demo's absent run
    assert ZEROS not in messages  # summary numbers are real, not zeros


def test_relative_paths_and_runs_not_listed(tmp_path: Path) -> None:
    run_dirs = make_runs(tmp_path, BATCH, (*RUNS, "run_06"))
    rows = [{"run": r, "path": r, "timing": {"total_s": 3.0}} for r in RUNS]
    rows[0]["path"] = f"{BATCH}/run_01"  # tree-relative as written
    check = check_manifest(f"{BATCH}/index.json", rows, tree_files(tmp_path), run_dirs)
    assert [e.run_path.match for e in check.entries if e.run_path] == [
        "exact",
        "relative",
        "relative",
    ]
    assert check.unlisted_runs == (f"{BATCH}/run_06",)
    assert ids(check) == [UNLISTED]


def test_equally_good_matches_are_ambiguous_not_guessed(tmp_path: Path) -> None:
    make_runs(tmp_path, "a/old", ("run_07",))
    make_runs(tmp_path, "b/old", ("run_07",))
    rows = [{"run": "run_07", "path": "/elsewhere/old/run_07", "timing": {}}]
    check = check_manifest("batches/index.json", rows, tree_files(tmp_path))
    (entry,) = check.entries
    assert entry.run_path is not None and entry.run_path.match == "ambiguous"
    assert entry.run_path.candidates == ("a/old/run_07", "b/old/run_07")
    assert set(ids(check)) == {AMBIGUOUS}
    # a longer common ending wins over a shorter one beside the manifest
    make_runs(tmp_path, "c/new/old", ("run_07",))
    rows[0]["path"] = "/x/new/old/run_07"
    (entry,) = check_manifest("batches/index.json", rows, tree_files(tmp_path)).entries
    assert entry.run_path is not None and entry.run_path.tree_path == "c/new/old/run_07"


@pytest.mark.parametrize("data", [{"runs": []}, [], [1, 2], [{"run": "x", "note": "no path"}]])
def test_anything_but_a_list_of_runs_is_named(data: Any) -> None:
    check = check_manifest("x/index.json", data, [])
    assert check.shape == "unknown" and ids(check) == [UNREADABLE]
    assert check.findings[0].message.startswith("x/index.json: ")


def test_unreadable_manifest_is_a_value(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text("[{")
    result = batch_manifest.read_manifest("index.json", tree_reader(tmp_path))
    assert isinstance(result, NotRead) and "not JSON" in result.reason


def test_json_form_validates_and_the_schema_can_fail(tmp_path: Path) -> None:
    import jsonschema  # type: ignore[import-untyped, unused-ignore]

    run_dirs = make_runs(tmp_path, BATCH, RUNS)
    write_timing_manifest(tmp_path / BATCH, RUNS)
    data = json.loads(
        json.dumps(batch_manifest.manifest_json(checked(tmp_path, f"{BATCH}/index.json", run_dirs)))
    )
    document = json.loads((SCHEMAS / batch_manifest.SCHEMA).read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    check = jsonschema.Draft202012Validator(document)
    assert list(check.iter_errors(data)) == []
    assert [e["present"] for e in data["entries"]] == [True, True, True, False]
    data["entries"][0]["run_path"]["match"] = "close enough"
    assert len(list(check.iter_errors(data))) == 1


def test_the_partial_links_found_runs_and_escapes_names(tmp_path: Path) -> None:
    run_dirs = make_runs(tmp_path, BATCH, RUNS)
    rows = [
        {"run": "<b>run_01</b>", "path": f"{DIAGNOSTICS_ROOT}/run_01", "timing": {"total_s": 0}},
        {"run": "run_09", "path": f"{DIAGNOSTICS_ROOT}/run_09", "timing": {"total_s": 1.0}},
    ]
    check = check_manifest(f"{BATCH}/index.json", rows, tree_files(tmp_path), run_dirs)
    view = manifest_view(check, {f"{BATCH}/run_01": "../../runs/x/run_01/index.html"})
    assert view.headline == (
        "1 of 2 listed runs are in the tree; 1 value(s) of exactly 0 look like placeholders; "
        "2 run(s) beside it are not listed."
    )
    html = environment().get_template(batch_manifest.PARTIAL).render(manifest=view)
    assert '<a href="../../runs/x/run_01/index.html">diagnostics_run/batch_0914/run_01</a>' in html
    assert "&lt;b&gt;run_01&lt;/b&gt;" in html and "<b>run_01" not in html
    assert "<strong>not in the tree</strong>" in html
    assert "<code>timing.total_s</code>" in html
    assert "/<wbr>RL_Practice_Files/<wbr>" in html  # a long listed path wraps at its slashes
    assert f"<code>{BATCH}/run_02</code>, <code>{BATCH}/run_03</code>" in html


@pytest.mark.shared
def test_the_real_cv_aggregate_rows_map_two_of_eight_runs(shared_results: Path) -> None:
    """The aggregate's run_dir paths come from another machine; only run_01 and run_02 exist."""
    aggregate = "CVs_and_gdotv/run1/cv_runs_aggregate.json"
    rows = json.loads((shared_results / aggregate).read_text())["rows"]
    assert all(row["run_dir"].startswith(CV_ROOT) for row in rows)
    check = check_manifest(aggregate, rows, tree_files(shared_results))
    found = {
        e.run_path.listed.rsplit("/", 1)[-1]: e.run_path.tree_path
        for e in check.entries
        if e.run_path
    }
    assert found == {
        "run_01": "CVs_and_gdotv/run1/run_01",
        "run_02": "CVs_and_gdotv/run1/run_02",
        **{f"run_0{i}": None for i in range(3, 9)},  # not the comparison or diagnostics run_0i
    }
    assert check.findings[0].id == RUN_MISSING
