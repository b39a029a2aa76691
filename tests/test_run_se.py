"""Run pages show no difference or ratio without its standard error, and say why where none is.

Relative errors and linear ÷ true carry ± SE where ΔH_true is resolved from zero, else "—" and
why (as the group pages do, and with the same SE); the tail table's ratios are point estimates
("not judged") except at q = 1, and truncated ones are not shown at all; the run's own CV ratios
carry the ranking's SEs; a finite difference without an SE is "—". Images the run wrote have an
alt text saying what they are. On the sample tree and the demo tree (an η whose ΔH_true is within
2 SE of zero), and on small synthetic objects.
"""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.cv_features import rank_features
from reportgen.analysis.group_stats import rel_err_se
from reportgen.analysis.uncertainty import EtaUncertainty
from reportgen.build import BuildResult
from reportgen.load.models import CvData, CvFeature
from reportgen.pages.render import environment
from reportgen.pages.run import eta_row
from reportgen.pages.run_sections import TailRow, tail_rows_html, tail_why
from reportgen.pages.run_supplement import cv_rows
from reportgen.pages.verdict import run_verdict
from tests.test_group_se import DASH_WHY, PLUS_MINUS, column, tables

SNIS_RUN = "runs/diagnostics_run/full_data/E_256/run_01/index.html"
SWEEP_RUN = "runs/comparison_across_learning_rates/run_01/index.html"
CV_RUN = "runs/CVs_and_gdotv/run1/run_01/index.html"
REL_ERRS = ("rel. err linear ± SE", "rel. err lin+quad ± SE")
RATIO = re.compile(r"÷ true (.*?)( (agrees|disagrees|inconclusive))?$")


def summary(true: float | None, linear: float, linquad: float) -> EtaSummary:
    return EtaSummary(1e-6, true, linear, linquad, None, None, None, None, None, None)


def error(se_true: float | None, se_ratio: float | None = 0.1) -> EtaUncertainty:
    return EtaUncertainty(
        1e-6, se_true=se_true, se_linear=1e-4, ratio_linear=1.1, se_ratio_linear=se_ratio,
        se_ratio_linquad=se_ratio,
    )  # fmt: skip


def test_a_relative_error_is_shown_with_its_se_only_where_the_truth_is_resolved() -> None:
    row = eta_row(summary(-1e-3, -1.1e-3, -1.05e-3), error(1e-4))
    assert row.rel_linear.value == pytest.approx(-0.1)  # (linear − true)/|true|
    assert row.rel_linear.se == 0.1 and row.rel_linear.why is None  # the SE of linear ÷ true
    assert row.rel_linquad.shown and row.ratio_linear.shown and row.ratio_linear.se == 0.1
    cases = {
        "not resolved": (summary(-1e-3, -1.1e-3, -1.05e-3), error(6e-4)),  # |true| ≤ 2·se_true
        "no se_true": (summary(-1e-3, -1.1e-3, -1.05e-3), error(None)),
        "no SE": (summary(-1e-3, -1.1e-3, -1.05e-3), error(1e-4, se_ratio=None)),
    }
    for why, (s, u) in cases.items():
        row = eta_row(s, u)
        for judged in (row.rel_linear, row.rel_linquad, row.ratio_linear):
            assert (judged.value, judged.se, judged.why) == (None, None, why)
            assert judged.reason  # the long reason, for the cell's title


def test_run_pages_show_no_relative_error_or_ratio_without_its_se(
    sample_site: tuple[Path, BuildResult],
) -> None:
    site, _ = sample_site
    shown = 0
    for page in (site / "runs").rglob("index.html"):
        rows = tables(page).get("eta-rows")
        if not rows:
            continue
        for name in REL_ERRS:
            cells = column(rows, name)
            bad = [
                c for c in cells if not (PLUS_MINUS.match(c) or DASH_WHY.fullmatch(c) or c == "—")
            ]
            assert not bad, (page, name, bad)
            shown += sum(1 for c in cells if "±" in c)
        for cell in column(rows, "ΔH linear"):
            if "÷ true" in cell:
                found = RATIO.search(cell)
                assert found and (PLUS_MINUS.match(found[1]) or DASH_WHY.fullmatch(found[1])), (
                    page,
                    cell,
                )
    assert shown > 0
    sweep = tables(site / SWEEP_RUN)["eta-rows"]
    assert {c for name in REL_ERRS for c in column(sweep, name)} == {"— (no se_true)"}
    assert all("÷ true — (no se_true)" in c for c in column(sweep, "ΔH linear"))


