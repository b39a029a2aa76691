"""vl-convert children shared by one build: reached by the build and its workers, none started
per worker, the same bytes as a process's own child, and a stopped shared child costs only
start-up (the process falls back to its own child)."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reportgen import charts, vlshared
from reportgen.charts import export
from reportgen.cli import main
from reportgen.vlchild import ConvertError

pytestmark = pytest.mark.skipif(not vlshared.supported(), reason="Linux abstract sockets")


def figure_spec(scale: float = 1.0) -> dict[str, Any]:
    chart, data = charts.eta_curve([1e-6, 2e-6], [-1e-4 * scale, -2e-4], [-1.1e-4, -2.1e-4])
    return export.themed(export.plain_json(dict(chart.spec) | {"datasets": data}), "paper")


@pytest.fixture
def own_child_bytes() -> dict[str, bytes]:
    """The figure in every format from this process's own child (no shared children)."""
    assert vlshared.client() is None
    svg = export.svg_of(figure_spec())
    return {fmt: export.convert(svg, fmt) for fmt in export.FORMATS}


@pytest.fixture
def two_shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Two shared children for the test (their process ids); no own child may start."""
    monkeypatch.setattr(export, "_converter", None)
    monkeypatch.setattr(export, "_spares", [])
    with vlshared.shared_children(2):
        pids = []
        for slot in range(2):
            connection = vlshared._connect(os.getpid(), slot)
            assert connection is not None
            with connection:
                pids.append(vlshared._peer(connection)[0])
        yield pids


def convert_in_worker(queue: Any) -> None:
    """A worker's export: its figure bytes and whether it started a child of its own."""
    svg = export.svg_of(figure_spec())
    files = {fmt: export.convert(svg, fmt) for fmt in export.FORMATS}
    queue.put((files, export._converter is None))


def same_figure(a: dict[str, bytes], b: dict[str, bytes]) -> bool:
    """The same SVG and PNG bytes; a PDF may list its resources in another order: the same size."""
    return a["svg"] == b["svg"] and a["png"] == b["png"] and len(a["pdf"]) == len(b["pdf"])


@pytest.mark.slow
def test_a_worker_converts_on_the_shared_children_and_starts_none(
    own_child_bytes: dict[str, bytes], two_shared: list[int]
) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=convert_in_worker, args=(queue,))
    worker.start()
    files, started_none = queue.get(timeout=120)
    worker.join(timeout=60)
    assert worker.exitcode == 0
    assert started_none  # its figures came from the build's children
    assert same_figure(files, own_child_bytes)


@pytest.mark.slow
def test_concurrent_pages_share_the_children_without_starting_their_own(
    own_child_bytes: dict[str, bytes], two_shared: list[int]
) -> None:
    export.spread_over(2)
    try:
        items = []
        for i in range(4):
            chart, data = charts.eta_curve([1e-6, 2e-6], [-1e-4, -2e-4], [-1.1e-4, -2.1e-4])
            chart = dataclasses.replace(chart, id=f"eta-{i}")
            items.append((chart, dict(chart.spec, datasets=data)))
        exported = export.export_charts(items, {}, export.FORMATS, "paper", "runs/r")
    finally:
        export.spread_over(1)
    for _, files in exported:
        by_format = {path.rsplit(".", 1)[1]: content for path, content in files}
        assert same_figure(by_format, own_child_bytes)
    shared = vlshared.client()
    assert shared is not None and not shared.broken
    assert export._converter is None
    assert all(c._process is None for c in export._spares)  # no own child was started


@pytest.mark.slow
def test_a_stopped_shared_child_costs_only_start_up(
    own_child_bytes: dict[str, bytes], two_shared: list[int]
) -> None:
    for pid in two_shared:
        os.kill(pid, signal.SIGKILL)
    svg = export.svg_of(figure_spec())
    files = {fmt: export.convert(svg, fmt) for fmt in export.FORMATS}
    assert same_figure(files, own_child_bytes)  # drawn by this process's own child
    shared = vlshared.client()
    assert shared is not None and shared.broken
    assert export._converter is not None and export._converter._process is not None
    export._converter.close()


