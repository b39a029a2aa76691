"""A very large group reads its runs' records from the build's store as it needs them: the same
bytes as a group that holds them decoded, with a fraction of the memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from reportgen.analysis.per_run import PerRun
from reportgen.build import build, group_render
from reportgen.build.record_store import LastDecoded, StoredMember
from reportgen.demo import scale_tree
from reportgen.settings import BuildOptions

STATUS = ".reportgen/status.json"  # holds the code's fingerprint and the build's time


def _files(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def _same_site(first: Path, second: Path) -> None:
    expected, got = _files(first), _files(second)
    assert expected.keys() == got.keys()
    assert [p for p in expected if p != STATUS and expected[p] != got[p]] == []


@pytest.mark.slow
def test_every_group_read_from_the_store_renders_the_same_bytes(
    demo_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the demo's every kind of run: copies, stale and unreadable runs, CV runs, tails, several
    # populations and batch sizes; -j 1 renders every group in this process, where it is patched
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1")
    held = tmp_path / "held"
    build(BuildOptions(results=demo_tree, out=held, jobs=1, bootstrap=200))
    monkeypatch.setattr(group_render, "STORED_GROUP_RUNS", 1)
    stored = tmp_path / "stored"
    build(BuildOptions(results=demo_tree, out=stored, jobs=1, bootstrap=200))
    _same_site(held, stored)


def _traced_peak_of(group_id: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch ``render_group`` to record the peak of traced memory while ``group_id`` renders."""
    peaks: list[int] = []
    real = group_render.render_group

    def traced(work: Any, job: Any, *args: Any, **kwargs: Any) -> Any:
        if job.group.id != group_id:
            return real(work, job, *args, **kwargs)
        tracemalloc.start(1)
        try:
            return real(work, job, *args, **kwargs)
        finally:
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()

    monkeypatch.setattr(group_render, "render_group", traced)
    return peaks


@pytest.mark.slow
def test_a_group_read_from_the_store_holds_a_fraction_of_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1")
    results = scale_tree(tmp_path / "results", seed=0, runs=240)
    # the block: 240 runs in 48 groups of 5 under 24 sweeps, analysed from its runs (the root
    # above it has the same runs and takes its statistics)
    # warm: templates compiled and caches filled before either build is traced
    build(BuildOptions(results=results, out=tmp_path / "warm", jobs=1, bootstrap=0))
    peaks = _traced_peak_of("scale/block_00", monkeypatch)
    build(BuildOptions(results=results, out=tmp_path / "held", jobs=1, bootstrap=0))
    monkeypatch.setattr(group_render, "STORED_GROUP_RUNS", 1)
    build(BuildOptions(results=results, out=tmp_path / "stored", jobs=1, bootstrap=0))
    held, stored = peaks
    # held, every record is decoded at once on top of what both hold (the group's statistics,
    # its children's partials, its page): a decoded record of these runs is ~11 KB, and over a
    # third of that must not be held when the records are read one at a time (the difference
    # is 5.2-8.4 KB a run, depending on what earlier tests left in this process)
    assert held - stored > 240 * 4_000, (held, stored)
    _same_site(tmp_path / "held", tmp_path / "stored")


def test_a_stored_member_reads_its_record_on_each_access_and_keeps_the_last() -> None:
    reads: list[str] = []

    class Records(dict[str, Any]):
        def __getitem__(self, run_id: str) -> Any:
            reads.append(run_id)
            return super().__getitem__(run_id)

    class Record:
        def __init__(self, run_id: str) -> None:
            self.id, self.etas = run_id, (run_id + "-etas",)

    source = LastDecoded(Records(a=Record("a"), b=Record("b")))
    a, b = StoredMember("a", source), StoredMember("b", source)
    assert (a.etas, a.etas, b.etas, a.etas) == (("a-etas",), ("a-etas",), ("b-etas",), ("a-etas",))
    assert reads == ["a", "b", "a"]  # the second read of "a" in a row took the kept record
    with pytest.raises(AttributeError):
        _ = a.missing


def test_a_per_run_view_reads_each_value_when_it_is_looked_up() -> None:
    reads: list[str] = []

    def read(run_id: str) -> str:
        reads.append(run_id)
        return run_id.upper()

    view = PerRun(["b", "a"], read)
    assert list(view) == ["b", "a"] and len(view) == 2 and "a" in view and "c" not in view
    assert reads == []
    assert list(view.each()) == ["B", "A"] and view.each()[1] == "A"
    assert view.each()[:1] == ["B"]
    with pytest.raises(KeyError):
        view["c"]
    assert reads == ["b", "a", "a", "b"]
