"""Group-level verdicts (issue 10, items 5 and 7–10): paired agreement, resolved relative errors,
populations, what differs, doubling ratios, the quadratic term's gain; math and end to end."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportgen.analysis import fits
from reportgen.analysis.bootstrap_stream import doubling_interval
from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.counts import BootstrapCounts
from reportgen.analysis.delta import PairedColumns, centred, delta_ses, influence_se, true_influence
from reportgen.analysis.group import analyze_group
from reportgen.analysis.group_record import GroupRecord
from reportgen.analysis.group_stats import (
    covariance,
    population_stats,
    quad_help,
    rel_err_se,
    relative_errors,
    resolved,
)
from reportgen.analysis.points import RunPoints
from reportgen.analysis.populations import Population
from reportgen.analysis.record import RunRecord
from reportgen.analysis.uncertainty import (
    EtaUncertainty,
    RunUncertainty,
    bootstrap_draws,
    doublings,
)
from reportgen.build import BuildResult
from reportgen.charts.agreement import (
    paired_z_chart,
    parity_chart,
    quad_help_chart,
)
from reportgen.charts.integrands import Which
from reportgen.charts.scaling import doubling_chart, per_lr_chart
from reportgen.pages.serialize import group_summary_file
from tests.formats import assert_valid
from tests.test_charts import _attached, validator  # noqa: F401  (the schema fixture)

N = 400


def points(run_id: str, batch: int, etas: tuple[EtaSummary, ...]) -> RunPoints:
    return RunPoints(run_id, batch, etas, None)


def summary(eta: float, true: float | None, linear: float | None, linquad: float | None = None):  # type: ignore[no-untyped-def]
    return EtaSummary(eta, true, linear, linquad, None, None, None, None, None, None)


def columns(eta: float, seed: int = 0, n: int = N, slope: float = -400.0) -> PairedColumns:
    """A synthetic SNIS η: ΔH_true ≈ slope·η + noise, linear ≈ true + noise, a small quad term."""
    rng = np.random.default_rng(seed)
    units = rng.integers(20, 60, n).astype(np.float64)
    h_base = units * (1.0 + 0.2 * rng.normal(size=n))
    shift = slope * eta * units * (1.0 + 0.5 * rng.normal(size=n))
    weight = np.exp(0.05 * rng.normal(size=n))
    h_new = h_base + shift
    gdotv = slope * (1.0 + rng.normal(size=n)) / n
    linear = gdotv * eta
    quad = 0.5 * eta**2 * (3e4 * (1.0 + rng.normal(size=n)) / n)
    return PairedColumns(
        eta, weight, h_new, h_base, units, float(h_base.sum() / units.sum()), linear, linear + quad
    )


def true_value(c: PairedColumns) -> float:
    assert c.h_base is not None
    return float(c.weight @ c.h_new / (c.weight @ c.units) - c.h_base.sum() / c.units.sum())


def uncertainty_of(c: PairedColumns) -> EtaUncertainty:
    ses = delta_ses(c)
    return EtaUncertainty(
        c.eta,
        se_true=ses.se_true,
        se_linear=ses.se_linear,
        se_linquad=ses.se_linquad,
        se_diff_linear=ses.se_diff_linear,
        se_diff_linquad=ses.se_diff_linquad,
        se_quad=ses.se_quad,
        se_method=(("se_diff_linear", "delta-method"),),
    )


# --- item 5: paired agreement ------------------------------------------------------------------


def test_paired_agreement_is_diff_over_the_paired_se() -> None:
    run = points("g/a", 256, (summary(1e-6, -1e-3, -1.2e-3), summary(2e-6, -2e-3, -2.9e-3)))
    errors = (
        EtaUncertainty(
            1e-6,
            se_diff_linear=2e-4,
            se_method=(("se_diff_linear", "delta-method"),),
            verdict_linear="inconclusive",
        ),
        EtaUncertainty(2e-6, se_diff_linear=3e-4, verdict_linear="disagrees"),
    )
    first, second = fits.agreement(run, errors)
    assert first.paired_z == pytest.approx(-1.0, rel=1e-12)
    assert (first.paired_within_1se, first.paired_within_2se) == (True, True)
    # |z| ≤ 1 is not agreement: the row carries the run's verdict at that η
    assert first.verdict == "inconclusive" and first.paired_method == "delta-method"
    assert second.paired_z == pytest.approx(-3.0, rel=1e-12)
    assert (second.paired_within_1se, second.paired_within_2se, second.verdict) == (
        False,
        False,
        "disagrees",
    )
    row = first.to_json()
    assert {"paired_se", "paired_z", "paired_within_1se", "paired_within_2se"} <= set(row)
    assert row["combined_se"] is None  # the notebook's columns stay, empty without se_shard


def test_misaligned_errors_give_no_paired_verdict() -> None:
    run = points("g/a", 256, (summary(1e-6, -1e-3, -1.2e-3),))
    (row,) = fits.agreement(run, (EtaUncertainty(1e-6, se_diff_linear=1.0),) * 2)
    assert row.paired_z is None and row.verdict is None


def test_fit_carries_the_bootstrap_slope_intervals() -> None:
    run = points("g/a", 256, tuple(summary(e, -400 * e, None) for e in (1e-6, 2e-6, 4e-6)))
    fit = fits.fit_run(run, RunUncertainty(loglog_slope_ci95=(0.9, 1.1), linear_slope_ci95=None))
    assert fit.loglog_slope == pytest.approx(1.0, rel=1e-9)
    assert fit.to_json()["loglog_slope_ci95"] == [0.9, 1.1]
    assert fit.to_json()["linear_slope_ci95"] is None


# --- item 7: resolved relative errors ----------------------------------------------------------


def test_resolved_is_beyond_two_standard_errors() -> None:
    assert resolved(-2.01e-3, 1e-3) is True
    assert resolved(-2.0e-3, 1e-3) is False  # |ΔH| ≤ 2·se: not resolved
    assert resolved(-1.0, None) is None and resolved(None, 1.0) is None


def test_relative_errors_keep_resolved_values_only_in_the_new_spread() -> None:
    etas = (1e-6, 2e-6)
    true = {"a": (-1e-3, -2e-3), "b": (-2e-3, -4e-3), "c": (-1e-5, -3e-3), "d": (-3e-3, -5e-3)}
    runs = [
        points(r, 256, tuple(summary(e, t, 0.8 * t) for e, t in zip(etas, ts, strict=True)))
        for r, ts in true.items()
    ]
    errors = {r: tuple(EtaUncertainty(e, se_true=1e-4) for e in etas) for r in true}
    with_errors, without = relative_errors(runs, errors), relative_errors(runs)
    assert with_errors.per_eta == without.per_eta  # 0.1's field is untouched
    (_, kept1, unresolved1, no_se), (_, kept2, unresolved2, _) = with_errors.per_eta_resolved
    assert no_se == 0
    (_, nothing, _, unjudged), _ = without.per_eta_resolved  # no se_true: nothing is judged
    assert nothing.n == 0 and unjudged == 4
    assert (kept1.n, unresolved1, kept2.n, unresolved2) == (3, 1, 4, 0)  # c at η₁ is noise
    assert kept1.median == pytest.approx(0.2, rel=1e-12)
    assert kept1.q25 == pytest.approx(0.2) and kept1.iqr == pytest.approx(0.0, abs=1e-12)
    row = with_errors.to_json()["runs"][2]["values"][0]
    assert row["resolved"] is False and row["rel_err"] == pytest.approx(0.2)


def test_quartiles_match_numpy() -> None:
    values = [0.1, 0.5, -0.3, 2.0, 0.7]
    runs = [points(f"r{i}", 1, (summary(1e-6, -1.0, -(1 - v)),)) for i, v in enumerate(values)]
    errors = {f"r{i}": (EtaUncertainty(1e-6, se_true=1e-3),) for i in range(5)}
    (_, spread, _, _), = relative_errors(runs, errors).per_eta_resolved  # fmt: skip
    assert spread.q25 == pytest.approx(np.percentile(values, 25), rel=1e-12)
    assert spread.q75 == pytest.approx(np.percentile(values, 75), rel=1e-12)
    assert spread.median == pytest.approx(np.median(values), rel=1e-12)


# --- the SEs derived from the paired ones ------------------------------------------------------


def test_covariance_from_the_paired_ses_is_exact() -> None:
    c = columns(4e-6)
    u, lc = true_influence(c), centred(c.linear)  # type: ignore[arg-type]
    ses = delta_ses(c)
    assert ses.se_linear and ses.se_true and ses.se_diff_linear
    direct = N / (N - 1) * float(lc @ u)
    assert covariance(ses.se_linear, ses.se_true, ses.se_diff_linear) == pytest.approx(
        direct, rel=1e-9
    )


def test_relative_error_se_matches_the_direct_delta_method() -> None:
    c = columns(4e-6)
    true, linear = true_value(c), float(c.linear.sum())  # type: ignore[union-attr]
    r = linear / true
    direct = influence_se((centred(c.linear) - r * true_influence(c)) / true)  # type: ignore[arg-type]
    assert rel_err_se(linear, true, uncertainty_of(c)) == pytest.approx(direct, rel=1e-9)


def test_quad_gain_se_matches_the_direct_delta_method() -> None:
    c = columns(8e-6, seed=3)
    true = true_value(c)
    lin, lq = float(c.linear.sum()), float(c.linquad.sum())  # type: ignore[union-attr]
    u, lc, qc = true_influence(c), centred(c.linear), centred(c.linquad)  # type: ignore[arg-type]
    gain_influence = np.sign(lq - true) * (qc - u) - np.sign(lin - true) * (lc - u)
    got = quad_help(summary(c.eta, true, lin, lq), uncertainty_of(c))
    assert got.gain == pytest.approx(abs(lq - true) - abs(lin - true), rel=1e-12)
    assert got.se == pytest.approx(influence_se(gain_influence), rel=1e-9)


def test_doubling_se_agrees_with_bootstrap_and_jackknife() -> None:
    """Delta-method SE of ΔH(2η)/ΔH(η) against the bootstrap's SD (2,000 resamples: ~1.6 %
    sampling error, plus the delta method's own O(1/n)) and an explicit jackknife."""
    low, high = columns(4e-5, seed=5), columns(8e-5, seed=5)  # resolved: |ΔH| ≈ 25 SE
    cols = {low.eta: low, high.eta: high}
    summaries = [summary(c.eta, true_value(c), None) for c in (low, high)]
    draws = bootstrap_draws([low, high], BootstrapCounts(11, low.n, 2000))
    assert draws is not None
    pair = (low.eta, high.eta)
    (d,) = doublings(summaries, cols, {pair: doubling_interval(draws.true[:, 0], draws.true[:, 1])})
    assert d.ratio == pytest.approx(true_value(high) / true_value(low), rel=1e-12)
    assert d.se is not None and d.ci95 is not None
    boot = draws.true[:, 1] / draws.true[:, 0]
    assert d.se == pytest.approx(float(boot.std(ddof=1)), rel=0.10)
    assert d.ci95[1] - d.ci95[0] == pytest.approx(2 * 1.96 * d.se, rel=0.25)
    keep = np.ones(N, dtype=bool)
    jack = []
    for i in range(N):  # explicit leave-one-out, independent of the influence algebra
        keep[i] = False
        ratio = [
            float(
                c.weight[keep] @ c.h_new[keep] / (c.weight[keep] @ c.units[keep])
                - c.h_base[keep].sum() / c.units[keep].sum()  # type: ignore[index]
            )
            for c in (low, high)
        ]
        jack.append(ratio[1] / ratio[0])
        keep[i] = True
    jack_se = math.sqrt((N - 1) / N * float(np.sum((np.array(jack) - np.mean(jack)) ** 2)))
    assert d.se == pytest.approx(jack_se, rel=0.03)


