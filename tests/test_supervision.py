"""Workers are supervised and die with the build: a dead worker costs one retry, then one error
page, never the build; vl-convert aborting costs figures, never the build; a killed build
leaves no process behind holding the caller's output."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import reportgen.build
from reportgen.build import BuildOptions, build, pool, rendering_workers
from reportgen.build.pool import in_pool, in_pool_as_done
from reportgen.demo import scale_tree
from tests.processes import cmdline, descendants, in_session, stat_fields, worker_servers

ROOT = Path(__file__).resolve().parents[1]
RUN_DIRS = ("comparison_across_learning_rates/run_01", "comparison_across_learning_rates/run_02")
# runs whose pages take a worker tenths of a CPU-second each: a worker is caught at work
HEAVY_RUN_DIRS = (
    "diagnostics_run/full_data/E_512/run_01",
    "diagnostics_run/full_data/E_256/run_01",
)
POLL_SECONDS = 0.05
MAX_POLLS = 600  # 30 s of polling at most: the count, not the clock, decides


# --- the pool on its own ---------------------------------------------------------------------


def square_or_die(job: tuple[str, int, int]) -> int:
    """Die (SIGKILL, as the OOM killer does) the first ``deaths`` times job ``n`` is tried."""
    marks, n, deaths = job
    tries = Path(marks) / f"tries-{n}"
    with tries.open("a") as handle:
        handle.write("x")
    if tries.stat().st_size <= deaths:
        os.kill(os.getpid(), signal.SIGKILL)
    return n * n


def _lost(job: tuple[str, int, int], reason: str) -> int:
    assert "killed by SIGKILL" in reason and "twice" in reason
    return -job[1]


def test_a_dead_worker_costs_its_job_one_retry_then_an_error_value(tmp_path: Path) -> None:
    deaths = {3: 1, 5: 2, 6: 1}  # job 5 dies in its retry too
    jobs = [(str(tmp_path), n, deaths.get(n, 0)) for n in range(10)]
    results = list(in_pool(square_or_die, jobs, 2, _lost))
    assert results == [0, 1, 4, 9, 16, -5, 36, 49, 64, 81]
    tries = {n: (tmp_path / f"tries-{n}").stat().st_size for n in range(10)}
    assert tries == {n: {3: 2, 5: 2, 6: 2}.get(n, 1) for n in range(10)}


def test_as_done_a_dead_worker_costs_the_same_and_every_job_answers_once(tmp_path: Path) -> None:
    deaths = {3: 1, 5: 2, 6: 1}
    jobs = [(str(tmp_path), n, deaths.get(n, 0)) for n in range(10)]
    results = list(in_pool_as_done(square_or_die, jobs, 2, _lost))
    assert sorted(results) == [(n, -n if n == 5 else n * n) for n in range(10)]


def wait_for_release(job: tuple[str, int]) -> str:
    """Job 0 waits (at most a minute) until the caller has every other result."""
    marks, n = job
    if n == 0:
        for _ in range(1200):
            if (Path(marks) / "release").exists():
                return "released"
            time.sleep(0.05)
        return "never released"
    return f"job {n}"


def test_as_done_a_long_job_keeps_no_other_worker_waiting(tmp_path: Path) -> None:
    jobs = [(str(tmp_path), n) for n in range(12)]
    answers = in_pool_as_done(wait_for_release, jobs, 2, lambda job, reason: reason)
    first = [next(answers) for _ in range(11)]  # in order, job 0 would hold them all
    assert sorted(first) == [(n, f"job {n}") for n in range(1, 12)]
    (tmp_path / "release").touch()
    assert list(answers) == [(0, "released")]


def double(n: int) -> int:
    return 2 * n


class _NoProcesses:
    """A start method under which no process can be started (no memory, no process slots)."""

    def __init__(self) -> None:
        import multiprocessing

        self.Pipe = multiprocessing.Pipe

    def Process(self, **kwargs: Any) -> Any:
        class Unstartable:
            def start(self) -> None:
                raise BlockingIOError(11, "Resource temporarily unavailable")

        return Unstartable()


def test_when_no_worker_can_start_the_work_is_done_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool, "worker_context", _NoProcesses)
    results = list(in_pool(double, range(7), 2, lambda job, reason: -1))
    assert results == [0, 2, 4, 6, 8, 10, 12]
    as_done = list(in_pool_as_done(double, range(7), 2, lambda job, reason: -1))
    assert as_done == [(n, 2 * n) for n in range(7)]


def test_the_worker_server_pays_once_the_other_workers_take_more_than_its_start_up() -> None:
    start_up = pool.SERVER_START_PAGES
    # two workers take half of the pages off this process
    assert not pool.server_pays(2 * start_up, 2) and pool.server_pays(2 * start_up + 1, 2)
    assert not pool.server_pays(100 * start_up, 1)  # no other worker
    paying = [pages for pages in range(1, 4 * start_up) if pool.server_pays(pages, 8)]
    assert paying == list(range(paying[0], 4 * start_up))  # once it pays, more pages pay too
    assert start_up < paying[0] < 2 * start_up


def test_a_small_build_renders_here_unless_it_exports_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr(reportgen.build, "start_server", lambda: started.append("server"))
    monkeypatch.setattr(pool, "_Supervisor", lambda *args: started.append("pool"))
    results = scale_tree(tmp_path / "results", seed=0, runs=4)
    options = BuildOptions(results=results, out=tmp_path / "site", jobs=2, bootstrap=0)
    assert build(options).rebuilt == 4
    assert started == []
    pages = 2 * pool.SERVER_START_PAGES  # not enough for two workers
    assert rendering_workers(pages, options) == 1
    assert rendering_workers(pages + 1, options) == 2
    assert rendering_workers(3, replace(options, figures=("svg",))) == 2  # figures: 3 > 2 pays


# --- process trees from /proc ----------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="reads the process table from /proc")
def test_a_stopped_worker_server_is_gone_and_the_next_pool_starts_it_again() -> None:
    assert list(in_pool(double, range(5), 2, lambda job, reason: -1)) == [0, 2, 4, 6, 8]
    assert len(worker_servers()) == 1
    pool.stop_server()
    assert worker_servers() == []
    assert list(in_pool(double, range(5), 2, lambda job, reason: -1)) == [0, 2, 4, 6, 8]
    assert len(worker_servers()) == 1


# --- builds in a subprocess ------------------------------------------------------------------


def _tree(
    tmp_path: Path, sample_tree: Path, copies: int = 1, runs: tuple[str, ...] = RUN_DIRS
) -> Path:
    root = tmp_path / "results"
    for i in range(copies):
        for run in runs:
            shutil.copytree(sample_tree / run, root / f"batch_{i}" / run)
    return root


def _env(cache: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if cache is not None:
        env["REPORTGEN_CACHE_DIR"] = str(cache)
    return env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A build in its own session, its output on pipes (as ``| tee`` would hold it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "reportgen", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _workers(build: int) -> list[int]:
    """The build's worker processes: children of its worker server."""
    servers = [p for p in descendants(build) if "forkserver" in cmdline(p)]
    return [p for s in servers for p in descendants(s) if "forkserver" in cmdline(p)]


