"""Clip sensitivity judged around the published threshold; the full sweep stays a description."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from reportgen.analysis import RunAnalysis, analyze_run
from reportgen.analysis.clip import clip_sweeps
from reportgen.demo.common import SAMPLE_ETAS, snis_config_text
from reportgen.demo.next_runner import CLIP_PUBLISHED_RUN, write_clip_published
from reportgen.demo.snis_next import NEXT_BASE, write_next_snis
from reportgen.discover import discover
from reportgen.load import load_run
from reportgen.load.models import Run

CLIP_CHECK = "truth-clip-sensitive"


def known(value: float | None) -> float:
    assert value is not None
    return value


@pytest.fixture(scope="module")
def clip_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The next runner's SNIS runs and the run published at a clipping threshold (read-only)."""
    root = tmp_path_factory.mktemp("clip") / "results"
    config = snis_config_text(256, SAMPLE_ETAS)
    write_next_snis(root, 0, config)
    write_clip_published(root, 0, config)
    return root


def _analysis(tree: Path, run_id: str) -> RunAnalysis:
    found, _ = discover(tree)
    run = load_run(next(r for r in found.runs if r.id == run_id), tree)
    assert isinstance(run, Run)
    return analyze_run(run, bootstrap=0)


def _entries(tree: Path, run_id: str) -> list[dict[str, Any]]:
    data = json.loads((tree / run_id / "results.json").read_text())
    entries: list[dict[str, Any]] = data["true"]["entries"]
    return entries


def test_thresholds_below_an_unclipped_published_value_do_not_make_it_sensitive(
    clip_tree: Path,
) -> None:
    """run_01's largest η: published at clip_c = 10 with nothing clipped (20 gives the same);
    only 1.5 … 3, which clip 2–5 % of the weights, move it by more than its SE."""
    analysis = _analysis(clip_tree, f"{NEXT_BASE}/run_01_clip_sensitive")
    sweep = analysis.supplement.clip_sweeps[-1]
    by_threshold = {p.threshold: p for p in sweep.points}
    published = by_threshold[10.0]
    assert published.published and published.clip_fraction == 0.0
    assert CLIP_CHECK not in {f.id for f in analysis.findings}
    assert sweep.sensitivity == "stable"
    assert sweep.compared == (5.0, 10.0, 20.0)
    local = abs(known(by_threshold[5.0].delta_h_true) - known(published.delta_h_true))
    assert sweep.local_span == pytest.approx(local, rel=1e-12)
    assert sweep.se_true is not None
    assert sweep.local_span_in_se == pytest.approx(local / sweep.se_true, rel=1e-12)
    assert known(sweep.local_span_in_se) < 1.0 < known(sweep.span_in_se)  # full sweep: described


def test_a_published_value_its_neighbouring_thresholds_move_is_sensitive(
    clip_tree: Path,
) -> None:
    analysis = _analysis(clip_tree, CLIP_PUBLISHED_RUN)
    sweeps = analysis.supplement.clip_sweeps
    entries = _entries(clip_tree, CLIP_PUBLISHED_RUN)
    assert [s.eta for s in sweeps] == [e["eta"] for e in entries]
    last = sweeps[-1]
    points = {p.threshold: p for p in last.points}
    assert points[3.0].published and known(points[3.0].clip_fraction) > 0.0
    assert points[3.0].delta_h_true == entries[-1]["delta_h_true"]
    assert last.compared == (2.0, 3.0, 5.0)
    values = [known(points[t].delta_h_true) for t in last.compared]
    assert last.local_span == pytest.approx(max(values) - min(values), rel=1e-12)
    assert last.local_span_in_se is not None and last.local_span_in_se > 1.5
    assert last.sensitivity == "sensitive"
    assert {s.sensitivity for s in sweeps[:-1]} == {"stable"}
    (finding,) = [f for f in analysis.findings if f.id == CLIP_CHECK]
    assert finding.etas == (last.eta,)
    assert "published clip threshold 3 and its neighbours 2 and 5" in finding.message


def test_without_the_configs_clip_c_the_published_threshold_is_unknown(clip_tree: Path) -> None:
    run = _analysis(clip_tree, f"{NEXT_BASE}/run_01_clip_sensitive")
    bare = dataclasses.replace(run.run, parameters=())
    for sweep in clip_sweeps(bare, run.uncertainty):
        assert sweep.compared == () and sweep.local_span is None
        assert sweep.sensitivity == "inconclusive"
