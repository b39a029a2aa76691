"""reportgen.toml (labels, incidental keys, margin, fit windows, title) and git dates."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from reportgen.build import BuildOptions, build
from reportgen.cli import main
from reportgen.demo import generate_snis_results, snis_config_text
from reportgen.demo.common import orjson_bytes
from reportgen.load.history import FirstCommit, first_commits, parse_log
from reportgen.pages import paths
from reportgen.treefile import (
    NO_TREE_FILE,
    TREE_FILE,
    TreeFileError,
    parse_tree_file,
    read_tree_file,
)
from tests.test_imports import _build_in_subprocess

VALID = b"""\
title = "My tree"
equivalence_margin = 0.15
incidental = ["generation.gen_batch_size"]

[[labels]]
runs = "old/*"
epoch = "pre-fix"
note = "Before the fix."

[[labels]]
runs = ["old/run_02", "new/*"]
epoch = "post-fix"
gpu = "a100"

[fit]
"diag/*" = { eta_min = 8e-7, eta_max = 3.2e-6 }
"sweeps" = { eta_max = 1e-5 }
"""


def test_a_valid_tree_file() -> None:
    tree = parse_tree_file(VALID)
    assert tree.settings == {"title": "My tree", "equivalence_margin": 0.15}
    assert tree.incidental == ("generation.gen_batch_size",)
    first = tree.for_run("old/run_01", "old/run_01/results.json")
    assert first.labels == (("epoch", "pre-fix"),) and first.notes == ("Before the fix.",)
    second = tree.for_run("old/run_02", "old/run_02/results.json")  # the later rule wins
    assert second.labels == (("epoch", "post-fix"), ("gpu", "a100"))
    assert second.notes == ("Before the fix.",)
    assert tree.for_run("other/run", "other/run/results.json").labels == ()
    window = tree.fit_window("diag/E_256")
    assert window is not None and window.contains(1.6e-6) and not window.contains(6.4e-6)
    assert tree.fit_window("sweeps") is not None and tree.fit_window("elsewhere") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'title = 3\n', "reportgen.toml, line 1: title: must be a string"),
        (b'\n\nequivalence_margin = 1.5\n', "line 3: equivalence_margin: must be between 0 and 1"),
        (b'equivalence_margin = "x"\n', "line 1: equivalence_margin: must be a number"),
        (b'titel = "x"\n', "line 1: titel: unknown setting (known: "),
        (b'incidental = "seed"\n', "line 1: incidental: must be a list of non-empty strings"),
        (b'[[labels]]\nruns = "a/*"\nepoch = "x"\n\n[[labels]]\nruns = "b"\nepoch = 2\n',
         "line 7: labels[1].epoch: a label's value must be a non-empty string"),
        (b'[[labels]]\nepoch = "x"\n', "line 1: labels[0].runs: missing"),
        (b'[[labels]]\nruns = "a"\n', "labels[0].runs: declares neither a label"),
        (b'[[labels]]\nruns = []\nepoch = "x"\n', "line 2: labels[0].runs: must name at least"),
        (b'[[labels]]\nruns = "a"\n"bad key" = "x"\n', "labels[0].bad key: a label name is"),
        (b'[fit]\n"g/*" = { eta_min = 2e-6, eta_max = 1e-6 }\n',
         'line 2: fit."g/*": eta_min (2e-06) must be below eta_max (1e-06)'),
        (b'[fit]\n"g" = { eta_min = -1 }\n', 'fit."g": η bounds must be positive'),
        (b'[fit]\n"g" = { from = 1 }\n', 'fit."g": must be { eta_min'),
        (b'labels = 3\n', "line 1: labels: must be an array of tables"),
        (b'title = "a\n', "reportgen.toml: "),
        (b'title = "\xff"\n', "reportgen.toml: not UTF-8"),
    ],
)  # fmt: skip
def test_every_problem_names_the_line_and_key(text: bytes, message: str) -> None:
    with pytest.raises(TreeFileError) as error:
        parse_tree_file(text)
    assert message in str(error.value)


def test_no_tree_file_means_no_settings(tmp_path: Path) -> None:
    assert read_tree_file(tmp_path) == NO_TREE_FILE
    (tmp_path / TREE_FILE).write_bytes(b"x" * (1 << 20 + 1))
    with pytest.raises(TreeFileError, match="larger than"):
        read_tree_file(tmp_path)


# --- in a build ------------------------------------------------------------------------------


def small_tree(root: Path, sizes: tuple[int, int] = (128, 128)) -> Path:
    """Two small runs of one batch whose configs differ only in generation.gen_batch_size."""
    etas = (1e-6, 2e-6)
    for k, batch in enumerate(sizes):
        rel = root / f"batch/run_{k + 1:02d}"
        rel.mkdir(parents=True)
        rng = np.random.default_rng([5, k])
        (rel / "results.json").write_bytes(
            orjson_bytes(generate_snis_results(rng, n_sequences=24, etas=etas))
        )
        config = snis_config_text(24, etas).replace(
            "gen_batch_size: 128", f"gen_batch_size: {batch}"
        )
        (rel / "config.yaml").write_text(config)
    return root


def group_populations(site: Path) -> list[list[str]]:
    data = json.loads((site / paths.group_summary("batch")).read_text())
    return [p["runs"] for p in data["populations"]]


def test_tree_file_labels_incidentals_title_and_margin_reach_the_site(tmp_path: Path) -> None:
    tree = small_tree(tmp_path / "results", (128, 64))
    site = tmp_path / "site"
    command = ["build", str(tree), "-o", str(site), "-q", "-j", "1", "--bootstrap", "0"]
    assert main(command) == 0
    assert len(group_populations(site)) == 2  # a setting differs: two populations
    (tree / TREE_FILE).write_text(
        'title = "Labelled"\nequivalence_margin = 0.3\nincidental = ["gen_batch_size"]\n'
        '[[labels]]\nruns = "batch/run_02"\ncohort = "b"\nnote = "Second cohort."\n'
    )
    assert main(command) == 0  # the file changed: rebuilt
    assert group_populations(site) == [["batch/run_01"], ["batch/run_02"]]  # the label splits
    summary = json.loads((site / paths.run_summary("batch/run_02")).read_text())
    assert summary["labels"] == {"cohort": "b"}
    assert summary["uncertainty"]["equivalence_margin"] == 0.3
    page = (site / paths.run_page("batch/run_02")).read_text()
    assert "cohort = b" in page and "Second cohort." in page and "Labelled" in page
    (tree / TREE_FILE).write_text('incidental = ["gen_batch_size"]\n')
    assert main([*command, "--title", "Given", "--equivalence-margin", "0.1"]) == 0
    assert group_populations(site) == [["batch/run_01", "batch/run_02"]]  # incidental: pooled
    summary = json.loads((site / paths.run_summary("batch/run_02")).read_text())
    assert summary["labels"] == {} and summary["uncertainty"]["equivalence_margin"] == 0.1
    assert "Given" in (site / "index.html").read_text()


def test_a_broken_tree_file_stops_build_and_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = small_tree(tmp_path / "results")
    (tree / TREE_FILE).write_text('[[labels]]\nruns = "x"\nepoch = 1\n')
    site = tmp_path / "site"
    assert main(["build", str(tree), "-o", str(site), "-q"]) == 2
    assert main(["check", str(tree)]) == 2
    err = capsys.readouterr().err
    message = "reportgen.toml, line 3: labels[0].epoch: a label's value must be a non-empty string"
    assert err.count(message) == 2 and "Traceback" not in err
    assert not site.exists()


def test_a_noop_build_without_tree_file_reads_no_toml_and_runs_no_git(tmp_path: Path) -> None:
    tree = small_tree(tmp_path / "results")
    site = tmp_path / "site"
    build(BuildOptions(results=tree, out=site))  # the command line's defaults
    code, modules, stdout = _build_in_subprocess(str(tree), "-o", str(site), "-j", "1")
    assert "up to date" in stdout and code == 0
    assert not {"tomllib", "reportgen.load.history", "subprocess"} & set(modules)


# --- git dates -------------------------------------------------------------------------------


def git(cwd: Path, *args: str, date: str = "2024-03-05T10:00:00") -> None:
    env = {
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_first_commit_of_each_results_file_on_its_page(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    tree = small_tree(repo / "results")
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "results/batch/run_01")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "two",
        date="2024-06-07T10:00:00")  # fmt: skip
    found = first_commits(tree)
    first, second = found["batch/run_01/results.json"], found["batch/run_02/results.json"]
    assert (first.date, second.date) == ("2024-03-05", "2024-06-07")
    assert len(first.commit) >= 7 and first.commit != second.commit
    site = tmp_path / "site"
    build(BuildOptions(results=tree, out=site, bootstrap=0))
    page = (site / paths.run_page("batch/run_01")).read_text()
    assert f"first committed 2024-03-05 (<code>{first.commit}</code>)" in page
    assert first_commits(tmp_path / "elsewhere") == {}  # not a work tree: no dates, no error


def test_git_log_output_keeps_each_files_first_add() -> None:
    output = (
        b"\x01aaaaaaa 2024-01-02\x00\nx/results.json\x00y.json\x00\x00"
        b"\x01bbbbbbb 2024-02-03\x00\nx/results.json\x00"
    )
    assert parse_log(output) == {
        "x/results.json": FirstCommit("2024-01-02", "aaaaaaa"),
        "y.json": FirstCommit("2024-01-02", "aaaaaaa"),
    }
    assert parse_log(b"") == {}
