"""Shared fixtures: the sample tree, a built sample site, and the optional real tree."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import reportgen.build.runs as run_stage
import reportgen.build.status as status_module
from reportgen import cli
from reportgen.build import BuildOptions, BuildResult, build
from reportgen.demo import generate_sample_tree, scale_tree

# Hypothesis' per-example deadline and its too-slow health check are wall-clock thresholds,
# which fail tests at random on a shared machine (two xdist workers on two cores): neither applies.
settings.register_profile("reportgen", deadline=None, suppress_health_check=[HealthCheck.too_slow])
# CI draws the same examples every run, so a red CI is reproducible and not a roll of the dice;
# local runs keep exploring (REPORTGEN_FUZZ_EXAMPLES=2000 for a long hunt).
settings.register_profile("ci", parent=settings.get_profile("reportgen"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "reportgen")

SHARED_RESULTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "results"


@pytest.fixture(scope="session", autouse=True)
def _install_cache(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """A per-install cache (Vega bundle, compiled templates, chart specs) of the tests' own,
    and the key its entries are sealed with.

    Both live in pytest's cache directory, so later runs start warm as a user's second build
    does (every entry is keyed by the versions and code that made it); ``--cache-clear`` or
    ``-p no:cacheprovider`` starts from an empty one. Tests of the cache itself use their own.
    """
    cache: pytest.Cache | None = getattr(request.config, "cache", None)

    def directory(name: str) -> str:
        return str(cache.mkdir(f"reportgen-{name}") if cache else tmp_path_factory.mktemp(name))

    private = {"REPORTGEN_CACHE_DIR": directory("install"), "XDG_STATE_HOME": directory("state")}
    previous = {name: os.environ.get(name) for name in private}
    os.environ.update(private)
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def always_pooled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds of this test start workers whenever ``-j`` allows, however few their pages (a
    small tree is otherwise rendered in the build's process)."""
    monkeypatch.setattr("reportgen.build.pool.SERVER_START_PAGES", 0)


@pytest.fixture(scope="session")
def sample_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded sample results tree (read-only by convention: copy it to mutate)."""
    return generate_sample_tree(tmp_path_factory.mktemp("sample") / "results", seed=0)


@pytest.fixture(scope="session")
def studies_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample tree with the studies of every experiment kind (read-only by convention)."""
    return generate_sample_tree(tmp_path_factory.mktemp("studies") / "results", studies=True)


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


@pytest.fixture(scope="session")
def next_runner_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sample tree with the next runner's blocks (``next_runner/``), and its built site."""
    tree = generate_sample_tree(
        tmp_path_factory.mktemp("next") / "results", seed=0, next_runner=True
    )
    out = tree.parent / "site"
    build(BuildOptions(results=tree, out=out, jobs=2, bootstrap=0))
    return tree, out


@pytest.fixture(scope="session")
def demo_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tree ``reportgen demo`` builds (inference cases, its reportgen.toml, next runner)."""
    root = tmp_path_factory.mktemp("demo") / "results"
    return generate_sample_tree(root, seed=0, inference_cases=True, next_runner=True)


@pytest.fixture(scope="session")
def demo_site(demo_tree: Path) -> tuple[Path, Path]:
    """The demo tree and its site, built by the command line with its defaults."""
    site = demo_tree.parent / "site"
    assert cli.main(["build", str(demo_tree), "-o", str(site), "-j", "2", "-q"]) in (0, 1)
    return demo_tree, site


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids of the runs the build re-read and re-rendered (in-process builds, -j 1)."""
    calls: list[str] = []
    real = run_stage.run_output

    def counting(ref: Any, *args: Any) -> Any:
        calls.append(ref.id)
        return real(ref, *args)

    monkeypatch.setattr(run_stage, "run_output", counting)
    return calls


@pytest.fixture(scope="module")
def no_racy_window() -> Iterator[None]:
    """Fingerprint files written a moment ago too (tests write their trees just before building)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(status_module, "RACY_NS", 0)
        yield


def small_scale_options(results: Path, out: Path) -> BuildOptions:
    return BuildOptions(results=results, out=out, jobs=1, bootstrap=200)


@pytest.fixture(scope="module")
def small_scale(
    no_racy_window: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """A 10-run scale tree (one group compares batch sizes) and its site, built once a module."""
    root = tmp_path_factory.mktemp("small-scale")
    results = scale_tree(root / "results", seed=0, runs=10)
    out = root / "site"
    build(small_scale_options(results, out))
    return results, out


@pytest.fixture
def small_scale_copy(small_scale: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the small scale tree and its site, for a test to change."""
    results, out = small_scale
    return shutil.copytree(results, tmp_path / "results"), shutil.copytree(out, tmp_path / "site")


@pytest.fixture(scope="module")
def mini_tree(sample_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four small runs (two sweeps, two control-variate runs): full rebuilds stay cheap."""
    root = tmp_path_factory.mktemp("mini") / "results"
    for part in ("comparison_across_learning_rates", "CVs_and_gdotv"):
        shutil.copytree(sample_tree / part, root / part)
    return root


@pytest.fixture(scope="module")
def mini_site(mini_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mini-site") / "site"
    build(BuildOptions(results=mini_tree, out=out, jobs=1))
    return out


@pytest.fixture
def mini(mini_tree: Path, mini_site: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the mini tree and of its built site, free to mutate."""
    tree = shutil.copytree(mini_tree, tmp_path / "results")
    out = tmp_path / "site"
    shutil.copytree(mini_site, out)
    return tree, out