def _cells_by_eta(rows: list[list[str]], name: str) -> dict[str, str]:
    return dict(zip(column(rows, "η"), column(rows, name), strict=True))


def test_run_and_group_pages_judge_a_relative_error_alike(demo_site: tuple[Path, Path]) -> None:
    """The same run and η: the same "x % ± y %", or the same "— (why)", on both pages."""
    _, site = demo_site
    group = tables(site / "groups/next_runner/snis/index.html")["group-rows"]
    runs = column(group, "run")
    compared = {"±": 0, "not resolved": 0}
    for run in sorted(set(runs)):
        own = _cells_by_eta(tables(site / "runs" / run / "index.html")["eta-rows"], REL_ERRS[0])
        theirs = [(eta, cell) for r, eta, cell in zip(
            runs, column(group, "η"), column(group, "rel. err linear ± SE"), strict=True
        ) if r == run]  # fmt: skip
        for eta, cell in theirs:
            assert own[eta] == cell, (run, eta)
            compared["±" if "±" in cell else "not resolved"] += (
                "not resolved" in cell or "±" in cell
            )
    assert compared["±"] > 0 and compared["not resolved"] > 0


def test_the_se_of_a_relative_error_is_the_group_pages_one(
    sample_site: tuple[Path, object],
) -> None:
    site = sample_site[0]
    run = json.loads((site / SNIS_RUN).with_name("summary.json").read_text())
    checked = 0
    for row in run["etas"]:
        s = summary(row["delta_h_true"], row["delta_h_linear"], row["delta_h_linquad"])
        u = EtaUncertainty.from_json(row)
        assert eta_row(s, u).rel_linear.se == pytest.approx(
            rel_err_se(s.delta_h_linear, s.delta_h_true, u), rel=1e-9
        )
        checked += 1
    assert checked


def test_a_verdict_without_se_gives_no_relative_error() -> None:
    rows = [summary(-1e-3, -1.6e-3, -1.5e-3)] * 2
    v = run_verdict(rows, [None, None], "per token")
    assert not v.judged and "relative error" not in v.headline and "%" not in v.headline
    loud = EtaUncertainty(1e-6, se_true=6e-4, z_linear=-3.0, ratio_linear=1.6,
                          se_ratio_linear=0.9, verdict_linear="disagrees")  # fmt: skip
    v = run_verdict(rows[:1], [loud], "per token")
    assert v.answer == "disagrees" and "z = −3.00" in v.headline
    assert "linear/true" not in v.headline  # |ΔH_true| ≤ 2·se_true: the ratio divides by noise


def test_tail_ratios_are_shown_as_point_estimates_only_where_they_mean_something() -> None:
    assert tail_why("clip", False, -1e-3, 1e-4) is None
    assert tail_why("clip", True, -1e-3, 1e-4) is None
    assert tail_why("truncate", True, -1e-3, 1e-4) is None  # q = 1 drops nothing
    assert tail_why("truncate", False, -1e-3, 1e-4) == "Σ true not comparable"
    assert tail_why("clip", False, -1e-3, 6e-4) == "not resolved"
    assert tail_why("truncate", True, -1e-3, None) == "no se_true"
    rows = [
        TailRow(1e-6, "clip", 1.0, 10, 1.0, -1e-3, -8e-4, None, 0.8, None, None, 0.25),
        TailRow(1e-6, "clip", 0.9, 9, 0.5, -1e-3, -7e-4, None, 0.7, None, None, None),
        TailRow(1e-6, "truncate", 0.9, 9, 0.5, 2e-3, -7e-4, None, -0.35, None,
                "Σ true not comparable"),
    ]  # fmt: skip
    html = str(tail_rows_html(rows))
    ratios = [re.sub(r"<[^>]+>", "", row.rsplit("<td>", 1)[1]) for row in html.split("</tr>")[:3]]
    assert ratios == ["0.80 ± 0.25", "0.7", "— (Σ true not comparable)"]
    assert 'title="truncation sums the guide' in html