def test_no_doubling_without_the_double() -> None:
    assert doublings([summary(1e-6, -1.0, None), summary(3e-6, -3.0, None)], {}, {}) == ()


# --- item 8: populations -----------------------------------------------------------------------


def two_batch_sizes() -> tuple[list[RunPoints], dict[str, tuple[EtaUncertainty]]]:
    """Runs g/a and g/b of B_E 256 and g/c of 512 at one η, each with its SEs."""
    runs = [
        points("g/a", 256, (summary(1e-6, -1.0, -1.0),)),
        points("g/b", 256, (summary(1e-6, -3.0, -3.0),)),
        points("g/c", 512, (summary(1e-6, -10.0, -10.0),)),
    ]
    errors = {r.run_id: (EtaUncertainty(1e-6, se_true=0.1, se_diff_linear=0.1),) for r in runs}
    return runs, errors


def group_summary_of(runs: list[RunPoints], errors: dict[str, Any]) -> dict[str, Any]:
    """The group summary.json of these runs (as records of ``snis`` runs)."""
    members = [
        RunRecord(
            r.run_id,
            f"{r.run_id}/results.json",
            "ok",
            "hash",
            "0",
            (),
            schema="snis",
            batch_size=r.batch_size,
            etas=r.etas,
            uncertainty=RunUncertainty(etas=tuple(e for e in errors[r.run_id] if e)),
        )
        for r in runs
    ]
    _, pieces = group_summary_file(GroupRecord.of(analyze_group("g", members)))
    data: dict[str, Any] = json.loads(b"".join(pieces))
    return data


