"""A population's pooled estimates as the group stage judges them: the estimate a verdict uses
(random effects exactly when Cochran's Q rejects homogeneity), the verdict by the run-level
rule, where linear breaks, and the group checks that report heterogeneity and disagreement."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis.diagnostics import group_findings
from reportgen.analysis.pooling import (
    FIXED,
    RANDOM,
    PooledEta,
    PooledPopulation,
    RunEta,
    judge_pooled,
    pool_approx,
    pooled_breakdown,
    pooled_verdict,
)
from reportgen.analysis.populations import DuplicateSet
from reportgen.analysis.verdicts import Z_90, Z_95
from reportgen.pages.group_pooled import breakdown_words, pooled_views
from tests.test_pooling import brute_force

MARGIN = 0.2


def rows_at(eta: float, diffs: list[float], ses: list[float], ratio_se: float) -> list[RunEta]:
    """Runs whose ΔH_true is 1, known to 1e-12 (so the pooled linear/true is 1 + the pooled
    difference, with the difference's SE)."""
    return [
        RunEta(f"run_{i:02d}", eta, d, s, 1.0 + d, math.hypot(s, ratio_se), 1.0, 1e-12, 0.0)
        for i, (d, s) in enumerate(zip(diffs, ses, strict=True))
    ]


def pooled_eta(eta: float, diffs: list[float], ses: list[float]) -> PooledEta:
    pooled = pool_approx(rows_at(eta, diffs, ses, 0.0))
    assert pooled is not None
    return judge_pooled([PooledEta(eta, len(diffs), pooled, None)], MARGIN)[0]


def expected_verdict(z: float, ratio: float, se_ratio: float) -> str:
    """The verdict rule written out (TOST at the margin, |z| > 1.96 disagrees)."""
    if abs(z) > Z_95:
        return "disagrees"
    low, high = ratio - Z_90 * se_ratio, ratio + Z_90 * se_ratio
    return "agrees" if low >= 1 - MARGIN and high <= 1 + MARGIN else "inconclusive"


runs = st.lists(
    st.tuples(st.floats(-0.5, 0.5), st.floats(0.01, 0.3)),
    min_size=2,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(rows=runs)
def test_the_verdict_uses_random_effects_exactly_when_q_rejects(
    rows: list[tuple[float, float]],
) -> None:
    diffs, ses = [d for d, _ in rows], [s for _, s in rows]
    row = pooled_eta(1e-6, diffs, ses)
    assert row.linear is not None
    ref = brute_force(diffs, ses)
    heterogeneous = row.linear.diff.q_p is not None and row.linear.diff.q_p < 0.05
    assert row.linear.method == (RANDOM if heterogeneous else FIXED)
    if heterogeneous:  # DerSimonian–Laird against the loop; the ratio follows the difference
        value, se = ref["random"], ref["random_se"]
    else:
        value, se = ref["fixed"], ref["se"]
    r_value, r_se = 1 + value, se
    assert math.isclose(row.linear.diff.random.value, ref["random"], rel_tol=1e-9, abs_tol=1e-12)
    assert row.verdict_linear == expected_verdict(value / se, r_value, r_se)


def test_a_homogeneous_batch_that_overshoots_disagrees_and_breaks_at_the_smallest_eta() -> None:
    """Four runs each at z ≈ −2 (alone barely anything) pool to z ≈ −4 at both η."""
    table = [pooled_eta(eta, [-0.3, -0.25, -0.35, -0.3], [0.15] * 4) for eta in (1e-6, 2e-6)]
    assert [r.verdict_linear for r in table] == ["disagrees", "disagrees"]
    assert all(r.linear is not None and r.linear.method == FIXED for r in table)
    assert pooled_verdict(table, "linear") == "disagrees"
    assert pooled_breakdown(table, "linear") == 1e-6
    findings = group_findings((), [PooledPopulation("B_E = 2048", tuple(table))])
    assert [f.id for f in findings] == ["pooled-linear-disagrees"]
    assert findings[0].severity == "warning" and findings[0].etas == (1e-6, 2e-6)
    assert "B_E = 2048" in findings[0].message and "z −4" in findings[0].message


def test_runs_that_differ_beyond_noise_are_named_and_judged_with_random_effects() -> None:
    rows = tuple(pooled_eta(1e-6, [0.3, 0.32, -0.3, -0.28], [0.05] * 4) for _ in range(1))
    (row,) = rows
    assert row.linear is not None and row.linear.method == RANDOM
    assert row.linear.diff.q > 3 * row.linear.diff.q_df  # far beyond χ²(3)'s bulk
    # the fixed estimate is near 0 with a tiny SE; the random one's SE carries the spread
    assert row.linear.diff.random.se > 5 * row.linear.diff.fixed.se
    assert row.verdict_linear == "inconclusive"
    findings = group_findings((), [PooledPopulation("all runs", rows)])
    assert [f.id for f in findings] == ["population-heterogeneous"]
    assert "may not be the same experiment" in findings[0].message
    assert "run_00" in findings[0].message or "run_02" in findings[0].message


def test_agreeing_runs_raise_no_group_finding_and_duplicates_are_named() -> None:
    table = tuple(pooled_eta(eta, [0.01, -0.02, 0.0], [0.02] * 3) for eta in (1e-6, 2e-6))
    assert pooled_verdict(table, "linear") == "agrees"
    assert pooled_breakdown(table, "linear") is None
    copies = DuplicateSet("ab" * 32, ("a/run_01", "b/run_01"))
    findings = group_findings([copies], [PooledPopulation("all runs", table)])
    assert [(f.id, f.severity) for f in findings] == [("duplicate-run", "info")]
    assert "b/run_01 is byte-identical to a/run_01" in findings[0].message


def test_where_linear_breaks_is_said_in_words() -> None:
    table = [
        pooled_eta(1e-6, [0.01, 0.0], [0.05] * 2),
        pooled_eta(2e-6, [-0.4, -0.45], [0.05] * 2),
        pooled_eta(4e-6, [-0.8, -0.85], [0.05] * 2),
    ]
    assert [r.verdict_linear for r in table] == ["agrees", "disagrees", "disagrees"]
    assert pooled_breakdown(table, "linear") == 2e-6
    from reportgen.analysis.group_stats import AgreementTally, PopulationStats, RelativeErrors
    from reportgen.analysis.populations import Population

    pop = PopulationStats(
        Population((("B_E", "256"),), ("r1", "r2")),
        (),
        RelativeErrors((), (), ()),
        AgreementTally(0, 0, 0),
        pooled=tuple(table),
    )
    (view,) = pooled_views([pop], MARGIN)
    assert "disagrees with ΔH_true (|z| > 1.96) at 2 of 3 η" in view.sentence
    assert view.sentence.endswith("Linear holds up to η = 1e−6 and breaks from η = 2e−6.")
    assert breakdown_words(view.rows, None) == ""
    json = pop.to_json()
    assert json["verdict_linear"] == "disagrees" and json["breakdown_eta_linear"] == 2e-6
    assert [r["verdict_linear"] for r in json["pooled"]] == ["agrees", "disagrees", "disagrees"]
    assert json["pooled"][0]["method"] == FIXED and json["pooled"][0]["random_effects"] is None


def test_the_differs_csv_lists_every_key_run_by_run() -> None:
    from reportgen.analysis.populations import ParameterDiff
    from reportgen.pages.serialize import differs_csv

    diffs = [
        ParameterDiff("config.lr", (("a", "0.1"), ("b", '"=1+2"')), splits=True),
        ParameterDiff("config.seed", (("a", "1"), ("b", None)), splits=False),
    ]
    text = differs_csv(diffs).decode()
    assert text.splitlines() == [
        "key,splits,a,b",
        'config.lr,1,0.1,"""=1+2"""',
        "config.seed,0,1,",
    ]
    assert differs_csv([]) == b"key,splits\n"
