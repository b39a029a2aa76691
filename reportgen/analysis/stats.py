"""Small statistics shared by the analysis modules: finite numbers, η matching, spreads."""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reportgen.analysis.contributions import EtaSummary
from reportgen.load.models import FloatArray

ETA_REL_TOL = 1e-9
# η matches remembered: a group's runs share a few grids and η lists, matched once each
MATCHES_HELD = 4096
Json = dict[str, Any]


def num(value: float | int | np.floating[Any] | None) -> float | None:
    """A JSON-safe number: ``None`` for missing or non-finite values."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def same_eta(a: float, b: float) -> bool:
    """η values from different runs match within a relative tolerance (they pass through text)."""
    return math.isclose(a, b, rel_tol=ETA_REL_TOL, abs_tol=0.0)


def eta_grid(etas: Iterable[float]) -> tuple[float, ...]:
    """Distinct finite η values, sorted; values within the tolerance collapse onto the smallest."""
    grid: list[float] = []
    # each distinct value once (a group's runs repeat a few η thousands of times)
    for eta in sorted(e for e in set(etas) if math.isfinite(e)):
        if not grid or not same_eta(grid[-1], eta):
            grid.append(eta)
    return tuple(grid)


@functools.lru_cache(maxsize=MATCHES_HELD)
def grid_matches(grid: tuple[float, ...], eta: float) -> range:
    """The indices of the sorted ``grid`` values that ``eta`` matches (``same_eta``): one
    stretch, since the tolerance grows with the values' size and never spans a sign change."""
    low = high = bisect.bisect_left(grid, eta)
    while low > 0 and same_eta(grid[low - 1], eta):
        low -= 1
    while high < len(grid) and same_eta(grid[high], eta):
        high += 1
    return range(low, high)


@functools.lru_cache(maxsize=MATCHES_HELD)
def first_matches(grid: tuple[float, ...], etas: tuple[float, ...]) -> tuple[tuple[int, int], ...]:
    """Per index of the sorted ``grid``, the position of the first of ``etas`` that matches it
    (what a search of ``etas`` for each grid value finds, in one pass), by index."""
    first: dict[int, int] = {}
    for position, eta in enumerate(etas):
        for index in grid_matches(grid, eta):
            first.setdefault(index, position)
    return tuple(first.items())


def summary_at(summaries: Sequence[EtaSummary], eta: float) -> EtaSummary | None:
    return next((s for s in summaries if same_eta(s.eta, eta)), None)


@dataclass(frozen=True)
class Spread:
    """Mean, sample std (ddof 1), min, max and median of the finite values; ``n`` counts them."""

    n: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    median: float | None = None  # robust when one run's ΔH_true is near zero
    q25: float | None = None  # quartiles (numpy's linear interpolation): IQR = q75 − q25
    q75: float | None = None

    @property
    def iqr(self) -> float | None:
        return num(self.q75 - self.q25) if self.q25 is not None and self.q75 is not None else None

    @property
    def se_mean(self) -> float | None:
        """The mean's standard error across the values, std/√n (``None`` below two values)."""
        return num(self.std / math.sqrt(self.n)) if self.std is not None and self.n >= 2 else None

    def to_json(self) -> Json:
        return {
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "median": self.median,
            "q25": self.q25,
            "q75": self.q75,
            "n": self.n,
        }


def spread(values: Iterable[float | None]) -> Spread:
    # None becomes NaN; sorted before summing so the result does not depend on the order of runs
    listed = values if isinstance(values, np.ndarray) else list(values)
    given = np.asarray(listed, dtype=np.float64)
    finite = np.sort(given[np.isfinite(given)])
    n = finite.size
    if n == 0:
        return Spread(0, None, None, None, None)
    # the sums ``mean`` and ``std(ddof=1)`` make, in their order, without their Python wrappers
    # (a group's analysis takes thousands of spreads of a few dozen values)
    mean = np.add.reduce(finite) / n
    deviations = finite - mean
    std = num(math.sqrt(np.add.reduce(deviations * deviations) / (n - 1))) if n >= 2 else None
    q25, median, q75 = sorted_quantiles(finite, (0.25, 0.5, 0.75))
    return Spread(
        n=n,
        mean=num(mean),
        std=std,
        min=num(finite[0]),
        max=num(finite[-1]),
        median=num(median),
        q25=num(q25),
        q75=num(q75),
    )


def sorted_quantiles(values: FloatArray, qs: tuple[float, ...]) -> FloatArray:
    """numpy's default (linear) quantiles of already sorted values, all in one pass: a group
    page takes thousands of spreads, and three ``np.percentile`` calls each were its hot spot."""
    at = (values.size - 1) * np.asarray(qs)
    lo = np.floor(at).astype(np.intp)
    hi = np.minimum(lo + 1, values.size - 1)
    result: FloatArray = values[lo] + (at - lo) * (values[hi] - values[lo])
    return result


def derived_rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator seeded from ``seed`` and names; sha256, not ``hash()``, so runs reproduce."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return np.random.default_rng(
        np.random.SeedSequence([seed, int.from_bytes(digest[:8], "little")])
    )
