"""One changed run in a nested tree: only its branch is analysed again, and the site is byte for
byte what a cold build of the changed tree gives.

The scale tree nests ``scale/block_00/sweep_SS/E_16|E_32/run_RR``: a parent group merges the
partials its children stored, so a one-run change re-renders the run's own groups up to the
root and reads no other branch's samples or group partials beyond its direct children.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import reportgen.build.status as status_module
from reportgen.build import BuildOptions, build
from reportgen.build.groups import one_chain
from reportgen.build.status import STATUS_PATH
from reportgen.demo import scale_tree
from reportgen.discover import GroupRef
from reportgen.pages import paths
from reportgen.write import VerifiedFiles

CHANGED = "scale/block_00/sweep_01/E_16/run_02"
ANCESTORS = ["scale", "scale/block_00", "scale/block_00/sweep_01", "scale/block_00/sweep_01/E_16"]
RUNS = 30  # three sweeps of two batch sizes, five runs each


def _options(results: Path, out: Path) -> BuildOptions:
    return BuildOptions(results=results, out=out, jobs=1, bootstrap=200)


def _published(site: Path) -> dict[str, bytes]:
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.relative_to(site).as_posix() != STATUS_PATH
    }


def _change(results: Path) -> None:
    path = results / CHANGED / "results.json"
    data = orjson.loads(path.read_bytes())
    data["true"]["entries"][0]["delta_h_true"] *= 1.01
    path.write_bytes(orjson.dumps(data))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every private file a later stage read back through the writer's checked store."""
    seen: list[str] = []
    original = VerifiedFiles.read

    def spy(self: VerifiedFiles, path: str) -> bytes | None:
        seen.append(path)
        return original(self, path)

    monkeypatch.setattr(VerifiedFiles, "read", spy)
    monkeypatch.setattr(status_module, "RACY_NS", 0)  # the tree was written a moment ago
    yield seen


@pytest.mark.slow
def test_one_change_in_a_nested_tree_equals_a_cold_build(tmp_path: Path, reads: list[str]) -> None:
    results = scale_tree(tmp_path / "results", seed=3, runs=RUNS)
    out = tmp_path / "site"
    build(_options(results, out))
    _change(results)
    reads.clear()
    result = build(_options(results, out))

    assert result.rebuilt == 1 and result.groups_rendered == len(ANCESTORS)
    # the parents merged their children's stored partials; nothing of another sweep was read
    children = [f"scale/block_00/sweep_{s:02d}" for s in range(3)] + [
        f"scale/block_00/sweep_01/E_{n}" for n in (16, 32)
    ]
    merged = {paths.group_partials(g) for g in [*children, "scale/block_00"]}
    assert {p for p in reads if p.endswith("partials.json.z")} == merged
    samples = {p for p in reads if p.endswith("sample.npy")}
    assert all("/sweep_01/" in p for p in samples), samples

    cold = tmp_path / "cold"
    build(_options(results, cold))
    incremental, fresh = _published(out), _published(cold)
    assert incremental.keys() == fresh.keys()
    differing = sorted(k for k in fresh if incremental[k] != fresh[k])
    assert differing == ["changes.html", "changes.json"]
    shutil.rmtree(cold)


def _groups(*ids: str) -> list[GroupRef]:
    return [GroupRef(i, (), ()) for i in ids]


def test_one_changed_runs_groups_are_one_chain_and_siblings_are_not() -> None:
    assert one_chain(_groups(*reversed(ANCESTORS)))
    assert one_chain(_groups("a/b", "."))  # the tree's own group encloses every other
    assert not one_chain(_groups("a/b", "a/c", "a"))  # siblings can be rendered at once
    assert not one_chain(_groups("a/bc", "a/b"))  # a name that only starts like its parent's
