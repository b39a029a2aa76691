"""The replaced site kept beside OUT (``.OUT.spare``) and staged into by the next build: the site
it gives is byte for byte the one a fresh staging directory gives, whatever the spare holds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import reportgen.write as write
from reportgen.build import build
from tests.test_incremental import SWEEP, edit_sweep, options, published, run_dir, snapshot

pytestmark = pytest.mark.usefixtures("no_racy_window")
CHANGE_LOG = ["changes.html", "changes.json"]


def spare_of(out: Path) -> Path:
    return out.parent / f".{out.name}.spare"


def directories(site: Path) -> set[str]:
    return {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_dir()}


def differing_from_cold(results: Path, out: Path, cold: Path) -> list[str]:
    build(options(results, cold))
    ours, fresh = published(out), published(cold)
    assert ours.keys() == fresh.keys() and directories(out) == directories(cold)
    return sorted(k for k in fresh if ours[k] != fresh[k])


def count_links(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    linked: list[str] = []
    real = write._link_or_copy

    def counted(source: str, target: str) -> None:
        linked.append(target)
        real(source, target)

    monkeypatch.setattr(write, "_link_or_copy", counted)
    return linked


def test_a_later_build_stages_into_the_replaced_site(
    mini: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results, out = mini
    edit_sweep(results)
    build(options(results, out))
    assert spare_of(out).is_dir()  # the site this build replaced

    plain = tmp_path / "plain"  # the same site and change, with no spare beside it
    shutil.copytree(out, plain, copy_function=os.link)
    edit_sweep(results, 2.0)
    linked_without = count_links(monkeypatch)
    build(options(results, plain))
    monkeypatch.undo()

    before = snapshot(out)
    linked = count_links(monkeypatch)
    result = build(options(results, out))
    assert result.rebuilt == 1 and f"{run_dir(SWEEP)}/index.html" in result.written
    after = snapshot(out)
    carried = set(before) - set(result.written)
    assert {p for p in carried if after[p] != before[p]} == set()  # same inode, same mtime
    # without a spare every carried file is linked; the spare holds each as the live site's
    # own already (the same run changed in both builds, so nothing carried was written between)
    assert len(linked_without) == len(carried) and linked == []
    assert differing_from_cold(results, out, tmp_path / "cold") == CHANGE_LOG
    assert spare_of(out).is_dir() and not list(tmp_path.glob(".site.staging-*"))


def test_nothing_in_the_spare_reaches_the_site(mini: tuple[Path, Path], tmp_path: Path) -> None:
    results, out = mini
    edit_sweep(results)
    build(options(results, out))
    spare = spare_of(out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    carried = next(iter(sorted((spare / "runs" / "CVs_and_gdotv").rglob("index.html"))))
    carried.unlink()  # other bytes at a carried file's path (its own inode)
    carried.write_text("<script>alert(1)</script>")
    (spare / "runs" / "planted.html").write_text("not the site's")
    os.mkfifo(spare / "runs" / "fifo")
    (spare / "guide.html").unlink()  # a directory where a file goes
    (spare / "guide.html").mkdir()
    (spare / "guide.html" / "inside").write_text("x")
    shutil.rmtree(spare / "groups")  # a file where a directory goes
    (spare / "groups").write_text("x")
    shutil.rmtree(spare / "assets")  # a link where a directory goes
    (spare / "assets").symlink_to(elsewhere, target_is_directory=True)

    edit_sweep(results, 2.0)
    build(options(results, out))
    assert differing_from_cold(results, out, tmp_path / "cold") == CHANGE_LOG
    assert list(elsewhere.iterdir()) == []


def test_a_spare_whose_site_is_gone_is_removed(mini: tuple[Path, Path]) -> None:
    results, out = mini
    edit_sweep(results)
    build(options(results, out))
    shutil.rmtree(out)
    build(options(results, out))
    assert (out / "index.html").is_file()
    assert not list(out.parent.glob(".site*"))


def test_a_spare_that_is_not_this_users_directory_is_left_alone(
    mini: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results, out = mini
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "runs").mkdir(parents=True)
    spare_of(out).symlink_to(elsewhere, target_is_directory=True)
    edit_sweep(results)
    build(options(results, out))
    assert spare_of(out).is_symlink() and list(elsewhere.iterdir()) == [elsewhere / "runs"]

    spare_of(out).unlink()
    (spare_of(out) / "runs").mkdir(parents=True)
    owner = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)  # as if another user's
    edit_sweep(results, 2.0)
    build(options(results, out))
    assert [p.name for p in spare_of(out).iterdir()] == ["runs"]
    assert differing_from_cold(results, out, tmp_path / "cold") == CHANGE_LOG
    assert sorted(p.name for p in out.parent.glob(".site*")) == [".site.spare"]


def apply_change(results: Path, change: str, number: int) -> None:
    """One change of the mini tree: a number of one run, a run removed, a run added."""
    sweeps = sorted((results / "comparison_across_learning_rates").glob("run_*"))
    if change == "edit":
        edit_sweep(results, 1.0 + (number + 1) / 8)
    elif change == "remove" and len(sweeps) > 1:
        shutil.rmtree(sweeps[-1] if sweeps[-1].name != Path(SWEEP).name else sweeps[0])
    elif change == "add":
        shutil.copytree(results / SWEEP, sweeps[0].parent / f"run_{number + 10:02d}")


@pytest.mark.slow
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(changes=["edit", "remove", "add", "edit"])
@given(changes=st.lists(st.sampled_from(["edit", "remove", "add"]), min_size=2, max_size=4))
def test_every_build_of_a_changing_tree_equals_a_cold_one(
    mini_tree: Path, mini_site: Path, tmp_path_factory: pytest.TempPathFactory, changes: list[str]
) -> None:
    """Runs changed, removed and added over several builds, each staged into the site the one
    before replaced: every site equals a cold build of its tree but for the change log."""
    root = tmp_path_factory.mktemp("changes")
    results, out = shutil.copytree(mini_tree, root / "results"), root / "site"
    shutil.copytree(mini_site, out)
    for number, change in enumerate(changes):
        apply_change(results, change, number)
        build(options(results, out))
        cold = root / f"cold-{number}"
        assert differing_from_cold(results, out, cold) == CHANGE_LOG
    assert spare_of(out).is_dir()
