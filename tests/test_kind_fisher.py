"""The Fisher-kernel kind: recognition, loading as values, every number against an independent
computation (loops over entries, a general eigen-solver, leave-one-out recomputations), the
kernel shapes the demo plants with known answers, each check triggered and not, the twin
against its schema, and the page."""

from __future__ import annotations

import io
import json
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.demo.fisher import DOMINANT_PROMPT, UNSAFE_TEXT, FisherDemo, write_fisher_run
from reportgen.findings import Finding
from reportgen.kinds import fisher
from reportgen.kinds.claims import Claim
from reportgen.kinds.common import NOT_IN_LAYOUT
from reportgen.kinds.fisher import analysis as fa
from reportgen.kinds.fisher import diagnostics as fc
from reportgen.kinds.fisher import twin
from reportgen.kinds.fisher import view as page
from reportgen.kinds.fisher.loader import load
from reportgen.kinds.fisher.relations import disagreement
from reportgen.kinds.fisher.spectrum import cosine_contrast, effective_rank, prompt_shares, spectrum
from reportgen.kinds.heatmap import block_means
from reportgen.kinds.reading import StudyFailure, tree_reader
from tests import kind_helpers as kh
from tests.kind_pages import open_page, site_for, write_site

Built = tuple[FisherDemo, fa.FisherAnalysis]


def _build(directory: Path, **options: Any) -> Built:
    demo = write_fisher_run(directory, **options)
    loaded = kh.load_study(fisher, directory)
    assert not isinstance(loaded, StudyFailure), loaded
    return demo, fa.analyze(loaded)


