"""Control-variate statistics of a group: per population, never averaged across populations, and
each mean across runs with its standard error (std/√n; none below two runs)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reportgen.analysis.group import analyze_group
from reportgen.analysis.group_record import GroupRecord
from reportgen.analysis.record import CvRecord, RunRecord
from reportgen.load.models import CvFeature
from reportgen.pages.serialize import group_summary_file
from tests.formats import assert_valid
from tests.test_group_se import PLUS_MINUS, column, tables

CV_GROUP = "groups/CVs_and_gdotv/index.html"
MIXED_GROUP = "groups/next_runner"  # an SNIS population and a control-variate one


def cv_run(run_id: str, batch: int, corr: float, ratio: float, joint: float) -> RunRecord:
    """A read control-variate run of batch size ``batch`` with one feature, "len"."""
    return RunRecord(
        run_id,
        f"{run_id}/results.json",
        "ok",
        "hash",
        "0",
        (),
        schema="control-variates",
        batch_size=batch,
        cv=CvRecord(joint, (CvFeature("len", corr, None, ratio, True),)),
    )


RUNS = [
    cv_run("g/a", 48, 0.1, 0.99, 0.90),
    cv_run("g/b", 48, 0.3, 0.97, 0.92),
    cv_run("g/c", 64, -0.5, 0.50, 0.40),  # another batch size: another experiment
]


def summary_of(runs: list[RunRecord]) -> dict[str, Any]:
    _, pieces = group_summary_file(GroupRecord.of(analyze_group("g", runs)))
    data: dict[str, Any] = json.loads(b"".join(pieces))
    assert_valid("group-summary", data)
    return data


def test_each_population_has_its_own_control_variate_statistics() -> None:
    analysis = analyze_group("g", RUNS)
    by_runs = {p.population.run_ids: p.cv for p in analysis.populations}
    assert set(by_runs) == {("g/a", "g/b"), ("g/c",)}
    (length, joint) = by_runs[("g/a", "g/b")]
    assert length.var_ratio.mean == pytest.approx(0.98) and length.n_runs == 2
    assert joint.joint and joint.var_ratio.mean == pytest.approx(0.91)
    assert by_runs[("g/c",)][0].var_ratio.mean == pytest.approx(0.50)
    assert analysis.cv == ()  # nothing across the two batch sizes


def test_the_summary_publishes_no_control_variate_mean_across_populations() -> None:
    data = summary_of(RUNS)
    assert data["populations_kept_apart"] is True and data["cv"] is None
    small, large = data["populations"]
    assert small["runs"] == ["g/a", "g/b"] and large["runs"] == ["g/c"]
    row = small["cv"][0]
    assert row["feature"] == "len" and row["var_ratio"]["mean"] == pytest.approx(0.98)
    se = np.std([0.99, 0.97], ddof=1) / math.sqrt(2)
    assert row["var_ratio"]["se_mean"] == pytest.approx(se, rel=1e-12)
    assert row["corr"]["se_mean"] == pytest.approx(np.std([0.1, 0.3], ddof=1) / math.sqrt(2))
    assert large["cv"][0]["var_ratio"]["se_mean"] is None  # one run: no SE across runs
    one = summary_of(RUNS[:2])  # one population: its statistics are the group's
    assert one["populations_kept_apart"] is False and one["cv"] == one["populations"][0]["cv"]


def test_the_page_shows_each_mean_with_its_se(demo_site: tuple[Path, Path]) -> None:
    _, site = demo_site
    found = tables(site / CV_GROUP)
    for name in ("corr mean ± SE", "var ratio mean ± SE"):
        cells = [c for c in column(found["cv-summary"], name) if c != "—"]  # joint: no corr
        assert cells and all(PLUS_MINUS.match(c) for c in cells), (name, cells)
    assert column(found["cv-summary"], "corr mean ± SE")[-1] == "—"
    mixed = json.loads((site / MIXED_GROUP / "summary.json").read_text())
    assert mixed["populations_kept_apart"] is True and mixed["cv"] is None
    with_cv = [p for p in mixed["populations"] if p["cv"]]
    assert [p["key"]["schema"] for p in with_cv] == ["control-variates"]
    assert "cv-summary" in tables(site / MIXED_GROUP / "index.html")
