"""The docs notebook runs headless, shows a DataFrame and an offline inline chart, and its
table holds the numbers of the site built from the same tree."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebook.ipynb"
COMPARED = ("delta_h_true", "se_true", "delta_h_linear", "se_diff_linear", "z_linear")
# appended to the notebook before it runs: its table as exact JSON (Python's float repr)
DUMP = (
    "import json\n"
    f"print(json.dumps(table[['run', 'eta', 'verdict_linear', *{list(COMPARED)!r}]]"
    ".to_dict('records')))"
)


@pytest.fixture(scope="module")
def executed(
    demo_site: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, Path]:
    tree, site = demo_site
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(DUMP))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REPORTGEN_NOTEBOOK_TREE", str(tree))
        workdir = tmp_path_factory.mktemp("notebook")
        client = nbclient.NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": workdir}}
        )
        client.execute()  # raises CellExecutionError on any failing cell
    return notebook, site


def _outputs(notebook: Any) -> list[Any]:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]


@pytest.mark.slow
def test_notebook_shows_a_dataframe_and_an_offline_chart(executed: tuple[Any, Path]) -> None:
    notebook, _ = executed
    outputs = _outputs(notebook)
    tables = [o for o in outputs if "<table" in o.get("data", {}).get("text/html", "")]
    assert len(tables) >= 3  # the η table, the run's findings, the pooled estimates
    charts = [o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(charts) == 1 and "ΔH vs η" in charts[0]
    assert "cdn." not in json.dumps([o.get("data", {}) for o in outputs])


@pytest.mark.slow
def test_notebook_table_equals_the_sites_summaries(executed: tuple[Any, Path]) -> None:
    notebook, site = executed
    printed = notebook.cells[-1].outputs[0]["text"]
    rows = json.loads(printed)
    assert len(rows) > 100
    for row in rows:
        summary = json.loads((site / "runs" / row["run"] / "summary.json").read_text("utf-8"))
        published = next(e for e in summary["etas"] if e["eta"] == row["eta"])
        for key in (*COMPARED, "verdict_linear"):
            value, expected = row[key], published[key]
            if expected is None:
                assert value is None or (isinstance(value, float) and math.isnan(value)), key
            else:
                assert value == expected, (row["run"], key)
