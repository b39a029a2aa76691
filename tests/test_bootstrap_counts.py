"""The bootstrap's count matrices: shared per (seed, n, resamples), streamed by groups of η."""

from __future__ import annotations

import math
import shutil
import tracemalloc
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from reportgen.analysis import counts
from reportgen.analysis.bootstrap import (
    ETA_GROUP,
    bootstrap_draws,
    eta_intervals,
    paired_columns,
    ratio_intervals,
    slope_intervals,
)
from reportgen.analysis.bootstrap_stream import bootstrap_intervals, doubling_interval
from reportgen.analysis.contributions import run_contributions, run_eta_summaries
from reportgen.analysis.counts import BootstrapCounts
from reportgen.analysis.delta import PairedColumns
from reportgen.analysis.resample import MAX_WEIGHT_CELLS, PIECE_CELLS
from reportgen.analysis.stats import derived_rng
from reportgen.analysis.uncertainty import run_uncertainty
from reportgen.build import BuildResult, build
from reportgen.load.models import Run
from reportgen.settings import BuildOptions
from tests.test_uncertainty import snis_runs

SNIS_256 = "diagnostics_run/full_data/E_256"


def synthetic(eta: float, n: int, seed: int = 0) -> PairedColumns:
    """One η of a run whose n sequences are the same at every η (as in a real run)."""
    rng = np.random.default_rng(seed)
    units = rng.integers(20, 60, n).astype(np.float64)
    h_base = units * (1.0 + 0.2 * rng.normal(size=n))
    h_new = h_base - 400.0 * eta * units * (1.0 + 0.5 * rng.normal(size=n))
    weight = np.exp(0.05 * rng.normal(size=n))
    linear = -400.0 * eta * (1.0 + rng.normal(size=n)) / n
    base = float(h_base.sum() / units.sum())
    return PairedColumns(eta, weight, h_new, h_base, units, base, linear, linear * 1.01)


def grid(count: int, n: int) -> list[PairedColumns]:
    """η = 10⁻⁶·2^(k/4): every η's double lies four η on, in another group of ``ETA_GROUP``."""
    return [synthetic(1e-6 * 2.0 ** (k / 4), n, seed=k) for k in range(count)]


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> OrderedDict[BootstrapCounts, Any]:
    cache: OrderedDict[BootstrapCounts, Any] = OrderedDict()
    monkeypatch.setattr(counts, "_cache", cache)
    return cache


@pytest.fixture(scope="module")
def sample_runs(sample_tree: Path) -> list[Run]:
    return snis_runs(sample_tree)


# --- sharing ---------------------------------------------------------------------------------


def summary_intervals(site: Path, run: str) -> dict[str, Any]:
    """Every bootstrap interval of a run's summary.json, by field."""
    data = orjson.loads((site / "runs" / run / "summary.json").read_bytes())
    found = {f"uncertainty.{k}": v for k, v in data["uncertainty"].items() if "ci95" in k}
    found["doublings"] = [d["ci95"] for d in data["uncertainty"]["doublings"]]
    for row in data["etas"]:
        found |= {f"{row['eta']}.{k}": v for k, v in row.items() if k.startswith("ci95")}
    return found


def test_a_run_built_alone_has_the_intervals_it_has_among_runs_of_its_n(
    sample_tree: Path,
    sample_site: tuple[Path, BuildResult],
    tmp_path: Path,
    fresh_cache: OrderedDict[BootstrapCounts, Any],
) -> None:
    """The sample tree holds three runs of 256 sequences; built with them (one process, so the
    later runs reuse the first's counts) or alone (nothing cached), a run's intervals are the
    same to the last bit."""
    site, _ = sample_site
    alone = tmp_path / "results"
    shutil.copytree(sample_tree / SNIS_256 / "run_02", alone / SNIS_256 / "run_02")
    build(BuildOptions(results=alone, out=tmp_path / "site", jobs=1))
    assert list(fresh_cache) == [BootstrapCounts(0, 256, 2000)]  # drawn for this run alone
    page = f"{SNIS_256}/run_02"
    among = summary_intervals(site, page)
    by_itself = summary_intervals(tmp_path / "site", page)
    assert sum(v is not None for v in among.values()) >= 10
    assert orjson.dumps(by_itself) == orjson.dumps(among)


def test_runs_of_one_n_share_one_matrix(
    sample_runs: list[Run], fresh_cache: OrderedDict[BootstrapCounts, Any]
) -> None:
    for run in sample_runs:
        run_uncertainty(run, run_eta_summaries(run, run_contributions(run)), bootstrap=300)
    sizes = {c.n for run in sample_runs for c in paired_columns(run)[:1]}
    assert set(fresh_cache) == {BootstrapCounts(0, n, 300) for n in sizes}
    assert len(sizes) < len(sample_runs)  # some runs share a matrix


def test_a_cached_matrix_gives_the_blocks_a_redrawn_one_gives(
    monkeypatch: pytest.MonkeyPatch, fresh_cache: OrderedDict[BootstrapCounts, Any]
) -> None:
    key = BootstrapCounts(3, 300, 5000)  # 1.5 M cells: several blocks
    cached = [b.copy() for b in key.blocks()]
    assert list(fresh_cache) == [key]
    monkeypatch.setattr(counts, "CACHE_CELLS", 1000)  # now too big to keep: drawn again
    redrawn = [b.copy() for b in key.blocks()]
    assert len(cached) == len(redrawn) > 1
    assert all(np.array_equal(a, b) for a, b in zip(cached, redrawn, strict=True))
    assert all(np.all(b.sum(axis=1) == 300) for b in cached)


