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
from reportgen.pages.render import Crumb, PageMeta, render_markdown


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


def page_output(page_dir: str, html: bytes, twin: dict[str, Any]) -> PageOutput:
    """The page and its ``summary.json`` beside it."""
    return PageOutput(
        files=(
            (f"{page_dir}/index.html", html),
            (f"{page_dir}/summary.json", serialize.dumps(twin)),
        )
    )