@pytest.mark.slow
def test_the_shared_children_end_with_the_block() -> None:
    with vlshared.shared_children(2):
        assert vlshared.client() is not None
        assert vlshared._connect(os.getpid(), 1) is not None
    assert vlshared.client() is None
    assert [vlshared._connect(os.getpid(), slot) for slot in range(2)] == [None, None]


def test_no_shared_children_outside_a_build() -> None:
    assert vlshared.client() is None  # pytest's process: no build, no parent build
    stranger = vlshared.SharedClient(os.getppid())  # a process that runs no children
    with pytest.raises(vlshared.Unavailable):
        stranger.request("svg", spec=figure_spec())
    assert stranger.broken


def test_a_shared_childs_errors_are_the_figures_errors(two_shared: list[int]) -> None:
    shared = vlshared.client()
    assert shared is not None
    with pytest.raises(ConvertError):
        shared.request("svg", spec={"mark": "no-such-mark"})
    assert not shared.broken  # vl-convert refused the spec; the child serves on
    assert shared.request("svg", spec=figure_spec()).startswith(b"<svg")


def vl_children(owner: int) -> dict[int, str]:
    """The vl-convert children among ``owner``'s descendants: process id → which kind."""
    parents: dict[int, int] = {}
    kinds: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        try:
            parents[int(entry.name)] = int(
                (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            )
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except (ValueError, OSError):
            continue
        if "serve_shared" in command or "vlchild import serve" in command:
            kinds[int(entry.name)] = "shared" if "serve_shared" in command else "own"
    found = {}
    for pid, kind in kinds.items():
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, owner):
            ancestor = parents.get(ancestor)
        if ancestor == owner:
            found[pid] = kind
    return found


@pytest.mark.slow
def test_a_figures_build_starts_one_child_per_core_and_workers_none(
    sample_tree: Path, tmp_path: Path
) -> None:
    root = tmp_path / "results"
    for i in range(2):  # four runs for two workers: the runs and groups go to the pool
        for run in ("run_01", "run_02"):
            source = sample_tree / "comparison_across_learning_rates" / run
            shutil.copytree(source, root / f"batch_{i}" / run)
    argv = ["build", str(root), "-o", str(tmp_path / "site"), "-j", "2", "-q"]
    assert main(argv) == 0  # the Vega bundle made (on a child of its own) and cached first
    before = vl_children(os.getpid())  # this process's own child, from other tests
    seen: dict[int, str] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            seen.update(vl_children(os.getpid()))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert main([*argv, "--figures", "svg,png"]) == 0
    finally:
        done.set()
        watcher.join()
    started = {pid: kind for pid, kind in seen.items() if pid not in before}
    assert sorted(started.values()) == ["shared", "shared"], started  # none by a worker
    figures = list((tmp_path / "site").rglob("figures/*.png"))
    assert figures and len(figures) == len(list((tmp_path / "site").rglob("figures/*.svg")))


@pytest.mark.slow
def test_a_long_conversion_leaves_the_other_child_free(two_shared: list[int]) -> None:
    """A request served by one child frees the others at once: a small figure asked for while
    a large one is being drawn is answered first."""
    shared = vlshared.client()
    assert shared is not None
    points = [{"x": i % 977, "y": i % 311} for i in range(40_000)]
    large = {
        "data": {"values": points},
        "mark": "point",
        "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "y"}},
    }
    finished: list[str] = []
    started = threading.Event()

    def draw_large() -> None:
        started.set()
        shared.request("svg", spec=large)
        finished.append("large")

    drawing = threading.Thread(target=draw_large)
    drawing.start()
    started.wait()
    threading.Event().wait(0.2)  # the large request has chosen its child
    shared.request("svg", spec=figure_spec())
    finished.append("small")
    drawing.join()
    assert finished == ["small", "large"]
    assert not shared.broken