def test_population_statistics_pool_only_their_own_runs() -> None:
    runs, errors = two_batch_sizes()
    pops = (
        Population((("B_E", "256"),), ("g/a", "g/b")),
        Population((("B_E", "512"),), ("g/c",)),
    )
    agreements = {r.run_id: fits.agreement(r, errors[r.run_id]) for r in runs}
    stats = population_stats(pops, {r.run_id: r for r in runs}, agreements, errors)
    assert [s.per_eta[0].true_mean for s in stats] == [pytest.approx(-2.0), pytest.approx(-10.0)]
    assert [s.agreement.pairs for s in stats] == [2, 1]
    data = group_summary_of(runs, errors)
    # kept apart: the correctly named flag, and the misnamed one of old with the same value
    assert data["populations_kept_apart"] is True and data["pooled_across_populations"] is True
    assert [p["runs"] for p in data["populations"]] == [["g/a", "g/b"], ["g/c"]]
    assert data["populations"][0]["key"] == {"B_E": "256"}
    assert data["populations"][1]["per_eta"][0]["n_runs"] == 1


def test_several_populations_publish_no_statistic_across_them() -> None:
    """Relative errors and tails over runs of two batch sizes would average what must not be
    averaged: null at the top level, as per_eta, and kept per population."""
    runs, errors = two_batch_sizes()
    data = group_summary_of(runs, errors)
    assert_valid("group-summary", data)
    assert data["per_eta"] is None and data["relative_errors"] is None and data["tails"] is None
    spreads = [p["relative_errors"]["per_eta"][0]["n_runs"] for p in data["populations"]]
    assert spreads == [2, 1] and all(p["tails"] == [] for p in data["populations"])
    one = group_summary_of(runs[:2], errors)  # one population: its statistics are the group's
    assert one["populations_kept_apart"] is False and one["pooled_across_populations"] is False
    assert one["relative_errors"]["per_eta"][0]["n_runs"] == 2 and one["tails"] == []
    assert one["per_eta"][0]["n_runs"] == 2