@pytest.fixture(scope="module")
def dominated(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(tmp_path_factory.mktemp("fisher") / "dominated")


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(
        tmp_path_factory.mktemp("fisher") / "identity", dominated=False, entropy_is_surprisal=False
    )


def _ids(findings: tuple[Finding, ...]) -> set[str]:
    return {f.id for f in findings}


def _kernel(demo: FisherDemo) -> list[list[float]]:
    rows: list[list[float]] = np.load(demo.path / "kernel_update.npy").astype(float).tolist()
    return rows


def _sequences(demo: FisherDemo) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((demo.path / "update_sequences.json").read_text())[
        "sequences"
    ]
    return items


def _prompt(sequence_id: str) -> str:
    return sequence_id.split("-")[1]


# --- recognition and loading --------------------------------------------------------------------


def _head(array: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()[:4096]


def test_recognises_a_square_kernel_and_claims_the_whole_directory(dominated: Built) -> None:
    demo, _ = dominated
    assert fisher.matches("a/kernel_update.npy") and not fisher.matches("a/kernel_eval.npy")
    assert fisher.sniff((demo.path / "kernel_update.npy").read_bytes()[:4096])
    assert fisher.sniff(_head(np.eye(3, dtype=np.int64)))
    assert not fisher.sniff(_head(np.zeros((3, 4))))  # not square
    assert not fisher.sniff(_head(np.zeros(3)))  # not a matrix
    assert not fisher.sniff(_head(np.array([["a", "b"], ["c", "d"]])))  # not numbers
    assert not fisher.sniff(b"\x93NUMPY\x01\x00" + b"\xff\xff" + b"{" * 10)  # header cut
    assert not fisher.sniff(b"PK\x03\x04 an npz")
    tree = kh.all_files(demo.path.parent)
    claims = fisher.claims([*tree, "other/kernel_eval.npy"])
    assert [(c.directory, c.files) for c in claims] == [(demo.path.name, tuple(tree))]


def test_every_claimed_file_is_an_input_and_the_unused_say_why(tmp_path: Path) -> None:
    demo = write_fisher_run(tmp_path / "run")
    (demo.path / "plots").mkdir()
    (demo.path / "plots" / "kernel.png").write_bytes(b"\x89PNG")
    (demo.path / "eval_sequence_metrics.json").write_text("not json")
    np.save(demo.path / "influence_eval.npy", np.zeros(3))  # 16 rows expected
    loaded = kh.load_study(fisher, demo.path)
    assert not isinstance(loaded, StudyFailure)
    assert list(loaded.inputs) == kh.all_files(tmp_path)
    reasons = {s.path: s.reason for s in loaded.not_read}
    assert set(reasons) == {
        "run/plots/kernel.png", "run/influence_eval.npy", "run/eval_sequence_metrics.json"
    }  # fmt: skip
    assert reasons["run/plots/kernel.png"] == NOT_IN_LAYOUT
    assert reasons["run/influence_eval.npy"] == "shape 3, expected 16"
    assert reasons["run/eval_sequence_metrics.json"].startswith("invalid JSON")
    assert "fisher-incomplete" in _ids(fc.checks(fa.analyze(loaded)))


@pytest.mark.parametrize(
    ("write", "reason"),
    [
        (lambda p: (p / "kernel_update.npy").unlink(), "kernel_update.npy: it is missing"),
        (lambda p: np.save(p / "kernel_update.npy", np.zeros((4, 5))), "shape 4×5, not square"),
        (lambda p: (p / "kernel_update.npy").write_bytes(b"junk"), "not a NumPy array file"),
    ],
)
def test_an_unusable_kernel_is_a_failure_value(
    tmp_path: Path, write: Callable[[Path], None], reason: str
) -> None:
    demo = write_fisher_run(tmp_path / "run")
    write(demo.path)
    files = tuple(kh.all_files(tmp_path))
    loaded = load(Claim(fisher.KIND, "run", files), tree_reader(tmp_path))
    assert isinstance(loaded, StudyFailure)
    assert reason in loaded.reason and "square kernel between the update" in loaded.reason
    assert loaded.inputs == files and {s.path for s in loaded.not_read} == set(files)


def test_a_pickled_kernel_is_never_unpickled(tmp_path: Path) -> None:
    demo = write_fisher_run(tmp_path / "run")
    marker = tmp_path / "unpickled"
    np.save(demo.path / "kernel_eval.npy", np.array([_Trap(str(marker))]), allow_pickle=True)
    loaded = kh.load_study(fisher, demo.path)
    assert not isinstance(loaded, StudyFailure) and not marker.exists()
    assert "pickle" in {s.path: s.reason for s in loaded.not_read}["run/kernel_eval.npy"].lower()


class _Trap:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str, str]]:
        return (open, (self.path, "w"))  # unpickling would create the marker file


# --- the spectrum ---------------------------------------------------------------------------------


def _independent_spectrum(kernel: list[list[float]], eps: float) -> tuple[float, float]:
    """Effective rank and top share through LAPACK's general (non-symmetric) eigen-solver,
    with the same rounding rule written out: negatives within n·ε·λ_max count as 0."""
    values = sorted((float(v.real) for v in np.linalg.eig(np.array(kernel))[0]), reverse=True)
    tolerance = len(values) * eps * max(values[0], max(abs(x) for row in kernel for x in row))
    assert all(v >= -tolerance for v in values)  # the demo kernels are Gram matrices
    positive = [max(v, 0.0) for v in values]
    total = math.fsum(positive)
    shares = [v / total for v in positive if v > 0]
    return math.exp(-math.fsum(p * math.log(p) for p in shares)), positive[0] / total


def test_the_one_prompt_kernel_has_the_planted_shape(dominated: Built) -> None:
    demo, analysis = dominated
    s = analysis.spectrum
    rank, top = _independent_spectrum(_kernel(demo), float(np.finfo(np.float32).eps))
    assert s.effective_rank is not None and s.top_share is not None
    assert math.isclose(s.effective_rank, rank, rel_tol=1e-6)
    assert math.isclose(s.top_share, top, rel_tol=1e-9)
    # the real kernel's description: 64 sequences, effective rank 1.07, 99.3 %, one prompt 93.8 %
    assert analysis.n == 64 and round(s.effective_rank, 2) == 1.07
    assert round(100 * s.top_share, 1) == 99.3
    assert analysis.shares[0].prompt == str(DOMINANT_PROMPT)
    assert round(100 * analysis.shares[0].share, 1) == 93.8
    # a rank-32 matrix stored as float32: its zero eigenvalues come back slightly negative
    assert s.rounding_negatives > 0 and s.negatives == 0
    assert s.most_negative < 0 and abs(s.most_negative) <= s.tolerance


