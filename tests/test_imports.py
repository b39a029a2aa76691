"""Import hygiene: an up-to-date build stats, reads the status file, compares and exits.

Altair, numpy and Jinja cost most of a no-op build's time if imported (~0.5 s together), so
the modules a no-op build runs (cli, build, discover, status, write, models, assets) keep them
out of module scope; the spec cache keeps Altair out of a cold build whose specs are cached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from reportgen.build import BuildOptions, build
from reportgen.pages import assets

HEAVY = ("altair", "numpy", "jinja2")

PROBE = """
import sys
import orjson
from reportgen.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
print(orjson.dumps({"code": code, "modules": sorted(sys.modules)}).decode())
"""


def _build_in_subprocess(*args: str) -> tuple[int, list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "build", *args],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    lines = proc.stdout.strip().splitlines()
    data = orjson.loads(lines[-1])
    return data["code"], data["modules"], "\n".join(lines[:-1])


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY]


@pytest.fixture
def kept_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The code's fingerprint kept by this process's first build even when a source file was
    edited just now: the racy window would keep it from the cache, and the build in the
    subprocess would hash the files again (loading vl-convert and the package metadata)."""
    monkeypatch.setattr(assets, "RACY_NS", 0)
    assets.assets_fingerprint.cache_clear()


@pytest.mark.usefixtures("kept_fingerprint")
def test_noop_build_imports_no_altair_numpy_or_jinja(sample_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(BuildOptions(results=sample_tree, out=out, jobs=1))
    code, modules, stdout = _build_in_subprocess(str(sample_tree), "-o", str(out), "-j", "1")
    assert "up to date" in stdout
    assert code in (0, 1)  # the sample tree holds deliberately broken runs (exit code 1)
    assert _heavy(modules) == []
    # the worker pool, prctl/renameat2, the demo's temporary tree, the loaded-run dataclasses
    # and vl-convert (the code fingerprint is cached under the files' stats): not needed either
    unneeded = {
        "multiprocessing",
        "concurrent.futures",
        "ctypes",
        "reportgen.demo",
        "reportgen.load.models",
    }
    assert sorted(unneeded.union({"vl_convert"}).intersection(modules)) == []


def test_cold_build_with_cached_specs_does_not_import_altair(
    sample_tree: Path, tmp_path: Path
) -> None:
    build(BuildOptions(results=sample_tree, out=tmp_path / "first", jobs=1))  # fills the cache
    code, modules, stdout = _build_in_subprocess(
        str(sample_tree), "-o", str(tmp_path / "second"), "-j", "1"
    )
    assert code in (0, 1)
    assert "re-rendered" in stdout  # a real build, not an up-to-date one
    assert "numpy" in modules and "jinja2" in modules  # the probe sees what a build imports
    assert "altair" not in modules


@pytest.mark.usefixtures("kept_fingerprint")
def test_one_changed_run_reads_no_package_metadata_and_imports_no_unused_module(
    sample_tree: Path, tmp_path: Path
) -> None:
    """A changed run without notes: the guide's explanations are kept per install and the
    libraries' versions with the code's fingerprint, so neither Python-Markdown nor the package
    metadata is imported; nor are numpy's masked arrays or ``statistics``, which its arithmetic
    does not need, nor vl-convert, whose versions are kept per install."""
    results = tmp_path / "results"
    shutil.copytree(sample_tree, results)
    out = tmp_path / "site"
    build(BuildOptions(results=results, out=out, jobs=1))
    path = results / "comparison_across_learning_rates/run_01/results.json"
    data = orjson.loads(path.read_bytes())
    data["sweep"][0]["deltaH_true"] *= 1.01
    path.write_bytes(orjson.dumps(data))
    code, modules, stdout = _build_in_subprocess(str(results), "-o", str(out), "-j", "1")
    assert code in (0, 1)
    assert "(1 re-rendered)" in stdout
    assert "jinja2" in modules  # pages were rendered
    unneeded = {"markdown", "importlib.metadata", "numpy.ma", "statistics", "vl_convert"}
    assert sorted(unneeded.intersection(modules)) == []


CATALOGUE_PROBE = """
import sys
import orjson
from reportgen.kinds.registry import registry
ids = [info.id for kind in registry().kinds for info in kind.kind.CHECKS]
print(orjson.dumps({"ids": len(ids), "modules": sorted(sys.modules)}).decode())
"""


def test_the_check_catalogue_imports_no_kind_analysis() -> None:
    """The guide lists every kind's checks in every build that renders pages; that needs the
    checks' docstrings, not the kinds' analysis code (a tree without such studies never
    runs it)."""
    proc = subprocess.run(
        [sys.executable, "-c", CATALOGUE_PROBE], capture_output=True, text=True, check=True
    )
    data = orjson.loads(proc.stdout)
    assert data["ids"] > 20
    analyses = [
        m for m in data["modules"] if m.startswith("reportgen.kinds.") and m.endswith(".analysis")
    ]
    assert analyses == []