# --- charts ------------------------------------------------------------------------------------

ETAS = [1e-6, 2e-6, 4e-6]
RUNS = ["a", "a", "a", "b", "b", "b"]


def _chart_samples() -> dict[str, Any]:
    etas = ETAS * 2
    true = [-4e-4, -8e-4, -1.6e-3] * 2
    return {
        "paired-z": paired_z_chart(
            RUNS, etas, [0.5, -1.2, 2.5, 0.1, 0.2, None], true, [1e-4] * 6, population="all",
            key="p0",
        ),
        "parity": parity_chart(
            RUNS, ["linear"] * 6, true, [5e-4] * 6, true, [1e-4] * 6, population="all", key="p0"
        ),
        "per-lr": per_lr_chart(
            RUNS, etas, [-400] * 6, [50] * 6, [-390] * 6, [None] * 6, population="all", key="p0"
        ),
        "doubling": doubling_chart(
            RUNS[:4], ETAS[:2] * 2, [2.0, 1.9, 2.1, 2.0], [1.5] * 4, [2.5] * 4, population="all",
            key="p0",
        ),
        "quad-help": quad_help_chart(RUNS, etas, [0.1] * 6, population="all", key="p0"),
    }  # fmt: skip


@pytest.mark.parametrize("kind", ["paired-z", "parity", "per-lr", "doubling", "quad-help"])
def test_verdict_charts_validate(kind: str, validator: Any) -> None:  # noqa: F811
    chart, datasets = _chart_samples()[kind]
    assert chart.id == f"{kind}-p0" and set(datasets) == set(chart.datasets)
    assert '"values"' not in json.dumps(chart.spec)
    assert [e.message[:200] for e in validator.iter_errors(_attached(chart, datasets))] == []