def test_the_near_identity_kernel_is_close_to_the_identity(identity: Built) -> None:
    demo, analysis = identity
    s = analysis.spectrum
    rank, _ = _independent_spectrum(_kernel(demo), float(np.finfo(np.float32).eps))
    assert s.effective_rank is not None and math.isclose(s.effective_rank, rank, rel_tol=1e-6)
    assert s.effective_rank > 0.95 * analysis.n and s.rounding_negatives == s.negatives == 0


def test_effective_rank_of_known_eigenvalues() -> None:
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    eigenvalues = [5.0, 3.0, 1.0, 0.5, 0.0, 0.0]
    kernel = q @ np.diag(eigenvalues) @ q.T
    total = sum(eigenvalues)
    expected = math.exp(-sum(v / total * math.log(v / total) for v in eigenvalues if v > 0))
    result = spectrum(kernel, 2.0**-52)
    assert result.effective_rank is not None
    assert math.isclose(result.effective_rank, expected, rel_tol=1e-9)
    assert result.top_share is not None and math.isclose(
        result.top_share, 5.0 / total, rel_tol=1e-9
    )
    assert math.isclose(effective_rank(np.full(7, 1 / 7)), 7.0, rel_tol=1e-12)


def test_a_kernel_that_is_no_gram_matrix_is_found(dominated: Built) -> None:
    _, analysis = dominated
    assert "fisher-not-psd" not in _ids(fc.checks(analysis))
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    kernel = q @ np.diag([4.0, 2.0, 1.0, 0.5, -0.4]) @ q.T
    result = spectrum(kernel, 2.0**-52)
    assert result.negatives == 1 and math.isclose(result.most_negative, -0.4, rel_tol=1e-9)
    shares = result.shares
    assert shares[-1] == 0 and math.isclose(float(shares.sum()), 1.0)  # clipped to 0 for the rank


@settings(max_examples=50, deadline=None)
@given(
    st.integers(2, 9),
    st.integers(0, 2**32 - 1),
    st.floats(1e-3, 1e3),
)
def test_effective_rank_ignores_scale_and_order_and_lies_in_one_to_n(
    n: int, seed: int, scale: float
) -> None:
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(n, rng.integers(1, 2 * n)))
    kernel = g @ g.T
    base = spectrum(kernel, 2.0**-52).effective_rank
    scaled = spectrum(scale * kernel, 2.0**-52).effective_rank
    order = rng.permutation(n)
    permuted = spectrum(kernel[np.ix_(order, order)], 2.0**-52).effective_rank
    assert base is not None and scaled is not None and permuted is not None
    assert 1.0 - 1e-9 <= base <= n + 1e-9
    assert math.isclose(scaled, base, rel_tol=1e-6) and math.isclose(permuted, base, rel_tol=1e-6)


# --- prompts and cosines --------------------------------------------------------------------------


def test_prompt_shares_match_a_loop_over_entries(dominated: Built) -> None:
    demo, analysis = dominated
    kernel = _kernel(demo)
    prompts = [_prompt(s["id"]) for s in _sequences(demo)]
    n = len(kernel)
    total = math.fsum(abs(x) for row in kernel for x in row)
    by_prompt = {s.prompt: s for s in analysis.shares}
    cross = 0.0
    for prompt in set(prompts):
        union = within = 0.0
        for a in range(n):
            for b in range(n):
                if prompts[a] == prompt or prompts[b] == prompt:
                    union += abs(kernel[a][b])
                if prompts[a] == prompt and prompts[b] == prompt:
                    within += abs(kernel[a][b])
        share = by_prompt[prompt]
        assert math.isclose(share.share, union / total, rel_tol=1e-9)
        assert math.isclose(share.within, within / total, rel_tol=1e-9)
        k = prompts.count(prompt)
        assert math.isclose(share.uniform, 1 - (1 - k / n) ** 2, rel_tol=1e-12)
    cross = math.fsum(
        abs(kernel[a][b]) for a in range(n) for b in range(n) if prompts[a] != prompts[b]
    )
    assert math.isclose(sum(s.share for s in analysis.shares), 1 + cross / total, rel_tol=1e-9)


