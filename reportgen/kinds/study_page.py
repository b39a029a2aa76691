"""Page pieces every study kind shares: where its page goes, its inputs section, its files."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from reportgen.findings import CheckInfo
from reportgen.kinds.reading import NotRead
from reportgen.pages import paths, serialize
from reportgen.pages.output import PageOutput
from reportgen.pages.render import (
    Crumb,
    PageMeta,
    SiteContext,
    render_markdown,
    render_page_and_content,
)
from reportgen.pages.stale import stored_page


@dataclass(frozen=True)
class Section:
    id: str
    title: str


@dataclass(frozen=True)
class InputRow:
    """One claimed file: used, or not read and why (a pickle's refused global named)."""

    path: str
    used: bool
    reason: str
    asked_for: str | None


def input_rows(inputs: Sequence[str], not_read: Iterable[NotRead]) -> tuple[InputRow, ...]:
    refused = {item.path: item for item in not_read}
    return tuple(
        InputRow(path, False, refused[path].reason, refused[path].asked_for)
        if path in refused
        else InputRow(path, True, "", None)
        for path in inputs
    )


def not_read_json(item: NotRead) -> dict[str, Any]:
    return {"path": item.path, "reason": item.reason, "asked_for": item.asked_for}


def explanations(checks: Iterable[CheckInfo]) -> dict[str, Markup]:
    """Check id → its explanation rendered (our own markdown, sanitised like any other)."""
    return {info.id: render_markdown(info.explanation) for info in checks}


def default_page_dir(kind: str, directory: str) -> str:
    """``studies/<kind>/<directory as a slug>`` ("." is the tree's root)."""
    return f"studies/{kind}/{paths.slug(directory) if directory != '.' else '_root'}"


def page_meta(page_dir: str, title: str, kind: str, has_charts: bool) -> PageMeta:
    crumbs = (Crumb("Index", "index.html"), Crumb(title, None))
    return PageMeta(f"{page_dir}/index.html", title, kind, crumbs, has_charts=has_charts)


def study_fragment(page_dir: str) -> str:
    """Where the build keeps a study page's content, for a later stale page to show again."""
    return f".reportgen/{page_dir}/page.json"


def page_output(
    page_dir: str, html: bytes, twin: dict[str, Any], stored: bytes | None = None
) -> PageOutput:
    """The page and its ``summary.json`` beside it; ``stored`` is its content for a stale page
    (``reportgen.pages.stale.stored_page``), kept as a private file of the build."""
    private = () if stored is None else ((study_fragment(page_dir), stored),)
    return PageOutput(
        files=(
            (f"{page_dir}/index.html", html),
            (f"{page_dir}/summary.json", serialize.dumps(twin)),
        ),
        private=private,
    )


def rendered_page(
    template: str,
    site: SiteContext,
    meta: PageMeta,
    page_dir: str,
    twin: dict[str, Any],
    **context: Any,
) -> PageOutput:
    """A study page rendered from its template, with its twin and its content kept, so that a
    later build whose read of the study fails can show this page again, marked stale."""
    html, content = render_page_and_content(template, site, meta, **context)
    return page_output(page_dir, html, twin, stored_page(meta.has_charts, content))
