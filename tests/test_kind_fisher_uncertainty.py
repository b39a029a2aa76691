"""The Fisher page shows every contrast and correlation with its uncertainty, clustered by prompt
where sequences share one, judges them by it, and draws no eigenvalue below its own rounding
bound: each case on a demo tree, against an independent computation from the files."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from reportgen.demo.fisher import write_fisher_run
from reportgen.demo.studies import FISHER_DIR, write_studies
from reportgen.kinds import fisher
from reportgen.kinds.fisher import analysis as fa
from reportgen.kinds.fisher import view as page
from reportgen.kinds.fisher.relations import disagreement
from reportgen.kinds.fisher.verdict import COSINE_MARGIN
from reportgen.kinds.reading import StudyFailure
from reportgen.kinds.sample_stats import t_quantile
from tests import kind_helpers as kh

Built = tuple[Path, fa.FisherAnalysis]


def _analysed(path: Path) -> fa.FisherAnalysis:
    loaded = kh.load_study(fisher, path)
    assert not isinstance(loaded, StudyFailure), loaded
    return fa.analyze(loaded)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The Fisher study of the demo tree, written as ``reportgen demo`` writes it."""
    root = tmp_path_factory.mktemp("tree")
    write_studies(root, 0)
    return root / FISHER_DIR, _analysed(root / FISHER_DIR)


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Built:
    path = tmp_path_factory.mktemp("identity") / "kernel"
    write_fisher_run(path, dominated=False, entropy_is_surprisal=False)
    return path, _analysed(path)


def _html(analysis: fa.FisherAnalysis) -> str:
    return kh.page_text(page.page(analysis, kh.site_context(), "k"))


def _cosines_and_prompts(path: Path) -> tuple[list[list[float]], list[str]]:
    kernel = np.load(path / "kernel_update.npy").astype(float).tolist()
    n = len(kernel)
    cosine = [
        [kernel[a][b] / math.sqrt(kernel[a][a] * kernel[b][b]) for b in range(n)] for a in range(n)
    ]
    sequences = json.loads((path / "update_sequences.json").read_text())["sequences"]
    return cosine, [s["id"].split("-")[1] for s in sequences]


def _means(cosine: list[list[float]], prompts: list[str], left_out: str | None) -> list[float]:
    within: list[float] = []
    across: list[float] = []
    for a in range(len(prompts)):
        for b in range(a + 1, len(prompts)):
            if left_out not in (prompts[a], prompts[b]):
                (within if prompts[a] == prompts[b] else across).append(cosine[a][b])
    w, c = statistics.fmean(within), statistics.fmean(across)
    return [w, c, w - c]


# --- 4. the cosine contrast: a delete-one-prompt jackknife --------------------------------------


def test_the_cosine_contrast_jackknifes_whole_prompts(tree: Built) -> None:
    path, analysis = tree
    cosine, prompts = _cosines_and_prompts(path)
    groups = sorted(set(prompts))
    replicates = [_means(cosine, prompts, g) for g in groups]
    g = len(groups)
    expected = []
    for k in range(3):
        values = [r[k] for r in replicates]
        mean = statistics.fmean(values)
        expected.append(math.sqrt((g - 1) / g * math.fsum((v - mean) ** 2 for v in values)))
    c = analysis.contrast
    assert c is not None and c.prompts == 8
    found = [c.within_se, c.across_se, c.difference_se]
    for got, want in zip(found, expected, strict=True):
        assert got is not None and math.isclose(got, want, rel_tol=1e-9)
    assert [round(v or 0.0, 4) for v in found] == [0.1359, 0.0367, 0.1582]  # the audit's values
    html = _html(analysis)
    assert "delete-one-prompt jackknife" in html and "delete-one-sequence" not in html


# --- 3. the cosine difference: inconclusive, or an equivalence with a stated margin -------------


def test_a_cosine_difference_inside_2_se_is_inconclusive_not_within(tree: Built) -> None:
    _, analysis = tree
    html = _html(analysis)
    assert "within 2 standard errors" not in html
    assert (
        "the difference 0.13 ± 0.16 (delete-one-prompt jackknife over 8 prompts) is "
        f"inconclusive: not shown to differ from 0, nor within ±{COSINE_MARGIN:g}" in html
    )


def test_a_cosine_difference_shown_inside_the_margin_is_said_to_be_within_it(
    identity: Built,
) -> None:
    _, analysis = identity
    c = analysis.contrast
    assert c is not None and c.difference is not None and c.difference_se is not None
    assert abs(c.difference) + t_quantile(0.95, c.prompts - 1) * c.difference_se < COSINE_MARGIN
    assert f"is within ±{COSINE_MARGIN:g} (its 90 % interval" in _html(analysis)


# --- 5. correlations: 95 % intervals, and a call based on them ----------------------------------


def _fisher_interval(r: float, n: int, factor: float) -> tuple[float, float]:
    half = 1.959963984540054 * math.sqrt(factor / (n - 3))
    return math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)


def test_every_correlation_has_its_95_percent_interval(tree: Built) -> None:
    _, analysis = tree
    assert analysis.correlations
    for row in analysis.correlations:
        assert row.pearson is not None and row.spearman is not None and row.n == 64
        low, high = _fisher_interval(row.pearson, row.n, 1.0)
        assert math.isclose(row.pearson_low or 0.0, low, rel_tol=1e-12)
        assert math.isclose(row.pearson_high or 0.0, high, rel_tol=1e-12)
        low, high = _fisher_interval(row.spearman, row.n, 1.0 + row.spearman**2 / 2)
        assert math.isclose(row.spearman_low or 0.0, low, rel_tol=1e-12)
        assert math.isclose(row.spearman_high or 0.0, high, rel_tol=1e-12)
    flagged = [(r.quantity, r.disagreement) for r in analysis.correlations if r.disagreement]
    assert flagged == [("self_influence", "magnitude")]  # intervals 0.71–0.88 and 0.09–0.54
    html = _html(analysis)
    assert "95 % interval" in html and "Fisher z" in html and "do not overlap" in html


@pytest.mark.parametrize(
    ("r", "rho", "n", "expected"),
    [(0.9, 0.3, 10, None), (0.9, 0.3, 64, "magnitude"), (0.5, -0.5, 64, "sign"),
     (0.5, -0.5, 12, None), (0.05, -0.08, 64, None), (None, 0.4, 64, None),
     (0.956, 0.862, 64, None)],  # apart, but a binary metric caps ρ near 0.87
)  # fmt: skip
def test_the_call_rests_on_the_intervals_not_a_fixed_gap(
    r: float | None, rho: float | None, n: int, expected: str | None
) -> None:
    assert disagreement(r, rho, n) == expected


# --- 6. the spectrum chart leaves out what rounding cannot resolve ------------------------------


def test_eigenvalues_below_the_rounding_bound_are_not_drawn(tree: Built) -> None:
    _, analysis = tree
    s = analysis.spectrum
    floor = s.tolerance / float(np.clip(s.eigenvalues, 0, None).sum())
    view = page.fisher_view(analysis, (), page.HEATMAP_MAX_SIDE)
    data = json.loads(str(view.page_data))["datasets"]["fisher-spectrum"][0]
    drawn = [v for v in data["share"] if v is not None and v > 0]
    assert len(drawn) == 32 and min(drawn) >= floor
    html = _html(analysis)
    assert "k = 33–64 are below the rounding bound n·ε·λ_max = 6.691e−3" in html
    assert "(a share of 7.574e−6) and are not drawn" in html