def _mean_cosines(
    cosine: list[list[float]], prompts: list[str], skip: str | None
) -> tuple[float, float]:
    within: list[float] = []
    across: list[float] = []
    for a in range(len(prompts)):
        for b in range(a + 1, len(prompts)):
            if skip in (prompts[a], prompts[b]):
                continue
            (within if prompts[a] == prompts[b] else across).append(cosine[a][b])
    return statistics.fmean(within), statistics.fmean(across)


def test_cosine_contrast_matches_explicit_leave_one_prompt_out(dominated: Built) -> None:
    demo, analysis = dominated
    kernel = _kernel(demo)
    n = len(kernel)
    cosine = [
        [kernel[a][b] / math.sqrt(kernel[a][a] * kernel[b][b]) for b in range(n)] for a in range(n)
    ]
    prompts = [_prompt(s["id"]) for s in _sequences(demo)]
    within, across = _mean_cosines(cosine, prompts, None)
    c = analysis.contrast
    assert c is not None and c.within is not None and c.across is not None
    assert math.isclose(c.within, within, rel_tol=1e-9)
    assert math.isclose(c.across, across, rel_tol=1e-9, abs_tol=1e-12)
    groups = sorted(set(prompts))
    g = len(groups)
    loo = [_mean_cosines(cosine, prompts, skip) for skip in groups]
    for index, se in ((0, c.within_se), (None, c.difference_se)):
        values = [w - a for w, a in loo] if index is None else [r[index] for r in loo]
        mean = statistics.fmean(values)
        jack = math.sqrt((g - 1) / g * math.fsum((v - mean) ** 2 for v in values))
        assert se is not None and math.isclose(se, jack, rel_tol=1e-9)
    assert c.within_pairs == 8 * 28 and c.across_pairs == 64 * 63 // 2 - 8 * 28


def test_block_means_match_a_loop_and_leave_nan_out() -> None:
    matrix = np.arange(49, dtype=np.float64).reshape(7, 7)
    matrix[0, 0] = np.nan
    blocks = block_means(matrix, 3)
    assert blocks.factor == 3 and blocks.values.shape == (3, 3) and blocks.note
    for i in range(3):
        for j in range(3):
            cells = [
                matrix[a, b]
                for a in range(3 * i, min(3 * i + 3, 7))
                for b in range(3 * j, min(3 * j + 3, 7))
                if not math.isnan(matrix[a, b])
            ]
            assert math.isclose(blocks.values[i, j], statistics.fmean(cells))
    assert block_means(matrix, 7).factor == 1 and block_means(matrix, 7).note is None


def test_prompt_shares_and_contrast_on_a_tiny_kernel() -> None:
    kernel = np.array([[4.0, 1.0, 0.0], [1.0, 1.0, -1.0], [0.0, -1.0, 1.0]])
    shares = {s.prompt: s for s in prompt_shares(kernel, ["a", "a", "b"])}
    total = 10.0
    assert math.isclose(shares["a"].share, 9.0 / total) and math.isclose(shares["a"].within, 0.7)
    assert math.isclose(shares["b"].share, 3.0 / total) and math.isclose(shares["b"].within, 0.1)
    contrast = cosine_contrast(np.array([[1, 0.5, 0], [0.5, 1, -1], [0, -1, 1.0]]), ["a", "a", "b"])
    assert contrast.within == 0.5 and contrast.across == -0.5 and contrast.within_pairs == 1