def test_a_snis_run_page_shows_its_tail_ratios_as_point_estimates(
    sample_site: tuple[Path, object],
) -> None:
    """The sample's SNIS run has per-sequence base entropies: its truncated totals sum each
    sequence's own change, so truncated ratios below q = 1 are point estimates like clipped ones."""
    page = sample_site[0] / SNIS_RUN
    rows = tables(page)["tail-rows"]
    names = ("method", "kept quantile", "linear / true")
    cells = zip(*(column(rows, name) for name in names), strict=True)
    for _, quantile, ratio in cells:
        if float(quantile) == 1.0:
            assert PLUS_MINUS.match(ratio), ratio  # the ΔH table's ratio, ± its SE
        else:
            assert re.fullmatch(r"−?[\d.]+(e−?\d+)?", ratio), ratio  # a point estimate
    html = page.read_text(encoding="utf-8")
    assert '<p id="tails-not-judged"><strong>Not judged:</strong>' in html


def test_a_truncated_ratio_without_centred_contributions_is_not_comparable() -> None:
    assert tail_why("truncate", False, -1e-3, 1e-4) == "Σ true not comparable"
    assert tail_why("truncate", False, -1e-3, 1e-4, centred=True) is None
    assert tail_why("truncate", True, -1e-3, 1e-4) is None  # q = 1 drops nothing
    assert tail_why("clip", False, -1e-3, 1e-4) is None
    assert tail_why("truncate", False, -1e-3, 1e-3, centred=True) == "not resolved"


def test_the_run_cv_ratios_carry_the_rankings_se_or_why_not() -> None:
    features = (
        CvFeature("var_logp", -0.3, -3.7, 1 - 0.09, True),
        CvFeature("odd", 0.5, 1.0, 0.5, True),  # not 1 − ρ²: the normal-theory SE is not its own
    )
    cv = CvData(512, "per_token", -0.8, 74.6, -430.0, 0.38, 0.36, 0.9, features)
    good, odd = cv_rows(features, rank_features(cv))
    se = 0.91 / math.sqrt(509)  # no per-sequence file: the normal theory's
    assert good.corr_se == pytest.approx(se)
    ratio_se = math.sqrt(4 * 0.09 * se**2 + 2 * se**4)  # that of ρ̂² for a normal ρ̂
    assert good.var_ratio.shown and good.var_ratio.se == pytest.approx(ratio_se)
    assert (odd.var_ratio.value, odd.var_ratio.why) == (None, "not 1 − ρ²")


def test_a_cv_run_page_judges_its_ratios_and_names_its_images(
    sample_site: tuple[Path, object],
) -> None:
    page = sample_site[0] / CV_RUN
    rows = tables(page)["cv-rows"]
    for name in ("corr ± SE", "variance ratio after CV ± SE"):
        cells = column(rows, name)
        assert cells and all(PLUS_MINUS.match(c) for c in cells), (name, cells)
    html = page.read_text(encoding="utf-8")
    assert '<p id="cv-joint-not-judged"><strong>Not judged:</strong>' in html
    images = re.findall(r'<img src="files/([^"]+)" loading="lazy" alt="([^"]+)">', html)
    assert images
    for path, alt in images:
        folder, name = path.rsplit("/", 1)
        assert alt == (
            f"Artifact image {name} from {folder} (a plot the run wrote; not drawn by reportgen)"
        )
        assert f"<figcaption>{path}</figcaption>" in html  # the file name stays visible


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text = ""

    def handle_data(self, data: str) -> None:
        self.text += data


def test_a_difference_without_se_is_a_dash_and_why() -> None:
    macro = environment().from_string('{% import "_judged.html" as j %}{{ j.td_se(value, se) }}')
    parser = _Cells()
    parser.feed(macro.render(value=1385.0, se=None))
    assert " ".join(parser.text.split()) == "— (no SE)"
    assert "± 395" in macro.render(value=1385.0, se=395.0)


def test_the_run_cv_bars_carry_their_95_intervals(sample_site: tuple[Path, object]) -> None:
    """The control-variate bars are drawn with ± 1.96 SE (the ranking's SEs) where there is one."""
    html = (sample_site[0] / "runs/CVs_and_gdotv/run1/run_01/index.html").read_text()
    found = re.search(r'id="page-data">(.*?)</script>', html, re.S)
    assert found
    (cv,) = json.loads(found[1])["datasets"]["cv"]
    with_se = [
        (c, lo, hi)
        for c, lo, hi in zip(cv["corr"], cv["corr_lo"], cv["corr_hi"], strict=True)
        if lo is not None
    ]
    assert with_se and all(lo < c < hi for c, lo, hi in with_se)
    assert all(hi - c == pytest.approx(c - lo) for c, lo, hi in with_se)
    assert '"x2":{"field":"corr_hi"}' in html.replace(" ", "")
