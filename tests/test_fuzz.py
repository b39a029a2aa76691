"""Fuzzing: mutated documents of each schema generation load, analyse, render or fail cleanly."""

from __future__ import annotations

import copy
import json
import math
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportgen.analysis import analyze_run
from reportgen.build import BuildOptions, run_output, site_context
from reportgen.demo import generate_cv_results, generate_snis_results, generate_sweep_results
from reportgen.discover import RunRef
from reportgen.load import load_run
from reportgen.load.models import LoadFailure, Run
from reportgen.pages.output import PageOutput
from reportgen.pages.render import SiteContext
from reportgen.pages.run import RunSettings
from reportgen.pages.serialize import run_summary_file
from tests.formats import assert_valid
from tests.sitecheck import outline

MAX_BYTES = 4 * 1024 * 1024
REF = RunRef(id="fuzz/run_01", source="fuzz/run_01/results.json", directory="fuzz/run_01")
JsonPath = tuple[str | int, ...]

# 100 examples per generation keep the three tests at a few seconds each on CI; set
# REPORTGEN_FUZZ_EXAMPLES=2000 for a long local hunt.
FUZZ = settings(
    max_examples=int(os.environ.get("REPORTGEN_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
DEEP = "deeply-nested:"  # json.dumps cannot write deep lists: their text is spliced in afterwards
DEEP_VALUE = re.compile(rf'"{DEEP}(\d+)"')


@cache
def documents() -> dict[str, dict[str, Any]]:
    """Small documents of each schema generation, from the sample generator."""
    etas = [1e-6, 4e-6, 1.6e-5]
    snis = generate_snis_results(np.random.default_rng(1), n_sequences=10, etas=etas)
    sweep = generate_sweep_results(np.random.default_rng(2), etas=[*etas, 6.4e-5])
    cv, _ = generate_cv_results(np.random.default_rng(3), n_seqs=16)
    return {"snis": snis, "sweep": sweep, "cv": cv}


def paths(node: Any, prefix: JsonPath = ()) -> list[JsonPath]:
    """Every position in a document (lists: first, second and last items only)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key in sorted(node):
            found += paths(node[key], (*prefix, key))
    elif isinstance(node, list) and node:
        for i in sorted({0, min(1, len(node) - 1), len(node) - 1}):
            found += paths(node[i], (*prefix, i))
    return found


def _parent(doc: Any, path: JsonPath) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 1e-320, math.nan, math.inf, -math.inf]),
    st.integers(min_value=-(2**70), max_value=2**70),
)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    NUMBERS,
    st.text(max_size=12),
    NUMBERS.map(repr),
    st.sampled_from(["", "NaN", "-Infinity", "1e999", "9" * 400, "0x10", "per_sequence"]),
    st.lists(NUMBERS, max_size=4),
    st.lists(st.one_of(st.none(), st.text(max_size=3), NUMBERS), max_size=4),
    st.dictionaries(st.text(max_size=6), NUMBERS, max_size=3),
    st.integers(min_value=1, max_value=3000).map(lambda n: f"{DEEP}{n}"),
)


@st.composite
def mutate(draw: st.DrawFn, doc: Any) -> Any:
    """Apply one mutation at a random position; returns the (possibly new) document root."""
    targets = paths(doc)
    if not targets:
        return draw(VALUES)
    path = draw(st.sampled_from(targets))
    parent, key = _parent(doc, path), path[-1]
    value = parent[key]
    op = draw(st.sampled_from(["drop", "replace", "shorten", "non-finite", "wrap", "stringify"]))
    if op == "drop":
        del parent[key]
    elif op == "replace":
        parent[key] = draw(VALUES)
    elif op == "shorten" and isinstance(value, list):
        parent[key] = value[: draw(st.integers(0, max(0, len(value) - 1)))]
    elif op == "non-finite" and isinstance(value, list) and value:
        value[draw(st.integers(0, len(value) - 1))] = draw(st.sampled_from([math.nan, math.inf]))
    elif op == "non-finite":
        parent[key] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    elif op == "wrap":
        parent[key] = [value]
    else:
        parent[key] = json.dumps(value, allow_nan=True) if not isinstance(value, str) else value
    return doc


@st.composite
def mutated_document(draw: st.DrawFn, schema: str) -> bytes:
    doc = copy.deepcopy(documents()[schema])
    for _ in range(draw(st.integers(1, 5))):
        doc = draw(mutate(doc))
    text = DEEP_VALUE.sub(
        lambda m: "[" * int(m[1]) + "]" * int(m[1]), json.dumps(doc, allow_nan=True)
    )
    if draw(st.sampled_from(range(10))) == 9:  # now and then (not shrunk to), a cut-off file
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode()


@pytest.fixture(scope="module")
def site() -> SiteContext:
    return site_context(BuildOptions(results=Path("."), out=Path("site")))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run directory, rewritten by every example (no function-scoped fixture involved)."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / REF.directory).mkdir(parents=True)
    return root


def check_document(content: bytes, root: Path, site: SiteContext) -> None:
    """Load, analyse and render; a failure must be a clean per-run error, never an exception."""
    (root / REF.source).write_bytes(content)
    loaded = load_run(REF, root, MAX_BYTES)
    if isinstance(loaded, LoadFailure):
        assert loaded.reason and loaded.hint and loaded.file == REF.source
        assert not loaded.reason.startswith("unreadable content"), loaded.reason
    else:
        assert isinstance(loaded, Run)
        analysis = analyze_run(loaded)
        crashed = [f.message for f in analysis.findings if f.id == "check-failed"]
        assert crashed == []
    output = run_output(REF, root, site, "fuzz", RunSettings(max_bytes=MAX_BYTES, max_points=500))
    assert isinstance(output, PageOutput) and output.record is not None
    assert output.ok is not isinstance(loaded, LoadFailure)
    if not output.ok:
        assert output.record.error is not None
        assert "internal error" not in output.record.error.reason
    page = outline(output.content("runs/fuzz/run_01/index.html").decode("utf-8"))
    assert page.problems == [] and page.title.startswith(("Run fuzz/run_01", "Unreadable run"))
    # whatever the input, the public summary keeps its format (an error shape when unreadable)
    path, content = run_summary_file(output.record)
    assert path == "runs/fuzz/run_01/summary.json"
    summary = json.loads(content)
    assert_valid("run-summary", summary)
    assert summary["status"] == ("ok" if output.ok else "error")


@pytest.mark.parametrize("schema", ["snis", "sweep", "cv"])
def test_unmutated_documents_render(schema: str, root: Path, site: SiteContext) -> None:
    content = json.dumps(documents()[schema]).encode()
    check_document(content, root, site)
    assert run_output(REF, root, site, "x", RunSettings(max_bytes=MAX_BYTES)).ok


@pytest.mark.slow
@FUZZ
@given(content=mutated_document("snis"))
def test_fuzz_snis(content: bytes, root: Path, site: SiteContext) -> None:
    check_document(content, root, site)


@FUZZ
@given(content=mutated_document("sweep"))
def test_fuzz_sweep(content: bytes, root: Path, site: SiteContext) -> None:
    check_document(content, root, site)


@FUZZ
@given(content=mutated_document("cv"))
def test_fuzz_cv(content: bytes, root: Path, site: SiteContext) -> None:
    check_document(content, root, site)
