"""The Jinja environment, value formatting and page rendering; all markup lives in templates/."""

from __future__ import annotations

import base64
import hashlib
import posixpath
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
import jinja2.bccache
import nh3
import orjson
from markupsafe import Markup

from reportgen import __version__, numfmt
from reportgen.install_cache import install_cache
from reportgen.numfmt import (
    NumberFormat,
    column_format,
    format_eta,
    format_number,
    format_percent,
    format_percent_se,
    format_with_se,
)
from reportgen.pages import paging
from reportgen.pages.assets import static_assets, templates_dir
from reportgen.pages.markdown_guard import plain_text_reason

SANITIZE_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    }
)


@dataclass(frozen=True)
class Crumb:
    title: str
    href: str | None


@dataclass(frozen=True)
class PageMeta:
    """Where a page sits in the site; ``path`` is relative to the site root."""

    path: str
    title: str
    kind: str
    crumbs: tuple[Crumb, ...]
    has_charts: bool = False

    @property
    def base(self) -> str:
        """Relative prefix from this page back to the site root ("" or "../../")."""
        depth = self.path.count("/")
        return "../" * depth


@dataclass(frozen=True)
class InlineAssets:
    """CSS and scripts inlined into a self-contained page, allowed by their CSP hashes."""

    css: Markup
    js: Markup
    theme: Markup
    bundle: Markup
    script_sources: Markup
    style_sources: Markup


@dataclass(frozen=True)
class SiteContext:
    """Context shared by every page, built once per build."""

    title: str
    version: str
    assets: dict[str, str]
    built_at: str | None
    vega_version: str
    inline: InlineAssets | None = None


class TemplateCodeCache(jinja2.BytecodeCache):
    """Compiled templates in the per-install cache, so a build does not recompile them.

    Stored in Jinja's own bytecode format (``Bucket.bytecode_to_string``), keyed by the
    template, the Jinja version and the interpreter, and sealed like every per-install entry:
    Jinja's format unpickles and ``marshal``-loads what it reads, so only bytes whose seal
    verifies (this user wrote them) are ever handed to it; anything else is recompiled.
    """

    def _name(self, bucket: jinja2.bccache.Bucket) -> str:
        tag = sys.implementation.cache_tag or sys.implementation.name
        return f"templates/{jinja2.__version__}-{tag}-{bucket.key}.jinja"

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        stored = install_cache().get(self._name(bucket))
        if stored is not None:
            bucket.bytecode_from_string(stored)  # resets the bucket if the source changed

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.code is not None:
            install_cache().put(self._name(bucket), bucket.bytecode_to_string())


# --- formatting (the rules live in reportgen.numfmt) --------------------------------------


def _num(value: object, fmt: NumberFormat | None = None) -> str:
    return format_number(value, fmt or numfmt.DEFAULT)


def _num_se(value: float | None, se: float | None, fmt: NumberFormat | None = None) -> str:
    return format_with_se(value, se, fmt or numfmt.DEFAULT)


def column_formats(rows: Iterable[object], *fields: str) -> dict[str, NumberFormat]:
    """One ``NumberFormat`` per field over all rows (templates: ``colfmt(rows, "a", "b")``)."""
    rows = list(rows)
    return {name: column_format(_path(r, name) for r in rows) for name in fields}


def _path(row: object, dotted: str) -> object:
    for part in dotted.split("."):
        row = getattr(row, part, None)
    return row


# what must not appear raw inside <script>: "<", ">" and "&" (no "</script>", no "<!--"), and
# the line separators U+2028/U+2029 that old JavaScript parsers end a string at
_SCRIPT_ESCAPES = tuple(
    (raw.encode(), escaped.encode())
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    )
)


def json_for_script(data: Any) -> Markup:
    """JSON that cannot close its ``<script>`` tag: ``<``, ``>`` and ``&`` are escaped."""
    text = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS)
    for raw, escaped in _SCRIPT_ESCAPES:
        if raw in text:  # a scan: chart data seldom holds any of them, and a copy costs more
            text = text.replace(raw, escaped)
    return Markup(text.decode())


MARKDOWN_OPTIONS: dict[str, Any] = {
    "extensions": ["tables", "fenced_code"],
    "output_format": "html",
}
_converters = threading.local()  # a Markdown instance is reusable after reset(), not shareable


def render_markdown(text: str) -> Markup:
    """Markdown from the tree, rendered then sanitised: no scripts, handlers or risky URLs.

    A text Python-Markdown could not format in time proportional to its length (see
    ``markdown_guard``) is shown as plain text, saying why.
    """
    reason = plain_text_reason(text)
    if reason is not None:
        plain = environment().get_template("_plain_text.html")
        return Markup(plain.render(text=text, reason=reason))
    # one converter per thread: building one (its extensions) costs more than most conversions
    converter = getattr(_converters, "markdown", None)
    if converter is None:
        import markdown  # only where there is markdown: most one-change builds have none

        converter = _converters.markdown = markdown.Markdown(**MARKDOWN_OPTIONS)
    return sanitised(converter.reset().convert(text))