# --- the identity, correlations, the "entropy" field, the outlier files --------------------------


def test_influence_is_kernel_times_advantages_to_rounding(dominated: Built) -> None:
    demo, analysis = dominated
    kernel = _kernel(demo)
    advantages = [s["advantage"] for s in _sequences(demo)]
    influence = np.load(demo.path / "influence_update.npy").astype(float).tolist()
    worst = max(
        abs(influence[a] - math.fsum(k * v for k, v in zip(kernel[a], advantages, strict=True)))
        for a in range(len(kernel))
    )
    check = next(i for i in analysis.identities if i.split == "update")
    assert check.holds is True and check.max_error is not None
    assert math.isclose(check.max_error, worst, rel_tol=1e-3, abs_tol=1e-9)
    assert {i.split for i in analysis.identities} == {"update", "eval"}
    assert "fisher-influence-identity" not in _ids(fc.checks(analysis))


def test_a_scaled_influence_fails_the_identity_and_names_the_scale(tmp_path: Path) -> None:
    _, analysis = _build(tmp_path / "scaled", influence_scale=1 / 64)
    assert all(i.holds is False for i in analysis.identities)
    assert all(math.isclose(i.scale or 0.0, 1 / 64, rel_tol=1e-6) for i in analysis.identities)
    finding = next(f for f in fc.checks(analysis) if f.id == "fisher-influence-identity")
    assert finding.severity == "error"
    assert "c = 0.01562" in finding.message and "c·n = 1" in finding.message


def test_without_advantages_the_identity_is_not_checked(tmp_path: Path) -> None:
    demo = write_fisher_run(tmp_path / "run")
    data = json.loads((demo.path / "update_sequences.json").read_text())
    for item in data["sequences"]:
        del item["advantage"]
    (demo.path / "update_sequences.json").write_text(json.dumps(data))
    loaded = kh.load_study(fisher, demo.path)
    assert not isinstance(loaded, StudyFailure)
    analysis = fa.analyze(loaded)
    assert all(i.holds is None and i.reason for i in analysis.identities)
    assert "fisher-incomplete" in _ids(fc.checks(analysis))


def _ranks(values: list[float]) -> list[float]:
    return [
        sum(1 for w in values if w < v) + (sum(1 for w in values if w == v) + 1) / 2 for v in values
    ]


def test_correlations_are_recomputed_with_spearman_beside(
    dominated: Built, identity: Built
) -> None:
    for demo, analysis in (dominated, identity):
        kernel = _kernel(demo)
        metrics = json.loads((demo.path / "update_sequence_metrics.json").read_text())["metrics"]
        influence = np.load(demo.path / "influence_update.npy").astype(float).tolist()
        quantities = {
            "self_influence": [kernel[a][a] for a in range(len(kernel))],
            "row_abs_sum": [math.fsum(abs(x) for x in row) for row in kernel],
            "influence": influence,
        }
        for row in analysis.correlations:
            x, y = quantities[row.quantity], metrics[row.metric]
            assert row.pearson is not None and row.spearman is not None
            assert math.isclose(row.pearson, statistics.correlation(x, y), abs_tol=1e-12)
            assert math.isclose(
                row.spearman, statistics.correlation(_ranks(x), _ranks(y)), abs_tol=1e-12
            )
            assert not row.file_mismatch and row.n == 64
    flagged = [(r.quantity, r.disagreement) for r in dominated[1].correlations if r.disagreement]
    assert flagged == [("self_influence", "magnitude")]  # the dominant prompt's outliers
    assert "fisher-rank-disagrees" in _ids(fc.checks(dominated[1]))
    assert all(r.disagreement is None for r in identity[1].correlations)
    assert "fisher-rank-disagrees" not in _ids(fc.checks(identity[1]))


