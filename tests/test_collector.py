"""The cyclic collector while reportgen works: rarer collections, the worker server's imports
frozen, and every caller's own settings back afterwards."""

from __future__ import annotations

import gc
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import reportgen.build
from reportgen import cli, collector
from reportgen.build import BuildOptions
from reportgen.build.pool import in_pool

counts = st.integers(min_value=0, max_value=1_000_000)


@given(st.tuples(counts, counts, counts))
def test_the_thresholds_never_make_collections_more_frequent(current: tuple[int, int, int]) -> None:
    young, middle, oldest = collector.thresholds(current)
    assert young >= max(current[0], collector.YOUNG_EVERY) and middle == current[1]
    assert oldest >= max(current[2], collector.FULL_EVERY)
    assert collector.thresholds((young, middle, oldest)) == (young, middle, oldest)


def _seen_while(
    run: object, monkeypatch: pytest.MonkeyPatch, target: object, name: str
) -> list[tuple[int, int, int]]:
    """The thresholds each call of ``target.name`` (made to return ``run``) runs under."""
    seen: list[tuple[int, int, int]] = []

    def record(*args: object) -> object:
        seen.append(gc.get_threshold())
        return run

    monkeypatch.setattr(target, name, record)
    return seen


def test_a_command_collects_rarely_and_restores_the_thresholds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _seen_while(0, monkeypatch, cli, "_dispatch")
    before = gc.get_threshold()
    assert cli.main(["check", "."]) == 0
    assert seen == [collector.thresholds(before)] and gc.get_threshold() == before


def test_a_build_called_from_python_collects_rarely_and_restores_the_thresholds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A notebook's own thresholds are back once ``build`` returns, as they were before."""
    built = object()
    seen = _seen_while(built, monkeypatch, reportgen.build, "_build")
    own = gc.get_threshold()
    gc.set_threshold(1_000, 20, 5)
    try:
        result: object = reportgen.build.build(BuildOptions(results=tmp_path, out=tmp_path / "s"))
        assert result is built
        assert seen == [(collector.YOUNG_EVERY, 20, collector.FULL_EVERY)]
        assert gc.get_threshold() == (1_000, 20, 5)
    finally:
        gc.set_threshold(*own)


def collector_state(_: int) -> tuple[bool, tuple[int, int, int]]:
    """Whether this process holds frozen objects, and its thresholds."""
    return gc.get_freeze_count() > 0, gc.get_threshold()


def test_workers_never_collect_what_the_worker_server_imported() -> None:
    """The server froze its imports before forking; the process that asked did not freeze."""
    frozen_here = gc.get_freeze_count()
    states = list(in_pool(collector_state, [1, 2], 2, lambda job, reason: (False, (0, 0, 0))))
    expected = (True, collector.thresholds(gc.get_threshold()))
    assert states == [expected, expected]
    assert gc.get_freeze_count() == frozen_here


SCRIPT = """
import gc
from reportgen import cli
frozen = gc.get_freeze_count()
code = cli.script()
print(frozen, gc.get_freeze_count() > 0, code)
"""


def test_the_command_leaves_what_it_made_to_the_exit(sample_tree: Path) -> None:
    """The installed ``reportgen`` and ``python -m reportgen`` run ``script``, which freezes what
    the process holds once the command is done (``main``, called in-process, does not)."""
    argv = [sys.executable, "-c", SCRIPT, "check", str(sample_tree), "--bootstrap", "0", "-q"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.stdout.splitlines()[-1].split() == ["0", "True", str(done.returncode)]
    (command,) = entry_points(group="console_scripts", name="reportgen")
    assert command.value == "reportgen.cli:script"
    main_module = Path(cli.__file__).with_name("__main__.py").read_text()
    assert "sys.exit(script())" in main_module


IMPORTING = """
import gc
from reportgen import collector
collector.own_process()
with collector.importing():
    during = gc.isenabled()
    import reportgen.pages.site
print(during, gc.isenabled(), gc.get_freeze_count() > 0)
"""


def test_the_commands_own_process_freezes_what_the_page_code_imports() -> None:
    done = subprocess.run([sys.executable, "-c", IMPORTING], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True", "True"], done.stderr


def test_a_build_called_from_python_never_freezes_the_callers_objects(
    sample_tree: Path, tmp_path: Path
) -> None:
    """A notebook's cyclic garbage stays collectable: only the command's process is frozen."""
    frozen = gc.get_freeze_count()
    reportgen.build.build(BuildOptions(results=sample_tree, out=tmp_path / "site", jobs=1))
    assert gc.get_freeze_count() == frozen and gc.isenabled()
