"""The contribution arithmetic of the results guide, as unit tests and hypothesis properties."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reportgen.analysis.contributions import (
    linear_aggregate,
    linear_contributions,
    linquad_aggregate,
    quadratic_contributions,
    relative_error,
    true_contributions,
    unnormalized_weights,
)


def guide_delta_h(weights: np.ndarray, h_new: np.ndarray, tokens: np.ndarray, base: float) -> float:
    """ΔH_true exactly as the guide's step 2 writes it."""
    return float((weights @ h_new) / (weights @ tokens) - base)


def test_guide_example_by_hand() -> None:
    weights = np.array([1.0, 3.0])
    h_new = np.array([10.0, 20.0])
    tokens = np.array([20.0, 40.0])
    base = 0.25
    contrib = true_contributions(weights, h_new, tokens, base)
    # denominator w·T = 20 + 120 = 140; shares T/ΣT = 1/3, 2/3
    assert contrib == pytest.approx([10 / 140 - 0.25 / 3, 60 / 140 - 0.25 * 2 / 3])
    assert contrib.sum() == pytest.approx(70 / 140 - 0.25)


def test_per_sequence_normalisation_is_per_token_with_unit_lengths() -> None:
    weights = np.array([0.5, 1.5, 1.0])
    h_new = np.array([3.0, 1.0, 2.0])
    per_sequence = true_contributions(
        weights, h_new, np.array([7.0, 9.0, 11.0]), 1.2, per_token=False
    )
    as_tokens = true_contributions(weights, h_new, np.ones(3), 1.2, per_token=True)
    np.testing.assert_allclose(per_sequence, as_tokens)
    assert per_sequence.sum() == pytest.approx((weights @ h_new) / weights.sum() - 1.2)


def test_linear_and_quadratic_terms_multiply_by_eta() -> None:
    gdotv = np.array([2.0, -4.0])
    vhvv = np.array([100.0, 50.0])
    np.testing.assert_allclose(linear_contributions(gdotv, 1e-6), [2e-6, -4e-6])
    np.testing.assert_allclose(quadratic_contributions(vhvv, 1e-3), [5e-5, 2.5e-5])
    assert linear_aggregate(-300.0, 2e-6) == pytest.approx(-6e-4)
    assert linquad_aggregate(-300.0, 1e6, 2e-6) == pytest.approx(-6e-4 + 0.5 * 1e6 * 4e-12)
    assert linear_aggregate(None, 1e-6) is None and linquad_aggregate(1.0, None, 1e-6) is None


def test_relative_error_is_undefined_without_a_true_value() -> None:
    assert relative_error(1.5, 1.0) == pytest.approx(0.5)
    assert relative_error(-1.5, -1.0) == pytest.approx(-0.5)
    assert relative_error(1.0, 0.0) is None and relative_error(None, 1.0) is None


sizes = st.integers(min_value=1, max_value=64)
finite: dict[str, Any] = {"allow_nan": False, "allow_infinity": False}


