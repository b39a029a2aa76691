"""The guide page: results.json fields, the contribution arithmetic and every check explained."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import orjson
from markupsafe import Markup

from reportgen.analysis.contributions import PER_SEQUENCE_FORMULA, PER_TOKEN_FORMULA
from reportgen.analysis.diagnostics import CHECKS
from reportgen.findings import CheckInfo
from reportgen.pages.assets import assets_fingerprint
from reportgen.pages.render import Crumb, PageMeta, SiteContext, render_markdown, render_page

GUIDE_PAGE = "guide.html"


@dataclass(frozen=True)
class CheckDoc:
    info: CheckInfo
    explanation: Markup


def check_explanations() -> dict[str, Markup]:
    """Check id → rendered explanation, for the runs' own checks (kept as ``explanations``
    keeps them)."""
    return explanations(CHECKS)


@cache
def explanations(infos: tuple[CheckInfo, ...]) -> dict[str, Markup]:
    """Check id → rendered explanation (our own or a kind's markdown, still sanitised like any
    other), kept in the per-install cache by the texts and this code and its libraries: the same
    for every build that explains these checks."""
    from reportgen.install_cache import install_cache

    ids = [info.id for info in infos]
    identity = orjson.dumps([assets_fingerprint(), [[i.id, i.explanation] for i in infos]])
    name = f"explanations/{hashlib.sha256(identity).hexdigest()}.json"
    stored = install_cache().get(name)  # sealed: bytes this install wrote, or a miss
    if stored is not None:
        with contextlib.suppress(ValueError):
            cached = orjson.loads(stored)
            if (
                isinstance(cached, dict)
                and list(cached) == ids
                and all(isinstance(html, str) for html in cached.values())
            ):
                return {key: Markup(html) for key, html in cached.items()}
    rendered = {info.id: explanation_html(info.explanation) for info in infos}
    install_cache().put(name, orjson.dumps({key: str(html) for key, html in rendered.items()}))
    return rendered


def explanation_html(text: str) -> Markup:
    """A check's explanation rendered. η* is a symbol, its star escaped: Python-Markdown 3.5
    reads two of them in one paragraph as the ends of an emphasis."""
    return render_markdown(text.replace("η*", "η\\*"))


@dataclass(frozen=True)
class GuideView:
    checks: tuple[CheckDoc, ...]
    per_token_formula: str
    per_sequence_formula: str
    kind_checks: tuple[CheckDoc, ...] = ()


def render_guide(site: SiteContext, kind_checks: Sequence[CheckInfo] = ()) -> bytes:
    """The guide; ``kind_checks`` are the experiment kinds' checks, explained after the runs'."""
    explained, kinds_explained = check_explanations(), explanations(tuple(kind_checks))
    view = GuideView(
        checks=tuple(CheckDoc(info, explained[info.id]) for info in CHECKS),
        kind_checks=tuple(CheckDoc(i, kinds_explained[i.id]) for i in kind_checks),
        per_token_formula=PER_TOKEN_FORMULA,
        per_sequence_formula=PER_SEQUENCE_FORMULA,
    )
    page = PageMeta(
        GUIDE_PAGE, "Guide", "guide", (Crumb("Index", "index.html"), Crumb("Guide", None))
    )
    return render_page("guide.html", site, page, view=view)
