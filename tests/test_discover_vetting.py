"""A run without config.yaml borrows its first sibling's: what discovery vetted for it is that
file and its directory as listed (through a link only where discovery followed one), so a config
swapped after the listing is refused, as the run's own inputs are."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from reportgen.discover import RunRef, discover
from reportgen.vetted import Replaced, identity, open_vetted


def batch(root: Path, config: Path | None = None) -> None:
    """``batch/run_01`` with a config (a link to ``config`` if given), ``batch/run_02`` without."""
    for run in ("run_01", "run_02"):
        (root / "batch" / run).mkdir(parents=True)
        (root / "batch" / run / "results.json").write_text("{}")
    own = root / "batch/run_01/config.yaml"
    if config is None:
        own.write_text("lr: 1\n")
    else:
        os.symlink(config, own)


def borrower(root: Path, follow: bool = False) -> RunRef:
    tree, _ = discover(root, follow)
    runs = {ref.id: ref for ref in tree.runs}
    assert runs["batch/run_01"].config == "batch/run_01/config.yaml"
    ref = runs["batch/run_02"]
    assert ref.config is None and ref.sibling_config == "batch/run_01/config.yaml"
    return ref


def test_a_borrowed_config_is_vetted_as_listed(tmp_path: Path) -> None:
    batch(tmp_path)
    ref = borrower(tmp_path)
    vetted = ref.vetted_files()
    assert vetted is not None and not vetted.linked
    for path in ("batch/run_01/config.yaml", "batch/run_01", "batch/run_02/results.json"):
        assert vetted.by_path[path] == identity(os.stat(tmp_path / path, follow_symlinks=False))
    os.close(open_vetted(tmp_path, "batch/run_01/config.yaml", vetted))
    other = tmp_path / "batch/other.yaml"
    other.write_text("lr: 2\n")
    other.replace(tmp_path / "batch/run_01/config.yaml")  # another file under the same name
    with pytest.raises(Replaced):
        open_vetted(tmp_path, "batch/run_01/config.yaml", vetted)


def test_a_borrowed_config_reached_through_a_followed_link_is_opened_through_it(
    tmp_path: Path,
) -> None:
    root = tmp_path / "results"
    shared = root / "shared.yaml"  # inside the tree: a link discovery may follow
    root.mkdir()
    shared.write_text("lr: 1\n")
    batch(root, shared)
    unfollowed, _ = discover(root)  # the link is not followed: no config to borrow
    assert all(ref.config is None and ref.sibling_config is None for ref in unfollowed.runs)
    vetted = borrower(root, follow=True).vetted_files()
    assert vetted is not None and vetted.linked == {"batch/run_01/config.yaml"}
    assert vetted.by_path["batch/run_01/config.yaml"] == identity(os.stat(shared))
    os.close(open_vetted(root, "batch/run_01/config.yaml", vetted))


def test_each_file_is_one_string_for_the_inventory_and_the_runs(tmp_path: Path) -> None:
    """The tree is held through a whole build: a path named by the inventory and by a run's
    roles is one object, and so are a run's id and its directory when they are equal."""
    batch(tmp_path)
    (tmp_path / "batch/run_02/notes.md").write_text("# notes\n")
    (tmp_path / "batch/run_02/x_results.json").write_text("{}")
    tree, _ = discover(tmp_path)
    listed = {path: path for path in tree.files}
    runs = {ref.id: ref for ref in tree.runs}
    assert set(runs) == {"batch/run_01", "batch/run_02", "batch/run_02/x_results"}
    for ref in tree.runs:
        assert all(path is listed[path] for path in ref.inputs)
    assert runs["batch/run_02"].id is runs["batch/run_02"].directory
    assert runs["batch/run_02/x_results"].directory == "batch/run_02"


def test_what_discovery_keeps_for_the_build_has_no_dict_even_once_pickled(tmp_path: Path) -> None:
    """A run's reference goes to a worker pickled; pickling gives a dataclass without slots a
    dict of its own, which the build would hold for every run until it ends."""
    batch(tmp_path)
    tree, _ = discover(tmp_path)
    ref = tree.runs[1]
    for value in (ref, ref.vetted, tree.groups[0], pickle.loads(pickle.dumps(ref))):
        pickle.dumps(value)
        assert not hasattr(value, "__dict__")
    assert pickle.loads(pickle.dumps(ref)).vetted == ref.vetted
