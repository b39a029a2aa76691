"""A group with the same runs as the child analysed just before it (a single child) takes that
child's statistics: its pages and files are byte for byte those of computing them again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import reportgen.analysis.group as group_module
from reportgen.build import BuildOptions, build
from reportgen.build.status import STATUS_PATH
from reportgen.demo import scale_tree


def _published(site: Path) -> dict[str, bytes]:
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.relative_to(site).as_posix() != STATUS_PATH
    }


@pytest.mark.slow
def test_a_single_childs_statistics_taken_equal_those_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = scale_tree(tmp_path / "results", seed=5, runs=20)  # scale/ holds block_00/ only
    options = BuildOptions(results=results, out=tmp_path / "taken", jobs=1, bootstrap=200)
    taken: list[str] = []
    original_taken = group_module._taken

    def spy(group_id: str, *args: Any) -> group_module.GroupAnalysis:
        taken.append(group_id)
        return original_taken(group_id, *args)

    monkeypatch.setattr(group_module, "_taken", spy)
    build(options)
    assert taken == ["scale"]  # the one group whose runs are its single child's

    original = group_module.analyze_group

    def computed(*args: Any, **kwargs: Any) -> group_module.GroupAnalysis:
        return original(*args, **(kwargs | {"like": None}))

    monkeypatch.setattr(group_module, "analyze_group", computed)
    taken.clear()
    build(BuildOptions(results=results, out=tmp_path / "computed", jobs=1, bootstrap=200))
    assert taken == []
    with_taken, fresh = _published(tmp_path / "taken"), _published(tmp_path / "computed")
    assert with_taken.keys() == fresh.keys()
    assert [k for k in fresh if with_taken[k] != fresh[k]] == []
