"""What group workers are sent: no run's record up front, each job its own group's records;
and pages rendered in workers are the bytes of pages rendered in the build's own process."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reportgen.build import build, group_render, groups
from reportgen.build.group_render import GroupJob, GroupWork
from reportgen.build.pool import in_pool_as_done
from reportgen.demo import scale_tree
from reportgen.pages import paths
from reportgen.settings import BuildOptions
from tests.processes import worker_servers

STATUS = ".reportgen/status.json"  # holds the build's time: compared apart


def _files(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_group_workers_get_each_jobs_records_only_and_render_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, always_pooled: None
) -> None:
    # 8 groups: 4 of 5 runs each, their 2 sweeps, the block and "scale" (all 20 runs)
    results = scale_tree(tmp_path / "results", seed=0, runs=20)
    here = tmp_path / "here"
    build(BuildOptions(results=results, out=here, jobs=1, bootstrap=200))

    sent: list[tuple[GroupWork, list[GroupJob]]] = []

    def watched(
        work: Callable[[Any], Any],
        jobs: Iterable[GroupJob],
        workers: int,
        on_lost: Callable[[Any, str], Any],
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> Iterator[Any]:
        seen: list[GroupJob] = []
        sent.append((initargs[0], seen))

        def noted() -> Iterator[GroupJob]:
            for job in jobs:
                seen.append(job)
                yield job

        return in_pool_as_done(work, noted(), workers, on_lost, initializer, initargs)

    monkeypatch.setattr(groups, "in_pool_as_done", watched)
    monkeypatch.setattr(groups, "LARGE_GROUP_RUNS", 11)  # this tree's "large" groups
    rendered_here = _watch_renders_here(monkeypatch)
    pooled = tmp_path / "pooled"
    build(BuildOptions(results=results, out=pooled, jobs=2, bootstrap=200))

    assert len(sent) == 1, "the group stage did not use workers"
    shared, jobs = sent[0]
    # no table of the whole tree: each job carries its own runs' records and samples' digests
    assert shared.records == {} and shared.samples.digests == {}
    # the block and "scale" hold more than a worker's share of the runs: rendered here, after
    # the pool's six, their records never sent
    assert len(jobs) == 6
    for job in jobs:
        assert job.records is not None and job.samples is not None
        assert sorted(job.records) == sorted(job.group.run_ids)
        assert sorted(job.samples) == sorted(paths.run_sample(r) for r in job.group.run_ids)
        assert [c.id for c in job.child_groups] == list(job.group.child_group_ids)
    assert max(len(job.group.run_ids) for job in jobs) == 10
    # the two rendered here render with the pool's server stopped, and hold no record's bytes:
    # their record files are made as they are written, from the statistics of their summaries
    assert rendered_here == [("scale/block_00", False, True), ("scale", False, True)]

    expected, got = _files(here), _files(pooled)
    assert expected.keys() == got.keys()
    assert [p for p in expected if p != STATUS and expected[p] != got[p]] == []


def _watch_renders_here(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool, bool]]:
    """Per group rendered in this process: its id, whether the worker server was running, and
    whether the rendered group left its record's files to be made as they are written."""
    seen: list[tuple[str, bool, bool]] = []
    real = group_render.render_group

    def watched(work: GroupWork, job: GroupJob, *args: Any, **kwargs: Any) -> Any:
        server = bool(worker_servers())
        done = real(work, job, *args, **kwargs)
        seen.append((job.group.id, server, done.record is None and done.summary is not None))
        return done

    monkeypatch.setattr(groups, "render_group", watched)
    return seen


class _Job:
    """A job a test can hold a weak reference to."""


class _Pipe:
    """A worker's end of its pipe: one job to receive; whether that job was still alive when
    the result was sent."""

    def __init__(self, job: _Job) -> None:
        self.incoming: list[tuple[int, _Job]] = [(0, job)]
        self.job = weakref.ref(job)
        self.alive_at_send: list[bool] = []

    def recv(self) -> tuple[int, _Job]:
        return self.incoming.pop()

    def send(self, reply: object) -> None:
        self.alive_at_send.append(self.job() is not None)


def test_a_worker_lets_its_job_go_before_it_sends_the_result() -> None:
    # a group job holds its group's records: they are not held while the result is pickled
    from reportgen.build.pool import _answer

    pipe = _Pipe(_Job())
    assert _answer(pipe, lambda job: "result")  # type: ignore[arg-type]
    assert pipe.alive_at_send == [False]


