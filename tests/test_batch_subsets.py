"""The batch comparison's subsets: shared per (seed, n, size, draws), moved only by MC error."""

from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis import batch, counts
from reportgen.analysis.counts import SubsetChoices
from reportgen.analysis.resample import subset_weights, weight_blocks
from reportgen.analysis.stats import derived_rng
from reportgen.load.models import FloatArray
from tests.test_crossrun import small_points, synthetic_sample

SIZE = 50
DRAWS = batch.DEFAULT_DRAWS
# two independent Monte-Carlo estimates of one number differ by more than Z of their joint SE
# with probability 2·Φ(−4.5) ≈ 7e-6: a move beyond it is not resampling noise
Z = 4.5


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> OrderedDict[Any, Any]:
    cache: OrderedDict[Any, Any] = OrderedDict()
    monkeypatch.setattr(counts, "_cache", cache)
    return cache


def test_runs_of_one_n_share_one_subset_matrix(fresh_cache: OrderedDict[Any, Any]) -> None:
    large = [synthetic_sample(f"L/run_{k}", n, k) for k, n in enumerate((200, 200, 300))]
    small = [small_points("S/run_01", SIZE, -1e-3, -8e-4)]
    batch.batch_comparison(small, large, draws=100, seed=5)
    assert set(fresh_cache) == {SubsetChoices(5, 200, SIZE, 100), SubsetChoices(5, 300, SIZE, 100)}
    for choices in list(fresh_cache):
        rows = np.concatenate(list(choices.blocks()))
        assert rows.shape == (100, choices.n)
        assert np.all(rows.sum(axis=1) == SIZE) and set(np.unique(rows)) <= {0.0, 1.0}


def test_a_run_draws_the_same_alone_as_among_other_runs(
    fresh_cache: OrderedDict[Any, Any],
) -> None:
    """Drawn first with nothing cached, or after (and in threads beside) runs of the same n
    and other names, a run's draws are the same to the last bit."""
    target = synthetic_sample("L/run_b", 200, 2)
    eta = target.etas[0].eta
    alone = batch._draw_run(target, [eta], SIZE, 300, seed=1)[eta]
    fresh_cache.clear()
    others = [synthetic_sample("L/run_a", 200, 1), synthetic_sample("L/run_c", 300, 3)]
    small = [small_points("S/run_01", SIZE, -1e-3, -8e-4)]
    batch.batch_comparison(small, [*others, target], draws=300, seed=1, workers=3)
    among = batch._draw_run(target, [eta], SIZE, 300, seed=1)[eta]
    assert np.array_equal(alone.raw, among.raw)
    assert alone.reestimated is not None and among.reestimated is not None
    assert np.array_equal(alone.reestimated, among.reestimated)


def draws_of(sample_seed: int, n: int, seed: int, old: bool) -> list[FloatArray]:
    """A run's raw and re-estimated err_rel, drawn as now or as reportgen ≤ 0.2 drew them
    (subsets seeded by both batch sizes and the run's id)."""
    sample = synthetic_sample("L/run_01", n, sample_seed)
    columns = batch._eta_columns(sample.etas[0].eta, sample.etas[0])
    if old:
        rng = derived_rng(seed, str(SIZE), str(sample.batch_size), sample.run_id)
        blocks = weight_blocks(subset_weights(n, SIZE), n, DRAWS, rng)
    else:
        blocks = SubsetChoices(seed, n, SIZE, DRAWS).blocks()
    drawn = batch._draw_alike(sample.run_id, [columns], SIZE, DRAWS, blocks)[columns.eta]
    assert drawn.reestimated is not None
    return [drawn.raw, drawn.reestimated]


@pytest.mark.parametrize(("sample_seed", "n", "seed"), [(1, 200, 0), (2, 400, 0), (3, 120, 9)])
def test_the_shared_subsets_move_a_comparison_within_its_monte_carlo_error(
    sample_seed: int, n: int, seed: int
) -> None:
    """Old and new draws are two independent Monte-Carlo samples of one distribution. Their
    means differ by N(0, s_old²/D + s_new²/D); at a quantile q, the share of old draws below the
    new q-quantile differs from q by about N(0, 2·q(1 − q)/D) (each empirical CDF adds q(1 − q)/D),
    whatever the distribution's shape. Each is bounded at Z of its SE."""
    old = draws_of(sample_seed, n, seed, old=True)
    new = draws_of(sample_seed, n, seed, old=False)
    assert not np.array_equal(old[0], new[0])  # the draw did change
    for before, after in zip(old, new, strict=True):
        se_mean = math.sqrt((before.var(ddof=1) + after.var(ddof=1)) / DRAWS)
        assert abs(after.mean() - before.mean()) <= Z * se_mean
        for q in batch.QUANTILES:
            share = float(np.mean(before <= np.quantile(after, q)))
            assert abs(share - q) <= Z * math.sqrt(2 * q * (1 - q) / DRAWS)


