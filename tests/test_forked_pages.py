"""A build that renders its groups in its own process renders each group's page in a forked copy
of itself while it analyses the next group: the same bytes, whatever the copy does."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest

from reportgen.build import BuildOptions, build
from reportgen.build.group_render import OVERLAP_RUNS
from reportgen.build.status import STATUS_PATH
from reportgen.demo import scale_tree

ROOT = Path(__file__).resolve().parents[1]
CHANGED = "scale/block_00/sweep_01/E_16/run_02"
# the changed run's chain, children first (5, 10, 30 and 30 runs): a group is forked when the
# group after it has OVERLAP_RUNS runs or more, so the sweep (analysed in its copy: the block has
# other runs) and the block (only its page: the root has its runs and takes its statistics) are,
# and the root's page is rendered here beside the block's
FORKED = ["scale/block_00/sweep_01", "scale/block_00"]
FAILING = "scale/block_00/sweep_01"


def _published(site: Path) -> dict[str, bytes]:
    """The site's files, but for those that hold the build's time or what changed since the last."""
    skipped = {STATUS_PATH, "changes.html", "changes.json"}
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.relative_to(site).as_posix() not in skipped
    }


def _change(results: Path) -> None:
    path = results / CHANGED / "results.json"
    data = orjson.loads(path.read_bytes())
    data["true"]["entries"][0]["delta_h_true"] *= 1.01
    path.write_bytes(orjson.dumps(data))


def _build_watched(mode: str, results: Path, out: Path, jobs: int) -> dict[str, Any]:
    argv = ["build", str(results), "-o", str(out), "-q", "-j", str(jobs), "--bootstrap", "200"]
    command = [sys.executable, "-m", "tests.forked_build", mode, FAILING, *argv]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    answer: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return answer


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A 30-run tree and its site, then the tree with one run changed, and that tree's cold site."""
    base = tmp_path_factory.mktemp("forked")
    results = scale_tree(base / "results", seed=3, runs=30)
    before = base / "before"
    build(BuildOptions(results=results, out=before, jobs=1, bootstrap=200))
    _change(results)
    cold = base / "cold"
    build(BuildOptions(results=results, out=cold, jobs=1, bootstrap=200))
    return results, before, cold


def _one_change(built: tuple[Path, Path, Path], tmp_path: Path, mode: str, jobs: int) -> Path:
    results, before, _ = built
    site = tmp_path / f"{mode}-{jobs}"
    shutil.copytree(before, site, symlinks=True)
    answer = _build_watched(mode, results, site, jobs)
    assert 10 < OVERLAP_RUNS <= 30  # what FORKED assumes
    forks = 0 if jobs == 1 else len(FORKED)
    assert answer == {"forks": forks, "code": 0}
    return site


