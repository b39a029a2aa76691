"""Shared fixtures: the sample tree, a built sample site, and the optional real tree."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reportgen.build import BuildOptions, BuildResult, build
from reportgen.demo import generate_sample_tree

SHARED_RESULTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "results"


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the per-install Vega bundle cache inside the test's temporary directory."""
    previous = os.environ.get("REPORTGEN_CACHE_DIR")
    os.environ["REPORTGEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("REPORTGEN_CACHE_DIR", None)
    else:
        os.environ["REPORTGEN_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def sample_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded sample results tree (read-only by convention: copy it to mutate)."""
    return generate_sample_tree(tmp_path_factory.mktemp("sample") / "results", seed=0)


@pytest.fixture(scope="session")
def sample_site(
    sample_tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, BuildResult]:
    """The sample tree built once per session (do not modify; build your own to mutate)."""
    out = tmp_path_factory.mktemp("site") / "site"
    result = build(BuildOptions(results=sample_tree, out=out, jobs=1))
    return out, result


@pytest.fixture(scope="session")
def shared_results() -> Path:
    """The real slice of an experiment tree beside the checkout; skipped when absent."""
    if not SHARED_RESULTS.is_dir():
        pytest.skip("../shared/data/results is not present")
    return SHARED_RESULTS