def test_the_mean_of_the_draws_has_its_monte_carlo_se() -> None:
    """se_mean is √(Σ m_j·s_j²)/N over the larger runs' draws (the spread between runs is the
    data's, not the simulation's), and it is what means of independent draws scatter by."""
    large = [synthetic_sample("L/run_a", 200, 1), synthetic_sample("L/run_b", 300, 2)]
    small = [small_points("S/run_01", SIZE, -1e-3, -8e-4)]
    (row,) = batch.batch_comparison(small, large, draws=200, seed=0)
    eta = large[0].etas[0].eta
    drawn = [batch._draw_run(s, [eta], SIZE, 200, 0)[eta] for s in large]
    assert row.reestimated is not None
    for dist, pieces in (
        (row.raw, [d.raw for d in drawn]),
        (row.reestimated, [d.reestimated for d in drawn]),
    ):
        values = [p for p in pieces if p is not None]
        total = sum(p.size for p in values)
        expected = math.sqrt(sum(p.size * p.var(ddof=1) for p in values)) / total
        assert dist.se_mean == pytest.approx(expected, rel=1e-12)
    assert row.to_json()["se_mean"] == row.raw.se_mean
    assert row.to_json()["reestimated"]["se_mean"] == row.reestimated.se_mean
    # 60 seeds: the ratio of the means' std to the SE is within 1 ± 0.3 with p ≈ 0.999 (χ², 59 df)
    means = [batch.batch_comparison(small, large, draws=200, seed=s)[0].raw.mean for s in range(60)]
    assert row.raw.se_mean is not None and None not in means
    assert 0.7 < float(np.std(np.array(means, dtype=float), ddof=1)) / row.raw.se_mean < 1.3


def test_a_single_draw_has_no_monte_carlo_se() -> None:
    assert batch.monte_carlo_se([np.array([1.0, 2.0, 3.0]), np.array([4.0])]) is None
    assert batch.monte_carlo_se([np.array([1.0, 3.0]), np.array([np.nan])]) == pytest.approx(
        math.sqrt(2 * 2.0) / 2
    )


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=2, max_value=300),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.floats(min_value=-12, max_value=6),
    st.booleans(),
)
def test_alike_pieces_as_one_matrix_give_the_numbers_of_each_piece_alone(
    runs: int, draws: int, seed: int, log_scale: float, with_nan: bool
) -> None:
    """Draws of one length without NaN are summarised as one matrix: to the last bit what each
    run's draws give on their own, as any other pieces are summarised."""
    rng = np.random.default_rng(seed)
    pieces = [rng.normal(rng.normal(), 10.0**log_scale, draws) for _ in range(runs)]
    if with_nan:  # the piece-by-piece path, for reference
        pieces[0] = np.append(pieces[0][1:], np.nan)
    one_by_one = [p[np.isfinite(p)] for p in pieces]
    dist = batch.distribution(pieces)
    assert dist is not None
    pooled = np.concatenate(one_by_one)
    assert (dist.n, dist.mean) == (pooled.size, float(pooled.mean()))
    mc = math.sqrt(sum(p.size * p.var(ddof=1) for p in one_by_one)) / pooled.size
    assert dist.se_mean == (None if min(p.size for p in one_by_one) < 2 else mc)
    means = [float(p.mean()) for p in one_by_one]
    between = np.std(means, ddof=1) / math.sqrt(runs) if runs > 1 else None
    assert dist.se_between_runs == between


def _rows(runs: list[list[float]], reestimates: bool, etas: int = 2) -> list[Any]:
    """``etas`` rows of the runs' values (each η its own multiple), keyed per run and η."""
    from reportgen.analysis.batch_dist import Row

    pieces = [np.asarray(r, dtype=np.float64) for r in runs]

    def at(eta: int) -> Any:
        scaled = [(eta + 1) * p for p in pieces]
        return scaled, [2 * p for p in scaled], [p - 1 for p in scaled] if reestimates else None

    keys = [tuple(f"run{i} {eta}" for i in range(len(pieces))) for eta in range(etas)]
    size = sum(p.size for p in pieces)
    return [Row(partial(at, eta), keys[eta], size) for eta in range(etas)]


def _as_json(made: list[Any]) -> list[list[Any]]:
    return [[d and d.to_json() for d in three] for three in made]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan)), min_size=1, max_size=40),
        min_size=1,
        max_size=5,
    ),
    st.integers(1, 12),
    st.booleans(),
)
def test_pooled_distributions_come_back_from_their_memo_as_they_were_made(
    runs: list[list[float]], bins: int, reestimates: bool
) -> None:
    from reportgen.analysis import batch_dist
    from reportgen.analysis.batch_dist import Row, distributions

    rows = _rows(runs, reestimates)
    stored: dict[str, FloatArray] = {}

    def memo(key: str, compute: Any) -> FloatArray:
        return stored[key] if key in stored else stored.setdefault(key, compute())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch_dist, "MEMO_VALUES", 1)
        made = distributions(rows, bins, None)
        first = distributions(rows, bins, memo)
        unmade = [Row(lambda: pytest.fail("made again"), r.keys, r.pooled) for r in rows]
        again = distributions(unmade, bins, memo)
        assert _as_json(made) == _as_json(first) == _as_json(again)
        (key,) = stored  # one memo for every η
        assert key.startswith("dists:") and stored[key].shape == (6, 2 * bins + 13)
        distributions(rows, bins + 1, memo)  # the bins are part of its key
        assert len(stored) == 2
        unkeyed = [rows[0], Row(rows[1].pieces, (*rows[1].keys[:-1], ""), rows[1].pooled)]
        assert _as_json(distributions(unkeyed, bins, memo)) == _as_json(made)
        assert len(stored) == 2  # a piece without a key: nothing to keep the rows by
        patch.setattr(batch_dist, "MEMO_VALUES", sum(r.pooled for r in rows) + 1)
        wider = _as_json(distributions(rows, bins + 2, None))
        assert _as_json(distributions(rows, bins + 2, memo)) == wider
        assert len(stored) == 2  # too few values to keep


def test_a_pooled_distributions_memo_of_another_shape_is_made_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reportgen.analysis import batch_dist

    monkeypatch.setattr(batch_dist, "MEMO_VALUES", 1)
    rows = _rows([list(np.linspace(0.0, 1.0, 50))], reestimates=False)

    def wrong(key: str, compute: Any) -> FloatArray:
        return np.zeros((2, 5))

    made = batch_dist.distributions(rows, 10, None)
    assert _as_json(batch_dist.distributions(rows, 10, wrong)) == _as_json(made)
