"""Names from the tree never break the site: no spreadsheet formula in a CSV, no broken
breadcrumb, no directory taking a file's path, no two paths that are one on a case-insensitive
host, and no planner reading a file the loader would skip as too large."""

from __future__ import annotations

import csv
import io
import json
import os
import posixpath
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.build import BuildOptions, build
from reportgen.build import status as build_status
from reportgen.charts.export import datasets_csv
from reportgen.csvcells import text_cell
from reportgen.discover import discover, folded
from reportgen.pages import paths
from reportgen.pages.render import relative_href
from tests.sitecheck import broken_links

RUN = "comparison_across_learning_rates/run_01"
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(1)", "\tx", "\rx"]
READER_JS = Path(__file__).resolve().parents[1] / "templates/static/reportgen.js"


def _copy_run(sample_tree: Path, root: Path, *targets: str) -> None:
    for target in targets:
        shutil.copytree(sample_tree / RUN, root / target)


# --- CSV injection ---------------------------------------------------------------------------


def test_text_cells_that_start_like_formulas_are_kept_as_text() -> None:
    assert [text_cell(f) for f in FORMULAS] == ["'" + f for f in FORMULAS]
    assert text_cell("run_01") == "run_01"


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_figure_csvs_neutralise_text_cells_only() -> None:
    names = [*FORMULAS, "plain", "-1"]
    datasets = {"runs": [{"run": np.array(names), "y": np.arange(8) - 3.5}]}
    made = datasets_csv(datasets, ["runs"])
    assert made is not None
    header, *rows = _rows(made.decode())
    assert header == ["run", "y"]
    assert [r[0] for r in rows] == [text_cell(n) for n in names]  # "-1" is a name: text
    assert [r[1] for r in rows] == ["-3.5", "-2.5", "-1.5", "-0.5", "0.5", "1.5", "2.5", "3.5"]


def _reader_function(name: str) -> str:
    """One function of reportgen.js, as written (it ends at the first line closing it)."""
    text = READER_JS.read_text(encoding="utf-8")
    start = re.search(rf"^( *)function {name}\(", text, re.MULTILINE)
    assert start is not None
    end = text.index(f"\n{start.group(1)}}}\n", start.start())
    return text[start.start() : end + len(start.group(1)) + 3]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run reportgen.js")
def test_the_pages_csv_download_neutralises_the_same_way() -> None:
    """The page's "Data (CSV)" link is made in the browser: the same cells, the same rule."""
    names = [*FORMULAS, "plain", "-1"]
    columns = [{"run": names, "y": [-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5]}]
    call = f"process.stdout.write(csvFromDataset({json.dumps(columns)}));"
    program = f"{_reader_function('csvFromDataset')}\n{call}"
    made = subprocess.run(["node", "-e", program], capture_output=True, check=True)
    expected = datasets_csv({"runs": [{k: np.array(v) for k, v in columns[0].items()}]}, ["runs"])
    assert expected is not None
    assert made.stdout.decode() == expected.decode()  # byte for byte


# --- breadcrumbs and directories named like a run's files -------------------------------------


def test_breadcrumbs_of_a_results_file_inside_a_run_directory_resolve(
    sample_tree: Path, tmp_path: Path
) -> None:
    root = tmp_path / "results"
    _copy_run(sample_tree, root, "a/run_01", "a/b/run_02")
    shutil.copy(root / "a/run_01/results.json", root / "a/run_01/extra_results.json")
    shutil.copy(root / "a/run_01/results.json", root / "a/b/late_results.json")
    build(BuildOptions(results=root, out=tmp_path / "site"))
    assert broken_links(tmp_path / "site") == []
    crumbs = paths.run_crumbs("a/run_01/extra_results", "a/run_01")
    assert [(c.title, c.href) for c in crumbs] == [
        ("Index", "index.html"),
        ("a", "groups/a/index.html"),
        ("run_01/extra_results", None),
    ]


