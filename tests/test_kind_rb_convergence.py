"""The Rao-Blackwell convergence kind, checked against independent computations and simulation.

The demo pool at T = 1 is built so that ±1 % needs about 11,400 basic and 9,800 RB samples of
the pool (13,800 and 11,509 fresh ones) while the power-of-two sizes answer 16,384 for both.
The formulas (the finite-population correction, the Monte-Carlo errors of an SD and of a
variance ratio, the SE of n₀) are checked by seeded simulations, each tolerance four times the
simulation's own standard error plus the stated approximation.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import statistics
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.demo.rb_convergence import (
    DESIGNS,
    ConvergenceDemo,
    TemperatureDesign,
    file_name,
    write_rb_study,
)
from reportgen.kinds import rb_convergence
from reportgen.kinds.rb_convergence.analysis import ConvergenceAnalysis, samples_for_target
from reportgen.kinds.rb_convergence.diagnostics import (
    GRID,
    MEANS_DIFFER,
    NO_FPC,
    SE_OFF,
    VARIANCE_UP,
    VR_MISMATCH,
)
from reportgen.kinds.rb_convergence.model import ConvergenceStudy
from reportgen.kinds.reading import Claim, StudyFailure, tree_reader
from reportgen.kinds.study_checks import INPUT_NOT_READ
from reportgen.pages import serialize
from tests.formats import SCHEMAS
from tests.kind_pages import open_page, site_for, write_site

STUDY = "studies/rb"
Z = statistics.NormalDist().inv_cdf(0.975)
T07, T10 = DESIGNS


class Demos:
    """Each demo variant simulated once per module (about a second each), copied per test."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.written: dict[str, tuple[Path, ConvergenceDemo]] = {}

    def write(self, root: Path, **options: Any) -> ConvergenceDemo:
        key = repr(sorted(options.items()))
        if key not in self.written:
            directory = self.cache / str(len(self.written))
            self.written[key] = (directory, write_rb_study(directory, **options))
        directory, demo = self.written[key]
        shutil.copytree(directory, root / STUDY)
        return replace(demo, directory=root / STUDY)


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Demos:
    return Demos(tmp_path_factory.mktemp("rb-demos"))


def claim_of(root: Path) -> Claim:
    paths = [p.relative_to(root).as_posix() for p in sorted((root / STUDY).iterdir())]
    (claim,) = rb_convergence.claims(paths)
    return claim


def load(root: Path) -> ConvergenceStudy:
    study = rb_convergence.load(claim_of(root), tree_reader(root))
    assert isinstance(study, ConvergenceStudy), study
    return study


def analysed(root: Path) -> ConvergenceAnalysis:
    return rb_convergence.analyze(load(root))


def messages(analysis: ConvergenceAnalysis) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in rb_convergence.checks(analysis):
        found.setdefault(finding.id, []).append(finding.message)
    return found


def ours(path: Path) -> dict[str, Any]:
    """Our own demo pickle read with pickle.loads: the tests' independent path (never a tree's)."""
    data: dict[str, Any] = pickle.loads(path.read_bytes())
    return data


def rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = ours(path)
    change(data)
    path.write_bytes(pickle.dumps(data))


class RunsCode:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (self.command,))


# --- recognition and loading -----------------------------------------------------------------


def test_recognised_by_name_and_first_bytes(tmp_path: Path, demos: Demos) -> None:
    demo = demos.write(tmp_path)
    for name in demo.files:
        assert rb_convergence.matches(f"x/{name}")
        assert rb_convergence.sniff((demo.directory / name).read_bytes()[:4096])
    assert not rb_convergence.matches("x/results.json")
    assert not rb_convergence.sniff(pickle.dumps([1, 2, 3]))
    assert not rb_convergence.sniff(b'{"population_stats": {}}')  # JSON, not a pickle