def _busy_workers(build: int) -> list[int]:
    """The build's workers on a CPU now: at work on a job (or starting), not idle between jobs
    (a worker killed idle costs nothing, and nothing is said)."""
    return [p for p in _workers(build) if (fields := stat_fields(p)) and fields[0] == "R"]


def _poll_until(condition: Any) -> int:
    """Poll ``condition()`` until it holds; the number of polls it took (fails after MAX_POLLS)."""
    for polls in range(MAX_POLLS):
        if condition():
            return polls
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"still not true after {MAX_POLLS} polls")


@pytest.mark.slow
def test_a_worker_killed_mid_build_costs_nothing(tmp_path: Path, sample_tree: Path) -> None:
    root = _tree(tmp_path, sample_tree, copies=6, runs=HEAVY_RUN_DIRS)
    build = _start(["build", str(root), "-o", str(tmp_path / "site"), "-j", "2"], _env())
    _poll_until(lambda: _busy_workers(build.pid) or build.poll() is not None)
    victims = _busy_workers(build.pid)
    assert victims, "the build ended before a worker could be killed"
    os.kill(victims[0], signal.SIGKILL)
    _, stderr = build.communicate(timeout=600)
    assert build.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    assert b"the worker process was killed by SIGKILL (out of memory?)" in stderr
    manifest = json.loads((tmp_path / "site/manifest.json").read_text())
    assert [r["status"] for r in manifest["runs"]] == ["ok"] * 12


def _read_to_end(stream: Any) -> int:
    """Read a pipe to EOF; the number of polls that took (each waits POLL_SECONDS at most)."""
    fd = stream.fileno()
    for polls in range(MAX_POLLS):
        if select.select([fd], [], [], POLL_SECONDS)[0] and not os.read(fd, 1 << 16):
            return polls
    raise AssertionError("the pipe is still open: something holds the build's output")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads the process table from /proc")
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_figures_build_leaves_no_process_behind(
    tmp_path: Path, sample_tree: Path, stop: signal.Signals
) -> None:
    root = _tree(tmp_path, sample_tree, copies=2)
    args = ["build", str(root), "-o", str(tmp_path / "site"), "-j", "2", "--figures", "svg"]
    build = _start(args, _env())
    _poll_until(lambda: _workers(build.pid) or build.poll() is not None)
    assert build.poll() is None, "the build ended before it could be killed"
    session = build.pid  # its own session: every process it started is in it
    os.kill(build.pid, stop)
    build.wait(timeout=60)
    for stream in (build.stdout, build.stderr):
        assert stream is not None
        with stream:
            _read_to_end(stream)
    polls = _poll_until(lambda: in_session(session) == [])
    assert polls < MAX_POLLS
    assert [cmdline(p) for p in in_session(session)] == []


PRLIMIT = shutil.which("prlimit")
ADDRESS_SPACE = 8 * 1024**3  # far more than a build needs; V8 still cannot reserve its heap


