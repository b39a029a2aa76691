"""The entropy-influence kind: recognition, loading as values, every number against an
independent computation (plain Python loops over the files), each check on a case that
triggers it and one that does not, the twin against its schema, and the page."""

from __future__ import annotations

import json
import math
import shutil
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.demo.influence import InfluenceDemo, write_influence_run
from reportgen.findings import Finding
from reportgen.kinds import influence
from reportgen.kinds.claims import Claim
from reportgen.kinds.common import NOT_IN_LAYOUT
from reportgen.kinds.influence import analysis as ia
from reportgen.kinds.influence import diagnostics as ic
from reportgen.kinds.influence import twin
from reportgen.kinds.influence import view as page
from reportgen.kinds.influence.loader import load, parse_eta
from reportgen.kinds.influence.model import EtaArrays
from reportgen.kinds.reading import StudyFailure, tree_reader
from reportgen.load.inputs import LoadError
from tests import kind_helpers as kh
from tests.kind_pages import open_page, site_for, write_site

Built = tuple[InfluenceDemo, ia.InfluenceAnalysis]
PROXIES = ("full", "baseline", "grad", "baseline_plus_grad")


def _build(directory: Path, **options: Any) -> Built:
    demo = write_influence_run(directory, **options)
    loaded = kh.load_study(influence, directory)
    assert not isinstance(loaded, StudyFailure), loaded
    return demo, ia.analyze(loaded)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(tmp_path_factory.mktemp("influence") / "clean", power_direction=None)