@st.composite
def snis_batch(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    n = draw(sizes)
    weights = draw(arrays(np.float64, n, elements=st.floats(0.05, 20.0, **finite)))
    tokens = draw(arrays(np.float64, n, elements=st.integers(1, 400).map(float)))
    per_token_entropy = draw(arrays(np.float64, n, elements=st.floats(0.0, 3.0, **finite)))
    base = draw(st.floats(0.0, 3.0, **finite))
    return weights, per_token_entropy * tokens, tokens, base


@given(snis_batch())
@settings(max_examples=200, deadline=None)
def test_contributions_always_sum_to_delta_h_true(
    batch: tuple[np.ndarray, np.ndarray, np.ndarray, float],
) -> None:
    weights, h_new, tokens, base = batch
    contrib = true_contributions(weights, h_new, tokens, base)
    expected = guide_delta_h(weights, h_new, tokens, base)
    assert math.isclose(contrib.sum(), expected, rel_tol=1e-9, abs_tol=1e-12)


def guide_contributions(
    weights: np.ndarray, h_new: np.ndarray, tokens: np.ndarray, base: float, per_token: bool
) -> np.ndarray:
    """The guide's step 3 one sequence at a time (a reference; exact sums with ``math.fsum``)."""
    units = tokens if per_token else np.ones_like(tokens)
    denominator = math.fsum(w * u for w, u in zip(weights, units, strict=True))
    total_units = math.fsum(units)
    return np.array(
        [
            w * h / denominator - u / total_units * base
            for w, h, u in zip(weights, h_new, units, strict=True)
        ]
    )


def term_scale(
    weights: np.ndarray, h_new: np.ndarray, tokens: np.ndarray, base: float, per_token: bool
) -> float:
    """A bound on both terms of every contribution: round-off is relative to it, not to the
    (possibly cancelling) difference. w_i·h_i / Σ w·u ≤ max|w·h| / (min w · Σ u)."""
    units = tokens if per_token else np.ones_like(tokens)
    return float(np.max(np.abs(weights * h_new)) / (np.min(weights) * units.sum()) + base)


@given(snis_batch(), st.booleans(), st.data())
@settings(max_examples=150, deadline=None)
def test_contributions_follow_their_sequence_when_the_batch_is_permuted(
    batch: tuple[np.ndarray, np.ndarray, np.ndarray, float], per_token: bool, data: st.DataObject
) -> None:
    """Equivariance: permuting weights, token counts and h_new together permutes the output."""
    weights, h_new, tokens, base = batch
    n = len(weights)
    order = np.array(data.draw(st.permutations(range(n))), dtype=np.intp)
    original = true_contributions(weights, h_new, tokens, base, per_token=per_token)
    reference = guide_contributions(weights, h_new, tokens, base, per_token)
    scale = term_scale(weights, h_new, tokens, base, per_token)
    np.testing.assert_allclose(original, reference, rtol=1e-9, atol=1e-12 * scale)

    jointly = true_contributions(
        weights[order], h_new[order], tokens[order], base, per_token=per_token
    )
    np.testing.assert_allclose(jointly, original[order], rtol=1e-12, atol=1e-12 * scale)
    assert math.isclose(jointly.sum(), original.sum(), rel_tol=1e-9, abs_tol=1e-12 * scale)


@given(snis_batch(), st.booleans(), st.data())
@settings(max_examples=100, deadline=None)
def test_a_mis_permuted_batch_gives_other_contributions(
    batch: tuple[np.ndarray, np.ndarray, np.ndarray, float], per_token: bool, data: st.DataObject
) -> None:
    """h_new moved to other sequences' weights and lengths is another batch: the equivariance
    check above would catch an implementation that lost the pairing."""
    weights, h_new, tokens, base = batch
    order = np.array(data.draw(st.permutations(range(len(weights)))), dtype=np.intp)
    original = true_contributions(weights, h_new, tokens, base, per_token=per_token)
    expected = guide_contributions(weights, h_new[order], tokens, base, per_token)
    scale = term_scale(weights, h_new, tokens, base, per_token)
    changed = np.abs(expected - original[order]) > 1e-6 * scale
    assume(changed.any())  # the guide says this mis-pairing moves some contribution
    mis_permuted = true_contributions(weights, h_new[order], tokens, base, per_token=per_token)
    np.testing.assert_allclose(mis_permuted, expected, rtol=1e-9, atol=1e-12 * scale)
    assert not np.allclose(mis_permuted[changed], original[order][changed], rtol=1e-9, atol=0)


@given(
    arrays(np.float64, st.integers(1, 50), elements=st.floats(-1e3, 1e3, **finite)),
    st.floats(1e-8, 1e-3, **finite),
    st.data(),
)
@settings(max_examples=100, deadline=None)
def test_linear_contributions_follow_their_sequence(
    gdotv: np.ndarray, eta: float, data: st.DataObject
) -> None:
    order = np.array(data.draw(st.permutations(range(len(gdotv)))), dtype=np.intp)
    linear = linear_contributions(gdotv, eta)
    # one multiplication per sequence: permuted input gives exactly the permuted output
    assert np.array_equal(linear_contributions(gdotv[order], eta), linear[order])
    assert np.array_equal(linear, gdotv * eta)


@given(snis_batch(), st.floats(1e-6, 1e6, **finite))
@settings(max_examples=150, deadline=None)
def test_scaling_all_weights_leaves_delta_h_unchanged(
    batch: tuple[np.ndarray, np.ndarray, np.ndarray, float], factor: float
) -> None:
    weights, h_new, tokens, base = batch
    before = true_contributions(weights, h_new, tokens, base)
    after = true_contributions(weights * factor, h_new, tokens, base)
    np.testing.assert_allclose(after, before, rtol=1e-9, atol=1e-12)


@given(snis_batch(), st.floats(0.1, 1e4, **finite))
@settings(max_examples=100, deadline=None)
def test_normalised_weights_and_their_sum_recover_the_weights(
    batch: tuple[np.ndarray, np.ndarray, np.ndarray, float], total: float
) -> None:
    weights = batch[0]
    normalized = weights / weights.sum()
    np.testing.assert_allclose(unnormalized_weights(normalized, weights.sum()), weights, rtol=1e-12)
    # SNIS is invariant to the overall scale, so any weights_sum gives the same contributions
    a = true_contributions(unnormalized_weights(normalized, total), *batch[1:])
    b = true_contributions(weights, *batch[1:])
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@given(
    arrays(
        np.float64,
        st.integers(1, 50),
        elements=st.floats(-1e3, 1e3, allow_subnormal=False, **finite),
    ),
    st.floats(1e-8, 1e-3, **finite),
)
@settings(max_examples=100, deadline=None)
def test_linear_sum_is_the_aggregate(gdotv: np.ndarray, eta: float) -> None:
    total = float(gdotv.sum())
    assert math.isclose(
        linear_contributions(gdotv, eta).sum(),
        linear_aggregate(total, eta) or 0.0,
        rel_tol=1e-9,
        # cancelling sums lose relative precision; bound by the terms' magnitude (+ tiny floor)
        abs_tol=1e-12 * eta * np.abs(gdotv).sum() + 1e-300,
    )


@given(
    st.integers(min_value=2, max_value=40).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, n, elements=st.floats(0.1, 10.0)),
            arrays(np.float64, n, elements=st.floats(0.0, 50.0)),
            arrays(np.float64, n, elements=st.floats(0.0, 50.0)),
            arrays(np.float64, n, elements=st.integers(1, 200).map(float)),
        )
    ),
    st.booleans(),
)
def test_centred_contributions_sum_to_delta_h_true_and_subtract_own_base(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], per_token: bool
) -> None:
    """Σ centred = Σ guide contributions = ΔH_true; with base_entropy = Σh_base/ΣT each is
    w_i·h_new_i/(w·T) − h_base_i/ΣT (per sequence: T_i = 1)."""
    from reportgen.analysis.contributions import centred_contributions

    weights, h_new, h_base, tokens = case
    counts = tokens if per_token else np.ones_like(tokens)
    base = float(h_base.sum() / counts.sum())
    guide = true_contributions(weights, h_new, tokens, base, per_token)
    centred = centred_contributions(guide, h_base, tokens, per_token)
    scale = float(np.abs(guide).sum() + np.abs(h_base).sum() / counts.sum() + 1.0)
    assert math.isclose(centred.sum(), guide.sum(), rel_tol=0, abs_tol=1e-12 * scale)
    expected = weights * h_new / float(weights @ counts) - h_base / counts.sum()
    np.testing.assert_allclose(centred, expected, rtol=1e-9, atol=1e-12 * scale)


def test_centred_decomposition_removes_base_entropy_heterogeneity() -> None:
    """Sequences whose base entropies differ but whose change is the same: the guide's
    contributions spread with h_base, the centred ones do not."""
    from reportgen.analysis.contributions import centred_contributions

    rng = np.random.default_rng(3)
    tokens = np.full(500, 40.0)
    h_base = rng.uniform(10, 90, 500)
    h_new = h_base + 0.4  # every sequence gains the same entropy
    weights = np.ones(500)
    guide = true_contributions(weights, h_new, tokens, float(h_base.sum() / tokens.sum()))
    centred = centred_contributions(guide, h_base, tokens)
    assert np.std(centred) < 1e-12 < np.std(guide)
    assert math.isclose(centred.sum(), 0.4 / 40.0, rel_tol=1e-9)
