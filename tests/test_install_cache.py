"""The per-install cache is never trusted on its own: only entries sealed under this user's key
are used, so a replaced Vega bundle is never published and replaced template code never runs;
the cache lives where platformdirs says, never under the working directory."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jinja2.bccache
import orjson
import pytest

from reportgen.build import BuildOptions, build
from reportgen.charts import spec_cache
from reportgen.install_cache import InstallCache, install_cache
from reportgen.pages import assets, guide, render
from reportgen.pages.studies import NO_INVENTORY

ROOT = Path(__file__).resolve().parents[1]
RUN = "comparison_across_learning_rates/run_01"
FOREIGN_JS = b"/* FOREIGN-BUNDLE-7c41 */ alert(document.cookie);"


def _tree(tmp_path: Path, sample_tree: Path) -> Path:
    root = tmp_path / "results"
    shutil.copytree(sample_tree / RUN, root / RUN)
    return root


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache and key of this test's own (the bundle is copied in from the session's)."""
    session = install_cache()
    cache = tmp_path / "cache"
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(cache))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    name = _bundle_name()
    bundle = session.get(name) or assets.vega_bundle().content
    install_cache().put(name, bundle)
    _forget()
    yield cache
    _forget()


def _forget() -> None:
    """What this process remembers of the cache (a new build process remembers nothing): a
    spec remembered here would otherwise never reach the session's cache on disk."""
    assets.vega_bundle.cache_clear()
    assets.vl_convert_versions.cache_clear()
    assets.static_assets.cache_clear()
    assets.assets_fingerprint.cache_clear()
    render.environment.cache_clear()
    guide.explanations.cache_clear()
    for builder in spec_cache._CACHED_BUILDERS.values():
        builder.cache_clear()


def _bundle_name() -> str:
    import vl_convert

    versions = (
        getattr(vl_convert, "__version__", "unknown"),
        vl_convert.get_vega_version(),
        vl_convert.get_vega_embed_version(),
    )
    return f"vega-bundle-{'-'.join(versions)}.js"


def _published_bundle(site: Path) -> bytes:
    return next((site / "assets").glob("vega-bundle.*.js")).read_bytes()


def test_a_sealed_entry_is_bound_to_its_name_and_bytes(tmp_path: Path) -> None:
    cache = InstallCache(tmp_path, b"k" * 32)
    cache.put("a.js", b"content of a")
    assert cache.get("a.js") == b"content of a"
    stored = (tmp_path / "a.js").read_bytes()
    (tmp_path / "b.js").write_bytes(stored)  # a valid entry copied under another name
    assert cache.get("b.js") is None
    (tmp_path / "a.js").write_bytes(stored.replace(b"content of a", b"content of A"))
    assert cache.get("a.js") is None
    (tmp_path / "a.js").write_bytes(stored[:-1])
    assert cache.get("a.js") is None
    assert InstallCache(tmp_path, b"j" * 32).get("a.js") is None  # another user's key