@pytest.fixture(scope="module")
def violation(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(
        tmp_path_factory.mktemp("influence") / "violation",
        baseline_counted_per_sequence=True,
        nonlinear_direction=5,
    )


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A residual and an interaction large enough to exceed ±20 % of δH_full (not only noise)."""
    return _build(
        tmp_path_factory.mktemp("influence") / "failing", residual_z=6.0, proxy_gap_z=4.0,
        residual_sd=1.2e7, interaction_sd=3e6, power_direction=None,
    )  # fmt: skip


def _ids(findings: tuple[Finding, ...]) -> set[str]:
    return {f.id for f in findings}


def _arrays(demo: InfluenceDemo, eta: float) -> dict[str, list[Any]]:
    """The four per-sequence arrays at η as Python lists, read with numpy.load directly."""
    base = demo.path / "eval_00_per_sequence"
    return {p: np.load(base / p / f"eta_{eta!r}.npy").tolist() for p in PROXIES}


def _summary(demo: InfluenceDemo) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((demo.path / "summary.json").read_text())
    return loaded


# --- recognition and loading -------------------------------------------------------------------


def test_recognises_the_runner_layout_and_claims_the_whole_directory(clean: Built) -> None:
    demo, _ = clean
    head = (demo.path / "summary.json").read_bytes()[:4096]
    assert influence.matches("x/summary.json") and not influence.matches("x/summary.jsonl")
    assert influence.sniff(head)
    assert not influence.sniff(b'{"plan": {}, "evaluations": []}')  # no workspace
    assert not influence.sniff(b'["plan", "workspace"]')  # not an object
    tree = kh.all_files(demo.path.parent)
    claims = influence.claims([*tree, "elsewhere/run_01/results.json"])
    assert [(c.directory, c.files) for c in claims] == [(demo.path.name, tuple(tree))]
    nested = influence.claims(["a/summary.json", "a/x.npy", "a/b/summary.json", "a/b/y.npy"])
    assert [(c.directory, c.files) for c in nested] == [
        ("a", ("a/summary.json", "a/x.npy")),
        ("a/b", ("a/b/summary.json", "a/b/y.npy")),
    ]
    assert influence.claims(["a/summary.json", "a/x"], markers=()) == ()


def _tree(demo: InfluenceDemo, name: str) -> str:
    return f"{demo.path.name}/{name}"


def test_every_claimed_file_is_an_input_and_the_unused_say_why(tmp_path: Path) -> None:
    demo = write_influence_run(tmp_path / "run")
    (demo.path / "notes.txt").write_text("hello")
    (demo.path / "eval_03_diagnostics.json").write_text("{}")
    (demo.path / "eval_00_per_sequence" / "full" / "eta_3e-05.npy").write_bytes(b"x")
    bad = demo.path / "eval_00_grad_eta" / "delta_8em06.npy"
    np.save(bad, np.zeros((3, 3)))
    loaded = kh.load_study(influence, demo.path)
    assert not isinstance(loaded, StudyFailure)
    assert list(loaded.inputs) == kh.all_files(tmp_path)
    reasons = {s.path: s.reason for s in loaded.not_read}
    assert set(reasons) == {
        _tree(demo, name)
        for name in (
            "notes.txt",
            "eval_03_diagnostics.json",
            "eval_00_per_sequence/full/eta_3e-05.npy",
            "eval_00_grad_eta/delta_8em06.npy",
        )
    }
    assert reasons[_tree(demo, "notes.txt")] == NOT_IN_LAYOUT
    assert reasons[_tree(demo, "eval_03_diagnostics.json")] == "evaluation 3 is not in summary.json"
    assert reasons[_tree(demo, "eval_00_per_sequence/full/eta_3e-05.npy")].startswith("its η")
    assert reasons[_tree(demo, "eval_00_grad_eta/delta_8em06.npy")] == "shape 3×3, expected 8"
    findings = ic.checks(ia.analyze(loaded))
    assert "influence-incomplete" in _ids(findings)


def test_a_pickled_array_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    demo = write_influence_run(tmp_path / "run")
    marker = tmp_path / "unpickled"
    target = demo.path / "eval_00_delta_matrix.npy"
    np.save(target, np.array([_Trap(str(marker))], dtype=object), allow_pickle=True)
    loaded = kh.load_study(influence, demo.path)
    assert not isinstance(loaded, StudyFailure)
    assert not marker.exists()
    refused = {s.path: s.reason for s in loaded.not_read}
    assert "pickle" in refused[_tree(demo, "eval_00_delta_matrix.npy")].lower()
    assert loaded.evaluations[0].matrix is None


class _Trap:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str, str]]:
        return (open, (self.path, "w"))  # unpickling would create the marker file


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "summary.json is missing"),
        (b"[1, 2]", "summary.json is not a JSON object"),
        (b'{"plan": {}, "workspace": {}}', "summary.json has no list of evaluations"),
        (b"{", "summary.json: invalid JSON"),
    ],
)
def test_an_unusable_summary_is_a_failure_value(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    demo = write_influence_run(tmp_path / "run")
    summary = demo.path / "summary.json"
    if content is None:
        summary.unlink()
    else:
        summary.write_bytes(content)
    files = tuple(kh.all_files(tmp_path))
    loaded = load(Claim(influence.KIND, "run", files), tree_reader(tmp_path))
    assert isinstance(loaded, StudyFailure)
    assert loaded.reason.startswith(reason) and "influence runner" in loaded.reason
    assert loaded.inputs == files and loaded.directory == "run"
    unused = {s.path for s in loaded.not_read}
    assert unused == set(files)


def test_an_unreadable_file_is_named_as_unreadable(tmp_path: Path) -> None:
    demo = write_influence_run(tmp_path / "run")
    blocked = "run/eval_00_per_sequence/full/eta_1e-06.npy"
    read = tree_reader(tmp_path)

    def guarded(path: str, max_bytes: int | None = None) -> bytes:
        if path == blocked:
            raise LoadError("cannot read file: Permission denied") from PermissionError(13, "no")
        return read(path, max_bytes)

    loaded = kh.load_study(influence, demo.path, guarded)
    assert not isinstance(loaded, StudyFailure)
    unreadable = [s for s in loaded.not_read if s.unreadable]
    assert [s.path for s in unreadable] == [blocked]
    analysis = ia.analyze(loaded)
    assert analysis.evaluations[0].missing_arrays == (1e-6,)


@pytest.mark.parametrize(
    ("text", "eta"), [("1e-06", 1e-6), ("1em06", 1e-6), ("1p6em06", 1.6e-6), ("0", None)]
)
def test_eta_in_names(text: str, eta: float | None) -> None:
    assert parse_eta(text) == eta


# --- the sum rule against loops over the files ---------------------------------------------------


def _independent_rule(demo: InfluenceDemo, eta: float) -> dict[str, float]:
    """Sum rule at η from the arrays and the summary, in plain Python."""
    a = _arrays(demo, eta)
    m, n = len(a["full"]), len(a["baseline_plus_grad"])
    residuals = []
    adjusted_total = 0.0
    for j in range(m):
        adjusted_j = math.fsum(a["baseline_plus_grad"][i][j] - a["baseline"][j] for i in range(n))
        adjusted_total += adjusted_j
        residuals.append(a["full"][j] - a["baseline"][j] - adjusted_j)
    row = next(r for r in _summary(demo)["evaluations"][0]["aggregate"] if r["eta"] == eta)
    baseline = _summary(demo)["evaluations"][0]["baseline_eta_delta"][repr(eta)]
    return {
        "full": row["delta_h"],
        "baseline": baseline,
        "reported": row["per_sequence_delta_sum"],
        "adjusted": adjusted_total / m,
        "se": statistics.stdev(residuals) / math.sqrt(m),
        "full_mean": math.fsum(a["full"]) / m,
        "baseline_mean": math.fsum(a["baseline"]) / m,
    }


def _rel(a: float | None, b: float, tol: float = 1e-9) -> bool:
    assert a is not None
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-300)


@pytest.mark.parametrize("fixture", ["clean", "violation", "failing"])
def test_sum_rule_numbers_match_an_independent_computation(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    demo, analysis = request.getfixturevalue(fixture)
    for rule in analysis.evaluations[0].sum_rules:
        ref = _independent_rule(demo, rule.eta)
        assert _rel(rule.full, ref["full"]) and _rel(rule.full, ref["full_mean"])
        assert _rel(rule.baseline, ref["baseline"]) and _rel(rule.baseline, ref["baseline_mean"])
        assert _rel(rule.adjusted_sum, ref["adjusted"])
        assert _rel(rule.arrays_residual, ref["full"] - ref["baseline"] - ref["adjusted"], 1e-6)
        assert _rel(rule.arrays_residual_se, ref["se"], 1e-9)
        assert _rel(rule.residual, ref["full"] - ref["baseline"] - ref["reported"], 1e-9)


def test_the_clean_run_holds_at_the_planted_z(clean: Built) -> None:
    demo, analysis = clean
    rules = analysis.evaluations[0].sum_rules
    assert [r.verdict for r in rules] == ["holds"] * len(demo.etas)
    assert all(r.reported_matches == "adjusted" for r in rules)
    assert all(abs((r.z or 0.0) - demo.residual_z) < 1e-6 for r in rules)
    ids = _ids(ic.checks(analysis))
    assert not ids & {"influence-sum-rule", "influence-baseline-per-sequence"}
    assert ids == set()  # the clean run has no finding at all


def test_the_baseline_counted_per_direction_is_named(violation: Built) -> None:
    demo, analysis = violation
    rules = analysis.evaluations[0].sum_rules
    assert [r.verdict for r in rules] == ["baseline-per-sequence"] * len(demo.etas)
    assert all(r.reported_matches == "unadjusted" for r in rules)
    for rule in rules:
        ref = _independent_rule(demo, rule.eta)
        excess = ref["reported"] - ref["full"]  # what the researchers saw
        assert abs(excess - (demo.n - 1) * ref["baseline"]) <= 3 * ref["se"]
        if rule.eta == min(demo.etas):  # linear regime: the sum ≈ 8 × the truth (7× too much)
            assert 7.0 < ref["reported"] / ref["full"] < 9.0
        # recomputed from the arrays the rule holds, at the planted z
        assert abs(rule.arrays_residual / rule.arrays_residual_se - demo.residual_z) < 1e-6  # type: ignore[operator]
    finding = next(f for f in ic.checks(analysis) if f.id == "influence-baseline-per-sequence")
    assert finding.severity == "error"
    assert "(n − 1)·δH_baseline" in finding.message and "n = 8" in finding.message
    assert finding.etas == demo.etas


def test_a_real_failure_of_the_rule_is_a_warning_with_its_z(failing: Built) -> None:
    demo, analysis = failing
    rules = analysis.evaluations[0].sum_rules
    assert [r.verdict for r in rules] == ["fails"] * len(demo.etas)
    assert all(abs((r.z or 0.0) - 6.0) < 1e-6 for r in rules)
    finding = next(f for f in ic.checks(analysis) if f.id == "influence-sum-rule")
    assert finding.severity == "warning" and "z = +6.00" in finding.message
    assert "beyond ±20 % of |δH_full|" in finding.message
    assert "influence-baseline-per-sequence" not in _ids(ic.checks(analysis))


def test_without_arrays_the_pattern_is_still_caught_and_the_rest_is_inconclusive(
    tmp_path: Path,
) -> None:
    for name, counted in (("counted", True), ("clean", False)):
        demo = write_influence_run(tmp_path / name, baseline_counted_per_sequence=counted)
        shutil.rmtree(demo.path / "eval_00_per_sequence")
        loaded = kh.load_study(influence, demo.path)
        assert not isinstance(loaded, StudyFailure)
        analysis = ia.analyze(loaded)
        rules = analysis.evaluations[0].sum_rules
        assert all(r.residual_se is None for r in rules)
        ids = _ids(ic.checks(analysis))
        if counted:
            assert [r.verdict for r in rules] == ["baseline-per-sequence"] * len(rules)
            assert "influence-baseline-per-sequence" in ids
        else:
            assert [r.verdict for r in rules] == ["inconclusive"] * len(rules)
            assert "influence-sum-rule-untested" in ids and "influence-sum-rule" not in ids
        # the per-direction effects come from eta_per_sequence, the baseline taken out
        deltas = analysis.evaluations[0].directions[0].values
        expected = _summary(demo)["evaluations"][0]["eta_per_sequence"]
        base = _summary(demo)["evaluations"][0]["baseline_eta_delta"]
        for k, eta in enumerate(demo.etas):
            want = expected[repr(eta)][0] - (base[repr(eta)] if counted else 0.0)
            assert _rel(float(deltas[k]), want, 1e-12)


@pytest.mark.parametrize(
    ("residual", "se", "match", "verdict"),
    [
        (0.1, 0.01, None, "holds"),  # 90 % interval inside ±0.2·|δH_full| = ±0.2
        (0.1, 0.1, None, "inconclusive"),  # |z| = 1, but the interval reaches past 0.2
        (0.15, 0.05, None, "inconclusive"),  # |z| = 3, yet not shown beyond 0.2
        (0.3, 0.1, None, "fails"),  # |z| = 3 and beyond 0.2
        (8.0, 0.1, None, "baseline-per-sequence"),  # −n·δH_b with δH_b = −1, n = 8
        (8.3, None, None, "baseline-per-sequence"),  # within 5 % without an SE
        (9.0, None, None, "inconclusive"),
        (0.0, 0.1, "unadjusted", "baseline-per-sequence"),
    ],
)
def test_verdict_rules(residual: float, se: float | None, match: Any, verdict: str) -> None:
    rule = ia.SumRule(
        eta=1e-6, n=8, full=1.0, baseline=-1.0, reported_sum=None, adjusted_sum=None,
        unadjusted_sum=None, reported_matches=None, source=None, residual=None,
        residual_se=None, arrays_residual=None, arrays_residual_se=None, verdict="unavailable",
        margin=0.2, dof=63,
    )  # fmt: skip
    assert ia._verdict(residual, se, match, rule) == verdict


# --- linearity, proxies, features --------------------------------------------------------------


def _fit(x: list[float], y: list[float]) -> tuple[float, float, float]:
    """Slope, SE and uncentred R² of y = s·x, by the textbook sums."""
    sxx = math.fsum(a * a for a in x)
    slope = math.fsum(a * b for a, b in zip(x, y, strict=True)) / sxx
    ss_res = math.fsum((b - slope * a) ** 2 for a, b in zip(x, y, strict=True))
    return slope, math.sqrt(ss_res / (len(x) - 1) / sxx), 1 - ss_res / math.fsum(b * b for b in y)


def test_linearity_fits_match_and_the_bent_directions_are_flagged(
    violation: Built, clean: Built
) -> None:
    demo, analysis = violation
    directions = analysis.evaluations[0].directions
    for d in directions:
        values = []
        for eta in demo.etas:
            a = _arrays(demo, eta)
            m = len(a["full"])
            values.append(
                math.fsum(a["baseline_plus_grad"][d.index][j] - a["baseline"][j] for j in range(m))
                / m
            )
        slope, se, r2 = _fit(list(demo.etas), values)
        assert _rel(d.fit.slope, slope, 1e-9) and _rel(d.fit.slope_se, se, 1e-6)
        assert _rel(d.fit.r2, r2, 1e-9)
    bent = [d.index for d in directions if d.curvature.verdict == "curved"]
    assert bent == sorted([demo.nonlinear_direction, demo.power_direction])  # type: ignore[type-var]
    finding = next(f for f in ic.checks(analysis) if f.id == "influence-nonlinear")
    assert directions[5].id in finding.message and directions[2].id in finding.message
    assert "influence-nonlinear" not in _ids(ic.checks(clean[1]))


def test_proxy_gap_matches_and_is_flagged_only_when_planted(clean: Built, failing: Built) -> None:
    for (demo, analysis), planted in ((clean, 0.0), (failing, 4.0)):
        for row in analysis.evaluations[0].proxies:
            a = _arrays(demo, row.eta)
            m, n = len(a["full"]), demo.n
            gaps = [
                math.fsum(
                    a["baseline_plus_grad"][i][j] - a["baseline"][j] - a["grad"][i][j]
                    for i in range(n)
                )
                for j in range(m)
            ]
            assert _rel(row.gap_se, statistics.stdev(gaps) / math.sqrt(m), 1e-9)
            assert abs((row.gap or 0.0) / (row.gap_se or 1.0) - planted) < 1e-6
    assert "influence-proxies-differ" in _ids(ic.checks(failing[1]))
    assert "influence-proxies-differ" not in _ids(ic.checks(clean[1]))


def _ranks(values: list[float]) -> list[float]:
    """Mean ranks by counting (ties share), independent of argsort."""
    return [
        sum(1 for w in values if w < v) + (sum(1 for w in values if w == v) + 1) / 2 for v in values
    ]


def _pearson(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def _spearman(x: list[float], y: list[float]) -> float:
    return statistics.correlation(_ranks(x), _ranks(y))


def test_features_match_an_independent_rank_test(clean: Built) -> None:
    import itertools

    _, analysis = clean
    e = analysis.evaluations[0]
    column = e.etas.index(e.feature_eta or 0.0)
    y = [float(d.values[column]) for d in e.directions]
    by_name = {f.name: f for f in e.features}
    assert set(by_name) == {"advantage", "length", "grad_norms"}
    for f in by_name.values():
        x = [float(v) for v in f.values]
        rho = _spearman(x, y)
        assert _rel(f.test.rho, rho, 1e-9)
        rx, ry = _ranks(x), _ranks(y)
        extreme = sum(
            1
            for order in itertools.permutations(ry)
            if abs(_pearson(rx, list(order))) >= abs(rho) - 1e-12
        )
        assert f.test.exact and _rel(f.test.p_value, extreme / math.factorial(len(y)), 1e-12)
    assert by_name["advantage"].test.p_value < 0.05  # type: ignore[operator]
    assert e.feature_eta == 4e-6  # the delta matrix's η_ref


# --- consistency, precision, several evaluations -----------------------------------------------


def _rewrite_summary(demo: InfluenceDemo, change: Callable[[dict[str, Any]], None]) -> None:
    summary = _summary(demo)
    change(summary)
    (demo.path / "summary.json").write_text(json.dumps(summary))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda s: s["evaluations"][0]["aggregate"][1].update(delta_h=-1.0), "delta_h at η = 2e−6"),
        (lambda s: s["evaluations"][0]["row_sums"].__setitem__(3, 5.0), "row_sums differs"),
        (lambda s: s["evaluations"][0].update(max_abs=1.0), "max_abs is 1"),
        (
            lambda s: s["evaluations"][0]["baseline_eta_delta"].update({"4e-06": 0.5}),
            "baseline_eta_delta at η = 4e−6",
        ),
    ],
)
def test_a_summary_that_contradicts_its_arrays_is_found(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], words: str
) -> None:
    demo = write_influence_run(tmp_path / "run")
    _rewrite_summary(demo, change)
    loaded = kh.load_study(influence, demo.path)
    assert not isinstance(loaded, StudyFailure)
    finding = next(f for f in ic.checks(ia.analyze(loaded)) if f.id == "influence-files-disagree")
    assert words in finding.message


def test_float32_arrays_agree_with_their_summary_to_rounding(tmp_path: Path) -> None:
    _, analysis = _build(tmp_path / "f32", dtype=np.float32)
    e = analysis.evaluations[0]
    assert e.disagreements == () and e.matrix_reading == "baseline-adjusted"
    assert [r.verdict for r in e.sum_rules] == ["holds"] * 4
    assert all(r.reported_matches == "adjusted" for r in e.sum_rules)


def test_every_evaluation_is_analysed_apart(tmp_path: Path) -> None:
    demo = write_influence_run(tmp_path / "two")
    for path in sorted(demo.path.rglob("eval_00*")):
        target = demo.path / path.relative_to(demo.path).as_posix().replace("eval_00", "eval_01")
        if path.is_dir():
            shutil.copytree(path, target)
        elif not target.exists():
            shutil.copy(path, target)

    def second(summary: dict[str, Any]) -> None:
        copy = json.loads(json.dumps(summary["evaluations"][0]))
        copy["index"] = 1
        copy["aggregate"][0]["per_sequence_delta_sum"] = 1.0  # wrong in evaluation 1 only
        summary["evaluations"].append(copy)

    _rewrite_summary(demo, second)
    loaded = kh.load_study(influence, demo.path)
    assert not isinstance(loaded, StudyFailure) and loaded.not_read == ()
    analysis = ia.analyze(loaded)
    assert [e.evaluation.index for e in analysis.evaluations] == [0, 1]
    assert analysis.evaluations[0].sum_rules[0].verdict == "holds"
    first = analysis.evaluations[1].sum_rules[0]
    assert (first.verdict, first.reported_matches) == ("inconclusive", "neither")
    findings = {f.id: f for f in ic.checks(analysis)}
    assert findings["influence-files-disagree"].message.startswith("evaluation 1:")
    assert findings["influence-sum-rule-untested"].message.startswith("evaluation 1:")
    output = page.page(analysis, kh.site_context(), "inf")
    html = kh.page_text(output)
    assert 'id="sum-rule-e0"' in html and 'id="sum-rule-e1"' in html
    assert html.count('id="eta-select"') == 1


def test_every_check_is_documented_for_the_guide() -> None:
    infos = ic.CHECKS
    assert len({i.id for i in infos}) == len(infos)
    for info in infos:
        assert info.id.startswith("influence-") and info.title and len(info.explanation) > 80


# --- the twin and the page ---------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["clean", "violation"])
def test_the_twin_validates_against_its_schema(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    _, analysis = request.getfixturevalue(fixture)
    data = json.loads(json.dumps(twin.summary_json(analysis)))
    assert kh.twin_problems(influence.SCHEMA, data) == []
    assert data["evaluations"][0]["sum_rule"][0]["verdict"] in ("holds", "baseline-per-sequence")
    broken = json.loads(json.dumps(data))
    del broken["evaluations"][0]["sum_rule"][0]["residual_se"]
    broken["evaluations"][0]["directions"][0]["r2"] = "high"
    assert len(kh.twin_problems(influence.SCHEMA, broken)) == 2


def test_the_page_opens_with_the_verdict_and_names_its_reading(violation: Built) -> None:
    _, analysis = violation
    output = page.page(analysis, kh.site_context(), "exp/inf")
    assert output.paths == ("exp/inf/index.html", "exp/inf/summary.json")
    assert output.record is None
    html = kh.page_text(output)
    verdict = html.index("The reported per-direction sum counts the baseline once per direction")
    assert verdict < html.index('id="findings"') < html.index('id="reading"')
    assert "read as rows = directions (row_sums), columns = evaluation sequences" in html
    assert "reproduces Σᵢ δH(v_b + vᵢ) (baseline counted per direction)" in html
    assert 'href="../../guide.html#check-influence-baseline-per-sequence"' in html
    twin_bytes = output.content("exp/inf/summary.json")
    assert json.loads(twin_bytes) == json.loads(json.dumps(twin.summary_json(analysis)))
    again = page.page(analysis, kh.site_context(), "exp/inf")
    assert again.files == output.files  # deterministic bytes


@pytest.mark.slow
def test_every_chart_is_valid_vega_lite_and_draws(clean: Built) -> None:
    _, analysis = clean
    view = page.influence_view(analysis, (), page.HEATMAP_MAX_SIDE)
    data = json.loads(str(view.page_data))["datasets"]
    charts = {c.id: c for e in view.evaluations for items in e.charts.values() for c in items}
    assert set(charts) == {
        "influence-sum-rule", "influence-linearity", "influence-proxies", "influence-features",
        "influence-matrix",
    }  # fmt: skip
    marks = {"influence-matrix": ("rect mark", 8 * 64), "influence-proxies": ("circle", 8)}
    for chart in charts.values():
        spec = dict(chart.spec, datasets={name: data[name] for name in chart.datasets})
        assert kh.spec_errors(spec) == [], chart.id
        if chart.id in marks:
            role, count = marks[chart.id]
            assert kh.drawn_marks(spec, role) == count, chart.id


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not kh.CHROMIUM.is_file(), reason="Chromium is not installed")
def test_the_page_draws_offline_at_desktop_and_phone_widths(
    violation: Built, tmp_path: Path
) -> None:
    _, analysis = violation
    site = tmp_path / "site"
    output = page.page(analysis, site_for(tmp_path, site), "inf")
    write_site(site, output)
    for opened in open_page(site / output.paths[0]):
        assert opened.problems == [] and opened.requests == []
        assert len(opened.marks) == 5 and all(n > 0 for n in opened.marks.values())
        assert opened.overflow <= 0


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(3, 12), st.integers(0, 2**32 - 1))
def test_the_residual_is_full_minus_baseline_minus_the_adjusted_sum(
    n: int, m: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    arrays = EtaArrays(
        eta=1e-6,
        full=rng.normal(size=m),
        baseline=rng.normal(size=m),
        grad=rng.normal(size=(n, m)),
        baseline_plus_grad=rng.normal(size=(n, m)),
        grad_eta=None,
        eps=2.0**-52,
    )
    full, baseline = float(arrays.full.mean()), float(arrays.baseline.mean())  # type: ignore[union-attr]
    empty = ia.SumRule(
        eta=1e-6, n=n, full=full, baseline=baseline, reported_sum=None, adjusted_sum=None,
        unadjusted_sum=None, reported_matches=None, source=None, residual=None,
        residual_se=None, arrays_residual=None, arrays_residual_se=None, verdict="unavailable",
    )  # fmt: skip
    rule = ia._rule_from_arrays(empty, arrays, full, baseline)
    plus = arrays.baseline_plus_grad.mean(axis=1)  # type: ignore[union-attr]
    expected = full - baseline - float((plus - baseline).sum())
    assert math.isclose(rule.residual or 0.0, expected, rel_tol=1e-9, abs_tol=1e-12)
    assert rule.unadjusted_sum is not None and rule.adjusted_sum is not None
    assert math.isclose(rule.unadjusted_sum - rule.adjusted_sum, n * baseline, abs_tol=1e-9)


def test_the_guide_text_states_what_the_code_does() -> None:
    from reportgen.kinds.influence.guide import GUIDE_MARKDOWN
    from reportgen.kinds.sample_stats import EXACT_PERMUTATION_MAX_N, PERMUTATIONS

    text = " ".join(GUIDE_MARKDOWN.split())
    assert f"up to {EXACT_PERMUTATION_MAX_N} directions, else {PERMUTATIONS:,} seeded" in text
    assert "exceeds δH_full by (n − 1)·δH_baseline" in text
    for name in ("full", "baseline", "grad", "baseline_plus_grad"):
        assert f"(`{name}`" in text
