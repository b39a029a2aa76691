"""A run page's private fragment (its content, for a later stale page) cut by the build from the
page's bytes is the fragment the worker would have stored beside the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

import reportgen.pages.run as run_pages
from reportgen.build import BuildOptions, run_output, site_context
from reportgen.discover import discover
from reportgen.pages.output import PageOutput
from reportgen.pages.render import render_page_and_span
from reportgen.pages.run import RunSettings


def outputs(tree: Path) -> list[PageOutput]:
    site = site_context(BuildOptions(results=tree, out=Path("site")))
    runs, _ = discover(tree)
    return [run_output(ref, tree, site, "x", RunSettings(max_bytes=10**9)) for ref in runs.runs[:6]]


def test_the_cut_fragment_is_the_stored_one(
    sample_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cut = outputs(sample_tree)
    good = [o for o in cut if o.ok]
    assert len(good) >= 3 and all(o.fragment is not None for o in good)

    def without_span(*args: Any, **kwargs: Any) -> Any:
        html, content, _ = render_page_and_span(*args, **kwargs)
        return html, content, None  # the worker stores the fragment itself

    monkeypatch.setattr(run_pages, "render_page_and_span", without_span)
    stored = outputs(sample_tree)
    for a, b in zip(cut, stored, strict=True):
        assert b.fragment is None
        assert a.private_files() == b.private_files()
        assert a.files == b.files
    for o in cut:
        if o.fragment is not None:
            content = orjson.loads(dict(o.private_files())[o.fragment.fragment])["content"]
            assert len(content) > 1000 and content.encode() in o.content(o.fragment.page)