def test_the_chains_pages_rendered_in_forked_copies_are_a_cold_builds_bytes(
    built: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    site = _one_change(built, tmp_path, "count", jobs=2)
    assert _published(site) == _published(built[2])


def test_an_analysis_beside_a_copy_draws_on_one_thread(
    built: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "threads.jsonl"
    monkeypatch.setenv("REPORTGEN_THREADS_LOG", str(log))
    _one_change(built, tmp_path, "threads", jobs=2)
    seen = {group: (workers, here) for group, workers, here in map(json.loads, log.open())}
    assert seen == {
        "scale/block_00/sweep_01/E_16": (2, True),  # alone: no copy yet
        "scale/block_00/sweep_01": (1, False),  # in its copy, beside the build
        "scale/block_00": (1, True),  # here, beside the sweep's copy
        "scale": (1, True),  # here, beside the block's
    }


def test_a_copy_that_dies_leaves_its_page_to_the_build(
    built: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    site = _one_change(built, tmp_path, "die", jobs=2)
    assert _published(site) == _published(built[2])


def test_a_page_failing_in_a_forked_copy_fails_as_it_would_here(
    built: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    forked = _one_change(built, tmp_path, "fail", jobs=2)
    here = _one_change(built, tmp_path, "fail", jobs=1)
    assert _published(forked) == _published(here)
    page = (forked / "groups" / FAILING / "index.html").read_text()
    assert "cross-run analysis of this group failed" in page and "the page failed" in page
    assert json.loads((forked / "groups" / FAILING / "summary.json").read_text())["error"]
    parent = forked / "groups" / "scale/block_00" / "summary.json"
    assert "error" not in json.loads(parent.read_text())


FORKED_CALLS = textwrap.dedent(
    """
    import json, os, threading, time
    from reportgen.build.forked import Forked, ForkLost, can_fork, reap_finished

    answers = {"alone": can_fork()}
    answers["result"] = len(Forked(lambda: b"x" * 3_000_000).result())  # beyond a pipe's buffer
    reap_finished(block=True)
    try:
        os.waitpid(-1, os.WNOHANG)
        answers["reaped"] = "a child left"
    except ChildProcessError:
        answers["reaped"] = "every child"
    try:
        Forked(lambda: os._exit(0)).result()
    except ForkLost as lost:
        answers["died"] = str(lost)
    slow = Forked(lambda: threading.Event().wait(60))
    pid = slow._pid
    slow.cancel()
    try:
        os.kill(pid, 0)
        answers["cancelled"] = "still there"
    except ProcessLookupError:
        answers["cancelled"] = "gone"
    read, write = os.pipe()
    if os.fork() == 0:  # a build that ends while its copy works: the copy ends with it
        os.write(write, str(Forked(lambda: threading.Event().wait(60))._pid).encode())
        os._exit(0)
    orphan = int(os.read(read, 32))
    for _ in range(100):
        try:
            with open(f"/proc/{orphan}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        orphan = "still running"
    answers["orphan"] = "gone" if orphan != "still running" else orphan
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    answers["with_a_thread"] = can_fork()
    stop.set()
    thread.join()
    print(json.dumps(answers))
    """
)


def test_a_forked_call_returns_its_result_or_says_it_was_lost() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORKED_CALLS], cwd=ROOT, capture_output=True, text=True, check=True
    )
    answers = json.loads(done.stdout)
    assert answers == {
        "alone": sys.platform == "linux",
        "result": 3_000_000,
        "reaped": "every child",
        "died": "the forked copy ended with status 0",
        "cancelled": "gone",
        "orphan": "gone",
        "with_a_thread": False,
    }


def test_a_page_is_forked_only_beside_a_group_worth_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from reportgen.build import group_render
    from reportgen.discover import GroupRef

    monkeypatch.setattr(group_render, "can_fork", lambda: True)

    def work(workers: int = 2, figures: tuple[str, ...] = ()) -> Any:
        return SimpleNamespace(
            analysis=SimpleNamespace(workers=workers), page=SimpleNamespace(figures=figures)
        )

    def group(runs: int) -> GroupRef:
        return GroupRef(id="g", run_ids=tuple(f"r{i}" for i in range(runs)), child_group_ids=())

    overlaps = group_render._overlaps
    assert overlaps(work(), group(OVERLAP_RUNS))
    assert overlaps(work(), group(group_render.LARGE_GROUP_RUNS - 1))
    assert not overlaps(work(), None)  # the last page: rendered here
    assert not overlaps(work(), group(OVERLAP_RUNS - 1))  # analysed faster than a copy costs
    assert not overlaps(work(), group(group_render.LARGE_GROUP_RUNS))  # it merges, once stored
    assert not overlaps(work(workers=1), group(OVERLAP_RUNS))  # -j 1: one core
    assert not overlaps(work(figures=("svg",)), group(OVERLAP_RUNS))
    monkeypatch.setattr(group_render, "can_fork", lambda: False)
    assert not overlaps(work(), group(OVERLAP_RUNS))