def sanitised(html: str) -> Markup:
    """HTML with only the allowed tags, no handlers and only web and mail links."""
    clean = nh3.clean(
        html,
        tags=set(SANITIZE_TAGS),
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return Markup(clean)


def relative_href(from_page: str, to_path: str) -> str:
    """A relative URL from one site path to another (both relative to the site root)."""
    start = posixpath.dirname(from_page).split("/")
    target = to_path.split("/")
    if not (to_path and _plain(start) and _plain(target)):  # resolved the long way
        return posixpath.relpath(to_path, posixpath.dirname(from_page) or ".")
    start = [part for part in start if part]
    target = [part for part in target if part]
    shared = 0
    for mine, theirs in zip(start, target, strict=False):
        if mine != theirs:
            break
        shared += 1
    return "/".join([".."] * (len(start) - shared) + target[shared:]) or "."


def _plain(parts: list[str]) -> bool:
    """Path parts without a current- or parent-directory step, not from the file system's root:
    walked as they are, they give what ``posixpath.relpath`` gives after normalising."""
    return "." not in parts and ".." not in parts and (len(parts) == 1 or parts[0] != "")


# --- environment -----------------------------------------------------------------------------


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
        bytecode_cache=TemplateCodeCache(),
    )
    env.filters.update(
        num=_num,
        num_se=_num_se,
        zscore=numfmt.format_z,
        pvalue=numfmt.format_p,
        eta=format_eta,
        pct=format_percent,
        pct_se=format_percent_se,
        json_script=json_for_script,
    )
    env.globals.update(colfmt=column_formats, paging=paging)
    return env


def warm_templates() -> None:
    """Compile every page template now (a worker server does, for all its workers)."""
    env = environment()
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)


def _page_variables(site: SiteContext, page: PageMeta) -> dict[str, Any]:
    """What every template may use: the site, the page, its relative base, the version, and the
    layout the page template extends (``single_file.html`` for a self-contained file)."""
    layout = "single_file.html" if site.inline else "base.html"
    return {"site": site, "page": page, "base": page.base, "version": __version__, "layout": layout}


def render_page(template: str, site: SiteContext, page: PageMeta, **context: Any) -> bytes:
    """One page to UTF-8 bytes: its template, through the layout it extends."""
    variables = _page_variables(site, page) | context
    return environment().get_template(template).render(variables).encode("utf-8")


def render_page_and_content(
    template: str, site: SiteContext, page: PageMeta, **context: Any
) -> tuple[bytes, Markup]:
    """A page as ``render_page`` renders it, and its ``content`` block on its own (what a stale
    page shows again later: ``stale.html``).

    The block is rendered once, then handed to the layout's ``content`` slot as it is, instead
    of being rendered again there: it is most of the page's cost.
    """
    html, content, _ = render_page_and_span(template, site, page, **context)
    return html, content


def render_page_and_span(
    template: str, site: SiteContext, page: PageMeta, **context: Any
) -> tuple[bytes, Markup, tuple[int, int] | None]:
    """``render_page_and_content``, and where the content lies in the page's bytes (UTF-8
    offsets; ``None`` if the layout did not write the block as it was handed over)."""
    env = environment()
    tmpl = env.get_template(template)
    ctx = tmpl.new_context(_page_variables(site, page) | context)
    try:
        content = Markup("".join(tmpl.blocks["content"](ctx)))
        ctx.blocks["content"] = [lambda _ctx: iter((content,))]  # first in line: the layout's slot
        pieces = list(tmpl.root_render_func(ctx))
    except Exception:
        env.handle_exception()  # a traceback that points into the template, as render() gives
    html = "".join(pieces).encode("utf-8")
    at = next((i for i, piece in enumerate(pieces) if piece is content), None)
    if at is None:
        return html, content, None
    start = len("".join(pieces[:at]).encode("utf-8"))
    return html, content, (start, start + len(content.encode("utf-8")))


def render_stale_page(site: SiteContext, page: PageMeta, content: Markup, stale: Any) -> bytes:
    """A page's earlier content under the stale banner; ``stale`` has ``reason``, ``last_good``."""
    variables = _page_variables(site, page) | {"content": content, "stale": stale}
    return environment().get_template("stale.html").render(variables).encode("utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def inline_assets() -> InlineAssets:
    """Styles and scripts for one self-contained page, allowed by their CSP hashes."""
    contents = {asset.name: asset.content.decode("utf-8") for asset in static_assets()}
    css, js, bundle = contents["site.css"], contents["reportgen.js"], contents["vega-bundle.js"]
    theme = contents["theme.js"]
    return InlineAssets(
        css=Markup(css),
        js=Markup(js),
        theme=Markup(theme),
        bundle=Markup(bundle),
        script_sources=Markup(" ".join(_csp_hash(text) for text in (theme, js, bundle))),
        style_sources=Markup(_csp_hash(css)),
    )