@pytest.mark.parametrize(
    ("r", "rho", "expected"),
    [(0.5, -0.3, "sign"), (0.05, -0.5, "magnitude"), (0.9, 0.3, "magnitude"),
     (0.05, -0.08, None), (0.6, 0.4, None), (None, 0.4, None)],
)  # fmt: skip
def test_the_disagreement_rule(r: float | None, rho: float | None, expected: str | None) -> None:
    assert disagreement(r, rho, 64) == expected


def _rewrite(demo: FisherDemo, name: str, change: Callable[[Any], None]) -> None:
    data = json.loads((demo.path / name).read_text())
    change(data)
    (demo.path / name).write_text(json.dumps(data))


def test_a_pearson_the_files_do_not_support_is_found(tmp_path: Path) -> None:
    demo = write_fisher_run(tmp_path / "run")
    _rewrite(
        demo,
        "update_kernel_metric_correlations.json",
        lambda d: d["correlations"][1].update(pearson=0.7, quantity="row_abs_sum"),
    )
    _rewrite(
        demo,
        "update_kernel_metric_correlations.json",
        lambda d: d["correlations"].append({"quantity": "gradient_rank", "metric": "length"}),
    )
    loaded = kh.load_study(fisher, demo.path)
    assert not isinstance(loaded, StudyFailure)
    findings = {f.id: f for f in fc.checks(fa.analyze(loaded))}
    assert "file 0.7" in findings["fisher-pearson-mismatch"].message
    assert (
        "'gradient_rank' is not one reportgen can recompute"
        in findings["fisher-incomplete"].message
    )


def test_an_entropy_that_is_minus_the_log_probability_is_noted(
    dominated: Built, identity: Built
) -> None:
    notes = dominated[1].surprisal
    assert [(n.entropy_field, n.logprob_field, n.count) for n in notes] == [
        ("metrics.entropy", "metrics.logprob", 64)
    ]
    assert "fisher-entropy-is-surprisal" in _ids(fc.checks(dominated[1]))
    assert identity[1].surprisal == ()
    assert "fisher-entropy-is-surprisal" not in _ids(fc.checks(identity[1]))


@pytest.mark.parametrize(
    ("name", "change", "words"),
    [
        (
            "update_top_outliers.json",
            lambda d: d["outliers"][0].update(influence=123.0),
            "influence 123 but influence_update.npy holds",
        ),
        ("update_top_outliers.json", lambda d: d["outliers"][1].update(index=999), "index 999"),
        ("outlier_pair_details.json", lambda d: d["pairs"][0].update(cosine=0.5), "cosine 0.5"),
        ("outlier_pair_details.json", lambda d: d["pairs"][2].update(kernel=-1.0), "kernel −1"),
    ],
)
def test_outlier_files_that_contradict_the_arrays_are_found(
    tmp_path: Path, name: str, change: Callable[[Any], None], words: str
) -> None:
    demo = write_fisher_run(tmp_path / "run")
    _rewrite(demo, name, change)
    loaded = kh.load_study(fisher, demo.path)
    assert not isinstance(loaded, StudyFailure)
    finding = next(f for f in fc.checks(fa.analyze(loaded)) if f.id == "fisher-files-disagree")
    assert words in finding.message


# --- checks, verdicts, twin and page --------------------------------------------------------------


def test_the_one_prompt_kernel_is_found_by_checks(dominated: Built, identity: Built) -> None:
    findings = {f.id: f for f in fc.checks(dominated[1])}
    assert findings["fisher-one-prompt"].severity == "warning"
    assert (
        "prompt 3 (8 of 64 sequences) touches 93.8 % of Σ|K|"
        in findings["fisher-one-prompt"].message
    )
    assert "effective rank 1.069 of n = 64" in findings["fisher-far-from-identity"].message
    assert _ids(fc.checks(identity[1])) == set()


def test_every_check_is_documented_for_the_guide() -> None:
    infos = fc.CHECKS
    assert len({i.id for i in infos}) == len(infos)
    assert all(i.id.startswith("fisher-") and len(i.explanation) > 80 for i in infos)


