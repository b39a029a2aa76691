"""``--figures`` and ``--single-file`` cover the experiment kinds' studies as they cover runs:
every chart of a study page as a figure file with its data, listed on the figure index, and a
study page as one self-contained file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reportgen.cli import main
from reportgen.demo.studies import INFLUENCE_DIR

CHART_ID = re.compile(r'class="chart-spec" data-chart="([^"]+)"')
FAST = ["-q", "-j", "1", "--bootstrap", "0"]


@pytest.mark.slow
def test_every_study_chart_is_a_figure_listed_on_the_index(
    studies_tree: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    assert main(["build", str(studies_tree), "-o", str(out), *FAST, "--figures", "svg"]) == 0
    index = (out / "figures.html").read_text()
    pages = sorted(out.glob("studies/**/index.html"))
    charted = {page: CHART_ID.findall(page.read_text()) for page in pages}
    assert sum(bool(ids) for ids in charted.values()) >= 4  # every kind with charts
    for page, ids in charted.items():
        listing = page.parent / "figures" / "figures.json"
        if not ids:
            assert not listing.exists(), page
            continue
        figures = json.loads(listing.read_text())
        assert figures["page"] == str(page.relative_to(out))
        assert sorted(f["id"] for f in figures["figures"]) == sorted(ids), page
        for figure in figures["figures"]:
            assert figure["warning"] is None, figure
            for name in [*figure["files"], figure["csv"]]:
                path = page.parent / "figures" / name
                assert path.is_file(), path
                assert str(path.relative_to(out)) in index, path


@pytest.mark.slow
def test_a_study_page_as_one_self_contained_file(studies_tree: Path, tmp_path: Path) -> None:
    report = tmp_path / "influence.html"
    study = f"influence:{INFLUENCE_DIR}"
    argv = ["build", str(studies_tree), "-o", str(report), *FAST, "--single-file", study]
    assert main(argv) == 0
    html = report.read_text()
    assert "<h1>" in html and "Sum rule" in html
    assert not re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="', html)  # all inline
    outward = [h for h in re.findall(r'href="([^"]*)"', html) if not h.startswith(("#", "data:"))]
    assert outward == []
    assert len(CHART_ID.findall(html)) >= 3  # its charts, their data inlined


def test_single_file_names_runs_and_studies_when_the_id_is_neither(
    studies_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "nothing.html"
    argv = ["build", str(studies_tree), "-o", str(report), "-q", "--single-file", "fisher:nope"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "no run, group or study with id 'fisher:nope'" in error and "studies look like:" in error
    assert not report.exists()
