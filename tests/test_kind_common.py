"""What the experiment kinds share: the check list, and the statistics (ranks, Spearman with
its permutation test, least squares through the origin) against independent computations."""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.kinds.common import CheckList, Hit, shorten
from reportgen.kinds.sample_stats import mean_se, origin_fit, spearman_test


def _ranks(values: list[float]) -> list[float]:
    """Mean ranks by counting (ties share), independent of argsort."""
    return [
        sum(1 for w in values if w < v) + (sum(1 for w in values if w == v) + 1) / 2 for v in values
    ]


def _spearman(x: list[float], y: list[float]) -> float:
    return statistics.correlation(_ranks(x), _ranks(y))


def test_a_crashing_check_becomes_a_finding() -> None:
    checks: CheckList[int] = CheckList("demo")

    @checks.check("demo-fine", "info", "fine", "x")
    def fine(subject: int) -> list[Hit]:
        return [Hit(f"value {subject}")]

    @checks.check("demo-broken", "error", "broken", "x")
    def broken(subject: int) -> list[Hit]:
        raise ZeroDivisionError("boom")

    found = checks.run(3)
    assert [(f.id, f.severity) for f in found] == [
        ("demo-check-failed", "warning"),
        ("demo-fine", "info"),
    ]
    assert "ZeroDivisionError: boom" in found[0].message
    assert "demo-check-failed" in {info.id for info in checks.infos}
    with pytest.raises(ValueError, match="duplicate"):
        checks.check("demo-fine", "info", "again", "x")(fine)


# scaling by 0.01–100 keeps these normal: a subnormal y can underflow to zero when scaled
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False).filter(
    lambda v: v == 0 or abs(v) > 1e-200
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.1, 10), finite), min_size=2, max_size=8),
    st.floats(0.01, 100),
    st.randoms(use_true_random=False),
)
def test_origin_fit_scales_and_ignores_order(
    points: list[tuple[float, float]], scale: float, random: Any
) -> None:
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    fit = origin_fit(x, y)
    scaled = origin_fit(x, scale * y)
    order = list(range(len(points)))
    random.shuffle(order)
    shuffled = origin_fit(x[order], y[order])
    assert fit.slope is not None and scaled.slope is not None and shuffled.slope is not None
    assert math.isclose(scaled.slope, scale * fit.slope, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(shuffled.slope, fit.slope, rel_tol=1e-9, abs_tol=1e-12)
    if fit.r2 is not None:
        assert scaled.r2 is not None and math.isclose(scaled.r2, fit.r2, abs_tol=1e-9)
        assert fit.r2 <= 1 + 1e-12


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), finite), min_size=3, max_size=7))
def test_spearman_matches_counting_ranks_with_ties(pairs: list[tuple[int, float]]) -> None:
    x = [float(p[0]) for p in pairs]
    y = [p[1] for p in pairs]
    test = spearman_test(np.array(x), np.array(y))
    if len(set(x)) < 2 or len(set(y)) < 2:
        assert test.rho is None
        return
    assert test.rho is not None and math.isclose(test.rho, _spearman(x, y), abs_tol=1e-9)
    assert test.p_value is not None and 0 < test.p_value <= 1
    monotone = spearman_test(np.exp(np.array(x) / 3), 2 * np.array(y))  # exact: no new ties
    assert monotone.rho is not None and math.isclose(monotone.rho, test.rho, abs_tol=1e-9)


def test_mean_se_is_the_sample_sd_over_root_n() -> None:
    values = [1.0, 2.0, 4.0, 7.0, float("nan")]
    mean, se = mean_se(np.array(values))
    assert mean == 3.5 and se is not None
    assert math.isclose(se, statistics.stdev(values[:4]) / 2)
    assert mean_se(np.array([2.0])) == (2.0, None) and mean_se(np.array([])) == (None, None)


def test_shorten_cuts_at_a_word_and_says_so() -> None:
    assert shorten("short", 10) == ("short", False)
    text, cut = shorten("alpha beta gamma delta", 12)
    assert cut and text == "alpha beta …"


def test_recognising_a_directory_kind_imports_neither_numpy_nor_the_page_stack() -> None:
    """A no-op build recognises every kind's files: the standard library must do."""
    import subprocess
    import sys

    code = (
        "import sys; from reportgen.kinds import influence, fisher; "
        "found = [c.files for c in influence.claims(['r/summary.json', 'r/a/b.npy', 'x.txt'])]; "
        "found += [c.files for c in fisher.claims(['k/kernel_update.npy', 'k/u_sequences.json'])]; "
        'found.append(influence.sniff(b\'{"plan": 1, "workspace": 2}\')); '
        "print(found, sorted(m for m in ('numpy', 'jinja2', 'altair', 'reportgen.kinds.common') "
        "if m in sys.modules))"
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == (
        "[('r/a/b.npy', 'r/summary.json'), ('k/kernel_update.npy', 'k/u_sequences.json'), True] []"
    )