@pytest.mark.slow
def test_check_explanations_are_rendered_once_per_install_and_only_sealed_ones_read(
    own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = guide.check_explanations()  # rendered, and stored
    kinds = NO_INVENTORY.check_infos()
    fresh_kinds = guide.explanations(kinds)  # the guide's kind checks: an entry of their own
    entry = next((own_cache / "sealed" / "explanations").glob("*.json"))
    _forget()  # as a new build process
    with monkeypatch.context() as patched:
        patched.setattr(guide, "render_markdown", lambda text: pytest.fail("rendered again"))
        assert guide.check_explanations() == fresh
        assert guide.explanations(kinds) == fresh_kinds
    genuine = install_cache().get(f"explanations/{entry.name}")
    assert genuine is not None
    foreign = orjson.dumps({check: FOREIGN_JS.decode() for check in orjson.loads(genuine)})
    entry.write_bytes(entry.read_bytes()[: -len(genuine)] + foreign)  # the old seal, new bytes
    _forget()
    assert guide.check_explanations() == fresh
    assert guide.explanations(kinds) == fresh_kinds


def test_vl_convert_versions_are_kept_sealed_per_install_of_it(
    tmp_path: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vl_convert

    genuine = _bundle_name().removeprefix("vega-bundle-").removesuffix(".js")
    assert "-".join(assets.vl_convert_versions()) == genuine
    (entry,) = (own_cache / "sealed").glob("vl-convert-versions-*.txt")
    sealed = entry.read_bytes()
    entry.write_bytes(sealed.replace(vl_convert.get_vega_version().encode(), b"0.0.0"))
    _forget()
    assert "-".join(assets.vl_convert_versions()) == genuine  # the foreign entry not believed
    assert entry.read_bytes() == sealed  # and sealed again
    # another install of vl-convert (other files, or other times) is asked again
    other = tmp_path / "vl_convert.abi3.so"
    other.write_bytes(b"another build")
    monkeypatch.setattr(assets, "_vl_convert_files", lambda: [other])
    monkeypatch.setattr(assets, "RACY_NS", 0)
    _forget()
    assert "-".join(assets.vl_convert_versions()) == genuine
    assert len(list((own_cache / "sealed").glob("vl-convert-versions-*.txt"))) == 2


def test_a_replaced_vega_bundle_is_never_published(
    tmp_path: Path, sample_tree: Path, own_cache: Path
) -> None:
    root = _tree(tmp_path, sample_tree)
    entry = own_cache / "sealed" / _bundle_name()
    genuine = install_cache().get(_bundle_name())
    assert genuine is not None
    sealed_head = entry.read_bytes()[: -len(genuine)]
    entry.write_bytes(sealed_head + FOREIGN_JS)  # the old seal, foreign bytes
    build(BuildOptions(results=root, out=tmp_path / "site"))
    assert FOREIGN_JS not in _published_bundle(tmp_path / "site")
    assert _published_bundle(tmp_path / "site") == genuine  # made again, and sealed again
    assert install_cache().get(_bundle_name()) == genuine


@pytest.mark.slow
def test_a_cache_restored_from_elsewhere_is_not_believed(
    tmp_path: Path, sample_tree: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole cache, seals included, written under another key (another user, another CI
    branch): every entry is a miss."""
    root = _tree(tmp_path, sample_tree)
    other = InstallCache(own_cache / "sealed", b"another user's key, 32 bytes.!!")
    other.put(_bundle_name(), FOREIGN_JS)
    build(BuildOptions(results=root, out=tmp_path / "site"))
    assert FOREIGN_JS not in _published_bundle(tmp_path / "site")


class _Planted:
    """Unpickling this creates a file: the proof that cached bytes were executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.marker),)


def test_replaced_template_code_is_never_executed(
    tmp_path: Path, sample_tree: Path, own_cache: Path
) -> None:
    root = _tree(tmp_path, sample_tree)
    build(BuildOptions(results=root, out=tmp_path / "first"))  # compiles and stores templates
    _forget()
    entries = sorted((own_cache / "sealed" / "templates").glob("*.jinja"))
    assert entries
    marker = tmp_path / "executed"
    planted = jinja2.bccache.bc_magic + pickle.dumps(_Planted(marker))
    for entry in entries:  # seal kept, bytes replaced: what a shared cache could hold
        data = entry.read_bytes()
        head = data.index(jinja2.bccache.bc_magic)
        entry.write_bytes(data[:head] + planted)
    build(BuildOptions(results=root, out=tmp_path / "second", force=True))
    assert not marker.exists()
    page = (tmp_path / "second/runs" / RUN / "index.html").read_text(encoding="utf-8")
    assert "<html" in page


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reportgen", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def _bare_env(**extra: str) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


@pytest.mark.slow
def test_a_relative_xdg_cache_home_writes_nothing_under_the_working_directory(
    tmp_path: Path, sample_tree: Path
) -> None:
    root = _tree(tmp_path, sample_tree)
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = _bare_env(HOME=str(home), XDG_CACHE_HOME="relative-cache", XDG_STATE_HOME="state")
    done = _run(["build", str(root), "-o", str(tmp_path / "site")], env, work)
    assert done.returncode == 0, done.stderr
    assert list(work.iterdir()) == []
    assert (home / ".cache/reportgen/sealed").is_dir()
    assert (home / ".local/state/reportgen/cache.key").stat().st_mode & 0o077 == 0


@pytest.mark.slow
def test_no_home_directory_builds_with_the_cache_off(
    tmp_path: Path,
    sample_tree: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An arbitrary uid in a container: no HOME and no passwd entry, so ``~`` does not expand
    (what ``os.path.expanduser`` then returns), and no cache variable is set."""
    root = _tree(tmp_path, sample_tree)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in ("HOME", "REPORTGEN_CACHE_DIR", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    real = os.path.expanduser
    monkeypatch.setattr(os.path, "expanduser", lambda p: p if p.startswith("~") else real(p))
    _forget()
    with caplog.at_level("INFO", logger="reportgen"):
        result = build(BuildOptions(results=root, out=work / "site"))
    _forget()
    assert result.failed_runs == []
    assert "no place for the per-install cache" in caplog.text
    assert sorted(p.name for p in work.iterdir()) == ["site"]  # no "~" directory here
    assert not install_cache().enabled


def test_the_key_is_private_and_a_damaged_one_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path / "cache-1"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    first = install_cache()
    key = tmp_path / "state/reportgen/cache.key"
    assert first.enabled and key.stat().st_mode & 0o777 == 0o600
    first.put("entry", b"bytes")
    key.write_bytes(b"damaged")
    monkeypatch.setenv("REPORTGEN_CACHE_DIR", str(tmp_path / "cache-2"))  # a new process
    second = install_cache()
    assert second.enabled and len(key.read_bytes()) == 32
    shutil.copytree(tmp_path / "cache-1", tmp_path / "cache-2", dirs_exist_ok=True)
    assert second.get("entry") is None  # sealed under the key that was replaced