def test_the_restricted_loader_reads_what_pickle_load_reads(tmp_path: Path, demos: Demos) -> None:
    demo = demos.write(tmp_path)
    study = load(tmp_path)
    assert study.inputs == tuple(f"{STUDY}/{f}" for f in demo.files)
    assert study.not_read == () and study.skipped == () and study.unrecognised == ()
    assert [r.temperature for r in study.runs] == [0.7, 1.0]
    for run, design in zip(study.runs, DESIGNS, strict=True):
        data = ours(demo.directory / file_name(design))
        population = data["population_stats"]
        assert run.population.basic_std == float(population["basic_std"])
        assert run.population.correlation == float(population["correlation"])
        assert run.population.n_samples == design.population
        assert [r.sample_size for r in run.rows] == list(demo.sample_sizes)
        for row, given in zip(run.rows, data["convergence_results"], strict=True):
            assert row.rb.std_est == float(given["rb_std_est"])
            assert row.basic.expected_se == float(given["basic_expected_se"])
            assert row.var_reduction == float(given["var_reduction"])
        assert dict(run.exp_info)["model"] == "Qwen2.5-1.5B-Instruct"


def test_a_code_running_pickle_is_refused_by_name_and_the_rest_is_used(
    tmp_path: Path, demos: Demos
) -> None:
    demos.write(tmp_path)
    marker = tmp_path / "marker"
    evil = {"population_stats": {"basic_std": RunsCode(f"touch {marker}")}}
    (tmp_path / STUDY / "rb_convergence_T1.3.pkl").write_bytes(pickle.dumps(evil))
    study = load(tmp_path)
    assert not marker.exists()
    (refused,) = study.not_read
    assert refused.path == f"{STUDY}/rb_convergence_T1.3.pkl"
    assert refused.asked_for == "posix.system"
    assert len(study.inputs) == 3 and [r.label for r in study.runs] == ["T = 0.7", "T = 1"]
    found = messages(rb_convergence.analyze(study))
    assert any("asked for posix.system" in m for m in found[INPUT_NOT_READ])


def test_one_pickle_keyed_by_temperature_gives_each_its_own_run(
    tmp_path: Path, demos: Demos
) -> None:
    demo = demos.write(tmp_path / "parts")
    both = {str(d.temperature): ours(demo.directory / file_name(d)) for d in DESIGNS}
    for entry in both.values():
        entry["exp_info"].pop("temperature")
    (tmp_path / STUDY).mkdir(parents=True)
    (tmp_path / STUDY / "rb_all.pkl").write_bytes(pickle.dumps(both, protocol=2))
    study = load(tmp_path)
    assert [(r.key, r.temperature) for r in study.runs] == [("0.7", 0.7), ("1.0", 1.0)]


def test_a_study_of_refused_pickles_is_a_failure_that_lists_its_inputs(tmp_path: Path) -> None:
    (tmp_path / STUDY).mkdir(parents=True)
    (tmp_path / STUDY / "a.pkl").write_bytes(pickle.dumps(RunsCode("true")))
    (tmp_path / STUDY / "b.pkl").write_bytes(pickle.dumps({"other": 1}))
    failure = rb_convergence.load(claim_of(tmp_path), tree_reader(tmp_path))
    assert isinstance(failure, StudyFailure)
    assert failure.inputs == (f"{STUDY}/a.pkl", f"{STUDY}/b.pkl")
    assert [(r.asked_for, r.reason) for r in failure.not_read][1] == (
        None,
        "no population_stats with convergence_results",
    )


# --- the arithmetic, recomputed --------------------------------------------------------------


def test_samples_needed_reproduce_the_designed_answers(tmp_path: Path, demos: Demos) -> None:
    demo = demos.write(tmp_path)
    analysis = analysed(tmp_path)
    for run, design in zip(analysis.runs, DESIGNS, strict=True):
        population = ours(demo.directory / file_name(design))["population_stats"]
        for needed in run.needed:
            mean, std = (
                population[f"{needed.estimator}_mean"],
                population[f"{needed.estimator}_std"],
            )
            fresh = (Z * std / (0.01 * abs(mean))) ** 2
            pool = 1 / (1 / fresh + 1 / design.population)
            assert needed.fresh == pytest.approx(fresh, rel=1e-9)
            assert needed.fresh == pytest.approx(design.n_fresh(needed.estimator), rel=1e-9)
            assert needed.pool == pytest.approx(pool, rel=1e-9)
            assert needed.pool == pytest.approx(design.n_pool(needed.estimator), rel=1e-9)
    basic, rb = analysis.runs[1].needed
    assert (math.ceil(basic.pool), math.ceil(rb.pool)) == (11400, 9790)
    assert (math.ceil(basic.fresh), math.ceil(rb.fresh)) == (13800, 11509)
    assert basic.grid == rb.grid == 16384  # what the notebook concluded: "RB: same"


