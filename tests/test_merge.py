"""Partial statistics merge upward exactly: a parent group's partials merged from its children's
equal those computed from every run, and so does everything the group publishes."""

from __future__ import annotations

import itertools
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reportgen.analysis.group as group_analysis
from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.group import analyze_group
from reportgen.analysis.group_record import GroupRecord, stored_partials, stored_partials_bytes
from reportgen.analysis.merge import (
    PackedRows,
    decode_row,
    merge,
    pack_line,
    partials,
    rows_by_id,
    run_stats,
)
from reportgen.analysis.record import RunRecord
from reportgen.analysis.uncertainty import EtaUncertainty, RunUncertainty
from reportgen.build import BuildOptions, build
from reportgen.codec import encode

ETAS = (1e-6, 2e-6, 4e-6, 8e-6)
maybe = st.none() | st.floats(-1e-2, 1e-2, allow_nan=False, allow_subnormal=False)
positive = st.none() | st.floats(1e-7, 1e-2, allow_nan=False)


@st.composite
def runs(draw: st.DrawFn, run_id: str) -> RunRecord:
    """A read run with a few η, random ΔH and SEs (some missing), and random parameters."""
    etas = sorted(draw(st.sets(st.sampled_from(ETAS), min_size=1, max_size=len(ETAS))))
    summaries = tuple(
        EtaSummary(eta, draw(maybe), draw(maybe), draw(maybe), *(None,) * 6) for eta in etas
    )
    errors = tuple(
        EtaUncertainty(
            eta,
            se_true=draw(positive),
            se_linear=draw(positive),
            se_diff_linear=draw(positive),
            se_diff_linquad=draw(positive),
            se_quad=draw(positive),
        )
        for eta in etas
    )
    return RunRecord(
        run_id,
        f"{run_id}/results.json",
        "ok",
        "hash",
        "0",
        (),
        schema="snis",
        batch_size=draw(st.sampled_from((256, 512))),
        etas=summaries,
        se_shard=draw(positive),
        true_se=tuple((eta, 1e-4) for eta in etas if draw(st.booleans())),
        parameters=(("config.lr", draw(st.sampled_from(('"a"', '"b"')))),),
        uncertainty=RunUncertainty(etas=errors),
    )


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[RunRecord], list[list[str]]]:
    """A group's runs (in its order) and a split of some of them into child groups."""
    n = draw(st.integers(1, 8))
    members = [draw(runs(f"g/{i:02d}")) for i in range(n)]
    ids = [m.id for m in members]
    cuts = sorted(draw(st.sets(st.integers(0, n), max_size=3)) | {0, n})
    children = [ids[a:b] for a, b in itertools.pairwise(cuts) if b > a]
    direct = draw(st.integers(0, len(children)))  # the last few stay the group's own runs
    return members, children[: len(children) - direct]


@given(trees())
@settings(max_examples=60, deadline=None)
def test_merged_partials_equal_those_computed_from_every_run(
    tree: tuple[list[RunRecord], list[list[str]]],
) -> None:
    members, children = tree
    by_id = {m.id: m for m in members}
    scratch = partials([m.id for m in members], [run_stats(m) for m in members])
    parts = [partials(c, [run_stats(by_id[r]) for r in c]) for c in children]
    covered = {r for c in children for r in c}
    direct = {m.id: run_stats(m) for m in members if m.id not in covered}
    assert merge([m.id for m in members], parts, direct) == scratch


@given(trees())
@settings(max_examples=40, deadline=None)
def test_a_group_merged_from_its_children_publishes_what_one_computed_alone(
    tree: tuple[list[RunRecord], list[list[str]]],
) -> None:
    members, children = tree
    by_id = {m.id: m for m in members}
    parts = [analyze_group("g/c", [by_id[r] for r in c]).partials for c in children]
    alone = GroupRecord.of(analyze_group("g", members))
    merged = GroupRecord.of(analyze_group("g", members, children=parts))
    assert merged.to_files() == alone.to_files()


@given(trees(), st.booleans())
@settings(max_examples=40, deadline=None)
def test_packed_rows_are_the_rows_and_store_the_same_bytes(
    tree: tuple[list[RunRecord], list[list[str]]], stored_children: bool
) -> None:
    """A very large group's rows, kept packed, read as the rows held as objects, look up by run
    id, and store (and publish) byte for byte what the held rows do."""
    members, children = tree
    by_id = {m.id: m for m in members}
    parts = [analyze_group("g/c", [by_id[r] for r in c]).partials for c in children]
    if stored_children:  # as a stored group reads them from its children's files
        parts = [stored_partials(stored_partials_bytes(p), packed=True) for p in parts]
    held = analyze_group("g", members, children=parts)
    packed = analyze_group("g", members, children=parts, packed=True)
    assert isinstance(packed.runs, PackedRows)
    assert tuple(packed.runs) == tuple(held.runs)
    assert packed.partials.row_ids == tuple(r.run_id for r in held.runs)
    assert dict(rows_by_id(packed.runs)) == {r.run_id: r for r in held.runs}
    assert GroupRecord.of(packed).to_files() == GroupRecord.of(held).to_files()
    assert stored_partials(stored_partials_bytes(packed.partials)) == held.partials