@pytest.mark.parametrize("name", ["record.json", "figures", "Index.html", "SUMMARY.JSON"])
def test_a_nested_run_directory_named_like_a_runs_file_is_renamed(
    sample_tree: Path, tmp_path: Path, name: str
) -> None:
    root = tmp_path / "results"
    _copy_run(sample_tree, root, "a/run_01", f"a/run_01/{name}")
    result = build(BuildOptions(results=root, out=tmp_path / "site"))
    assert result.failed_runs == []
    manifest = json.loads((tmp_path / "site/manifest.json").read_text())
    pages = {r["id"]: r["page"] for r in manifest["runs"]}
    assert pages["a/run_01"] == "runs/a/run_01/index.html"
    assert f"/{name}/" not in pages[f"a/run_01/{name}"]


@pytest.mark.slow
def test_a_nested_run_directory_named_like_a_figure_does_not_stop_figures(
    sample_tree: Path, tmp_path: Path
) -> None:
    root = tmp_path / "results"
    _copy_run(sample_tree, root, "a/run_01", "a/run_01/figures/eta-curve.svg")
    result = build(BuildOptions(results=root, out=tmp_path / "site", figures=("svg",)))
    assert result.failed_runs == []
    figure = tmp_path / "site/runs/a/run_01/figures/eta-curve.svg"
    assert figure.is_file() and figure.read_bytes().lstrip().startswith(b"<svg")


# --- case-insensitive hosts --------------------------------------------------------------------


def _site_paths(site: Path) -> list[str]:
    return [p.relative_to(site).as_posix() for p in site.rglob("*")]


def test_paths_differing_only_in_case_or_normal_form_are_made_distinct(
    sample_tree: Path, tmp_path: Path
) -> None:
    root = tmp_path / "results"
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    _copy_run(sample_tree, root, "X/run_01", "x/run_01", "x/Run_01", f"{nfc}/run", f"{nfd}/run")
    tree, _ = discover(root)
    ids = [r.id for r in tree.runs]
    assert len({folded(i) for i in ids}) == len(ids) == 5
    assert "x~2/Run_01" in ids and "x~2/run_01~2" in ids  # upper case sorts first
    build(BuildOptions(results=root, out=tmp_path / "site"))
    site_paths = _site_paths(tmp_path / "site")
    assert len({folded(p) for p in site_paths}) == len(site_paths)
    manifest = json.loads((tmp_path / "site/manifest.json").read_text())
    sources = sorted(r["source"] for r in manifest["runs"])
    assert sources == sorted(
        f"{d}/results.json"
        for d in ("X/run_01", "x/run_01", "x/Run_01", f"{nfc}/run", f"{nfd}/run")
    )
    assert broken_links(tmp_path / "site") == []


# --- the planner stats before it hashes -------------------------------------------------------


def test_a_sparse_file_too_large_to_read_costs_the_planner_nothing(
    sample_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "results"
    _copy_run(sample_tree, root, "a/run_01")
    with (root / "a/run_01/huge.png").open("wb") as handle:
        handle.truncate(8 * 1024**3)  # 8 GiB, no disk
    (ref,) = discover(root)[0].runs
    read: list[int] = []
    real_read = os.read

    def counting_read(fd: int, size: int) -> bytes:
        data = real_read(fd, size)
        read.append(len(data))
        return data

    monkeypatch.setattr(os, "read", counting_read)
    build_status.input_hash(ref, root, max_bytes=256 * 1024**2)
    small = sum((root / p).stat().st_size for p in ref.inputs if not p.endswith("huge.png"))
    assert sum(read) == small


SITE_PARTS = st.sampled_from(["runs", "groups", "a", "b", "index.html", "x.json", "", ".", ".."])


@given(st.lists(SITE_PARTS, max_size=5), st.lists(SITE_PARTS, max_size=5), st.booleans())
@settings(max_examples=500)
def test_relative_hrefs_are_what_posixpath_relpath_gives(
    page: list[str], target: list[str], absolute: bool
) -> None:
    from_page = ("/" if absolute and len(page) % 2 else "") + "/".join(page)
    to_path = ("/" if absolute and len(target) % 2 == 0 else "") + "/".join(target)
    start = posixpath.dirname(from_page) or "."
    try:
        expected = posixpath.relpath(to_path, start)
    except ValueError:  # an empty path
        with pytest.raises(ValueError):
            relative_href(from_page, to_path)
        return
    assert relative_href(from_page, to_path) == expected