def test_parity_bars_reaching_zero_are_cut_and_noted() -> None:
    chart, datasets = parity_chart(
        ["a", "a"], ["linear"] * 2, [-1e-3, -2e-3], [2e-3, 1e-4], [-1e-3, -2e-3], [None, 1e-4],
        population="all", key="p0",
    )  # fmt: skip
    (data,) = datasets.values()
    assert data[0]["x_lo"][0] == pytest.approx(1e-3 / 20)  # 1e-3 − 2e-3 < 0 on a log axis
    assert data[0]["y_lo"][0] == pytest.approx(1e-3)  # no SE: no bar
    assert chart.note is not None and "1 bars reach zero" in chart.note
    assert "1 values have no standard error" in chart.note


# --- end to end ---------------------------------------------------------------------------------


def _check_group(site: Path, group: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((site / "groups" / group / "summary.json").read_text())
    html = (site / "groups" / group / "index.html").read_text()
    judged = 0
    for run in data["runs"]:
        record = json.loads((site / "runs" / run["id"] / "summary.json").read_text())
        by_eta = {e["eta"]: e for e in record["etas"]}
        for row in run["agreement"]:
            se = by_eta[row["eta"]]["se_diff_linear"]
            assert row["paired_se"] == se
            if row["paired_z"] is None:
                continue
            judged += 1
            assert row["paired_z"] == pytest.approx(row["diff"] / se, rel=1e-12)
            assert row["paired_within_2se"] is (abs(row["paired_z"]) <= 2)
            assert row["paired_within_1se"] is (abs(row["paired_z"]) <= 1)
    # every run with ΔH(η) lands in exactly one population (control-variate runs have theirs
    # too), and the counts add up
    pooled = [r for p in data["populations"] for r in p["runs"]]
    assert len(pooled) == len(set(pooled)) and {r["id"] for r in data["runs"]} <= set(pooled)
    assert sum(p["agreement"]["pairs"] for p in data["populations"]) == judged
    assert data["agreement"]["pairs"] == judged
    # the page states a verdict for every judged run×η
    verdicts = re.findall(r'<tr class="verdict-(agrees|inconclusive|disagrees)">', html)
    assert len(verdicts) == judged
    assert ("post_correction_analysis" in html) is (judged > 0)
    assert 'id="differs"' in html
    return data


def test_sample_group_pages(sample_site: tuple[Path, BuildResult]) -> None:
    site = sample_site[0]
    groups = [p.parent.relative_to(site / "groups").as_posix()
              for p in (site / "groups").rglob("summary.json")]  # fmt: skip
    assert groups
    judged = [_check_group(site, g)["agreement"]["pairs"] for g in groups]
    assert max(judged) > 0
    both = json.loads((site / "groups/diagnostics_run/full_data/summary.json").read_text())
    differs = {d["key"]: d for d in both["what_differs"]}
    assert differs["config.batch_config.B_E"]["splits"] is True
    # capture off is another kind of run (fewer fields), never pooled with capture on
    assert differs["plan.capture_per_sequence"]["splits"] is True
    assert differs["fields"]["splits"] is True
    assert len(differs["config.batch_config.B_E"]["values"]) == len(both["runs"])
    keys = [(p["key"]["B_E"], p["key"]["fields"]) for p in both["populations"]]
    assert keys == [
        ("256", "every field"),
        ("256", "without vhvv, quadratic"),  # run_03 has no quadratic block
        ("512", "every field"),
        ("512", "without per_sequence, per_sequence_meta (+1)"),
    ]
    html = (site / "groups/diagnostics_run/full_data/index.html").read_text()
    table = html[
        html.index('id="differs-rows"') : html.index("</table>", html.index("differs-rows"))
    ]
    assert table.count("<tr>") == 1 + len(differs)  # header + one row per differing key
    assert "E_256/run_01" in table and "<code>config.batch_config.B_E</code>" in table


@pytest.mark.shared
def test_shared_e256_e512_state_a_verdict_per_run_and_eta(
    shared_results: Path, tmp_path: Path
) -> None:
    from reportgen.build import BuildOptions, build

    site = tmp_path / "site"
    build(BuildOptions(results=shared_results, out=site))
    base = "diagnostics_run/full_data"
    for group, runs in ((f"{base}/E_256", 4), (f"{base}/E_512", 2)):
        data = _check_group(site, group)
        assert len(data["runs"]) == runs and len(data["populations"]) == 1
        assert data["agreement"]["pairs"] == 5 * runs  # every run × η judged
        for run in data["runs"]:
            assert run["fit"]["loglog_slope_ci95"] is not None
            assert len(run["doublings"]) == 4 and len(run["quad_help"]) == 5
    both = _check_group(site, base)
    assert [len(p["runs"]) for p in both["populations"]] == [4, 2]
    assert [p["key"] for p in both["populations"]] == [{"B_E": "256"}, {"B_E": "512"}]
    assert both["pooled_across_populations"] is True and both["populations_kept_apart"] is True
    assert both["tails"] is None and both["relative_errors"] is None  # each population has its own
    for pop in both["populations"]:  # tail spreads too pool only the population's own runs
        assert pop["tails"] and {t["n_runs"] for t in pop["tails"]} == {len(pop["runs"])}
        assert all(set(t["run_ids"]) <= set(pop["runs"]) for t in pop["tails"])
    assert [d["key"] for d in both["what_differs"]] == ["config.batch_config.B_E"]


@pytest.mark.parametrize("which", ["sums", "delta"])
def test_integrand_histograms_count_every_sequence(which: Which, validator: Any) -> None:  # noqa: F811
    from reportgen.charts.integrands import NAMES, integrand_histograms

    rng = np.random.default_rng(2)
    first = [rng.normal(50, 10, 300) for _ in NAMES[which]]
    first[0][3] = np.nan  # a non-finite value is dropped, not binned
    arrays = [[values, None] for values in first]  # the second η lacks them
    chart, datasets = integrand_histograms([1e-6, 2e-6], arrays, which=which)
    (data,) = datasets.values()
    counts = np.asarray(data[0]["count"])
    assert counts.sum() == 300 * len(NAMES[which]) - 1
    assert set(data[0]["series"]) == set(NAMES[which]) and set(data[0]["eta"]) == {1e-6}
    spec = _attached(chart, datasets)
    assert [e.message[:200] for e in validator.iter_errors(spec)] == []


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=60))
def test_sorted_quantiles_are_numpys_linear_quantiles(values: list[float]) -> None:
    from reportgen.analysis.stats import sorted_quantiles

    data = np.sort(np.asarray(values))
    qs = (0.0, 0.25, 0.5, 0.75, 1.0)
    expected = np.percentile(data, [100 * q for q in qs])
    scale = max(1.0, float(np.abs(data).max()))
    # the same interpolation; only the rounding of a + t·(b − a) may differ
    assert np.allclose(sorted_quantiles(data, qs), expected, rtol=1e-12, atol=1e-12 * scale)


