"""The build's equivalence margin reaches the study kinds that state one (``TAKES_SETTINGS``),
through ``build``, ``check`` and ``--single-file`` alike; a kind without the flag (a plug-in
written for ``analyze(study)``) is analysed as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reportgen import cli
from reportgen.build import BuildOptions, build
from reportgen.demo.jackknife import write_jackknife_study
from reportgen.kinds.interface import analyze_study
from tests.kind_helpers import Margin
from tests.test_kind_jackknife import STUDY


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("studies") / "results"
    write_jackknife_study(root / STUDY)
    return root


def _summary(site: Path) -> dict[str, Any]:
    (path,) = (site / "studies").rglob("summary.json")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("margin", [0.2, 0.05])
def test_a_build_states_its_margin_on_the_study_page(
    tree: Path, tmp_path: Path, margin: float
) -> None:
    out = tmp_path / "site"
    build(BuildOptions(results=tree, out=out, jobs=1, equivalence_margin=margin))
    assert _summary(out)["equivalence_margin"] == margin
    (page,) = (out / "studies").rglob("index.html")
    assert f"±{margin * 100:g} %" in page.read_text(encoding="utf-8")


def test_check_and_single_file_use_the_margin_too(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At a margin so narrow that no agreement is shown, check finds what the build finds, and
    the single page states that margin."""
    site = tmp_path / "site"
    build(BuildOptions(results=tree, out=site, jobs=1, equivalence_margin=0.001))
    built = sorted(f["id"] for f in _summary(site)["findings"])
    cli.main(["check", str(tree), "--format", "json", "--equivalence-margin", "0.001"])
    (checked,) = json.loads(capsys.readouterr().out)["studies"]
    assert sorted(f["id"] for f in checked["findings"]) == built
    out = tmp_path / "one.html"
    args = ["build", str(tree), "-o", str(out), "--single-file", checked["source"]]
    assert cli.main([*args, "--equivalence-margin", "0.001", "-q"]) in (0, 1)
    assert "±0.1 %" in out.read_text(encoding="utf-8")


class OldPlugin:
    """A kind written before kinds took settings: ``analyze(study)`` only."""

    @staticmethod
    def analyze(study: str) -> str:
        return f"analysed {study}"


class NewPlugin:
    TAKES_SETTINGS = True

    @staticmethod
    def analyze(study: str, settings: Margin) -> str:
        return f"analysed {study} within {settings.equivalence_margin}"


def test_settings_go_only_to_kinds_that_take_them() -> None:
    assert analyze_study(OldPlugin(), "s", Margin(0.1)) == "analysed s"  # type: ignore[arg-type]
    new = analyze_study(NewPlugin(), "s", Margin(0.1))  # type: ignore[arg-type]
    assert new == "analysed s within 0.1"