@pytest.mark.slow
@pytest.mark.skipif(PRLIMIT is None, reason="needs util-linux prlimit")
@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_a_figures_build_under_an_address_space_limit_completes(
    tmp_path: Path, sample_tree: Path, cache: str
) -> None:
    root = _tree(tmp_path, sample_tree)
    env = _env(tmp_path / "cache")
    if cache == "warm":  # the bundle made once without the limit
        first = subprocess.run(
            [sys.executable, "-m", "reportgen", "build", str(root), "-o", str(tmp_path / "s0")],
            env=env,
            capture_output=True,
            check=False,
        )
        assert first.returncode == 0, first.stderr.decode()
    out = tmp_path / "site"
    command = [str(PRLIMIT), f"--as={ADDRESS_SPACE}", sys.executable, "-m", "reportgen"]
    args = ["build", str(root), "-o", str(out), "-j", "2", "--figures", "svg,png"]
    done = subprocess.run([*command, *args], env=env, capture_output=True, check=False)
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert "Traceback" not in stderr and "C stack trace" not in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["status"] for r in manifest["runs"]] == ["ok"] * 2
    figures = json.loads((out / "runs/batch_0" / RUN_DIRS[0] / "figures/figures.json").read_text())
    warnings = [f["warning"] for f in figures["figures"]]
    assert warnings and all("killed by SIGTRAP" in (w or "") for w in warnings)
    assert all(f["csv"] for f in figures["figures"])  # the data files need no vl-convert
    bundle = next((out / "assets").glob("vega-bundle.*.js")).read_bytes()
    if cache == "cold":
        assert "charts are not drawn on this site" in stderr
        assert b"Chart not drawn" in bundle
        again = [sys.executable, "-m", "reportgen", "build", str(root), "-o", str(out)]
        subprocess.run(again, env=env, capture_output=True, check=True)  # no limit now
        (bundle_path,) = (out / "assets").glob("vega-bundle.*.js")
        assert b"vegaEmbed" in bundle_path.read_bytes()  # rendered again, not carried over
        page = (out / "runs/batch_0" / RUN_DIRS[0] / "index.html").read_text(encoding="utf-8")
        assert bundle_path.name in page
    else:
        assert "charts are not drawn" not in stderr
        assert b"vegaEmbed" in bundle


# --- BLAS threads: one in each worker, at most -j in the build's own process -----------------


def blas_threads(_: int, user_api: str | None = None) -> list[int]:
    """The thread counts of this process's pools (of ``user_api``'s alone, if given)."""
    from threadpoolctl import threadpool_info

    pools = threadpool_info()
    return sorted({int(p["num_threads"]) for p in pools if user_api in (None, p["user_api"])})


def test_blas_is_limited_in_workers_and_nowhere_else(
    sample_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Running reportgen's command line in this process changes neither its environment nor
    its BLAS pools; the build's workers run with one BLAS thread."""
    from reportgen.cli import main

    threads = blas_threads(0)
    environment = dict(os.environ)
    main(["check", str(sample_tree), "--bootstrap", "0"])
    capsys.readouterr()
    changed = {k for k in {*environment, *os.environ} if environment.get(k) != os.environ.get(k)}
    assert changed == set()
    assert blas_threads(0) == threads
    assert list(in_pool(blas_threads, [1, 2], 2, lambda job, reason: [-1])) == [[1], [1]]


def test_a_build_at_jobs_1_renders_on_one_blas_thread_and_restores_the_pools(
    sample_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-j 1`` renders in this process with one BLAS thread (not one spinning per core), and
    the process's BLAS pools are as they were once the build returns; a limit at or above
    them changes nothing."""
    import reportgen.build.runs

    before = blas_threads(0, "blas")
    seen: list[list[int]] = []
    render = reportgen.build.runs.process_run

    def recording(job: reportgen.build.runs.RunJob) -> Any:
        seen.append(blas_threads(0, "blas"))
        return render(job)

    monkeypatch.setattr(reportgen.build.runs, "process_run", recording)
    build(BuildOptions(results=sample_tree, out=tmp_path / "site", jobs=1, bootstrap=0))
    assert seen and all(threads == [1] * bool(before) for threads in seen)
    assert blas_threads(0, "blas") == before
    with pool.blas_threads_at_most(max(before, default=1)):
        assert blas_threads(0, "blas") == before


def test_a_run_lost_twice_gets_an_error_page_saying_why(sample_tree: Path, tmp_path: Path) -> None:
    from reportgen.build import BuildOptions, RunJob, site_context
    from reportgen.build.runs import lost_run
    from reportgen.discover import discover
    from reportgen.pages.run import RunSettings

    options = BuildOptions(results=sample_tree, out=tmp_path / "site")
    ref = discover(sample_tree)[0].runs[0]
    job = RunJob(ref, sample_tree, site_context(options), RunSettings(options.max_bytes), "hash")
    output = lost_run(job, "the worker process was killed by SIGKILL (out of memory?), twice")
    assert not output.ok
    record = output.record
    assert record is not None and record.error is not None
    assert record.error.reason.startswith("not rendered: the worker process was killed by SIGKILL")
    page = output.content(f"runs/{ref.id}/index.html").decode()
    assert "killed by SIGKILL" in page