def test_half_width_at_the_pool_answer_is_exactly_one_percent() -> None:
    cv, population = 0.6, 65536
    fresh, pool = samples_for_target(cv, population)
    half_width = Z * cv / math.sqrt(pool) * math.sqrt(1 - pool / population)
    assert half_width == pytest.approx(0.01, rel=1e-12)
    assert Z * cv / math.sqrt(fresh) == pytest.approx(0.01, rel=1e-12)


def test_rows_match_a_recomputation_from_the_pickle(tmp_path: Path, demos: Demos) -> None:
    demo = demos.write(tmp_path)
    analysis = analysed(tmp_path)
    for run, design in zip(analysis.runs, DESIGNS, strict=True):
        data = ours(demo.directory / file_name(design))
        pop = data["population_stats"]
        assert run.var_reduction == pytest.approx(design.var_reduction, rel=1e-9)
        assert run.var_reduction == pytest.approx(1 - (pop["rb_std"] / pop["basic_std"]) ** 2)
        for row, given in zip(run.rows, data["convergence_results"], strict=True):
            n, m, big_n = int(given["sample_size"]), int(given["n_bootstrap"]), design.population
            clt = pop["basic_std"] / math.sqrt(n)
            assert row.basic.clt == pytest.approx(clt)
            assert row.basic.fpc == pytest.approx(clt * math.sqrt(1 - n / big_n))
            assert row.basic.file_expected_is == "clt"
            ratio = given["basic_std_est"] / clt
            assert row.basic.ratio == pytest.approx(ratio)
            assert row.basic.ratio_se == pytest.approx(ratio / math.sqrt(2 * (m - 1)))
            r = (given["rb_std_est"] / given["basic_std_est"]) ** 2
            assert row.var_reduction == pytest.approx(1 - r)
            assert row.var_reduction == pytest.approx(float(given["var_reduction"]))
            rho = pop["correlation"]
            assert row.var_reduction_se == pytest.approx(2 * r * math.sqrt((1 - rho**2) / (m - 1)))
        last = run.rows[-1]
        assert last.fraction == 0.5 and last.basic.z_fpc is not None
        assert abs(last.basic.z_fpc) < 4  # observed/expected ≈ 0.707 at n = N/2, not 1


def test_expected_se_with_the_correction_matches_a_simulation() -> None:
    rng = np.random.default_rng(7)
    population, n, draws = 1000, 500, 4000
    values = rng.gamma(2.0, 1.0, population)
    chosen = np.argsort(rng.random((draws, population)), axis=1)[:, :n]
    observed = float(values[chosen].mean(axis=1).std(ddof=1))
    expected = values.std(ddof=1) / math.sqrt(n) * math.sqrt(1 - n / population)
    tolerance = 4 * expected / math.sqrt(2 * (draws - 1))  # four SEs of an SD of 4,000 draws
    assert observed == pytest.approx(expected, abs=tolerance)
    assert abs(observed - values.std(ddof=1) / math.sqrt(n)) > 5 * tolerance  # no correction