def test_parity_is_square_with_hollow_marks_and_one_eta_label_per_eta() -> None:
    from reportgen.charts import export

    chart, data = parity_chart(
        RUNS[:4], ["linear", "lin+quad"] * 2, [-1e-4] * 4, [1e-5] * 4, [-1.1e-4] * 4,
        [1e-5] * 4, population="all", key="b-e-256", etas=[1e-6, 1e-6, 2e-6, 2e-6],
    )  # fmt: skip
    assert chart.id == "parity-b-e-256"
    assert list(data["parity-b-e-256"][0]["eta"]) == [1e-6, 1e-6, 2e-6, 2e-6]
    text = json.dumps(chart.spec)
    assert '"filled": false' in text and '"row_number"' in text and "datum.rank === 1" in text
    paper = export.themed(export.plain_json(dict(chart.spec)), "paper")
    assert paper["width"] == paper["height"]


def test_doubling_with_one_eta_puts_the_runs_along_x() -> None:
    one, _ = doubling_chart(RUNS[:3], [1e-6] * 3, [2.0, 2.1, 1.9], [1.8] * 3, [2.2] * 3,
                            population="all", key="k")  # fmt: skip
    two, _ = doubling_chart(RUNS[:3], [1e-6, 2e-6, 1e-6], [2.0, 2.1, 1.9], [1.8] * 3, [2.2] * 3,
                            population="all", key="k")  # fmt: skip
    x_fields = [
        {n["x"]["field"] for n in _walk(c.spec) if isinstance(n.get("x"), dict)} for c in (one, two)
    ]
    assert x_fields == [{"run"}, {"eta"}]
    assert "side by side" in one.description and "side by side" not in two.description