def test_large_groups_holding_more_than_a_workers_share_are_rendered_here() -> None:
    from reportgen.build.group_render import LARGE_GROUP_RUNS
    from reportgen.build.groups import rendered_here
    from reportgen.discover import GroupRef

    def group(size: int) -> GroupRef:
        return GroupRef("g", tuple(f"r{i}" for i in range(size)), ())

    large = LARGE_GROUP_RUNS
    assert rendered_here(group(large), 2 * large - 1, workers=2)
    assert not rendered_here(group(large), 2 * large, workers=2)  # exactly one worker's share
    assert rendered_here(group(large), 3 * large, workers=4)
    assert not rendered_here(group(large - 1), large - 1, workers=2)  # every run, but small


@pytest.mark.slow
def test_a_summary_that_fails_while_it_is_written_makes_that_group_an_error_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group rendered here has its summary made as it is written: a failure half way is that
    group's error page and error summary, as in a worker; the build and the other groups go on."""
    import orjson

    from reportgen.pages import serialize

    results = scale_tree(tmp_path / "results", seed=0, runs=20)
    real = serialize.group_summary_pieces

    def failing(summary: Any) -> Iterator[bytes]:
        pieces = real(summary)
        if summary.group_id == "scale":
            yield next(iter(pieces))
            raise OverflowError("int too big to convert")
        yield from pieces

    monkeypatch.setattr(groups, "LARGE_GROUP_RUNS", 11)  # the block and "scale": rendered here
    monkeypatch.setattr(serialize, "group_summary_pieces", failing)
    out = tmp_path / "site"
    result = build(BuildOptions(results=results, out=out, jobs=2, bootstrap=200))
    assert result.rebuilt == 20
    failed = orjson.loads((out / "groups/scale/summary.json").read_bytes())
    assert failed["error"] == "OverflowError: int too big to convert" and failed["runs"] == []
    assert "int too big to convert" in (out / "groups/scale/index.html").read_text()
    block = orjson.loads((out / "groups/scale/block_00/summary.json").read_bytes())
    assert "error" not in block and len(block["runs"]) == 20
    # no record is kept of the failed group (a parent computes its rows again), the block's is
    assert not (out / paths.group_record("scale")).exists()
    assert not (out / paths.group_partials("scale")).exists()
    assert (out / paths.group_partials("scale/block_00")).is_file()


@pytest.mark.slow
def test_a_record_file_that_fails_as_it_is_written_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group rendered here has its record's files made as they are written: one failing half
    way is not kept (a parent computes those rows again); its page and summary stand."""
    import orjson

    from reportgen.analysis import group_record

    results = scale_tree(tmp_path / "results", seed=0, runs=20)
    real = group_record.stored_partials_pieces

    def failing(partials: Any) -> Iterator[bytes]:
        pieces = real(partials)
        if len(partials.run_ids) == 20:  # "scale" and the block: rendered here
            yield next(pieces)
            raise OverflowError("int too big to convert")
        yield from pieces

    monkeypatch.setattr(groups, "LARGE_GROUP_RUNS", 11)
    monkeypatch.setattr(group_record, "stored_partials_pieces", failing)
    out = tmp_path / "site"
    result = build(BuildOptions(results=results, out=out, jobs=2, bootstrap=200))
    assert result.rebuilt == 20
    status = orjson.loads((out / STATUS).read_bytes())
    for group_id in ("scale", "scale/block_00"):
        summary = orjson.loads((out / f"groups/{group_id}/summary.json").read_bytes())
        assert "error" not in summary and len(summary["runs"]) == 20
        assert not (out / paths.group_partials(group_id)).exists()
        kept = [path for path, _ in status["groups"][group_id]["private"]]
        assert kept == [paths.group_record(group_id)]
    assert (out / paths.group_partials("scale/block_00/sweep_00")).is_file()


def test_the_pool_starts_with_the_group_of_most_runs_then_goes_children_first() -> None:
    from reportgen.discover import GroupRef

    def group(name: str, runs: int) -> GroupRef:
        return GroupRef(name, tuple(f"{name}/r{i}" for i in range(runs)), ())

    children_first = [group("a/x", 5), group("a/y", 10), group("a", 15), group("b", 15)]
    order = [g.id for g in groups._largest_first(children_first)]
    assert order == ["a", "a/x", "a/y", "b"]  # the first of the largest; the rest as they were
