"""What the directory-kind tests share: a site context, the files of a tree walked
independently, a study loaded as the build would, chart specs validated and drawn offline, and
twins checked against their schemas."""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import jsonschema  # type: ignore[import-untyped, unused-ignore]
import vl_convert

import reportgen.build  # noqa: F401  (first: pages.assets and build.status import each other)
from reportgen import __version__
from reportgen.charts import Chart, page_data_json
from reportgen.kinds.reading import Read, tree_reader
from reportgen.pages.output import PageOutput
from reportgen.pages.render import SiteContext

SCHEMAS = Path(__file__).resolve().parents[1] / "reportgen" / "schemas"
CHROMIUM = Path(os.environ.get("REPORTGEN_CHROMIUM", "/usr/bin/chromium"))
ALL_DRAWN = """() => Array.from(document.querySelectorAll('.chart-view'))
    .every(v => v.hasAttribute('data-rendered'))"""
CHART_STATES = """() => Array.from(document.querySelectorAll('.chart-view')).map(v => [
    v.getAttribute('data-rendered'),
    v.querySelectorAll('svg.marks g.role-mark > :is(path, line, rect, text)').length])"""


def site_context() -> SiteContext:
    """The context pages render with, with fake asset names: the real ones need the Vega
    bundle (seconds to generate once per session); pages opened in a browser use
    ``tests.kind_pages.site_for``."""
    names = {name: f"assets/{name}" for name in ("site.css", "theme.js", "reportgen.js")}
    names["vega-bundle.js"] = "assets/vega-bundle.js"
    return SiteContext("kinds", __version__, names, None, "vega (not loaded)")


def load_study(kind: Any, directory: Path, read: Read | None = None) -> Any:
    """The kind's study of ``directory`` as the build would load it: the tree is the directory's
    parent, the claim comes from the kind's ``claims`` over every file of that tree."""
    root = directory.parent
    found = [c for c in kind.claims(all_files(root)) if c.directory == directory.name]
    assert len(found) == 1, found
    return kind.load(found[0], read or tree_reader(root))


def all_files(directory: Path) -> list[str]:
    """Every file below ``directory`` (relative POSIX paths), by os.walk, hidden ones too."""
    found = []
    for root, _, names in os.walk(directory):
        for name in names:
            found.append((Path(root) / name).relative_to(directory).as_posix())
    return sorted(found)


@functools.cache
def vega_lite_validator() -> Any:
    major = alt.SCHEMA_VERSION.split(".")[0]
    schema = importlib.import_module(f"altair.vegalite.{major}.schema.core").load_schema()
    return jsonschema.validators.validator_for(schema)(schema)


def attached(chart: Chart, datasets: dict[str, Any]) -> dict[str, Any]:
    """The chart's spec with the datasets it reads, through the bytes a page would carry."""
    data = json.loads(page_data_json(datasets))["datasets"]
    return dict(chart.spec, datasets={name: data[name] for name in chart.datasets})


def spec_errors(spec: dict[str, Any]) -> list[str]:
    return [e.message[:200] for e in vega_lite_validator().iter_errors(spec)]


def drawn_marks(spec: dict[str, Any], role: str) -> int:
    """How many marks of ``role`` (circle, rect, …) vl-convert draws for the spec."""
    svg = vl_convert.vegalite_to_svg(spec)
    return svg.count(f'aria-roledescription="{role}"')


def twin_problems(schema: str, data: Any) -> list[str]:
    """Every way ``data`` breaks ``reportgen/schemas/<schema>`` (empty when valid)."""
    document = json.loads((SCHEMAS / schema).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(document)
    validator = jsonschema.Draft202012Validator(document)
    return sorted(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(data)
    )


def page_text(output: PageOutput) -> str:
    html = output.content(output.paths[0]).decode("utf-8")
    return re.sub(r"\s+", " ", html)


@dataclass(frozen=True)
class Margin:
    """The build's settings as a study kind that takes them (``TAKES_SETTINGS``) is given them."""

    equivalence_margin: float