def test_monte_carlo_errors_of_an_sd_and_of_the_variance_ratio_match_simulation() -> None:
    rng = np.random.default_rng(11)
    m, reps, rho, ratio = 200, 3000, 0.9, 0.8
    cov = [[1.0, rho * math.sqrt(ratio)], [rho * math.sqrt(ratio), ratio]]
    pairs = rng.multivariate_normal([0.0, 0.0], cov, size=(reps, m))
    sd = pairs.std(axis=1, ddof=1)
    reduction = 1 - (sd[:, 1] / sd[:, 0]) ** 2
    own = 4 / math.sqrt(2 * (reps - 1))  # four SEs of an SD over the repetitions, relative
    assert float(sd[:, 0].std(ddof=1)) == pytest.approx(1 / math.sqrt(2 * (m - 1)), rel=own + 0.01)
    predicted = 2 * ratio * math.sqrt((1 - rho**2) / (m - 1))
    assert float(reduction.std(ddof=1)) == pytest.approx(predicted, rel=own + 0.03)  # delta method


def test_the_se_of_fresh_samples_needed_matches_a_simulation() -> None:
    rng = np.random.default_rng(5)
    population, reps, mean, sd = 2000, 2000, 2.0, 1.2
    values = rng.normal(mean, sd, size=(reps, population))
    fresh = (Z * values.std(axis=1) / (0.01 * values.mean(axis=1))) ** 2
    cv = sd / mean
    nominal = (Z * cv / 0.01) ** 2
    predicted = 2 * nominal * math.sqrt(1 / (2 * (population - 1)) + cv**2 / population)
    own = 4 / math.sqrt(2 * (reps - 1))
    assert float(fresh.std(ddof=1)) == pytest.approx(predicted, rel=own + 0.02)


# --- checks: each on a case that triggers it and one that does not ---------------------------


def test_missing_correction_fires_unless_the_file_applies_it(tmp_path: Path, demos: Demos) -> None:
    demos.write(tmp_path / "clt")
    found = messages(analysed(tmp_path / "clt"))[NO_FPC]
    assert len(found) == 2 and "n = 32,768 of N = 65,536" in found[1]
    assert "0.675 ± 0.034, against √(1 − n/N) = 0.7071 (z −0.95)" in found[1]
    demos.write(tmp_path / "fpc", fpc_in_expected=True)
    analysis = analysed(tmp_path / "fpc")
    assert {r.file_expected_is for r in analysis.runs} == {"fpc"}
    assert NO_FPC not in messages(analysis)


def test_se_off_the_corrected_expectation_fires(tmp_path: Path, demos: Demos) -> None:
    demo = demos.write(tmp_path)
    assert SE_OFF not in messages(analysed(tmp_path))

    def doubled(data: dict[str, Any]) -> None:
        row = data["convergence_results"][5]
        row["basic_std_est"] = row["basic_std_est"] * 2

    rewrite(demo.directory / file_name(T10), doubled)
    (message,) = messages(analysed(tmp_path))[SE_OFF]
    assert message.startswith("T = 1, basic: the observed SE is off σ/√n·√(1 − n/N) at 1 size(s)")
    assert "worst n = 1,024" in message


def test_var_reduction_mismatch_fires_on_a_ratio(tmp_path: Path, demos: Demos) -> None:
    demo = demos.write(tmp_path)
    assert VR_MISMATCH not in messages(analysed(tmp_path))

    def as_ratio(data: dict[str, Any]) -> None:
        for row in data["convergence_results"]:
            row["var_reduction"] = 1 - row["var_reduction"]

    rewrite(demo.directory / file_name(T07), as_ratio)
    (message,) = messages(analysed(tmp_path))[VR_MISMATCH]
    assert message.startswith("T = 0.7: var_reduction differs from 1 − (SE_RB/SE_basic)² at 11")


def test_means_differ_and_variance_increase(tmp_path: Path, demos: Demos) -> None:
    demo = demos.write(tmp_path)
    assert not {MEANS_DIFFER, VARIANCE_UP} & set(messages(analysed(tmp_path)))

    def broken(data: dict[str, Any]) -> None:
        pop = data["population_stats"]
        pop["rb_mean"] = pop["rb_mean"] + 0.05
        pop["basic_std"], pop["rb_std"] = pop["rb_std"], pop["basic_std"]

    rewrite(demo.directory / file_name(T10), broken)
    found = messages(analysed(tmp_path))
    assert found[MEANS_DIFFER][0].startswith("T = 1: RB mean − basic mean = 0.0500")
    assert found[VARIANCE_UP][0].startswith("T = 1: variance reduction −0.19")


