"""What group workers are sent: no run's record up front, each job its own group's records;
and pages rendered in workers are the bytes of pages rendered in the build's own process."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reportgen.build import build, groups
from reportgen.build.groups import GroupJob, GroupWork
from reportgen.build.pool import in_pool
from reportgen.demo import scale_tree
from reportgen.settings import BuildOptions

STATUS = ".reportgen/status.json"  # holds the build's time: compared apart


def _files(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_group_workers_get_each_jobs_records_only_and_render_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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

        return in_pool(work, noted(), workers, on_lost, initializer, initargs)

    monkeypatch.setattr(groups, "in_pool", watched)
    pooled = tmp_path / "pooled"
    build(BuildOptions(results=results, out=pooled, jobs=2, bootstrap=200))

    assert len(sent) == 1, "the group stage did not use workers"
    shared, jobs = sent[0]
    assert shared.records == {}
    # the block and "scale" hold more than a worker's share of the runs: rendered here, after
    # the pool's six, their records never sent
    assert len(jobs) == 6
    for job in jobs:
        assert job.records is not None
        assert sorted(job.records) == sorted(job.group.run_ids)
    assert max(len(job.group.run_ids) for job in jobs) == 10

    expected, got = _files(here), _files(pooled)
    assert expected.keys() == got.keys()
    assert [p for p in expected if p != STATUS and expected[p] != got[p]] == []
