"""Issue 11's page fixes: the verdict, the small errors, and one formatter on the pages."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from reportgen.analysis import analyze_run
from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.uncertainty import EtaUncertainty
from reportgen.analysis.verdicts import Verdict
from reportgen.discover import discover
from reportgen.load import load_run
from reportgen.load.models import CvData, CvFeature, Run, Schema
from reportgen.pages.run_sections import outlier_rows
from reportgen.pages.verdict import RunPairs, cv_verdict, group_verdict, run_verdict

ETAS = (1e-6, 2e-6, 4e-6, 8e-6, 1.6e-5)


def summaries(true: list[float], linear: list[float], linquad: list[float]) -> list[EtaSummary]:
    return [
        EtaSummary(eta, t, lin, q, None, None, None, None, None, None)
        for eta, t, lin, q in zip(ETAS, true, linear, linquad, strict=True)
    ]


def errors(
    z_linear: list[float],
    verdicts: Sequence[Verdict | None] | None = None,
    mde: float = 0.94,
    quad: Sequence[Verdict | None] | None = None,
) -> list[EtaUncertainty | None]:
    found: Sequence[Verdict | None] = verdicts or ["inconclusive"] * len(z_linear)
    quads: Sequence[Verdict | None] = quad or [None] * len(z_linear)
    return [
        EtaUncertainty(
            eta, se_true=1e-4, se_linear=1e-4, z_linear=z, ratio_linear=1.1,
            se_ratio_linear=0.1, mde_linear=mde, verdict_linear=v,
            verdict_linquad=q, mde_linquad=mde,
        )
        for eta, z, v, q in zip(ETAS, z_linear, found, quads, strict=True)
    ]  # fmt: skip


ROWS = summaries([-1e-3] * 5, [-1.1e-3] * 5, [-1.05e-3] * 5)


def test_verdict_says_inconclusive_with_the_undetectable_difference() -> None:
    v = run_verdict(ROWS, errors([0.5, -1.0, 1.9, 0.3, -0.2]), "per token")
    assert v.judged and v.answer == "inconclusive"
    assert v.headline == (
        "inconclusive: differences below 94 % of ΔH_true would not be detected here."
    )
    assert "(−1.00 ± 0.10)e−3" in v.details[0] and "z(linear − true) = −0.20" in v.details[0]
    assert "0 agree, 5 inconclusive, 0 disagree" in v.details[1]
    assert "agrees" not in v.headline and "within 2 SE" not in " ".join(v.details)


def test_verdict_says_disagrees_and_where_linear_breaks() -> None:
    verdicts: list[Verdict | None] = [
        "agrees",
        "inconclusive",
        "inconclusive",
        "disagrees",
        "disagrees",
    ]
    v = run_verdict(ROWS, errors([0.5, 1.0, 1.9, 2.5, -3.0], verdicts), "per token")
    assert v.answer == "disagrees"
    assert v.headline.startswith(
        "disagrees: the linear prediction misses ΔH_true beyond noise (|z| > 1.96) at "
        "η = 8e−6, 1.6e−5 (at 1.6e−5: linear/true = 1.10 ± 0.10, z = −3.00)"
    )
    assert "Linear is not contradicted up to η = 4e−6 and breaks from 8e−6 on" in v.details[2]


def test_verdict_agrees_only_within_the_margin_at_every_eta() -> None:
    v = run_verdict(ROWS, errors([0.1] * 5, ["agrees"] * 5), "per token", margin=0.15)
    assert v.answer == "agrees"
    assert v.headline.startswith("agrees: the linear prediction is within ±15 % of ΔH_true")
    assert "[0.85, 1.15] at all 5 η" in v.headline
    quad: list[Verdict | None] = [None, None, "disagrees", "disagrees", "disagrees"]
    linear: list[Verdict | None] = ["agrees", "agrees", "agrees", "agrees", None]
    v = run_verdict(ROWS, errors([0.1] * 5, linear, quad=quad), "per token")
    assert v.answer == "inconclusive"  # an η without a verdict is not agreement
    assert "No standard error at η = 1.6e−5: no verdict there." in v.details
    assert "lin+quad disagrees: beyond noise at η = 4e−6, 8e−6, 1.6e−5." in v.details


def test_verdict_without_standard_error_claims_nothing() -> None:
    v = run_verdict(ROWS, [None] * 5, "per token")
    assert not v.judged and v.answer is None
    assert v.headline.startswith("No standard error of linear − true is available for this run")
    assert "agrees" not in v.headline.replace("whether the linear approximation agrees", "")
    group = group_verdict([RunPairs("a", tuple(ROWS), (None,) * 5)])
    assert not group.judged and group.headline.startswith("No standard error")


def test_group_verdict_counts_verdicts_of_pairs_and_runs() -> None:
    good = RunPairs("a", tuple(ROWS), tuple(errors([0.1] * 5, ["agrees"] * 5)))
    bad_rows: list[Verdict | None] = ["inconclusive", "inconclusive", "inconclusive"]
    bad_rows += ["inconclusive", "disagrees"]
    bad = RunPairs("b", tuple(ROWS), tuple(errors([0.1, 0.1, 0.1, 0.1, 4.0], bad_rows)))
    v = group_verdict([good, bad])
    assert v.headline == (
        "Of 10 run × η pairs, 5 agree, 4 are inconclusive and 1 disagrees (|z| > 1.96); of 2 "
        "runs, 1 agrees, 0 are inconclusive and 1 disagrees."
    )
    assert v.details == ("Runs that disagree somewhere: b.",)


def test_cv_verdict_names_the_best_valid_feature_and_what_was_excluded() -> None:
    features = (
        CvFeature("length_log", 0.01, 1.0, 0.9999, True),
        CvFeature("sum_w", -0.999, 2.0, 0.002, True),
        CvFeature("var_logp", math.nan, 2.0, 0.5, True),
    )
    cv = CvData(512, "per_token", -0.8, 74.6, -430.0, 0.38, 0.36, 0.0019, features)
    v = cv_verdict(cv)
    # sum_w is the strongest, but |ρ| > 0.99: nearly the target, not a control variate
    assert v.headline == (
        "Best valid control variate: var_logp (ρ not reported; used alone it leaves a "
        "variance ratio of 0.5)."
    )
    assert v.details[0] == (
        "sum_w (ρ = −0.999000 ± 0.000089, variance ratio (2.00 ± 0.18)e−3) is excluded: "
        "|ρ| > 0.99, nearly a function of the target, so not a valid control variate."
    )
    assert "variance ratio of 1.9e−3, which has no standard error: not judged" in v.details[1]


def _runs(tree: Path, schema: Schema) -> list[Run]:
    refs, _ = discover(tree, False)
    runs = [load_run(ref, tree, 1 << 28) for ref in refs.runs]
    return [r for r in runs if isinstance(r, Run) and r.schema is schema]


def test_outlier_table_has_one_column_per_feature(sample_tree: Path) -> None:
    run = _runs(sample_tree, Schema.SNIS)[0]
    per_sequence = run.snis.approx.per_sequence if run.snis else None
    assert per_sequence is not None
    names = dict(per_sequence.columns)
    assert "var_logp" in names and "features.var_logp" in names  # the case that repeated
    _, columns = outlier_rows(analyze_run(run))
    assert len(columns) == len(set(columns)) and "var_logp" in columns


def test_outliers_rank_each_sequences_own_change_against_linear(sample_tree: Path) -> None:
    """Where the run has per-sequence base entropies the outliers are the sequences whose own
    change (the centred contribution, as the per-sequence charts show it) is furthest from the
    linear term, not those whose base entropy is furthest from the mean."""
    analysis = analyze_run(_runs(sample_tree, Schema.SNIS)[0])
    rows, _ = outlier_rows(analysis)
    contrib = next(c for c in analysis.contributions if c.linear is not None)
    assert contrib.centred is not None and contrib.linear is not None
    gap = np.abs(contrib.centred - contrib.linear)
    first = [r for r in rows if r.eta == contrib.eta]
    assert first[0].index == int(np.nanargmax(gap))
    assert first[0].true_contrib == contrib.centred[first[0].index]
    assert first[0].error == pytest.approx(
        contrib.centred[first[0].index] - contrib.linear[first[0].index]
    )


def test_update_parameters_are_labelled_as_tensors(sample_tree: Path) -> None:
    facts = {f.label: f.value for f in _runs(sample_tree, Schema.SNIS)[0].facts}
    assert "Update parameters" not in facts
    assert isinstance(facts["Update parameter tensors"], int)


def test_cv_standard_errors_sit_beside_their_quantity(sample_tree: Path) -> None:
    run = _runs(sample_tree, Schema.CV)[0]
    facts = {f.label: f.value for f in run.facts}
    assert run.cv is not None and run.cv.se_batch is not None and run.cv.n_seqs
    assert "Batch SE" not in facts
    assert facts["SE of mean g·v"] == run.cv.se_batch
    assert facts["SE of batch g·v (n × SE of mean)"] == pytest.approx(
        run.cv.n_seqs * run.cv.se_batch
    )
    # the batch value is the sum over sequences: n × mean
    assert run.cv.gdotv_batch == pytest.approx(run.cv.n_seqs * (run.cv.mean_gdotv or 0), rel=1e-6)


def test_pages_open_with_the_verdict_and_print_one_minus_sign(
    sample_site: tuple[Path, object],
) -> None:
    site = sample_site[0]
    for page in [*site.glob("runs/**/index.html"), *site.glob("groups/**/index.html")]:
        html = page.read_text()
        assert html.index('id="summary"') < html.index(
            'id="findings"' if "/runs/" in str(page) else 'id="runs"'
        )
        ours = re.sub(r'<article class="note">.*?</article>', "", html, flags=re.S)  # user text
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", ours)
        numeric = [c for c in cells if re.fullmatch(r"[-−]?[\d.,]+(e[-−]?\d+)?", c.strip())]
        assert not [c for c in numeric if "-" in c], page  # U+2212, never a hyphen


def test_index_counts_runs_affected_not_rows(sample_site: tuple[Path, object]) -> None:
    import json

    site = sample_site[0]
    summaries = [json.loads(p.read_text()) for p in site.glob("runs/**/summary.json")]
    html = (site / "index.html").read_text()
    subtitle = html[html.index('<p class="subtitle">') : html.index("</p>", html.index("subtitle"))]
    for sev in ("warning", "info"):
        runs = sum(1 for s in summaries if any(f["severity"] == sev for f in s["findings"]))
        rows = sum(1 for s in summaries for f in s["findings"] if f["severity"] == sev)
        if runs:
            assert f">{runs} {sev}</span>" in subtitle
        assert rows >= runs
    by_check: dict[str, int] = {}
    for s in summaries:
        for check in {f["id"] for f in s["findings"]}:
            by_check[check] = by_check.get(check, 0) + 1
    counts = re.findall(r"<code>([\w-]+)</code></a> (\d+)", html)
    assert {c: int(n) for c, n in counts} == {
        c: n for c, n in by_check.items() if c in dict(counts)
    }
    assert set(dict(counts)) == set(by_check)


def test_index_group_rows_count_runs_affected(sample_site: tuple[Path, object]) -> None:
    """Each group's badges count its runs with a finding of that severity, never finding rows."""
    import json

    site = sample_site[0]
    manifest = json.loads((site / "manifest.json").read_text())
    summaries = {r["id"]: json.loads((site / r["summary"]).read_text()) for r in manifest["runs"]}
    html = (site / "index.html").read_text()
    tree = html[
        html.index('<ul class="group-tree">') : html.index("</ul>", html.index("group-tree"))
    ]
    checked = 0
    for group in manifest["groups"]:
        members = [s for rid, s in summaries.items() if rid.startswith(group["id"] + "/")]
        item = tree[tree.index(f'href="{group["page"]}"') :].split("</li>")[0]
        for sev in ("warning", "info"):
            runs = sum(1 for s in members if any(f["severity"] == sev for f in s["findings"]))
            rows = sum(1 for s in members for f in s["findings"] if f["severity"] == sev)
            if runs:
                assert f">{runs} {sev}</span>" in item, (group["id"], sev)
                checked += rows > runs  # a group where counting rows would have differed
    assert checked >= 1


def test_index_says_when_a_run_has_no_standard_error(sample_site: tuple[Path, object]) -> None:
    """A ΔH_true shown without its SE says so: eta-sweep results record none."""
    import json

    site = sample_site[0]
    html = (site / "index.html").read_text()
    body = html[html.index("<tbody>") :]
    rows = {m[0]: m[1] for m in re.findall(r'<a href="[^"]*">([^<]+)</a>(.*?)</tr>', body, re.S)}
    without_se = 0
    for path in site.glob("runs/**/summary.json"):
        summary = json.loads(path.read_text())
        row = rows.get(summary["id"])
        if row is None or summary.get("schema") != "eta-sweep":
            continue
        without_se += 1
        assert "no SE recorded" in row and "± " not in row.split("</td>")[2]
    assert without_se, "the sample tree has eta-sweep runs"
    assert body.count("no SE recorded") == without_se