def _walk(node: object) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(n for v in node.values() for n in _walk(v))]
    if isinstance(node, list):
        return [n for v in node for n in _walk(v)]
    return []


@given(
    st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64)),
        max_size=70,
    ),
    st.booleans(),
)
def test_spread_is_numpys_mean_std_and_quartiles_of_the_finite_values(
    values: list[float | None], as_array: bool
) -> None:
    from reportgen.analysis.stats import num, spread

    given = np.asarray(values, dtype=np.float64)
    finite = np.sort(given[np.isfinite(given)])
    with np.errstate(all="ignore"):  # sums of huge values overflow: both give None then
        result = spread(given if as_array else values)
    assert result.n == finite.size
    if finite.size == 0:
        assert (result.mean, result.std, result.median) == (None, None, None)
        return
    with np.errstate(all="ignore"):
        mean, std = num(finite.mean()), num(finite.std(ddof=1)) if finite.size >= 2 else None
        quartiles = np.percentile(finite, [25, 50, 75])
    # bit for bit what numpy's own mean and std give; the quartiles as sorted_quantiles does
    assert (result.mean, result.std) == (mean, std)
    assert (result.min, result.max) == (num(finite[0]), num(finite[-1]))
    scale = max(1.0, float(np.abs(finite).max()))
    if scale < 1e300:  # beyond, a difference of two values overflows
        got = np.array([result.q25, result.median, result.q75], dtype=np.float64)
        assert np.allclose(got, quartiles, rtol=1e-12, atol=1e-12 * scale)