def test_the_cache_keeps_at_most_its_cells(
    monkeypatch: pytest.MonkeyPatch, fresh_cache: OrderedDict[BootstrapCounts, Any]
) -> None:
    monkeypatch.setattr(counts, "CACHE_CELLS", 2 * 102 * 50)  # two matrices of 50 × ~100
    for n in (100, 100, 101, 102):
        list(BootstrapCounts(0, n, 50).blocks())
    assert list(fresh_cache) == [BootstrapCounts(0, 101, 50), BootstrapCounts(0, 102, 50)]


# --- the move from per-run draws -------------------------------------------------------------


@dataclass(frozen=True)
class PerRunCounts(BootstrapCounts):
    """The draws before counts were shared: a stream per (seed, run id)."""

    run_id: str = ""

    def rng(self) -> np.random.Generator:
        return derived_rng(self.seed, "bootstrap", self.run_id)


def test_sharing_moved_the_intervals_within_monte_carlo_error(sample_runs: list[Run]) -> None:
    """Per-run and per-n counts are two independent sets of B resamples. An endpoint (the 2.5 %
    or 97.5 % quantile of a statistic with SD σ) has Monte-Carlo SE √(p(1−p)/B)/φ(z) · σ =
    2.67 σ/√B, so two independent ones differ by ≤ 5·√2·2.67 σ/√B (σ: the delta-method SE)
    at every one of the ~300 endpoints compared."""
    draws, checked = 2000, 0
    for run in sample_runs:
        columns = paired_columns(run)
        if not columns:
            continue
        summaries = run_eta_summaries(run, run_contributions(run))
        ses = {u.eta: u for u in run_uncertainty(run, summaries, bootstrap=0).etas}
        n = columns[0].n
        new = bootstrap_intervals(columns, BootstrapCounts(0, n, draws))
        old = bootstrap_intervals(columns, PerRunCounts(0, n, draws, run.ref.id))
        assert new is not None and old is not None
        for eta, found in new.per_eta.items():
            for name in ("true", "linear", "linquad"):
                sigma = getattr(ses[eta], f"se_{name}")
                a, b = found.get(name), old.per_eta[eta].get(name)
                if sigma is None or a is None or b is None:
                    continue
                bound = 5 * math.sqrt(2) * 2.67 * sigma / math.sqrt(draws)
                assert abs(a[0] - b[0]) <= bound and abs(a[1] - b[1]) <= bound, (eta, name)
                assert a != b  # independent draws: the move is real
                checked += 2
    assert checked >= 100


# --- streaming by groups of η ----------------------------------------------------------------


def test_streamed_intervals_are_those_of_all_draws_at_once(
    fresh_cache: OrderedDict[BootstrapCounts, Any],
) -> None:
    columns = grid(3 * ETA_GROUP - 3, 200)
    key = BootstrapCounts(1, 200, 400)
    etas = [c.eta for c in columns]
    pairs = [(etas[k], etas[k + 4]) for k in range(len(etas) - 4)]
    streamed = bootstrap_intervals(columns, key, etas, pairs)
    whole = bootstrap_draws(columns, key)
    assert streamed is not None and whole is not None
    expected = eta_intervals(whole)
    for eta, ratios in ratio_intervals(whole).items():
        expected[eta].update(ratios)
    assert streamed.per_eta == expected  # exact floats (an interval is finite or None)
    loglog, linear = slope_intervals(np.asarray(whole.etas), whole.true)
    assert (streamed.loglog_slope, streamed.linear_slope) == (loglog, linear)
    assert loglog is not None and linear is not None
    index = {eta: j for j, eta in enumerate(whole.etas)}
    for low, high in pairs:
        interval = doubling_interval(whole.true[:, index[low]], whole.true[:, index[high]])
        assert streamed.doublings[(low, high)] == interval is not None


@pytest.mark.slow
def test_streamed_bootstrap_memory_is_bounded_by_one_group(
    fresh_cache: OrderedDict[BootstrapCounts, Any],
) -> None:
    """2,048 sequences × 10,000 resamples (too many cells to cache: drawn block by block) at 128
    η. All at once, the sums alone would take draws × 6 × 128 doubles (61 MB); streamed, the
    peak is one block of weights and its pieces plus one group of η's statistics — at most 32
    draws-long columns of doubles per η of the group (sums, their copy by η, the differences,
    ratios, the percentiles' partition copies) — and the slopes' and doublings' few columns."""
    n, draws = 2048, 10_000
    assert n * draws > counts.CACHE_CELLS
    columns = grid(128, n)
    etas = [c.eta for c in columns]
    pairs = [(etas[k], etas[k + 4]) for k in range(len(etas) - 4)]
    tracemalloc.start()
    try:
        found = bootstrap_intervals(columns, BootstrapCounts(0, n, draws), etas, pairs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found is not None and len(found.doublings) == len(pairs)
    weights = 8 * (MAX_WEIGHT_CELLS + 2 * PIECE_CELLS)
    group = 8 * draws * 32 * ETA_GROUP
    carried = 8 * draws * (3 + 8)  # slope sums, and the η waiting for their doubles
    bound = weights + group + carried
    assert peak <= bound, (peak, bound)
    assert bound < 8 * draws * 6 * len(columns)
