"""Static assets: templates location, the offline Vega bundle, and content-hashed file names."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STATIC_FILES = ("site.css", "theme.js", "reportgen.js")
BUNDLE_NAME = "vega-bundle.js"


def templates_dir() -> Path:
    """Templates ship in the wheel (``reportgen/templates``); a checkout keeps them at the top."""
    installed = Path(__file__).parent / "templates"
    return installed if installed.is_dir() else Path(__file__).parent.parent / "templates"


def cache_dir() -> Path:
    """Per-user cache for slow, per-install artefacts (only the Vega bundle)."""
    configured = os.environ.get("REPORTGEN_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reportgen"


@dataclass(frozen=True)
class Asset:
    """A static file written once per build under ``assets/`` with a content-hashed name."""

    name: str
    content: bytes

    @property
    def hashed_name(self) -> str:
        digest = hashlib.sha256(self.content).hexdigest()[:12]
        stem, dot, suffix = self.name.rpartition(".")
        return f"assets/{stem}.{digest}{dot}{suffix}"


def _wrap_bundle(bundle: str) -> str:
    # The bundle is a classic script with minified top-level names; a function scope keeps them
    # out of the page's globals while it still assigns window.vegaEmbed / vega / vegaLite.
    return f"(function () {{\n{bundle}\n}})();\n"


@cache
def vega_bundle() -> bytes:
    """Vega, Vega-Lite and Vega-Embed as one classic script, cached per vl-convert version."""
    import vl_convert  # imported here: a no-op build never needs it

    version = "-".join(
        (
            getattr(vl_convert, "__version__", "unknown"),
            vl_convert.get_vega_version(),
            vl_convert.get_vega_embed_version(),
        )
    )
    path = cache_dir() / f"vega-bundle-{version}.js"
    try:
        return path.read_bytes()
    except OSError:
        pass
    content = _wrap_bundle(vl_convert.javascript_bundle()).encode()  # type: ignore[call-arg]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
    except OSError:
        pass  # a read-only home only costs the 2 s of regenerating next time
    return content


@cache
def static_assets() -> tuple[Asset, ...]:
    static = templates_dir() / "static"
    files = tuple(Asset(name, (static / name).read_bytes()) for name in STATIC_FILES)
    return (*files, Asset(BUNDLE_NAME, vega_bundle()))


@cache
def assets_fingerprint() -> str:
    """Changes whenever a template, static asset or the code itself changes (full rebuild)."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    files = [*templates_dir().rglob("*"), *package.rglob("*.py")]
    for path in sorted(p for p in files if p.is_file()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(vega_bundle_version().encode())
    return digest.hexdigest()


def vega_bundle_version() -> str:
    import vl_convert

    return f"vega {vl_convert.get_vega_version()}, vega-embed {vl_convert.get_vega_embed_version()}"