def test_the_twins_validate_against_their_schema(dominated: Built, identity: Built) -> None:
    for _, analysis in (dominated, identity):
        data = json.loads(json.dumps(twin.summary_json(analysis)))
        assert kh.twin_problems(fisher.SCHEMA, data) == []
    data = json.loads(json.dumps(twin.summary_json(dominated[1])))
    assert data["shape"] == {
        "close_to_identity": False, "far_from_identity": True, "dominant_prompt": "3",
    }  # fmt: skip
    del data["spectrum"]["effective_rank"]
    data["identity"][0]["holds"] = "yes"
    assert len(kh.twin_problems(fisher.SCHEMA, data)) == 2


def test_the_page_says_the_shape_in_words_first(dominated: Built, identity: Built) -> None:
    site = kh.site_context()
    html = kh.page_text(page.page(dominated[1], site, "k"))
    headline = html.index("The update kernel is dominated by one prompt; far from the identity:")
    assert headline < html.index('id="findings"')
    assert "effective rank 1.069 of n = 64, the top eigenvalue holds 99.27 % of Σλ" in html
    near = kh.page_text(page.page(identity[1], site, "k"))
    assert "The update kernel is close to a multiple of the identity: effective rank" in near


def test_texts_from_the_tree_are_escaped_and_cut(dominated: Built) -> None:
    html = kh.page_text(page.page(dominated[1], kh.site_context(), "k"))
    assert UNSAFE_TEXT not in html and "<script>alert" not in html
    assert (
        "&lt;script&gt;alert(&#34;kernel&#34;)&lt;/script&gt; &amp; &lt;b&gt;not bold&lt;/b&gt;"
        in html
    )
    assert '<details class="text"><summary>Completion 4 of prompt 3.' in html  # long: cut


def test_large_kernels_are_shown_as_block_means(dominated: Built) -> None:
    view = page.fisher_view(dominated[1], (), max_heatmap_side=16)
    data = json.loads(str(view.page_data))["datasets"]
    assert len(data["fisher-cosine"][0]["value"]) == 16 * 16
    assert "64 × 64 shown as 16 × 16 block means of 4 × 4 entries" in view.heatmap_note


@pytest.mark.slow
def test_every_chart_is_valid_vega_lite_and_draws(dominated: Built) -> None:
    view = page.fisher_view(dominated[1], (), page.HEATMAP_MAX_SIDE)
    data = json.loads(str(view.page_data))["datasets"]
    charts = {c.id: c for items in view.charts.values() for c in items}
    assert set(charts) == {"fisher-spectrum", "fisher-cosine", "fisher-magnitude", "fisher-shares"}
    marks = {"fisher-cosine": ("rect mark", 64 * 64), "fisher-magnitude": ("rect mark", 64 * 64)}
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
    dominated: Built, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    output = page.page(dominated[1], site_for(tmp_path, site), "k")
    write_site(site, output)
    for opened in open_page(site / output.paths[0]):
        assert opened.problems == [] and opened.requests == []
        assert len(opened.marks) == 4 and all(n > 0 for n in opened.marks.values())
        assert opened.overflow <= 0


def test_the_guide_text_states_the_thresholds_the_code_uses() -> None:
    from reportgen.kinds.fisher import relations, verdict
    from reportgen.kinds.fisher.guide import GUIDE_MARKDOWN

    text = " ".join(GUIDE_MARKDOWN.split())
    assert f"share ≥ {fc.DOMINANT_SHARE:.0%}".replace("%", " %") in text
    assert f"below n/{1 / fc.FAR_RANK_FRACTION:g}" in text
    assert (
        f"≥ {verdict.CLOSE_RANK_FRACTION}·n" in text
        and f"≤ {verdict.CLOSE_MEAN_ABS_COSINE}" in text
    )
    assert f"||r| − |ρ|| ≥ {relations.MAGNITUDE_GAP}" in text
    assert f"absolute margin of ±{verdict.COSINE_MARGIN}" in text
    assert f"up to {page.HEATMAP_MAX_SIDE} × {page.HEATMAP_MAX_SIDE}" in text
