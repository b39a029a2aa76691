"""Only the files discovery listed are read: a file swapped for a link (or for another file)
between discovery and the read is refused with a reason, never published."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import reportgen.build
from reportgen.build import BuildOptions, build
from reportgen.build.status import input_hash
from reportgen.demo import png_bytes
from reportgen.discover import RunRef, Skipped, Tree, discover
from reportgen.load import load_run
from reportgen.load.models import LoadFailure, Run

CANARY = "CANARY-swapped-in-from-outside-5d1e"
RUN = "a/run_01"


def _tree(tmp_path: Path, sample_tree: Path) -> tuple[Path, Path]:
    """A one-run tree with a note and an image, and an outside directory holding the canary."""
    root = tmp_path / "results"
    shutil.copytree(sample_tree / "comparison_across_learning_rates/run_01", root / RUN)
    (root / RUN / "notes.md").write_text("# my notes\n")
    (root / RUN / "plot.png").write_bytes(png_bytes(np.zeros((4, 4, 3), np.uint8)))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(CANARY)
    (outside / "secret.png").write_bytes(CANARY.encode())
    (outside / "results.json").write_text(json.dumps({"B_E": 1, "secret": CANARY}))
    return root, outside


def _swap(path: Path, target: Path) -> None:
    path.unlink()
    os.symlink(target, path)


def _only_ref(tree: Tree) -> RunRef:
    (ref,) = tree.runs
    return ref


def _everything_read(loaded: Run | LoadFailure) -> bytes:
    if isinstance(loaded, LoadFailure):
        return loaded.reason.encode()
    files = (*loaded.inputs.notes, *loaded.inputs.images, *loaded.inputs.artifacts)
    texts = (loaded.config_text or "", loaded.plan_text or "")
    return b"".join(f.content for f in files) + "".join(texts).encode()


@pytest.mark.parametrize("follow", [False, True])
def test_a_file_swapped_for_an_outside_link_after_discovery_is_refused(
    tmp_path: Path, sample_tree: Path, follow: bool
) -> None:
    root, outside = _tree(tmp_path, sample_tree)
    ref = _only_ref(discover(root, follow_symlinks=follow)[0])
    _swap(root / RUN / "notes.md", outside / "secret.md")
    _swap(root / RUN / "plot.png", outside / "secret.png")
    loaded = load_run(ref, root)
    assert isinstance(loaded, Run)
    assert CANARY.encode() not in _everything_read(loaded)
    reasons = {s.path: s.reason for s in loaded.inputs.skipped}
    assert "symbolic link" in reasons[f"{RUN}/notes.md"]
    assert "symbolic link" in reasons[f"{RUN}/plot.png"]


def test_a_followed_link_re_pointed_outside_after_discovery_is_refused(
    tmp_path: Path, sample_tree: Path
) -> None:
    root, outside = _tree(tmp_path, sample_tree)
    (root / "shared.md").write_text("# shared inside the tree\n")
    os.symlink("../../shared.md", root / RUN / "linked.md")
    ref = _only_ref(discover(root, follow_symlinks=True)[0])
    assert f"{RUN}/linked.md" in ref.notes
    _swap(root / RUN / "linked.md", outside / "secret.md")
    loaded = load_run(ref, root)
    assert isinstance(loaded, Run)
    assert CANARY.encode() not in _everything_read(loaded)
    reasons = {s.path: s.reason for s in loaded.inputs.skipped}
    assert "replaced after the tree was listed" in reasons[f"{RUN}/linked.md"]


def test_a_file_replaced_by_another_file_is_refused(tmp_path: Path, sample_tree: Path) -> None:
    """A hard link to an outside file has no link to refuse: its identity gives it away."""
    root, outside = _tree(tmp_path, sample_tree)
    ref = _only_ref(discover(root)[0])
    (root / RUN / "notes.md").unlink()
    os.link(outside / "secret.md", root / RUN / "notes.md")
    loaded = load_run(ref, root)
    assert isinstance(loaded, Run)
    assert CANARY.encode() not in _everything_read(loaded)


@pytest.mark.parametrize("follow", [False, True])
def test_a_run_directory_swapped_for_an_outside_link_is_refused(
    tmp_path: Path, sample_tree: Path, follow: bool
) -> None:
    root, outside = _tree(tmp_path, sample_tree)
    ref = _only_ref(discover(root, follow_symlinks=follow)[0])
    for name in ("notes.md", "plot.png"):  # the outside directory holds the same names
        shutil.copy(outside / f"secret{Path(name).suffix}", outside / name)
    shutil.rmtree(root / RUN)
    os.symlink(outside, root / RUN)
    loaded = load_run(ref, root)
    assert isinstance(loaded, LoadFailure)
    assert "replaced after the tree was listed" in loaded.reason
    assert CANARY not in loaded.reason


def test_the_planner_hashes_only_vetted_files(tmp_path: Path, sample_tree: Path) -> None:
    """The planner opens inputs as the loader does: a swapped-in FIFO cannot block it."""
    root, _ = _tree(tmp_path, sample_tree)
    ref = _only_ref(discover(root)[0])
    before = input_hash(ref, root)
    (root / RUN / "notes.md").unlink()
    os.mkfifo(root / RUN / "notes.md")
    signal.alarm(60)  # a blocking open would hang here: fail instead
    try:
        assert input_hash(ref, root) != before
    finally:
        signal.alarm(0)


Discover = Callable[[Path, bool], tuple[Tree, tuple[Skipped, ...]]]


def _swapping_discover(swap: Callable[[Path], None]) -> Discover:
    def discover_then_swap(
        root: Path, follow_symlinks: bool = False
    ) -> tuple[Tree, tuple[Skipped, ...]]:
        found = discover(root, follow_symlinks)
        swap(root)
        return found

    return discover_then_swap


@pytest.mark.parametrize("follow", [False, True])
def test_a_build_never_publishes_a_file_swapped_after_discovery(
    tmp_path: Path, sample_tree: Path, monkeypatch: pytest.MonkeyPatch, follow: bool
) -> None:
    root, outside = _tree(tmp_path, sample_tree)

    def swap(results: Path) -> None:
        _swap(results / RUN / "notes.md", outside / "secret.md")
        _swap(results / RUN / "plot.png", outside / "secret.png")

    monkeypatch.setattr(reportgen.build, "discover", _swapping_discover(swap))
    site = tmp_path / "site"
    result = build(BuildOptions(results=root, out=site, follow_symlinks=follow))
    assert result.failed_runs == []
    for path in site.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    page = (site / "runs" / RUN / "index.html").read_text(encoding="utf-8")
    assert "notes.md</code>: not read: is a symbolic link" in page


def test_a_kind_reader_follows_no_link_and_stays_inside_the_tree(tmp_path: Path) -> None:
    """Kinds read claimed files with no discovery record: no link is followed at any level."""
    from reportgen.kinds.reading import tree_reader
    from reportgen.load.inputs import LoadError

    root = tmp_path / "results"
    (root / "study/real").mkdir(parents=True)
    (root / "study/real/data.json").write_text("{}")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.json").write_text(CANARY)
    os.symlink(outside, root / "study/linked")
    os.symlink(outside / "data.json", root / "study/real/leak.json")
    read = tree_reader(root)
    assert read("study/real/data.json") == b"{}"
    for path in ("study/linked/data.json", "study/real/leak.json", "study/../../outside/data.json"):
        with pytest.raises(LoadError) as refused:
            read(path)
        assert "not read" in refused.value.reason, path
