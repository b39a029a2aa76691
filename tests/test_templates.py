"""Templates that say what they do: real inheritance, short lines, partials for repeated pieces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reportgen.build import BuildResult
from reportgen.pages.assets import templates_dir

TEMPLATES = templates_dir()
PAGE_TEMPLATES = sorted(
    p.name
    for p in TEMPLATES.glob("*.html")
    if not p.name.startswith("_") and p.name not in {"base.html", "single_file.html", "stale.html"}
)
# A repeated piece of markup and the partial that alone writes it.
PARTIALS = {
    '<div class="table-wrap">': "_table.html",
    '<figure class="chart"': "_chart.html",
    '<section class="findings"': "_findings.html",
    '<span class="sev-counts">': "_findings.html",
    '<section class="verdict': "_summary.html",
    '<th scope="col"': "_table.html",
}


def test_every_template_line_is_under_120_characters() -> None:
    long = [
        f"{path.relative_to(TEMPLATES)}:{number}: {len(line)}"
        for path in sorted(TEMPLATES.rglob("*"))
        if path.suffix in {".html", ".js", ".css"}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if len(line) >= 120
    ]
    assert long == []


def test_every_page_template_extends_its_layout() -> None:
    assert len(PAGE_TEMPLATES) >= 9  # index, run, error, group, … (not a glob that found nothing)
    for name in PAGE_TEMPLATES:
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        assert text.startswith("{% extends layout %}\n"), name  # base.html or single_file.html
        assert "{% block content %}" in text, name
    for variant in ("single_file.html", "stale.html"):
        assert '{% extends "base.html" %}' in (TEMPLATES / variant).read_text(encoding="utf-8")
    assert "{% extends" not in (TEMPLATES / "base.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("markup", list(PARTIALS))
def test_repeated_pieces_come_from_their_partial(markup: str) -> None:
    writers = sorted(
        p.name for p in TEMPLATES.glob("*.html") if markup in p.read_text(encoding="utf-8")
    )
    assert writers == [PARTIALS[markup]]


def test_every_page_is_one_whole_document(sample_site: tuple[Path, BuildResult]) -> None:
    """Rendered through the layout: one head, one main with the page's content, one footer."""
    site, _ = sample_site
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 15
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for once in ("<!DOCTYPE html>", "<head>", '<main id="main">', "</main>", "</html>"):
            assert html.count(once) == 1, (page, once)
        main = html.split('<main id="main">', 1)[1].split("</main>", 1)[0]
        assert re.search(r"<h1[ >]", main), page
        assert "content=\"default-src 'none'; script-src 'self'; style-src 'self';" in html
