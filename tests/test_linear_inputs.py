"""Small inputs never cost more than linear work: notes Python-Markdown would rescan
quadratically are shown as plain text, configs nested too deeply are refused before parsing.

Work is counted (Python lines executed in the code doing it), never timed: the count for a
doubled input must stay near twice the count, as linear work does (quadratic work gives ×4).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from reportgen.load.inputs import CONFIG_MAX_DEPTH, block_depth, parse_config
from reportgen.pages import markdown_guard
from reportgen.pages.render import render_markdown

WATCHED = ("/markdown/", "/yaml/", "markdown_guard.py", "/reportgen/load/inputs.py")
LINEAR_GROWTH = 2.5  # count(2n) ÷ count(n): 2 for linear work, 4 for quadratic


def lines_executed(work: Callable[[], Any]) -> int:
    """Python lines executed in Markdown, PyYAML and our guards while ``work()`` runs."""
    count = 0

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if not any(part in frame.f_code.co_filename for part in WATCHED):
            return None
        if event == "line":
            count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(previous)
    return count


PATHOLOGICAL_NOTES: dict[str, Callable[[int], str]] = {
    "unclosed brackets": lambda n: "[" * n,
    "nested brackets": lambda n: "[" * (n // 2) + "]" * (n // 2),
    "unclosed images": lambda n: "![" * (n // 2),
    "unclosed link targets": lambda n: "[a](" * (n // 4),
    "unclosed references": lambda n: "[a][" * (n // 4),
    "unclosed tags": lambda n: "<a " * (n // 3),
    "unclosed autolinks": lambda n: "<http://" * (n // 8),
    "nested lists": lambda n: "".join("    " * i + "- x\n" for i in range(int(n**0.5))),
    "nested quotes": lambda n: "".join(">" * i + " x\n" for i in range(int(n**0.5))),
}


@pytest.mark.parametrize("kind", PATHOLOGICAL_NOTES)
def test_pathological_notes_render_in_linear_work(kind: str) -> None:
    make = PATHOLOGICAL_NOTES[kind]
    small, large = (lines_executed(partial(render_markdown, make(n))) for n in (2048, 4096))
    assert large <= LINEAR_GROWTH * small, (small, large)
    assert "Shown as plain text" in render_markdown(make(4096))


def test_a_32_kib_note_of_unclosed_brackets_costs_a_few_lines_a_character() -> None:
    text = "[" * 32 * 1024
    assert lines_executed(lambda: render_markdown(text)) <= 20 * len(text)
    html = str(render_markdown(text))
    assert "unclosed brackets" in html and "<a " not in html


def test_ordinary_notes_are_still_formatted() -> None:
    note = (
        "# Run notes\n\n- a [link](https://example.org) and `code [x`\n"
        "    - nested [ref][1]\n\n```python\nrows = [[1, 2], [3\n```\n\n"
        "> a quote with <b>bold</b>\n\n[1]: https://example.org/r\n"
    )
    assert markdown_guard.plain_text_reason(note) is None
    html = str(render_markdown(note))
    assert '<a href="https://example.org" rel="noopener noreferrer">link</a>' in html
    assert "<blockquote>" in html and "<pre><code" in html


def test_the_budget_leaves_room_for_many_real_links() -> None:
    """2,000 ordinary links and 1,000 bracketed words stay Markdown."""
    links = "".join(f"- see [run {i}](https://example.org/{i})\n" for i in range(2000))
    words = " ".join(f"[w{i}]" for i in range(1000))
    assert markdown_guard.plain_text_reason(links + "\n" + words) is None


def _block_nested(levels: int) -> str:
    return "".join(" " * i + f"k{i}:\n" for i in range(levels)) + " " * levels + "v: 1\n"


def test_a_config_nested_990_levels_in_block_style_is_refused_before_parsing() -> None:
    config = parse_config("config.yaml", _block_nested(990))
    assert config.problem is not None and "nested 991 levels deep" in config.problem
    assert config.values == {}
    small, large = (
        lines_executed(partial(parse_config, "config.yaml", _block_nested(n))) for n in (1000, 2000)
    )
    assert large <= LINEAR_GROWTH * small, (small, large)


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        ("a: 1\n", 1),
        ("a:\n  b:\n    c: 1\nd: 2\n", 3),
        ("- - - x\n", 4),
        ("a:\n  - b: 1\n    c: 2\n", 3),
        ("# comment\n\na: |\n  text\n    indented text\n", 3),
    ],
)
def test_block_depth_bounds_the_nesting(text: str, levels: int) -> None:
    assert block_depth(text) == levels


def test_configs_at_the_depth_limit_still_parse() -> None:
    config = parse_config("config.yaml", _block_nested(CONFIG_MAX_DEPTH - 1))
    assert config.problem is None and "k0" in config.values


@pytest.mark.slow
def test_run_with_pathological_notes_and_config_builds(sample_tree: Path, tmp_path: Path) -> None:
    """End to end: the run page shows the note as plain text and names the config problem."""
    import shutil

    from reportgen.build import BuildOptions, build

    run = "comparison_across_learning_rates/run_01"
    root = tmp_path / "results"
    shutil.copytree(sample_tree / run, root / run)
    (root / run / "notes.md").write_text("[" * 32 * 1024)
    (root / run / "config.yaml").write_text(_block_nested(990))
    result = build(BuildOptions(results=root, out=tmp_path / "site"))
    assert result.failed_runs == []
    page = (tmp_path / "site/runs" / run / "index.html").read_text(encoding="utf-8")
    assert "Shown as plain text: its unclosed brackets" in page
    assert "nested 991 levels deep" in page
