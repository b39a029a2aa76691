"""η matching against a group's grid: the one-pass lookups find what a search of every grid
value would, including values within the tolerance of two grid points."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.group_stats import per_eta_stats
from reportgen.analysis.points import RunPoints
from reportgen.analysis.stats import (
    ETA_REL_TOL,
    eta_grid,
    first_matches,
    grid_matches,
    same_eta,
    summary_at,
)

# η values in clusters a fraction of the tolerance apart, so that some match two grid points
BASES = st.sampled_from([1e-6, 2.5e-5, 1e-3, 0.5, 0.0, -0.0, -1e-4, 3.0])
STEPS = st.integers(min_value=-3, max_value=3)
ODD = st.sampled_from([math.nan, math.inf, -math.inf])


@st.composite
def etas(draw: st.DrawFn) -> float:
    if draw(st.integers(0, 20)) == 0:
        return draw(ODD)
    return draw(BASES) * (1.0 + draw(STEPS) * 0.6 * ETA_REL_TOL)


def _grid_of_every_value(etas: list[float]) -> tuple[float, ...]:
    """The grid as a walk over every value (duplicates included) makes it."""
    grid: list[float] = []
    for eta in sorted(e for e in etas if math.isfinite(e)):
        if not grid or not same_eta(grid[-1], eta):
            grid.append(eta)
    return tuple(grid)


@given(st.lists(etas(), max_size=40))
@settings(max_examples=400)
def test_the_grid_of_distinct_values_is_the_grid_of_every_value(values: list[float]) -> None:
    expected = _grid_of_every_value(values)
    grid = eta_grid(values)
    assert grid == expected
    assert [math.copysign(1.0, g) for g in grid] == [math.copysign(1.0, g) for g in expected]


@given(st.lists(etas(), max_size=30), etas())
@settings(max_examples=400)
def test_grid_matches_are_the_grid_values_within_the_tolerance(
    values: list[float], eta: float
) -> None:
    grid = eta_grid(values)
    expected = [i for i, g in enumerate(grid) if same_eta(g, eta)]
    assert list(grid_matches(grid, eta)) == expected


@given(st.lists(etas(), max_size=30), st.lists(etas(), max_size=8))
@settings(max_examples=300)
def test_first_matches_are_what_a_search_per_grid_value_finds(
    values: list[float], run: list[float]
) -> None:
    grid = eta_grid(values + run)
    expected = {
        i: next(p for p, eta in enumerate(run) if same_eta(eta, g))
        for i, g in enumerate(grid)
        if any(same_eta(eta, g) for eta in run)
    }
    assert dict(first_matches(grid, tuple(run))) == expected


def _point(eta: float, value: float) -> EtaSummary:
    return EtaSummary(eta, value, 0.9 * value, 0.95 * value, None, None, None, None, None, None)


@given(st.lists(st.lists(st.tuples(etas(), st.floats(-1.0, 1.0)), max_size=5), max_size=8))
@settings(max_examples=200)
def test_per_eta_stats_take_each_runs_first_point_at_each_grid_value(
    runs: list[list[tuple[float, float]]],
) -> None:
    points = [
        RunPoints(f"r{i}", 4, tuple(_point(e, v) for e, v in run), None)
        for i, run in enumerate(runs)
    ]
    stats = per_eta_stats(points)
    grid = eta_grid(s.eta for p in points for s in p.etas)
    assert [row.eta for row in stats] == list(grid)
    for row in stats:
        found = [s for p in points if (s := summary_at(p.etas, row.eta)) is not None]
        true = [s.delta_h_true for s in found if s.delta_h_true is not None]
        finite = [t for t in true if math.isfinite(t)]
        assert row.n_runs == len(finite)
        if finite:
            assert row.true_mean is not None
            assert math.isclose(row.true_mean, math.fsum(finite) / len(finite), abs_tol=1e-12)
