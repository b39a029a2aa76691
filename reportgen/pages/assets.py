"""Static assets: templates location, the offline Vega bundle, and content-hashed file names."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportgen.build.status import RACY_NS

STATIC_FILES = ("site.css", "theme.js", "reportgen.js")
BUNDLE_NAME = "vega-bundle.js"


PACKAGE = Path(__file__).resolve().parent.parent


def templates_dir() -> Path:
    """Templates ship in the wheel (``reportgen/templates``); a checkout keeps them at the top."""
    installed = PACKAGE / "templates"
    return installed if installed.is_dir() else PACKAGE.parent / "templates"


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
    _write_cache(path, content)
    return content


def _write_cache(path: Path, content: bytes) -> None:
    """Write a per-install cache file atomically; a read-only home only costs recomputing it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
    except OSError:
        pass


@cache
def static_assets() -> tuple[Asset, ...]:
    static = templates_dir() / "static"
    files = tuple(Asset(name, (static / name).read_bytes()) for name in STATIC_FILES)
    return (*files, Asset(BUNDLE_NAME, vega_bundle()))


@cache
def assets_fingerprint() -> str:
    """Changes whenever a template, static asset, the code itself or the Vega bundle changes.

    The content hash is cached per install under the stat signature of those files and of
    vl-convert's, so an up-to-date build neither reads every source file nor loads vl-convert.
    """
    sources = _source_files()
    signature, settled = _stat_signature([*sources, *_vl_convert_files()])
    package = str(PACKAGE).encode()
    path = cache_dir() / f"fingerprint-{hashlib.sha256(package).hexdigest()[:12]}.txt"
    try:
        stored_signature, fingerprint = path.read_text().split()
        if stored_signature == signature:
            return fingerprint
    except (OSError, ValueError):
        pass  # no cache yet, or a damaged one: hash the contents
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    digest.update(vega_bundle_version().encode())
    fingerprint = digest.hexdigest()
    if settled:
        _write_cache(path, f"{signature} {fingerprint}\n".encode())
    return fingerprint


def _source_files() -> list[Path]:
    files = [*templates_dir().rglob("*"), *PACKAGE.rglob("*.py")]
    return sorted(p for p in files if p.is_file())


def _vl_convert_files() -> list[Path]:
    """vl-convert's installed files (they fix the Vega version), found without loading it."""
    spec = importlib.util.find_spec("vl_convert")
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted(p for p in Path(spec.submodule_search_locations[0]).iterdir() if p.is_file())


def _stat_signature(files: list[Path]) -> tuple[str, bool]:
    """A hash of every file's path, size, times and inode; and whether none changed just now.

    A file modified within the last two seconds may change again within the same timestamp
    tick, unseen (git's "racy clean" problem), so such a signature is not cached.
    """
    digest = hashlib.sha256()
    newest = 0
    for file in files:
        st = file.stat()
        newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
        digest.update(
            f"{file}\0{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}\0".encode()
        )
    return digest.hexdigest(), time.time_ns() - newest > RACY_NS


def vega_bundle_version() -> str:
    import vl_convert

    return f"vega {vl_convert.get_vega_version()}, vega-embed {vl_convert.get_vega_embed_version()}"