def test_grid_fires_when_the_tried_sizes_hide_a_difference(tmp_path: Path, demos: Demos) -> None:
    demos.write(tmp_path)
    (message,) = messages(analysed(tmp_path))[GRID]
    assert message == (
        "T = 1: the tried sizes answer 16,384 for both estimators, but ±1 % needs 11,400 basic "
        "vs 9,790 RB samples from this pool of 65,536 (13,800 vs 11,509 fresh samples; RB needs "
        "16.60 ± 0.31 % fewer fresh samples)"
    )  # T = 0.7 answers 16,384 vs 8,192: the grid shows that difference itself


# --- twin, page, browser -----------------------------------------------------------------------


def test_the_twin_validates_and_its_schema_can_fail(tmp_path: Path, demos: Demos) -> None:
    import jsonschema  # type: ignore[import-untyped, unused-ignore]

    demos.write(tmp_path)
    twin = json.loads(serialize.dumps(rb_convergence.summary_json(analysed(tmp_path))))
    document = json.loads((SCHEMAS / rb_convergence.SCHEMA).read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    check = jsonschema.Draft202012Validator(document)
    assert list(check.iter_errors(twin)) == []
    needed = twin["temperatures"][1]["samples_needed"]
    assert [math.ceil(n["pool"]) for n in needed] == [11400, 9790]
    broken = json.loads(json.dumps(twin))
    broken["temperatures"][0]["rows"][0]["basic"]["file_expected_se_is"] = "guess"
    del broken["temperatures"][1]["samples_needed"]
    assert len(list(check.iter_errors(broken))) == 2


@pytest.mark.slow  # Altair builds the chart specs once per test session
def test_page_says_the_verdict_first_and_derives_the_sample_sizes(
    tmp_path: Path, demos: Demos
) -> None:
    demos.write(tmp_path / "tree")
    analysis = analysed(tmp_path / "tree")
    site = site_for(tmp_path / "tree", tmp_path / "site")
    output = rb_convergence.page(analysis, site)
    html = output.content(output.paths[0]).decode()
    assert output.content(output.paths[1]) == serialize.dumps(rb_convergence.summary_json(analysis))
    assert rb_convergence.page(analysis, site).files == output.files
    main = html[html.index("<main") :]
    headline = (
        "Rao-Blackwellisation reduces the variance by 31.50 ± 0.30 % at T = 0.7, "
        "16.60 ± 0.27 % at T = 1"
    )
    assert main.index(headline) < main.index('id="findings"')
    assert "T = 1: ±1 % needs 11,400 basic vs 9,790 RB samples of this pool of 65,536" in html
    assert "n = n₀ / (1 + n₀/N)" in html
    assert html.count('class="chart"') == 6


@pytest.mark.browser
@pytest.mark.slow
def test_page_draws_every_chart_offline_at_desktop_and_phone_width(
    tmp_path: Path, demos: Demos
) -> None:
    from tests.test_browser import CHROMIUM

    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    demos.write(tmp_path / "tree")
    output = rb_convergence.page(
        analysed(tmp_path / "tree"), site_for(tmp_path / "tree", tmp_path / "site")
    )
    write_site(tmp_path / "site", output)
    for opened in open_page(tmp_path / "site" / output.paths[0]):
        assert opened.problems == [] and opened.requests == [], opened.width
        assert len(opened.marks) == 6 and all(c > 0 for c in opened.marks.values()), opened.marks
        assert opened.overflow <= 0, opened.width
        assert opened.text.index("In short") < opened.text.index("Findings")


def test_design_is_self_consistent() -> None:
    design = TemperatureDesign(1.0, 65536, 0.85, 13799.5, 0.166)
    assert design.n_pool("basic") == pytest.approx(13799.5 / (1 + 13799.5 / 65536))
    assert design.rb_std**2 / design.basic_std**2 == pytest.approx(1 - 0.166)