def _steady_record(i: int) -> RunRecord:
    """A read run at every η of ``ETAS``, with every SE."""
    errors = tuple(EtaUncertainty(e, 1e-4, 2e-4, 3e-4, 4e-4, 5e-4) for e in ETAS)
    etas = tuple(EtaSummary(e, -e * (1 + i / 997), -e, -e * 1.01, *(None,) * 6) for e in ETAS)
    run_id = f"g/{i:03d}"
    return RunRecord(
        run_id, f"{run_id}/results.json", "ok", "hash", "0", (), schema="snis", batch_size=256,
        etas=etas, uncertainty=RunUncertainty(etas=errors),
    )  # fmt: skip


def _traced_size(make: Callable[[], object]) -> int:
    """The bytes ``make()`` allocated and still holds once its result is made."""
    tracemalloc.start()
    try:
        made = make()
        size = tracemalloc.get_traced_memory()[0]
        del made
        return size
    finally:
        tracemalloc.stop()


def test_packed_rows_hold_a_fraction_of_the_memory_of_the_rows_as_objects() -> None:
    """What a very large group saves: its rows as objects (each decoded anew, as a group reading
    its children's partials holds them) against the same rows packed."""
    lines = [encode(run_stats(_steady_record(i))) for i in range(300)]
    ids = tuple(f"g/{i:03d}" for i in range(300))
    as_objects = _traced_size(lambda: tuple(decode_row(line) for line in lines))
    packed = _traced_size(lambda: PackedRows(ids, [pack_line(line) for line in lines]))
    # the encoded lines alone are ~83 % of the objects' size: packing must do far better than that
    assert packed < 0.5 * as_objects, (packed, as_objects)


def test_a_group_summary_is_made_a_run_at_a_time() -> None:
    """No piece of a large group's summary holds more than a run's worth (and a tail row's list
    of run ids): its populations' per-run parts are made as the writer reaches them."""
    from reportgen.pages.serialize import group_summary_pieces

    record = GroupRecord.of(analyze_group("g", [_steady_record(i) for i in range(600)]))
    pieces = list(group_summary_pieces(record))
    assert sum(map(len, pieces)) > 600 * 2_000  # each run's entries, with and without a population
    assert max(map(len, pieces)) < 20_000, max(map(len, pieces))


def test_partials_of_runs_that_are_not_the_groups_are_not_merged() -> None:
    """A child's partials naming a run the group does not hold are recomputed, not trusted."""
    run = RunRecord("g/a", "g/a/results.json", "ok", "h", "0", (), schema="snis")
    strange = partials(["x/other"], [])
    alone = GroupRecord.of(analyze_group("g", [run]))
    assert GroupRecord.of(analyze_group("g", [run], children=[strange])) == alone


# --- in a build ------------------------------------------------------------------------------


# fingerprint files written a moment ago too (the tests write trees just before building)
pytestmark = pytest.mark.usefixtures("no_racy_window")


@pytest.mark.slow
def test_one_changed_run_computes_only_its_own_groups_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four groups hold the changed run; only the innermost computes rows, for its five runs:
    the others merge them (a child analysed tonight, and a carried-over child's record), and
    every summary equals a cold build's."""
    from reportgen.demo import scale_tree

    results = scale_tree(tmp_path / "results", seed=0, runs=10)
    out = tmp_path / "site"
    options = BuildOptions(results=results, out=out, jobs=1, bootstrap=0)
    build(options)
    computed: list[str] = []
    real = run_stats  # the name analysis.group calls

    def counting(member: Any, window: Any = None) -> Any:
        computed.append(member.id)
        return real(member, window)

    monkeypatch.setattr(group_analysis, "run_stats", counting)
    changed = "scale/block_00/sweep_00/E_16/run_02"
    path = results / changed / "results.json"
    data = orjson.loads(path.read_bytes())
    data["true"]["entries"][0]["delta_h_true"] *= 1.01
    path.write_bytes(orjson.dumps(data))
    result = build(options)
    assert result.groups_rendered == 4  # E_16, sweep_00, block_00, scale
    assert sorted(computed) == [f"scale/block_00/sweep_00/E_16/run_{i:02d}" for i in range(1, 6)]
    cold = tmp_path / "cold"
    shutil.rmtree(cold, ignore_errors=True)
    build(BuildOptions(results=results, out=cold, jobs=1, bootstrap=0))
    for summary in sorted(cold.glob("groups/**/summary.json")):
        relative = summary.relative_to(cold)
        assert (out / relative).read_bytes() == summary.read_bytes(), relative
