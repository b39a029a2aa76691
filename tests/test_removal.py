"""Removing a build's own directory trees: everything under them, nothing a link leads to."""

from __future__ import annotations

from pathlib import Path

from reportgen.removal import _subtrees, remove_tree


def _tree(root: Path, width: int) -> None:
    for i in range(width):
        for j in range(3):
            leaf = root / f"a{i}" / f"b{j}" / "c"
            leaf.mkdir(parents=True)
            (leaf / "page.html").write_text("x")
        (root / f"a{i}" / "summary.json").write_text("{}")
    (root / "status.json").write_text("{}")


def test_a_wide_tree_is_removed_whole(tmp_path: Path) -> None:
    site = tmp_path / "old-site"
    _tree(site, 30)
    assert len(_subtrees(str(site), 64)) == 90  # listed two levels down, in threads
    remove_tree(site)
    assert not site.exists()
    assert list(tmp_path.iterdir()) == []


def test_links_inside_the_tree_are_removed_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "results"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "results.json").write_text("{}")
    site = tmp_path / "old-site"
    _tree(site, 5)
    (site / "a0" / "to-results").symlink_to(outside, target_is_directory=True)
    (site / "a1" / "b0" / "to-deep").symlink_to(outside / "deep", target_is_directory=True)
    remove_tree(site)
    assert not site.exists()
    assert (outside / "deep" / "results.json").read_text() == "{}"


def test_a_link_or_a_missing_path_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    remove_tree(link)
    remove_tree(tmp_path / "missing")
    assert link.is_symlink() and (target / "keep.txt").read_text() == "keep"
