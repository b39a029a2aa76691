"""The jackknife-vs-batch-size kind, checked against independent computations.

The demo study climbs from B = 32 to 1024 far beyond its SEs (χ² = 973 on 5 df by design), and a
train-split point at B = 4096 must stay apart. Every number is recomputed here another way:
χ² by a loop, its p-value by the closed forms for integer df, the slope by numpy.polyfit,
quantiles by the statistics module, the 95 % z by NormalDist.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.demo.jackknife import TEST_FILE, TRAIN_FILE, JackknifeDemo, write_jackknife_study
from reportgen.kinds import jackknife
from reportgen.kinds.jackknife.analysis import JackknifeAnalysis, homogeneity
from reportgen.kinds.jackknife.diagnostics import (
    DEPENDS_ON_B,
    PROMPT_COUNT,
    SE_VARIANCE,
    SETTINGS_APART,
    STD_IS_SE,
)
from reportgen.kinds.jackknife.model import JackknifePoint, JackknifeStudy, Setting
from reportgen.kinds.reading import Claim, StudyFailure, tree_reader
from reportgen.kinds.stats import Z95, chi2_log_sf, chi2_sf
from reportgen.kinds.study_checks import INPUT_NOT_READ, UNRECOGNISED_FIELDS
from reportgen.pages import serialize
from tests.formats import SCHEMAS
from tests.kind_pages import open_page, site_for, write_site

STUDY = "studies/jk"


def write(root: Path, **options: Any) -> JackknifeDemo:
    return write_jackknife_study(root / STUDY, **options)


def claim_of(root: Path) -> Claim:
    paths = [p.relative_to(root).as_posix() for p in (root / STUDY).iterdir()]
    (claim,) = jackknife.claims(paths)
    return claim


def load(root: Path, max_bytes: int = 1 << 30) -> JackknifeStudy:
    study = jackknife.load(claim_of(root), tree_reader(root, max_bytes))
    assert isinstance(study, JackknifeStudy), study
    return study


def analysed(root: Path) -> JackknifeAnalysis:
    return jackknife.analyze(load(root))


def ids(analysis: JackknifeAnalysis) -> list[str]:
    return [f.id for f in jackknife.checks(analysis)]


def chi2_closed_form(x: float, df: int) -> float:
    """P(χ²_df ≥ x) from the finite sums for integer df (independent of the series used)."""
    y = x / 2
    if df % 2 == 0:
        return math.exp(-y) * math.fsum(y**j / math.factorial(j) for j in range(df // 2))
    tail = math.fsum(y ** (j - 0.5) / math.gamma(j + 0.5) for j in range(1, (df - 1) // 2 + 1))
    return math.erfc(math.sqrt(y)) + math.exp(-y) * tail


def edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


# --- recognition and loading -----------------------------------------------------------------


def test_recognised_by_name_and_first_bytes(tmp_path: Path) -> None:
    demo = write(tmp_path)
    for name in demo.files:
        assert jackknife.matches(f"{STUDY}/{name}")
        assert jackknife.sniff((demo.directory / name).read_bytes()[:4096])
    assert not jackknife.matches("runs/results.json")
    assert not jackknife.matches("x/notes_results.jsonl.bak")
    assert not jackknife.sniff(b'{"true": {"entries": []}, "approx": {}}')
    claims = jackknife.claims([f"a/{TEST_FILE}", f"b/{TRAIN_FILE}", f"a/{TRAIN_FILE}", "a/x.json"])
    assert [(c.directory, c.files) for c in claims] == [
        ("a", (f"a/{TEST_FILE}", f"a/{TRAIN_FILE}")),
        ("b", (f"b/{TRAIN_FILE}",)),
    ]


def test_one_pretty_object_and_json_lines_load_the_same_points(tmp_path: Path) -> None:
    pretty = load_points(tmp_path / "pretty", json_lines=False)
    lines = load_points(tmp_path / "lines", json_lines=True)
    assert [p[:4] for p in pretty] == [p[:4] for p in lines]
    assert all(np.array_equal(a[4], b[4]) for a, b in zip(pretty, lines, strict=True))
    # six lines with the same unknown field: named once, by file
    assert load(tmp_path / "lines").unrecognised == (f"{STUDY}/{TEST_FILE}: elapsed_s",)


def load_points(root: Path, **options: Any) -> list[tuple[Any, ...]]:
    write(root, **options)
    return [
        (p.batch, p.estimate, p.se, p.setting, p.per_prompt_means)
        for p in sorted(load(root).points, key=lambda p: p.batch)
    ]


def test_every_claimed_file_is_an_input_and_the_flat_variant_is_one_point(tmp_path: Path) -> None:
    demo = write(tmp_path)
    study = load(tmp_path)
    assert study.inputs == tuple(f"{STUDY}/{name}" for name in demo.files)
    assert study.not_read == () and study.skipped == ()
    train = [p for p in study.points if p.setting.split == "train"]
    assert [(p.batch, p.generations, p.source) for p in train] == [
        (4096, 4, f"{STUDY}/{TRAIN_FILE}")
    ]
    assert train[0].distribution is not None and train[0].distribution.quantile(0.99) is not None
    assert [p.batch for p in study.points if p.setting.split == "test"] == list(demo.batches)


def test_unreadable_and_oversized_files_are_named_not_fatal(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / STUDY / TRAIN_FILE).write_text('{"experiment_type": "x", "B": ', encoding="utf-8")
    study = load(tmp_path)
    (refused,) = study.not_read
    assert refused.path == f"{STUDY}/{TRAIN_FILE}" and "not JSON" in refused.reason
    assert len(study.inputs) == 2 and len(study.points) == 6
    assert INPUT_NOT_READ in ids(jackknife.analyze(study))

    small = jackknife.load(claim_of(tmp_path), tree_reader(tmp_path, max_bytes=1000))
    assert isinstance(small, StudyFailure)
    assert small.inputs == claim_of(tmp_path).files
    assert all("above the limit" in r.reason or "not JSON" in r.reason for r in small.not_read)


def test_fields_not_understood_are_listed_by_key_path(tmp_path: Path) -> None:
    demo = write(tmp_path)
    edit(demo.directory / TEST_FILE, lambda d: d.update(clip_overrides={"10": {"ess": 3.0}}))
    edit(
        demo.directory / TRAIN_FILE,
        lambda d: d["distribution_analysis"].update(skew=2.0, q999=9.0),
    )
    study = load(tmp_path)
    assert study.unrecognised == (
        f"{STUDY}/{TEST_FILE}: clip_overrides",
        f"{STUDY}/{TEST_FILE}: experiments[*].elapsed_s",
        f"{STUDY}/{TRAIN_FILE}: distribution_analysis.skew",
    )
    train = next(p for p in study.points if p.batch == 4096)
    assert train.distribution is not None and train.distribution.quantile(0.999) == 9.0
    finding = next(
        f for f in jackknife.checks(jackknife.analyze(study)) if f.id == UNRECOGNISED_FIELDS
    )
    assert "3 field(s) not read" in finding.message and "clip_overrides" in finding.message


def test_an_experiment_without_b_is_skipped_and_named(tmp_path: Path) -> None:
    demo = write(tmp_path)
    edit(demo.directory / TEST_FILE, lambda d: d["experiments"][2].pop("B"))
    study = load(tmp_path)
    assert [p.batch for p in study.points if p.setting.split == "test"] == [32, 64, 256, 512, 1024]
    assert [(s.path, s.reason) for s in study.skipped] == [
        (f"{STUDY}/{TEST_FILE}", "experiments[2] has no positive B or no finite estimate")
    ]


# --- the arithmetic, recomputed --------------------------------------------------------------


def test_chi2_across_b_matches_a_loop_and_the_closed_form_p(tmp_path: Path) -> None:
    demo = write(tmp_path)
    analysis = analysed(tmp_path)
    test = analysis.populations[analysis.main or 0]
    assert test.setting.split == "test" and test.df == 5
    weights = [1 / se**2 for se in demo.ses]
    mean = sum(w * x for w, x in zip(weights, demo.estimates, strict=True)) / sum(weights)
    chi2 = sum(w * (x - mean) ** 2 for w, x in zip(weights, demo.estimates, strict=True))
    assert test.weighted_mean == pytest.approx(mean, rel=1e-12)
    assert test.weighted_mean_se == pytest.approx(1 / math.sqrt(sum(weights)), rel=1e-12)
    assert test.chi2 == pytest.approx(chi2, rel=1e-10)
    assert test.chi2 == pytest.approx(973.0, rel=1e-8)  # as the demo was designed
    assert test.p_value == pytest.approx(chi2_closed_form(chi2, 5), rel=1e-9)
    assert test.log10_p_value == pytest.approx(math.log10(chi2_closed_form(chi2, 5)), rel=1e-9)
    other = next(h for h in analysis.populations if h.setting.split == "train")
    assert not other.tested and other.chi2 is None
    assert not next(s for s in analysis.points if s.point.batch == 4096).tested


def test_slope_per_doubling_matches_numpy_polyfit(tmp_path: Path) -> None:
    demo = write(tmp_path)
    test = analysed(tmp_path).populations[0]
    x, y, se = np.log2(demo.batches), np.array(demo.estimates), np.array(demo.ses)
    (slope, intercept), cov = np.polyfit(x, y, 1, w=1 / se, cov="unscaled")
    residual = float(np.sum(((y - intercept - slope * x) / se) ** 2))
    inflation = math.sqrt(max(1.0, residual / (len(x) - 2)))
    assert test.slope_per_doubling == pytest.approx(slope, rel=1e-10)
    assert test.slope_se == pytest.approx(math.sqrt(cov[0, 0]) * inflation, rel=1e-8)


def test_intervals_prompt_ses_tails_and_boxes_match_independent_computations(
    tmp_path: Path,
) -> None:
    write(tmp_path)
    analysis = analysed(tmp_path)
    z = statistics.NormalDist().inv_cdf(0.975)
    assert z == pytest.approx(Z95, rel=1e-12)
    for stats in analysis.points:
        point = stats.point
        assert point.se is not None and stats.ci95 is not None and stats.box is not None
        assert stats.ci95 == pytest.approx(
            (point.estimate - z * point.se, point.estimate + z * point.se)
        )
        values = [float(v) for v in point.per_prompt_means]  # type: ignore[union-attr]
        assert stats.prompt_se == pytest.approx(statistics.stdev(values) / math.sqrt(len(values)))
        assert stats.prompt_se == pytest.approx(point.se, rel=1e-9)  # a mean's jackknife SE
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        assert (stats.box.q1, stats.box.median, stats.box.q3) == pytest.approx((q1, median, q3))
        fence = 1.5 * (q3 - q1)
        assert len(stats.box.outliers) == sum(v < q1 - fence or v > q3 + fence for v in values)
        assert stats.tail is not None
        if point.distribution is None:
            assert stats.tail.source == "per-prompt means"
            assert stats.tail.maximum == max(values)
            assert stats.tail.q99 == pytest.approx(
                statistics.quantiles(values, n=100, method="inclusive")[98]
            )
        else:
            assert stats.tail.q99 == point.distribution.quantile(0.99)
    assert analysis.log_scale  # lognormal per-prompt means, skewness > 1


@given(st.floats(1e-3, 400.0), st.integers(1, 12))
@settings(max_examples=300, deadline=None)
def test_chi2_tail_matches_the_closed_forms(x: float, df: int) -> None:
    expected = chi2_closed_form(x, df)
    assert chi2_sf(x, df) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    if expected > 1e-300:
        assert chi2_log_sf(x, df) == pytest.approx(math.log(expected), rel=1e-9, abs=1e-12)


def test_chi2_log_tail_keeps_p_values_a_float_underflows() -> None:
    assert chi2_sf(3000.0, 5) == 0.0
    # log Q(a, y) ≈ −y + (a − 1) log y − lgamma(a) for y ≫ a
    assert chi2_log_sf(3000.0, 5) == pytest.approx(
        -1500 + 1.5 * math.log(1500) - math.lgamma(2.5), rel=1e-4
    )


def _point(batch: int, estimate: float, se: float) -> JackknifePoint:
    setting = Setting(None, None, "test", None, 1.0, None)
    return JackknifePoint("f", 0, 1, setting, batch, 8, 0, estimate, se**2, se, None, None)


@given(
    st.lists(st.tuples(st.floats(-5, 5), st.floats(0.01, 1.0)), min_size=2, max_size=8),
    st.floats(-10, 10),
    st.randoms(use_true_random=False),
)
@settings(max_examples=100, deadline=None)
def test_homogeneity_is_invariant_to_order_and_shift(
    values: list[tuple[float, float]], shift: float, rnd: Any
) -> None:
    points = [_point(2 ** (i + 5), x, se) for i, (x, se) in enumerate(values)]
    base = homogeneity(points[0].setting, "", range(len(points)), points)
    shuffled = points[:]
    rnd.shuffle(shuffled)
    moved = [_point(p.batch, p.estimate + shift, p.se or 0) for p in shuffled]
    other = homogeneity(points[0].setting, "", range(len(points)), moved)
    assert other.chi2 == pytest.approx(base.chi2, rel=1e-7, abs=1e-7)
    assert other.df == base.df == len(points) - 1
    flat = [_point(p.batch, 1.0, p.se or 0) for p in points]
    assert homogeneity(points[0].setting, "", range(len(points)), flat).chi2 == pytest.approx(
        0, abs=1e-12
    )


# --- checks: each on a case that triggers it and one that does not ---------------------------


def test_depends_on_b_fires_on_the_climb_and_not_on_a_homogeneous_study(tmp_path: Path) -> None:
    write(tmp_path / "climb")
    finding = next(
        f for f in jackknife.checks(analysed(tmp_path / "climb")) if f.id == DEPENDS_ON_B
    )
    assert "χ² = 973 on 5 df" in finding.message and "p = 4.2e−208" in finding.message
    assert "1.090 ± 0.040 at B = 32" in finding.message
    write(tmp_path / "flat", chi2=None)
    flat = analysed(tmp_path / "flat")
    assert flat.populations[0].p_value is not None and flat.populations[0].p_value > 1e-3
    assert DEPENDS_ON_B not in ids(flat)


def test_std_is_se_fires_when_the_std_is_the_se_and_not_when_it_is_a_spread(tmp_path: Path) -> None:
    demo = write(tmp_path, train_point=False)
    assert STD_IS_SE in ids(analysed(tmp_path))

    def spread(data: dict[str, Any]) -> None:
        for e in data["experiments"]:
            sd = statistics.stdev(e["per_prompt_means"])
            e["std_dev_estimate"], e["variance_estimate"] = sd, sd**2

    edit(demo.directory / TEST_FILE, spread)
    assert STD_IS_SE not in ids(analysed(tmp_path))


def test_settings_apart_fires_only_with_a_point_of_another_setting(tmp_path: Path) -> None:
    write(tmp_path / "both")
    finding = next(
        f for f in jackknife.checks(analysed(tmp_path / "both")) if f.id == SETTINGS_APART
    )
    assert finding.message.startswith("B = 4,096 differ(s) in split train (not split test)")
    write(tmp_path / "one", train_point=False)
    assert SETTINGS_APART not in ids(analysed(tmp_path / "one"))


def test_se_not_sqrt_variance_and_prompt_count(tmp_path: Path) -> None:
    demo = write(tmp_path)
    assert not {SE_VARIANCE, PROMPT_COUNT} & set(ids(analysed(tmp_path)))

    def break_it(data: dict[str, Any]) -> None:
        data["experiments"][0]["variance_estimate"] *= 4
        data["experiments"][1]["per_prompt_means"] = data["experiments"][1]["per_prompt_means"][:10]

    edit(demo.directory / TEST_FILE, break_it)
    found = {f.id: f.message for f in jackknife.checks(analysed(tmp_path))}
    assert "B = 32" in found[SE_VARIANCE] and "B = 64" in found[PROMPT_COUNT]


def test_input_checks_stay_quiet_on_a_clean_study(tmp_path: Path) -> None:
    write(tmp_path, extra_fields=False)
    assert not {INPUT_NOT_READ, UNRECOGNISED_FIELDS} & set(ids(analysed(tmp_path)))


# --- twin, page, browser -----------------------------------------------------------------------


def validator() -> Any:
    import jsonschema  # type: ignore[import-untyped, unused-ignore]

    document = json.loads((SCHEMAS / jackknife.SCHEMA).read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document)


def test_the_twin_validates_and_its_schema_can_fail(tmp_path: Path) -> None:
    write(tmp_path)
    twin = json.loads(serialize.dumps(jackknife.summary_json(analysed(tmp_path))))
    check = validator()
    assert list(check.iter_errors(twin)) == []
    assert twin["settings"][0]["chi2"] == pytest.approx(973.0, rel=1e-8)
    assert twin["points"][-1]["tested"] is False
    broken = {**twin, "points": [{**twin["points"][0], "B": "32"}]}
    del broken["settings"]
    messages = sorted(e.message for e in check.iter_errors(broken))
    assert any("'settings' is a required property" in m for m in messages)
    assert any("'32' is not of type 'integer'" in m for m in messages)


@pytest.mark.slow  # Altair builds the chart specs once per test session
def test_page_says_the_verdict_first_and_writes_its_twin(tmp_path: Path) -> None:
    write(tmp_path / "tree")
    analysis = analysed(tmp_path / "tree")
    site = site_for(tmp_path / "tree", tmp_path / "site")
    output = jackknife.page(analysis, site)
    assert output.paths == (
        "studies/jackknife-study/studies/jk/index.html",
        "studies/jackknife-study/studies/jk/summary.json",
    )
    html = output.content(output.paths[0]).decode()
    assert output.content(output.paths[1]) == serialize.dumps(jackknife.summary_json(analysis))
    assert jackknife.page(analysis, site).files == output.files  # deterministic bytes
    main = html[html.index("<main") :]
    assert main.index("The estimate changes with B far beyond its standard errors") < main.index(
        'id="findings"'
    )
    assert "χ² = 973 on 5 df, p = 4.2e−208" in html
    assert "plots labelled “± std” showed ± 1 SE" in html
    assert "B = 4,096 (split train) is another setting: shown apart, not in the test." in html
    for chart in ("jackknife-estimates", "jackknife-prompts", "jackknife-tails"):
        assert f'data-chart="{chart}"' in html


@pytest.mark.browser
@pytest.mark.slow
def test_page_draws_every_chart_offline_at_desktop_and_phone_width(tmp_path: Path) -> None:
    from tests.test_browser import CHROMIUM

    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    write(tmp_path / "tree")
    output = jackknife.page(
        analysed(tmp_path / "tree"), site_for(tmp_path / "tree", tmp_path / "site")
    )
    write_site(tmp_path / "site", output)
    for opened in open_page(tmp_path / "site" / output.paths[0]):
        assert opened.problems == [] and opened.requests == [], opened.width
        assert set(opened.marks) == {"jackknife-estimates", "jackknife-prompts", "jackknife-tails"}
        assert all(count > 0 for count in opened.marks.values()), opened.marks
        assert opened.overflow <= 0, opened.width
        assert opened.text.index("In short") < opened.text.index("Findings")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[1, 2]", "the file holds a JSON list, not an object"),
        (b'{"B": 1}\n\n{"B": 2\n', "line 3: not JSON"),
        (b'{"B": 1}\n[3]\n', "line 2: a JSON list, not an object"),
        (b"", "not JSON"),
    ],
)
def test_files_that_are_not_one_object_or_json_lines_say_where(data: bytes, reason: str) -> None:
    from reportgen.kinds.reading import FormatError, json_objects

    with pytest.raises(FormatError) as raised:
        json_objects(data)
    assert raised.value.reason.startswith(reason)


def test_json_lines_keep_their_line_numbers() -> None:
    from reportgen.kinds.reading import json_objects

    assert json_objects(b'{"B": 1}\n\n{"B": 2}\n') == [(1, {"B": 1}), (3, {"B": 2})]
